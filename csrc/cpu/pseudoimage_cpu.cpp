// CPU pseudo-image kernel (see pseudoimage.h): one image per composition, threads over images.
#include "hea_fast/pseudoimage.h"

#include <algorithm>

#include "hea_fast/parallel.h"

namespace hea_fast::pseudoimage {

void pseudo_images(const double* frac, const double* T, int64_t n, int64_t E, const int32_t* cell, float* out,
                   int threads) {
  parallel_for(n, threads, [&](int64_t lo, int64_t hi, int) {
    for (int64_t i = lo; i < hi; ++i) {
      float* img = out + i * 2 * kCells;
      std::fill(img, img + kCells, 0.0f);
      const double* row = frac + i * E;
      // accumulate in double, round once: identical to the float64 reference rounded to float32
      double acc[kCells];
      bool used[kCells];
      std::fill(used, used + kCells, false);
      for (int64_t e = 0; e < E; ++e) {
        if (row[e] == 0.0) continue;
        int c = cell[e];
        acc[c] = used[c] ? acc[c] + row[e] : row[e];
        used[c] = true;
      }
      for (int c = 0; c < kCells; ++c)
        if (used[c]) img[c] = static_cast<float>(acc[c]);
      std::fill(img + kCells, img + 2 * kCells, temperature_value(T[i]));
    }
  }, 64);
}

}  // namespace hea_fast::pseudoimage
