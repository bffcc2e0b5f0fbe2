// CPU pseudo-image kernel (see pseudoimage.h): one image per composition, threads over images.
#include "hea_fast/pseudoimage.h"

#include <algorithm>
#include <cstring>
#include <vector>

#include "hea_fast/parallel.h"

namespace hea_fast::pseudoimage {

void pseudo_images(const double* frac, const double* T, int64_t n, int64_t E, const int32_t* cell, float* out,
                   int threads) {
  // The Feng et al. layouts give every element its own cell; then each pixel is one fraction
  // rounded once to float32 and the image is a memset plus E stores. Shared cells (custom
  // layouts) take the general path that sums in double and rounds once.
  bool unique = true;
  {
    std::vector<char> seen(kCells, 0);
    for (int64_t e = 0; e < E && unique; ++e) {
      if (seen[cell[e]]) unique = false;
      seen[cell[e]] = 1;
    }
  }
  parallel_for(
      n, threads,
      [&](int64_t lo, int64_t hi, int) {
        for (int64_t i = lo; i < hi; ++i) {
          float* img = out + i * 2 * kCells;
          const double* row = frac + i * E;
          std::memset(img, 0, kCells * sizeof(float));
          if (unique) {
            for (int64_t e = 0; e < E; ++e) img[cell[e]] = static_cast<float>(row[e]);
          } else {
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
          }
          std::fill(img + kCells, img + 2 * kCells, temperature_value(T[i]));
        }
      },
      256);
}

}  // namespace hea_fast::pseudoimage
