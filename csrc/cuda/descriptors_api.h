// CUDA-free declaration of the descriptor kernel launcher (descriptors_cuda.cu); safe for g++.
// All pointers are device pointers; `stream` is a cudaStream_t passed as void*. Layouts and
// formulas are those of csrc/include/hea_fast/descriptors.h. The caller validates the inputs
// (finite, non-negative amounts, positive row sums) and keeps the buffers alive until the
// stream has run the kernel.
#pragma once
#include <cstdint>

namespace hea_fast::cuda {

// x (n, E) float64 amounts; props (E, 7); pair (E, E); out (n, 16). Asynchronous on `stream`.
void descriptors(const double* x, int64_t n, int64_t E, const double* props, const double* pair, double gas_constant,
                 double log_offset, double* out, void* stream);

}  // namespace hea_fast::cuda
