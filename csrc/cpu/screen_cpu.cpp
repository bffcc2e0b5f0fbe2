// Fused screening kernel (see screen.h). Each thread walks a contiguous share of the rank range
// with the lattice successor (O(1) amortised per composition), collects up to kBlock compositions
// of the same system, turns their units into fractions exactly as the lattice decoder does
// (u / N, then divided by the row sum as the descriptor kernel does), and runs the shared block
// kernels. Per-thread top-k heaps are merged under the total order `better`.
#include "hea_fast/screen.h"

#include <algorithm>
#include <cmath>
#include <queue>

#include "block_kernels.h"
#include "hea_fast/parallel.h"

namespace hea_fast::screen {

namespace {

using descriptors::detail::kBlock;
constexpr int64_t kTile = 1 << 14;  // ranks per work item; thread shares are contiguous tiles

struct Worse {  // heap order: the top is the worst kept hit
  bool operator()(const Hit& a, const Hit& b) const { return better(a, b); }
};
using Heap = std::priority_queue<Hit, std::vector<Hit>, Worse>;

struct ThreadState {
  Heap heap;
  int64_t passing = 0;
};

}  // namespace

void mixture_scores(const lattice::Space& space, int64_t start, int64_t count, const MixtureScreen& s, double* out,
                    int threads) {
  if (count <= 0) return;
  const std::vector<double> a2 = probit::squared_anchor_norms(s.model);
  const int64_t tiles = (count + kTile - 1) / kTile;
  const int64_t E = space.n_palette();
  parallel_for(
      tiles, threads,
      [&](int64_t lo, int64_t hi, int) {
        const int64_t r_lo = start + lo * kTile, r_hi = std::min(start + count, start + hi * kTile);
        space.for_each(r_lo, r_hi - r_lo, [&](int64_t r, const lattice::Block& blk, const int32_t* u) {
          out[r - start] = score_row(blk, u, s, a2.data(), E);
        });
      },
      /*grain=*/1);
}

// Walks ranks [start, start + count) in contiguous per-thread shares of tiles and calls
// sink(tid, rank0, nb, p) for every block of nb <= kBlock compositions of one system, p their
// probabilities (the block functions: units -> fractions -> block_compute -> block_probit).
template <class Sink>
void for_each_block(const lattice::Space& space, int64_t start, int64_t count, const MixtureScreen& s, int t,
                    Sink&& sink) {
  constexpr int B = kBlock;
  const probit::MixturePredictive& m = s.model;
  const int64_t d = m.d, E = space.n_palette(), kmax = space.max_k();
  const unsigned need = descriptors::needs_of(s.cols, static_cast<int>(d));
  const std::vector<double> a2 = probit::squared_anchor_norms(m);
  const probit::detail::Prepared prep{&m, a2.data()};
  const int64_t tiles = (count + kTile - 1) / kTile;
  parallel_for(
      tiles, t,
      [&](int64_t lo, int64_t hi, int tid) {
        std::vector<double> c(static_cast<size_t>(kmax * B)), sum(B), X(static_cast<size_t>(d * B));
        std::vector<double> w(static_cast<size_t>(descriptors::detail::kBlockScratch * B));
        std::vector<double> pw(static_cast<size_t>((d + probit::detail::kProbitScratch) * B));
        double p[B];
        int64_t rank0 = 0;  // rank of the block's first row
        int nb = 0;
        const lattice::Block* cur = nullptr;
        auto flush = [&]() {
          if (nb == 0) return;
          const int kk = cur->k;
          descriptors::detail::units_to_fractions(c.data(), kk, nb, static_cast<double>(cur->N), sum.data());
          const double* o =
              descriptors::detail::block_compute(c.data(), kk, cur->elem, s.props, s.pair, E, s.prm, need, w.data());
          for (int64_t j = 0; j < d; ++j) std::copy(o + s.cols[j] * B, o + s.cols[j] * B + B, X.data() + j * B);
          probit::detail::block_probit(X.data(), prep, p, pw.data());
          sink(tid, rank0, nb, static_cast<const double*>(p));
          nb = 0;
        };
        const int64_t r_lo = start + lo * kTile, r_hi = std::min(start + count, start + hi * kTile);
        descriptors::detail::gather_unit_blocks(space, r_lo, r_hi, c.data(), nb, cur, rank0, flush);
      },
      /*grain=*/1);
}

void mixture_block_scores(const lattice::Space& space, int64_t start, int64_t count, const MixtureScreen& s,
                          double* out, int threads) {
  if (count <= 0) return;
  const int64_t tiles = (count + kTile - 1) / kTile;
  const int t = static_cast<int>(std::min<int64_t>(resolve_threads(threads), tiles));
  for_each_block(space, start, count, s, t,
                 [&](int, int64_t rank0, int nb, const double* p) { std::copy(p, p + nb, out + (rank0 - start)); });
}

int64_t mixture_topk(const lattice::Space& space, int64_t start, int64_t count, const MixtureScreen& s,
                     double threshold, int64_t k, int threads, std::vector<Hit>* top) {
  top->clear();
  if (count <= 0 || k <= 0) return 0;
  const int64_t tiles = (count + kTile - 1) / kTile;
  const int t = static_cast<int>(std::min<int64_t>(resolve_threads(threads), tiles));
  std::vector<ThreadState> st(static_cast<size_t>(t));
  for_each_block(space, start, count, s, t, [&](int tid, int64_t rank0, int nb, const double* p) {
    ThreadState& ts = st[static_cast<size_t>(tid)];
    for (int b = 0; b < nb; ++b) {
      const double v = p[b];
      if (!(v >= threshold) || !std::isfinite(v)) continue;  // NaN fails v >= threshold
      ++ts.passing;
      const Hit h{v, rank0 + b};
      if (static_cast<int64_t>(ts.heap.size()) < k) {
        ts.heap.push(h);
      } else if (better(h, ts.heap.top())) {
        ts.heap.pop();
        ts.heap.push(h);
      }
    }
  });
  int64_t passing = 0;
  std::vector<Hit> all;
  for (auto& ts : st) {
    passing += ts.passing;
    while (!ts.heap.empty()) {
      all.push_back(ts.heap.top());
      ts.heap.pop();
    }
  }
  std::sort(all.begin(), all.end(), better);
  if (static_cast<int64_t>(all.size()) > k) all.resize(static_cast<size_t>(k));
  *top = std::move(all);
  return passing;
}

}  // namespace hea_fast::screen
