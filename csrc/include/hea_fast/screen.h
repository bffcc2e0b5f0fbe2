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
#include "hea_fast/lattice.h"
#include "hea_fast/probit.h"

namespace hea_fast::screen {

struct Hit {
  double score;
  int64_t rank;
};

// a ranks before b: higher score, then lower rank (a total order: results never depend on chunking)
inline bool better(const Hit& a, const Hit& b) {
  return a.score > b.score || (a.score == b.score && a.rank < b.rank);
}

struct MixtureScreen {
  const double* props;      // (E, kNumProps) palette element properties
  const double* pair;       // (E, E) mixing enthalpies
  descriptors::Params prm;
  const int* cols;          // (model.d) descriptor columns feeding the model, in its order
  probit::MixturePredictive model;
};

// Scores ranks [start, start + count) and keeps the k best with a finite score >= threshold,
// returned sorted best first in *top. Returns how many compositions passed (finite, >= threshold).
int64_t mixture_topk(const lattice::Space& space, int64_t start, int64_t count, const MixtureScreen& s,
                     double threshold, int64_t k, int threads, std::vector<Hit>* top);

}  // namespace hea_fast::screen
