// Fused screening kernel: lattice rank range -> descriptors -> mixture P(single phase) -> top-k,
// in one pass with no intermediate arrays (hea_fast.screen uses it for MixtureScorer on a
// CompositionSpace). Compositions of one system (element subset) share their element columns, so
// descriptors are computed kBlock at a time over the system's k columns instead of the palette's
// E; the block functions are the ones the separate descriptor and probit kernels use, so every
// score is bitwise equal to decode -> core.descriptors -> core.mixture_probit when the palette has
// at most 16 elements (the dense descriptor path).
#pragma once
#include <cstdint>
#include <vector>

#include "hea_fast/descriptors.h"
#include "hea_fast/hd.h"
#include "hea_fast/lattice.h"
#include "hea_fast/probit.h"

namespace hea_fast::screen {

struct Hit {
  double score;
  int64_t rank;
};

// a ranks before b: higher score, then lower rank (a total order: results never depend on chunking)
inline bool better(const Hit& a, const Hit& b) { return a.score > b.score || (a.score == b.score && a.rank < b.rank); }

struct MixtureScreen {
  const double* props;  // (E, kNumProps) palette element properties
  const double* pair;   // (E, E) mixing enthalpies
  descriptors::Params prm;
  const int* cols;  // (model.d) descriptor columns feeding the model, in its order
  probit::MixturePredictive model;
};

// Descriptors of one composition of block b with these units, computed as the lattice decoder and
// the descriptor kernel would (fractions u / N divided by their sum; `compute_row` over the
// block's elements), then the model's predictive. Host and device (the CUDA screening kernel).
HEA_HD double score_row(const lattice::Block& b, const int32_t* units, const MixtureScreen& s, const double* a2,
                        int64_t E) {
  double fr[lattice::kMaxK];
  lattice::unit_fractions(b, units, fr);
  double sum = 0;
  for (int j = 0; j < b.k; ++j) sum += fr[j];
  for (int j = 0; j < b.k; ++j) fr[j] = fr[j] / sum;
  double desc[descriptors::kNumDescriptors];
  descriptors::compute_row(descriptors::GatheredRow{b.elem, fr, b.k}, s.props, s.pair, E, s.prm, desc);
  double x[probit::kMaxRowD];
  for (int64_t j = 0; j < s.model.d; ++j) x[j] = desc[s.cols[j]];
  return probit::predict_row(x, s.model, a2);
}

// Every score of ranks [start, start + count) by the vectorised block functions (bitwise the
// scores mixture_topk ranks); out: count values, NaN where the model's inputs are not finite.
void mixture_block_scores(const lattice::Space& space, int64_t start, int64_t count, const MixtureScreen& s,
                          double* out, int threads);

// Every score of ranks [start, start + count) by `score_row` (out: count values; NaN where the
// model's standardized descriptors are not finite): the host-emulated form of the CUDA kernel.
void mixture_scores(const lattice::Space& space, int64_t start, int64_t count, const MixtureScreen& s, double* out,
                    int threads);

// Scores ranks [start, start + count) and keeps the k best with a finite score >= threshold,
// returned sorted best first in *top. Returns how many compositions passed (finite, >= threshold).
int64_t mixture_topk(const lattice::Space& space, int64_t start, int64_t count, const MixtureScreen& s,
                     double threshold, int64_t k, int threads, std::vector<Hit>* top);

}  // namespace hea_fast::screen
