// CPU fused mixture predictive (see probit.h).
#include "hea_fast/probit.h"

#include <cmath>
#include <limits>
#include <vector>

#include "hea_fast/parallel.h"

namespace hea_fast::probit {

void mixture_probit(const double* X, int64_t n, const MixturePredictive& m, double* out, int threads) {
  const int64_t d = m.d, q = 1 + m.n_sub;
  // |anchor_k|^2, as the NumPy reference: dist_k = |A_k|^2 - 2 z.A_k (the |z|^2 term is common)
  std::vector<double> a2(m.K, 0.0);
  if (m.K > 1)
    for (int64_t k = 0; k < m.K; ++k)
      for (int64_t j = 0; j < m.n_cl; ++j) a2[k] += m.anchors[k * m.n_cl + j] * m.anchors[k * m.n_cl + j];
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const double c8 = M_PI / 8.0;
  parallel_for(n, threads, [&](int64_t lo, int64_t hi, int) {
    std::vector<double> z(d), a(q);
    for (int64_t i = lo; i < hi; ++i) {
      const double* x = X + i * d;
      bool ok = true;
      for (int64_t j = 0; j < d; ++j) {
        z[j] = (x[j] - m.mean[j]) / m.scale[j];
        ok = ok && std::isfinite(z[j]);
      }
      if (!ok) {
        out[i] = nan;
        continue;
      }
      int64_t c = 0;
      if (m.K > 1) {
        double best = 0.0;
        for (int64_t k = 0; k < m.K; ++k) {
          double dot = 0.0;
          for (int64_t j = 0; j < m.n_cl; ++j) dot += z[m.cl[j]] * m.anchors[k * m.n_cl + j];
          double dist = a2[k] - 2.0 * dot;
          if (k == 0 || dist < best) {  // ties to the lower index
            best = dist;
            c = k;
          }
        }
      }
      a[0] = 1.0;
      for (int64_t j = 0; j < m.n_sub; ++j) a[1 + j] = z[m.sub[j]];
      const double* mu = m.mu + c * q;
      const double* S = m.cov + c * q * q;
      double mean = 0.0, var = 0.0;
      for (int64_t r = 0; r < q; ++r) {
        mean += a[r] * mu[r];
        double row = 0.0;
        for (int64_t s = 0; s < q; ++s) row += S[r * q + s] * a[s];
        var += a[r] * row;
      }
      out[i] = 1.0 / (1.0 + std::exp(-mean / std::sqrt(1.0 + c8 * var)));
    }
  }, 4096);
}

}  // namespace hea_fast::probit
