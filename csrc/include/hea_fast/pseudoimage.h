// Two-channel 9x18 pseudo-images of (composition, temperature) for the X-Yield CNN
// (Feng et al., npj Comput. Mater. 7, 10 (2021) layouts; channel 1 = (T_K - 273.15)/2000).
// Pure function over pointers; the element -> cell map is an input so PTR and RPTR share the kernel.
#pragma once
#include <cstdint>

#include "hea_fast/hd.h"

namespace hea_fast::pseudoimage {

constexpr int kRows = 9, kCols = 18, kCells = kRows * kCols;
constexpr double kTOffsetK = 273.15, kTScaleK = 2000.0;

HEA_HD float temperature_value(double T_K) { return static_cast<float>((T_K - kTOffsetK) / kTScaleK); }

// frac (n x E) fractions, T (n) kelvin, cell (E) flat cell index row*18+col in [0, 162);
// out (n x 2 x 9 x 18) float32, fully overwritten. Elements sharing a cell add up.
// normalize: frac holds amounts in any unit (finite, >= 0, positive row sums; checked by the
// caller), each divided by its row sum (summed left to right in float64, as
// hea_fast.composition.as_batch normalises) before rounding to float32.
void pseudo_images(const double* frac, const double* T, int64_t n, int64_t E, const int32_t* cell, float* out,
                   int threads, bool normalize = false);

}  // namespace hea_fast::pseudoimage
