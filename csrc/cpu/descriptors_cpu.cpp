// CPU driver for the one-pass descriptor kernel (formulas and references in descriptors.h).
// Rows are split into contiguous blocks across threads; each row is computed independently by
// the same inline function the CUDA kernel uses, so results are bitwise independent of `threads`.
#include "hea_fast/descriptors.h"

#include <vector>

#include "hea_fast/parallel.h"

namespace hea_fast::descriptors {

void compute_cpu(const double* x, int64_t n, int64_t E, const double* props, const double* pair,
                 Params prm, double* out, int threads) {
  parallel_for(
      n, threads,
      [&](int64_t lo, int64_t hi, int) {
        // Gathering the nonzero columns first makes the O(k^2) pair loop cost k^2, not E^2, for
        // sparse rows (datasets over 30-70 elements with 2-10 per alloy).
        std::vector<int> nz(static_cast<size_t>(E));
        std::vector<double> fr(static_cast<size_t>(E));
        for (int64_t r = lo; r < hi; ++r) {
          const double* xr = x + r * E;
          int k = 0;
          double s = 0;
          for (int64_t j = 0; j < E; ++j) {
            const double v = xr[j];
            s += v;
            if (v > 0) {
              nz[k] = static_cast<int>(j);
              fr[k++] = v;
            }
          }
          for (int t = 0; t < k; ++t) fr[t] /= s;
          compute_row(GatheredRow{nz.data(), fr.data(), k}, props, pair, E, prm, out + r * kNumDescriptors);
        }
      },
      /*grain=*/4096);
}

int64_t find_invalid_row(const double* x, int64_t n, int64_t E, int threads, int64_t* col) {
  const int t = resolve_threads(threads);
  std::vector<int64_t> first(static_cast<size_t>(t), -1), where(static_cast<size_t>(t), -1);
  parallel_for(
      n, t,
      [&](int64_t lo, int64_t hi, int b) {
        for (int64_t r = lo; r < hi; ++r) {
          const double* xr = x + r * E;
          double s = 0;
          for (int64_t j = 0; j < E; ++j) {
            const double v = xr[j];
            if (!(v >= 0) || !std::isfinite(v)) {  // NaN fails v >= 0
              first[b] = r;
              where[b] = j;
              return;
            }
            s += v;
          }
          if (!(s > 0)) {
            first[b] = r;
            where[b] = -1;
            return;
          }
        }
      },
      /*grain=*/8192);
  // Blocks are contiguous and in order, so the first block that found something has the first row.
  for (size_t b = 0; b < first.size(); ++b) {
    if (first[b] >= 0) {
      *col = where[b];
      return first[b];
    }
  }
  return -1;
}

}  // namespace hea_fast::descriptors
