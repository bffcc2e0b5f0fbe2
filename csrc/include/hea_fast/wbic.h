// WBIC (Watanabe 2013, JMLR 14:867, Eq. 3) of Bayesian logistic regression by tempered Pólya-Gamma
// Gibbs sampling (Polson, Scott & Windle 2013), batched over feature subsets. See
// hea_fast/mixture/wbic.py for the estimator (control variate, batch-means standard error, split
// R-hat) and the Python contract. All quantities in nats.
#pragma once
#include <cstdint>
#include <vector>

#include "hea_fast/hd.h"  // subset_key is also used by the CUDA kernel

namespace hea_fast {

struct WBICOptions {
  double prior_var = 10.0;  // w ~ N(0, prior_var I), intercept included
  double beta = 0.0;        // inverse temperature (> 0), usually 1/log n
  bool fit_intercept = true;
  int64_t n_iter = 1000;  // post-burn-in iterations per chain (minimum when adaptive)
  int64_t burn_in = 50;
  int64_t n_chains = 4;
  int64_t max_iter = 20000;    // cap per chain for the adaptive extension
  double target_stderr = 0.0;  // <= 0: no adaptive extension
  double prune_above = 0.0;    // > 0: skip subsets whose Laplace-WBIC exceeds the best by this
  uint64_t seed = 0;
};

struct WBICSubsetResult {
  double wbic, stderr, rhat, laplace;
  int64_t n_iter;
  uint8_t pruned;
};

// X: (n, p) row-major; y: (n,) in {0,1}; idx: (n_subsets, kmax) column indices padded with -1.
// The chains of a subset use RNG streams keyed by (seed, subset_key(columns), chain): a subset's
// result depends only on the seed and its columns, not on `threads`, its position in the call or the
// other subsets (so chunked / distributed searches reproduce a single call exactly).
void wbic_subsets(const double* X, int64_t n, int64_t p, const double* y, const int64_t* idx, int64_t n_subsets,
                  int64_t kmax, const WBICOptions& opt, WBICSubsetResult* out, int threads);

// Posterior draws of w at inverse temperature beta for the design A (n, d) (intercept column
// included by the caller). out: (n_chains, n_draws, d). Chain c uses the stream (seed, 0, c).
void wbic_posterior_draws(const double* A, int64_t n, int64_t d, const double* y, double beta, double prior_var,
                          int64_t n_draws, int64_t burn_in, int64_t n_chains, uint64_t seed, double* out, int threads);

// 64-bit FNV-1a hash of a subset's column indices (in the given order), with its length.
HEA_HD uint64_t subset_key(const int64_t* cols, int k) {
  uint64_t h = 1469598103934665603ull ^ static_cast<uint64_t>(k);
  for (int j = 0; j < k; ++j) {
    uint64_t v = static_cast<uint64_t>(cols[j]);
    for (int b = 0; b < 8; ++b) {
      h ^= (v >> (8 * b)) & 0xFFu;
      h *= 1099511628211ull;
    }
  }
  return h;
}

// Per-subset tempered mode w_hat, gradient g and Hessian H of l at w_hat, and Laplace-WBIC, for
// devices that run the sampler elsewhere (the CUDA mirror). d_max = kmax + 1; arrays are
// (n_subsets, d_max) and (n_subsets, d_max, d_max), zero-padded beyond each subset's d.
void wbic_prepare(const double* X, int64_t n, int64_t p, const double* y, const int64_t* idx, int64_t n_subsets,
                  int64_t kmax, const WBICOptions& opt, double* w_hat, double* grad, double* hess, double* laplace,
                  int threads);

// Results of the subsets before sampling: out[s] = {NaN, NaN, NaN, laplace[s], 0, pruned}, pruned
// when opt.prune_above > 0 and laplace[s] exceeds the smallest Laplace-WBIC by more than that.
// Returns the indices of the subsets to sample, in increasing order.
std::vector<int64_t> wbic_prescreen(const double* laplace, int64_t n_subsets, const WBICOptions& opt,
                                    WBICSubsetResult* out);

// Adaptive extension: the chain length to reach when the batch-means standard error `se` after T
// iterations per chain misses opt.target_stderr (the length that would meet it, +10 %, at least
// T + 16, at most opt.max_iter); T itself when no extension is due.
int64_t wbic_next_length(int64_t T, double se, const WBICOptions& opt);

// Batch-means standard error (16 batches per chain, pooled) and split R-hat from recorded series
// z, l of shape (n_chains, T) (row stride `stride`).
void wbic_chain_stats(const double* z, const double* l, int64_t n_chains, int64_t T, int64_t stride, double* mean,
                      double* stderr, double* rhat);

// Laplace approximation of WBIC at the tempered mode, l(w_hat) + tr(H (beta H + I/v)^-1)/2.
double wbic_laplace(const double* A, int64_t n, int64_t d, const double* y, double beta, double prior_var);

}  // namespace hea_fast
