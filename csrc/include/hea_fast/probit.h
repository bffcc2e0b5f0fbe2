// Fused posterior-predictive scorer of the anchor-guided mixture (hea_fast.screen.MixtureScorer,
// method="probit"): standardize the descriptor columns, assign the nearest anchor, and evaluate
// MacKay's probit approximation p = sigmoid(a.mu_c / sqrt(1 + pi a'Sigma_c a / 8)) with
// a = [1, z_sub], one pass per composition. Rows with a non-finite standardized descriptor get NaN.
#pragma once
#include <cstdint>

namespace hea_fast::probit {

struct MixturePredictive {
  int64_t d;            // descriptor columns of X (and of mean/scale)
  const double* mean;   // (d)
  const double* scale;  // (d)
  int64_t K;            // clusters (anchors); K == 1: no anchor assignment
  int64_t n_cl;         // columns used for the anchor distance
  const int64_t* cl;    // (n_cl) column indices into X
  const double* anchors;  // (K, n_cl) anchor coordinates (standardized), unused when K == 1
  int64_t n_sub;        // selected descriptors
  const int64_t* sub;   // (n_sub) column indices into X
  const double* mu;     // (K, 1 + n_sub) posterior means, intercept first
  const double* cov;    // (K, 1 + n_sub, 1 + n_sub) posterior covariances
};

// X: (n, d) row-major descriptor values; out: (n) probabilities.
void mixture_probit(const double* X, int64_t n, const MixturePredictive& m, double* out, int threads);

}  // namespace hea_fast::probit
