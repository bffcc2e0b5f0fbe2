// CPU fused mixture predictive (see probit.h). Rows go through `detail::block_probit` kBlock at a
// time (column-major), the same function the fused screening kernel (screen_cpu.cpp) calls, so the
// two give bitwise equal probabilities. Every loop runs across the block's rows and vectorises;
// e^x is the arithmetic `fastmath::exp_poly`.
#include "hea_fast/probit.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "block_kernels.h"
#include "hea_fast/fastmath.h"
#include "hea_fast/parallel.h"

namespace hea_fast::probit {

namespace detail {

HEA_CLONES void block_probit(const double* X, const Prepared& p, double* out, double* w) {
  constexpr int B = kBlock;
  const MixturePredictive& m = *p.m;
  const int64_t d = m.d, q = 1 + m.n_sub;
  double* z = w;            // d x B standardized values
  double* bad = w + d * B;  // NaN where some z is not finite
  double* best = bad + B;   // nearest-anchor distance
  double* lab = best + B;   // nearest anchor (as a double, so selects vectorise)
  double* msel = lab + B;   // a.mu of the row's cluster
  double* vsel = msel + B;  // a' Sigma a of the row's cluster
  double* mean = vsel + B;
  double* var = mean + B;
  double* row = var + B;
  for (int b = 0; b < B; ++b) bad[b] = 0.0;
  for (int64_t j = 0; j < d; ++j) {
    const double mj = m.mean[j], sj = m.scale[j];
    double* zj = z + j * B;
    const double* xj = X + j * B;
    for (int b = 0; b < B; ++b) {
      const double v = (xj[b] - mj) / sj;
      bad[b] += v * 0.0;               // inf * 0 and NaN * 0 are NaN
      zj[b] = v - v == 0.0 ? v : 0.0;  // keep the arithmetic below finite
    }
  }
  for (int b = 0; b < B; ++b) lab[b] = 0.0;
  if (m.K > 1) {
    for (int64_t k = 0; k < m.K; ++k) {
      const double* A = m.anchors + k * m.n_cl;
      for (int b = 0; b < B; ++b) mean[b] = 0.0;
      for (int64_t j = 0; j < m.n_cl; ++j) {
        const double* zj = z + m.cl[j] * B;
        const double aj = A[j];
        for (int b = 0; b < B; ++b) mean[b] += zj[b] * aj;
      }
      const double a2 = p.a2[k], kk = static_cast<double>(k);
      if (k == 0) {
        for (int b = 0; b < B; ++b) best[b] = a2 - 2.0 * mean[b];
      } else {
        for (int b = 0; b < B; ++b) {
          const double dist = a2 - 2.0 * mean[b];
          const bool closer = dist < best[b];  // ties to the lower index
          best[b] = closer ? dist : best[b];
          lab[b] = closer ? kk : lab[b];
        }
      }
    }
  }
  // a = [1, z_sub]; every cluster's mean and variance, then the row's own cluster is selected
  for (int64_t c = 0; c < m.K; ++c) {
    const double* mu = m.mu + c * q;
    const double* S = m.cov + c * q * q;
    for (int b = 0; b < B; ++b) {
      mean[b] = mu[0];
      var[b] = 0.0;
    }
    for (int64_t r = 1; r < q; ++r) {
      const double* zr = z + m.sub[r - 1] * B;
      const double mr = mu[r];
      for (int b = 0; b < B; ++b) mean[b] += zr[b] * mr;
    }
    for (int64_t r = 0; r < q; ++r) {
      const double* Sr = S + r * q;
      for (int b = 0; b < B; ++b) row[b] = Sr[0];
      for (int64_t s = 1; s < q; ++s) {
        const double* zs = z + m.sub[s - 1] * B;
        const double Srs = Sr[s];
        for (int b = 0; b < B; ++b) row[b] += Srs * zs[b];
      }
      if (r == 0) {
        for (int b = 0; b < B; ++b) var[b] += row[b];
      } else {
        const double* zr = z + m.sub[r - 1] * B;
        for (int b = 0; b < B; ++b) var[b] += zr[b] * row[b];
      }
    }
    const double cc = static_cast<double>(c);
    if (c == 0) {
      for (int b = 0; b < B; ++b) {
        msel[b] = mean[b];
        vsel[b] = var[b];
      }
    } else {
      for (int b = 0; b < B; ++b) {
        const bool mine = lab[b] == cc;
        msel[b] = mine ? mean[b] : msel[b];
        vsel[b] = mine ? var[b] : vsel[b];
      }
    }
  }
  // Three loops, not one: GCC 12 if-converts and vectorises each alone but not their fusion.
  constexpr double c8 = M_PI / 8.0;
  double* t = mean;  // reused scratch
  for (int b = 0; b < B; ++b) {
    double v = -msel[b] / std::sqrt(1.0 + c8 * vsel[b]);
    v = v < -708.0 ? -708.0 : v;  // e^t beyond +-708: p is 1 or 0 to double precision
    t[b] = v > 708.0 ? 708.0 : v;
  }
  for (int b = 0; b < B; ++b) out[b] = 1.0 / (1.0 + fastmath::exp_poly(t[b]));
  const double nan = std::numeric_limits<double>::quiet_NaN();
  for (int b = 0; b < B; ++b) out[b] = bad[b] == 0.0 ? out[b] : nan;
}

}  // namespace detail

std::vector<double> squared_anchor_norms(const MixturePredictive& m) {
  std::vector<double> a2(m.K, 0.0);
  if (m.K > 1)
    for (int64_t k = 0; k < m.K; ++k)
      for (int64_t j = 0; j < m.n_cl; ++j) a2[k] += m.anchors[k * m.n_cl + j] * m.anchors[k * m.n_cl + j];
  return a2;
}

void mixture_probit(const double* X, int64_t n, const MixturePredictive& m, double* out, int threads) {
  constexpr int B = detail::kBlock;
  const int64_t d = m.d;
  const std::vector<double> a2 = squared_anchor_norms(m);
  const detail::Prepared prep{&m, a2.data()};
  const int64_t nblocks = (n + B - 1) / B;
  parallel_for(
      nblocks, threads,
      [&](int64_t lo, int64_t hi, int) {
        std::vector<double> xb(static_cast<size_t>(d * B)), w(static_cast<size_t>((d + detail::kProbitScratch) * B));
        double pb[B];
        for (int64_t blk = lo; blk < hi; ++blk) {
          const int64_t r0 = blk * B;
          const int nb = static_cast<int>(std::min<int64_t>(B, n - r0));
          for (int b = 0; b < nb; ++b)
            for (int64_t j = 0; j < d; ++j) xb[j * B + b] = X[(r0 + b) * d + j];
          for (int b = nb; b < B; ++b)
            for (int64_t j = 0; j < d; ++j) xb[j * B + b] = m.mean[j];  // padding (not written out)
          detail::block_probit(xb.data(), prep, pb, w.data());
          std::copy(pb, pb + nb, out + r0);
        }
      },
      /*grain=*/64);
}

}  // namespace hea_fast::probit
