// CUDA mirror of the Maresca–Curtin kernels (csrc/include/hea_fast/maresca_curtin.h). CUDA-free for
// the host compiler: device pointers are raw pointers, streams are void*.
#pragma once
#include <cstdint>

#include "lattice_api.h"

namespace hea_fast::cuda {

constexpr int kMaxGridElements = 64;
constexpr int kMaxGridTemperatures = 64;

// Dense fractions (n x E) -> tau0 [MPa], deb [eV]; every pointer is a device pointer; mu/nu
// (per-row overrides) may be null. Inputs are validated by the caller (bindings).
void mc_tau0_deb(const double* frac, int64_t n, int64_t E, const double* V, const double* C11, const double* C12,
                 const double* C44, const double* mu, const double* nu, double* tau0, double* deb, void* stream);

// sigma_y [MPa] for paired device arrays (tau0, deb, T); model 0 = two-regime, 1 = single-fit,
// 2 = continuous (mc::Model).
void mc_sigma(const double* tau0, const double* deb, const double* T, int64_t n, int model, double* out, void* stream);

// Fused enumerate + sigma_y for lattice ranks [rank_begin, rank_end) at nT temperatures
// -> out (device, (rank_end - rank_begin) x nT). V/C*/T are small HOST arrays (E <= 64, nT <= 64)
// passed to the kernel by value.
void mc_grid_sigma(const DeviceLattice& d, int64_t rank_begin, int64_t rank_end, const double* V, const double* C11,
                   const double* C12, const double* C44, const double* T, int nT, int model, double* out, void* stream);

}  // namespace hea_fast::cuda
