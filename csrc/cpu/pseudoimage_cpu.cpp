// CPU pseudo-image kernel (see pseudoimage.h): one image per composition, threads over contiguous
// shares of images. Each image is assembled in a 1,296-byte buffer that stays in L1 (its E cells
// set, the temperature channel filled, then the cells cleared again) and written to the output
// once; outputs larger than the last-level cache share are written with non-temporal (streaming)
// stores, which skip the read-for-ownership of every output line: the scatter is memory-bound, so
// that halves the memory traffic of a large batch.
#include "hea_fast/pseudoimage.h"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <vector>

#include "hea_fast/parallel.h"

#if defined(__SSE2__)
#include <emmintrin.h>
#define HEA_PSEUDOIMAGE_STREAM 1
#endif

namespace hea_fast::pseudoimage {

namespace {

constexpr int kFloats = 2 * kCells;                 // 324 floats = 1,296 bytes = 81 x 16 bytes
constexpr int64_t kStreamBytes = int64_t(8) << 20;  // outputs from 8 MiB on are streamed

// dst <- src, kFloats floats; `stream`: non-temporal stores (dst 16-byte aligned).
inline void store_image(float* dst, const float* src, bool stream) {
#if HEA_PSEUDOIMAGE_STREAM
  if (stream) {
    for (int k = 0; k < kFloats; k += 4) _mm_stream_ps(dst + k, _mm_load_ps(src + k));
    return;
  }
#else
  (void)stream;
#endif
  std::memcpy(dst, src, kFloats * sizeof(float));
}

}  // namespace

void pseudo_images(const double* frac, const double* T, int64_t n, int64_t E, const int32_t* cell, float* out,
                   int threads, bool normalize) {
  // The Feng et al. layouts give every element its own cell; then each pixel is one fraction
  // rounded once to float32. Shared cells (custom layouts) take the general path that sums in
  // double and rounds once.
  bool unique = true;
  {
    std::vector<char> seen(kCells, 0);
    for (int64_t e = 0; e < E && unique; ++e) {
      if (seen[cell[e]]) unique = false;
      seen[cell[e]] = 1;
    }
  }
  const bool stream = n * kFloats * static_cast<int64_t>(sizeof(float)) >= kStreamBytes &&
                      reinterpret_cast<std::uintptr_t>(out) % 16 == 0;
  parallel_for(
      n, threads,
      [&](int64_t lo, int64_t hi, int) {
        alignas(64) float img[kFloats];
        std::fill(img, img + kCells, 0.0f);
        double acc[kCells];
        bool used[kCells];
        for (int64_t i = lo; i < hi; ++i) {
          const double* row = frac + i * E;
          double sum = 0.0;
          if (normalize)
            for (int64_t e = 0; e < E; ++e) sum += row[e];
          if (unique) {
            if (normalize)
              for (int64_t e = 0; e < E; ++e) img[cell[e]] = static_cast<float>(row[e] / sum);
            else
              for (int64_t e = 0; e < E; ++e) img[cell[e]] = static_cast<float>(row[e]);
          } else {
            std::fill(used, used + kCells, false);
            for (int64_t e = 0; e < E; ++e) {
              if (row[e] == 0.0) continue;
              const double x = normalize ? row[e] / sum : row[e];
              const int c = cell[e];
              acc[c] = used[c] ? acc[c] + x : x;
              used[c] = true;
            }
            for (int c = 0; c < kCells; ++c) img[c] = used[c] ? static_cast<float>(acc[c]) : 0.0f;
          }
          std::fill(img + kCells, img + kFloats, temperature_value(T[i]));
          store_image(out + i * kFloats, img, stream);
          if (unique)
            for (int64_t e = 0; e < E; ++e) img[cell[e]] = 0.0f;
        }
#if HEA_PSEUDOIMAGE_STREAM
        if (stream) _mm_sfence();  // this thread's streaming stores are visible before the join
#endif
      },
      256);
}

}  // namespace hea_fast::pseudoimage
