// CUDA-free declaration of the batched WBIC Gibbs sampler on the GPU (implemented in wbic_cuda.cu).
// Safe to include from g++-compiled binding files.
#pragma once
#include <cstdint>

#include "hea_fast/wbic.h"

namespace hea_fast::cuda {

// Same contract as hea_fast::wbic_subsets (host arrays in, host results out); the GPU runs one
// thread block per (subset, chain). Each PG draw uses the Philox stream keyed by
// (seed, subset_key(columns) + chain * golden, iteration * (n + d + 1) + observation), so results do not
// depend on the launch configuration. Tempered modes, the prescreen and the chain statistics are
// computed on the host with the CPU functions. `stream` is a cudaStream_t (nullptr = default).
void wbic_subsets(const double* X, int64_t n, int64_t p, const double* y, const int64_t* idx, int64_t n_subsets,
                  int64_t kmax, const WBICOptions& opt, WBICSubsetResult* out, void* stream, int host_threads);

// Largest subset size (without intercept) the GPU kernel supports.
constexpr int kWbicMaxK = 11;

}  // namespace hea_fast::cuda
