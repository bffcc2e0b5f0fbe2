// CUDA mirror of the pseudo-image kernel (csrc/include/hea_fast/pseudoimage.h). CUDA-free header.
#pragma once
#include <cstdint>

namespace hea_fast::cuda {
// Device pointers: frac (n x E) float64, T (n) kelvin, cell (E) int32 flat cells in [0, 162),
// out (n x 2 x 9 x 18) float32 (fully overwritten). Inputs validated by the caller.
void pseudo_images(const double* frac, const double* T, int64_t n, int64_t E, const int32_t* cell, float* out,
                   void* stream);
}  // namespace hea_fast::cuda
