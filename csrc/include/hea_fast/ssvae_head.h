// The SSVAE classifier head q(φ=1 | e) (hea_fast.ssvae.model: encoder_y, a Linear/Softplus stack
// ending in one logit, on descriptors standardised as (e − mean) / std when the model was trained
// that way) evaluated over blocks of rows in float32 (the torch model's precision) or float64.
// Three drivers share one block forward pass:
//   head             descriptor rows -> logit or P(single phase)
//   coalition_values every coalition S of the F features of each row x against a background set:
//                    v(S) = mean_b f(x_S, b_S̄), the value function of exact (interventional) Shapley
//   lattice_scores   lattice ranks -> the zeng2024 descriptors (the shared descriptor block kernel)
//                    -> the head, with no decoded fractions (hea_fast.screen's SSVAEScorer)
// Softplus follows torch (beta 1, threshold 20: x above 20 passes through); the float32 path uses a
// vectorised polynomial exp/log1p (a few ulp), the float64 path libm.
#pragma once
#include <cstdint>

#include "hea_fast/descriptors.h"
#include "hea_fast/lattice.h"

namespace hea_fast::ssvae_head {

constexpr int kMaxLayers = 8;
constexpr int64_t kMaxWidth = 4096;        // widest layer
constexpr int kMaxCoalitionFeatures = 20;  // 2^F coalitions per row

enum class Output : int { kLogit = 0, kProbability = 1 };

struct Head {
  int layers = 0;                         // Linear layers (>= 1); Softplus after every one but the last
  int64_t size[kMaxLayers + 1] = {};      // size[0] = F inputs, ..., size[layers] = 1 output
  const double* weight[kMaxLayers] = {};  // layer l: (size[l+1], size[l]) row-major (nn.Linear layout)
  const double* bias[kMaxLayers] = {};    // layer l: (size[l+1])
  const double* mean = nullptr;           // (F): inputs are standardised as (e - mean) / std, in the
  const double* std = nullptr;            // compute precision; nullptr: raw inputs (legacy models)
  Output output = Output::kProbability;   // the logit is rounded to the compute precision, the
                                          // probability 1 / (1 + exp(-logit)) then taken in float64
  bool float64 = false;                   // compute in float64 instead of float32
};

// out[i] = f(e[i]) for rows e (n x F); NaN for a row with a non-finite entry.
void head(const double* e, int64_t n, const Head& h, double* out, int threads);

// out[i * 2^F + S] = Σ_b w_b f(z) / Σ_b w_b with z_j = x[i, j] for j in S (bit j of S set), bg[b, j]
// otherwise: rows x (n x F), background bg (m x F), all finite, m >= 1, F <= kMaxCoalitionFeatures;
// weights (m) finite, >= 0 with a positive sum, or nullptr for the plain mean. Every f(z) is bitwise
// what `head` gives for z; the sums run in float64 in a grouping fixed by m (blocks of background
// rows in order), so results do not depend on `threads` or on the other rows of x.
void coalition_values(const double* x, int64_t n, const double* bg, int64_t m, const double* weights, const Head& h,
                      double* out, int threads);

// out[r - start] = f(e(r)) for lattice ranks [start, start + count): e(r) the descriptors `cols`
// (F of them, in the head's input order) of the composition with rank r, computed by the descriptor
// block kernel from the palette's element data (props (E, kNumProps), pair (E, E)) exactly as the
// fused mixture screen does; NaN for compositions holding an element with allowed[e] == 0 or with a
// non-finite descriptor. Results do not depend on `threads`.
void lattice_scores(const lattice::Space& space, int64_t start, int64_t count, const double* props, const double* pair,
                    descriptors::Params prm, const int* cols, const uint8_t* allowed, const Head& h, double* out,
                    int threads);

}  // namespace hea_fast::ssvae_head
