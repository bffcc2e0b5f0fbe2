// Fused posterior-predictive scorer of the anchor-guided mixture (hea_fast.screen.MixtureScorer,
// method="probit"): standardize the descriptor columns, assign the nearest anchor, and evaluate
// MacKay's probit approximation p = sigmoid(a.mu_c / sqrt(1 + pi a'Sigma_c a / 8)) with
// a = [1, z_sub], one pass per composition (MacKay, Neural Comput. 4 (1992) 720; Bishop, PRML
// §4.5.2, Eq. 4.153-4.155). Descriptors in the units of descriptors.h, standardized to z-scores;
// outputs are probabilities in [0, 1]. Rows with a non-finite standardized descriptor get NaN.
#pragma once
#include <cmath>
#include <cstdint>
#include <vector>

#include "hea_fast/hd.h"

namespace hea_fast::probit {

struct MixturePredictive {
  int64_t d;              // descriptor columns of X (and of mean/scale)
  const double* mean;     // (d)
  const double* scale;    // (d)
  int64_t K;              // clusters (anchors); K == 1: no anchor assignment
  int64_t n_cl;           // columns used for the anchor distance
  const int64_t* cl;      // (n_cl) column indices into X
  const double* anchors;  // (K, n_cl) anchor coordinates (standardized), unused when K == 1
  int64_t n_sub;          // selected descriptors
  const int64_t* sub;     // (n_sub) column indices into X
  const double* mu;       // (K, 1 + n_sub) posterior means, intercept first
  const double* cov;      // (K, 1 + n_sub, 1 + n_sub) posterior covariances
};

// X: (n, d) row-major descriptor values; out: (n) probabilities.
void mixture_probit(const double* X, int64_t n, const MixturePredictive& m, double* out, int threads);

// |anchor_k|^2 for k < K (the nearest anchor minimises |A_k|^2 - 2 z.A_k; the |z|^2 term is common);
// zeros when K == 1 (no anchor assignment).
std::vector<double> squared_anchor_norms(const MixturePredictive& m);

constexpr int kMaxRowD = 16;  // most descriptor columns the one-row form takes (d <= kMaxRowD)

// The same predictive for one row, written once for host and device (the CUDA screening kernel
// and its host-emulated reference `screen::mixture_scores`). x: (d) descriptor values; a2: (K)
// squared anchor norms. Uses libm/CUDA exp and sqrt, so it agrees with the vectorised block form
// (csrc/cpu/probit_cpu.cpp) to rounding, not bitwise. Requires m.d <= kMaxRowD.
HEA_HD double predict_row(const double* x, const MixturePredictive& m, const double* a2) {
  double z[kMaxRowD];
  for (int64_t j = 0; j < m.d; ++j) {
    z[j] = (x[j] - m.mean[j]) / m.scale[j];
    if (!(z[j] - z[j] == 0.0)) return NAN;  // inf or NaN
  }
  int64_t c = 0;
  if (m.K > 1) {
    double best = 0.0;
    for (int64_t k = 0; k < m.K; ++k) {
      double dot = 0.0;
      for (int64_t j = 0; j < m.n_cl; ++j) dot += z[m.cl[j]] * m.anchors[k * m.n_cl + j];
      const double dist = a2[k] - 2.0 * dot;
      if (k == 0 || dist < best) {  // ties to the lower index
        best = dist;
        c = k;
      }
    }
  }
  const int64_t q = 1 + m.n_sub;
  const double* mu = m.mu + c * q;
  const double* S = m.cov + c * q * q;
  double mean = mu[0], var = 0.0;
  for (int64_t r = 1; r < q; ++r) mean += z[m.sub[r - 1]] * mu[r];
  for (int64_t r = 0; r < q; ++r) {
    double row = S[r * q];
    for (int64_t s = 1; s < q; ++s) row += S[r * q + s] * z[m.sub[s - 1]];
    var += r == 0 ? row : z[m.sub[r - 1]] * row;
  }
  double t = -mean / sqrt(1.0 + 0.39269908169872414 * var);  // pi / 8
  t = t < -708.0 ? -708.0 : (t > 708.0 ? 708.0 : t);
  return 1.0 / (1.0 + exp(t));
}

}  // namespace hea_fast::probit
