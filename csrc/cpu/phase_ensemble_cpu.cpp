// CPU phase ensemble (see phase_ensemble.h). Compositions are evaluated kBlock (64) at a time,
// features column-major (one pointer per feature to 64 values), so every loop runs across
// compositions:
//  * linear member: one multiply-add column after column;
//  * trees: each feature value is replaced once per block by its rank among the sorted distinct
//    thresholds the trees compare that feature with (bin = #{t : t < v}); then v <= t_k iff
//    bin <= k exactly, and a node test is a 16-bit integer comparison, 16 compositions per AVX2
//    instruction. Trees of depth <= kMaxFastDepth are laid out as complete binary trees (a leaf
//    above the last level is repeated under a dummy test, which changes no sum); all 2^D − 1 tests
//    of a tree run branch-free over the block and the leaf index is selected bottom-up
//    (node = go_right ? right_index : left_index). Deeper trees walk their nodes per composition.
//    Leaf values are added per composition in tree order from the baseline, in float64: bitwise
//    scikit-learn's raw score;
//  * combination and calibration in float64 with the vectorisable exp/log polynomials of
//    fastmath.h (a few ulp from libm; the scores equal the NumPy reference to ~1e-15);
//  * top-k: a block whose p cannot reach the heap's minimum whatever its trees give (bounds from
//    the linear member and the trees' extreme leaves) skips the trees; results are unchanged.
// Work items (row blocks, rank tiles) are pulled dynamically by the threads; each composition goes
// through the same instructions whatever the thread, so results never depend on the thread count.
// The block tree pass is compiled twice on x86-64 (AVX2 and baseline, target_clones).
#include "hea_fast/phase_ensemble.h"

#include <algorithm>
#include <atomic>
#include <cfloat>
#include <cmath>
#include <cstring>
#include <limits>
#include <memory>
#include <numeric>
#include <queue>
#include <vector>

#include "block_kernels.h"
#include "hea_fast/fastmath.h"
#include "hea_fast/parallel.h"

namespace hea_fast::phase_ensemble {

namespace {

using descriptors::detail::kBlock;
constexpr int B = kBlock;
constexpr int kMaxFastDepth = 4;         // complete layout up to 15 tests per tree
constexpr int64_t kTile = kLatticeTile;  // lattice ranks per work item (a tile of lattice_tile_bounds)
constexpr int64_t kRowChunk = 16;        // row blocks per work item

typedef int16_t vs16 __attribute__((vector_size(32)));
typedef int16_t vh8 __attribute__((vector_size(16)));
typedef int32_t vi8 __attribute__((vector_size(32)));
typedef double vd4 __attribute__((vector_size(32)));
constexpr int kLanes = 16;
constexpr int kVecs = B / kLanes;
static_assert(B % kLanes == 0, "blocks hold whole vectors");

// bin(v) = #{k : t_k < v} over sorted distinct thresholds t, by a uniform grid of G cells over the
// finite thresholds' range: cell(v) = clamp(floor((v − lo) · inv), 0, G − 1) is monotone in v, so
// with the thresholds binned by the same function, bin(v) = #{k : cell(t_k) < cell(v)} + #{k in
// cell(v) : t_k < v} exactly. A cell holds its first two thresholds inline (+inf padding); cells
// with more fall back to a binary search over theirs (rare: G >= 2 × the thresholds).
struct Binner {
  double lo = 0, inv = 0, top = 0;  // top = G - 1
  int32_t G = 1;
  std::vector<double> t0, t1;  // per cell: its first two thresholds (+inf padding)
  std::vector<int32_t> before, count;
  const double* th = nullptr;

  // the one cell function (block_bins uses this same expression, so thresholds and values agree)
  static int32_t cell(double v, double lo, double inv, double top) {
    const double x = (v - lo) * inv;
    const double y = x >= 0.0 ? x : 0.0;  // NaN -> 0
    return static_cast<int32_t>(y > top ? top : y);
  }

  void build(const std::vector<double>& t) {
    th = t.data();
    const auto m = static_cast<int64_t>(t.size());
    double fmin = INFINITY, fmax = -INFINITY;
    for (double x : t)
      if (std::isfinite(x)) fmin = std::min(fmin, x), fmax = std::max(fmax, x);
    G = 1;
    while (G < 2 * m && G < (1 << 16)) G <<= 1;
    top = G - 1;
    lo = fmin <= fmax ? fmin : 0.0;
    inv = fmax > fmin ? G / (fmax - fmin) : 0.0;
    if (!std::isfinite(inv)) inv = 0.0;  // a range too small to divide: one cell does all
    t0.assign(static_cast<size_t>(G), INFINITY);
    t1.assign(static_cast<size_t>(G), INFINITY);
    before.assign(static_cast<size_t>(G), 0);
    count.assign(static_cast<size_t>(G), 0);
    int64_t k = 0;
    for (int32_t g = 0; g < G; ++g) {
      before[g] = static_cast<int32_t>(k);
      while (k < m && cell(t[k], lo, inv, top) == g) {
        if (count[g] == 0) t0[g] = t[k];
        if (count[g] == 1) t1[g] = t[k];
        ++count[g];
        ++k;
      }
    }
  }

  // bin(v) of one value (block_bins' result for it)
  int32_t bin(double v) const {
    const int32_t g = cell(v, lo, inv, top);
    if (count[g] > 2) return slow(g, v);
    return before[g] + (t0[g] < v) + (t1[g] < v);
  }

  // bin(v) for a cell holding more than two thresholds
  int32_t slow(int32_t g, double v) const {
    const double* first = th + before[g];
    return before[g] +
           static_cast<int32_t>(std::lower_bound(first, first + count[g], v, [](double a, double b) { return a < b; }) -
                                first);
  }
};

// bins of one block's values c of a feature: branch-free over the block (the cell arrays read by
// index), then the rare values whose cell holds more than two thresholds redone.
HEA_CLONES void block_bins(const Binner& bn, const double* __restrict c, int16_t* __restrict out,
                           int32_t* __restrict cell) {
  const double lo = bn.lo, inv = bn.inv, top = bn.top;
  const double *t0 = bn.t0.data(), *t1 = bn.t1.data();
  const int32_t *before = bn.before.data(), *count = bn.count.data();
  for (int b = 0; b < B; ++b) cell[b] = Binner::cell(c[b], lo, inv, top);
  int32_t over = 0;
  for (int b = 0; b < B; ++b) {
    const int32_t g = cell[b];
    const double v = c[b];
    out[b] = static_cast<int16_t>(before[g] + (t0[g] < v) + (t1[g] < v));
    over |= count[g] > 2;
  }
  if (over)
    for (int b = 0; b < B; ++b)
      if (count[cell[b]] > 2) out[b] = static_cast<int16_t>(bn.slow(cell[b], c[b]));
}

struct WalkNode {
  double threshold;  // go to child + 1 iff v > threshold; +inf on leaves
  int32_t slot;      // tested feature's slot (0 on leaves)
  int32_t child;     // walking index of the left child (the node itself on leaves)
};

}  // namespace

// The model in the block evaluator's layout (declared in phase_ensemble.h).
struct Prepared {
  const Model* m = nullptr;
  bool fast = false;  // complete-tree layout (depth <= kMaxFastDepth, <= 32767 thresholds per feature)
  int depth = 0, n_inner = 0, n_leaf = 1;
  std::vector<double> lin_w;             // lin_coef / lin_scale
  std::vector<int32_t> slot_feature;     // features the trees test
  std::vector<std::vector<double>> thr;  // per slot: sorted distinct thresholds
  std::vector<Binner> binner;            // per slot
  std::vector<int32_t> node_slot;        // (n_trees * n_inner), heap order
  std::vector<int16_t> node_bin;         // go right iff bin > node_bin
  std::vector<double> leaf;              // (n_trees * n_leaf)
  std::vector<int32_t> leaf_bits;        // (n_trees * 32): 16 leaves' low 32-bit halves, then high
  std::vector<double> leaf_lo, leaf_hi;  // per tree: its smallest / largest leaf
  double raw_lo = 0, raw_hi = 0;         // bounds of the raw score: baseline + Σ_t min/max leaf of t
  // walking layout (trees deeper than kMaxFastDepth, forests): each tree's nodes renumbered breadth
  // first so that a node's children are adjacent (right = left + 1), one 16-byte record per node; a
  // leaf is its own child with threshold +inf, so a row at a leaf stays there (v > +inf is false)
  std::vector<WalkNode> walk;
  std::vector<double> walk_value;   // leaf values by walking index
  std::vector<int32_t> walk_depth;  // per tree
  int32_t walk_stack = 1;           // depth-first stack size the deepest tree needs
};

namespace {

int tree_depth(const Model& m, int64_t t) {
  const int64_t off = m.tree_offsets[t], n = m.tree_offsets[t + 1] - off;
  std::vector<int> d(static_cast<size_t>(n), 0);
  int best = 0;
  for (int64_t i = 0; i < n; ++i) {  // children come after their parent
    if (m.node_feature[off + i] < 0) continue;
    d[m.node_left[off + i]] = d[m.node_right[off + i]] = d[i] + 1;
    best = std::max(best, d[i] + 1);
  }
  return best;
}

void fill_complete(Prepared& P, int64_t t, int64_t off, int32_t node, int h, int level,
                   const std::vector<int32_t>& slot_of) {
  const Model& m = *P.m;
  if (level == P.depth) {
    P.leaf[t * P.n_leaf + (h - P.n_inner)] = m.node_value[off + node];
    return;
  }
  const int32_t f = m.node_feature[off + node];
  int32_t left = node, right = node;  // a leaf above the last level: the same leaf both ways
  int32_t slot = 0, bin = 0;
  if (f >= 0) {
    slot = slot_of[f];
    const auto& th = P.thr[slot];
    bin = static_cast<int32_t>(std::lower_bound(th.begin(), th.end(), m.node_threshold[off + node]) - th.begin());
    left = m.node_left[off + node];
    right = m.node_right[off + node];
  }
  P.node_slot[t * P.n_inner + h] = slot;
  P.node_bin[t * P.n_inner + h] = static_cast<int16_t>(bin);
  fill_complete(P, t, off, left, 2 * h + 1, level + 1, slot_of);
  fill_complete(P, t, off, right, 2 * h + 2, level + 1, slot_of);
}

Prepared prepare(const Model& m) {
  Prepared P;
  P.m = &m;
  for (int64_t j = 0; j < m.F; ++j) P.lin_w.push_back(m.lin_coef[j] / m.lin_scale[j]);
  std::vector<int32_t> slot_of(static_cast<size_t>(m.F), -1);
  const int64_t n_nodes = m.tree_offsets[m.n_trees];
  for (int64_t i = 0; i < n_nodes; ++i) {
    const int32_t f = m.node_feature[i];
    if (f < 0) continue;
    if (slot_of[f] < 0) {
      slot_of[f] = static_cast<int32_t>(P.slot_feature.size());
      P.slot_feature.push_back(f);
      P.thr.emplace_back();
    }
    P.thr[slot_of[f]].push_back(m.node_threshold[i]);
  }
  P.raw_lo = P.raw_hi = m.tree_baseline;
  for (int64_t t = 0; t < m.n_trees; ++t) {
    double lo = INFINITY, hi = -INFINITY;
    for (int64_t i = m.tree_offsets[t]; i < m.tree_offsets[t + 1]; ++i)
      if (m.node_feature[i] < 0) lo = std::min(lo, m.node_value[i]), hi = std::max(hi, m.node_value[i]);
    P.leaf_lo.push_back(lo);
    P.leaf_hi.push_back(hi);
    P.raw_lo += lo;
    P.raw_hi += hi;
  }
  std::vector<int32_t> depths;
  for (int64_t t = 0; t < m.n_trees; ++t) depths.push_back(tree_depth(m, t));
  const int depth = depths.empty() ? 0 : *std::max_element(depths.begin(), depths.end());
  bool small = depth <= kMaxFastDepth;  // the thresholds are sorted for the complete layout only
  for (auto& th : P.thr) {
    if (!small) break;
    std::sort(th.begin(), th.end());
    th.erase(std::unique(th.begin(), th.end()), th.end());
    small &= th.size() <= 32767;
  }
  P.fast = small;
  if (!P.fast) {
    const int64_t n = m.tree_offsets[m.n_trees];
    P.walk.assign(static_cast<size_t>(n), WalkNode{INFINITY, 0, 0});
    P.walk_value.assign(static_cast<size_t>(n), 0.0);
    std::vector<int32_t> order;  // breadth-first order of one tree's nodes (relative indices)
    for (int64_t t = 0; t < m.n_trees; ++t) {
      P.walk_depth.push_back(depths[static_cast<size_t>(t)]);
      P.walk_stack = std::max(P.walk_stack, P.walk_depth.back() + 1);
      const int64_t off = m.tree_offsets[t];
      order.assign(1, 0);
      for (size_t q = 0; q < order.size(); ++q) {  // position q of order is walking index off + q
        const int64_t i = off + order[q];
        WalkNode& w = P.walk[static_cast<size_t>(off + static_cast<int64_t>(q))];
        if (m.node_feature[i] < 0) {
          w = WalkNode{INFINITY, 0, static_cast<int32_t>(off + static_cast<int64_t>(q))};
          P.walk_value[static_cast<size_t>(off + static_cast<int64_t>(q))] = m.node_value[i];
          continue;
        }
        w = WalkNode{m.node_threshold[i], slot_of[m.node_feature[i]], static_cast<int32_t>(off + order.size())};
        order.push_back(m.node_left[i]);
        order.push_back(m.node_right[i]);
      }
    }
    return P;
  }
  P.binner.resize(P.thr.size());
  for (size_t i = 0; i < P.thr.size(); ++i) P.binner[i].build(P.thr[i]);
  P.depth = depth;
  P.n_inner = (1 << depth) - 1;
  P.n_leaf = 1 << depth;
  P.node_slot.assign(static_cast<size_t>(m.n_trees * P.n_inner), 0);
  P.node_bin.assign(static_cast<size_t>(m.n_trees * P.n_inner), 0);
  P.leaf.assign(static_cast<size_t>(m.n_trees * P.n_leaf), 0.0);
  for (int64_t t = 0; t < m.n_trees; ++t) fill_complete(P, t, m.tree_offsets[t], 0, 0, 0, slot_of);
  static_assert(kMaxFastDepth <= 4, "leaf_bits holds 16 leaves per tree");
  P.leaf_bits.assign(static_cast<size_t>(m.n_trees * 32), 0);
  for (int64_t t = 0; t < m.n_trees; ++t)
    for (int l = 0; l < P.n_leaf; ++l) {
      uint64_t u;
      std::memcpy(&u, &P.leaf[t * P.n_leaf + l], sizeof u);
      P.leaf_bits[t * 32 + l] = static_cast<int32_t>(static_cast<uint32_t>(u));
      P.leaf_bits[t * 32 + 16 + l] = static_cast<int32_t>(static_cast<uint32_t>(u >> 32));
    }
  return P;
}

// Adds the leaf values of one tree to 16 compositions: leaf index id (0..2^D-1 per lane), the
// tree's leaf values split into low and high 32-bit halves (bits[0..16) low, bits[16..32) high),
// looked up with a lane permutation (vpermd) instead of a gather, then re-interleaved into
// doubles. acc[2h] holds compositions 8h + {0, 1, 4, 5}, acc[2h + 1] 8h + {2, 3, 6, 7} (the order
// the in-lane interleave gives; undone when the sums are stored).
template <bool kWide>
__attribute__((always_inline)) inline void add_leaves(const int32_t* bits, const vs16& id, vd4* acc) {
  vi8 lo0, hi0, lo1 = {}, hi1 = {};
  std::memcpy(&lo0, bits, sizeof lo0);
  std::memcpy(&hi0, bits + 16, sizeof hi0);
  if (kWide) {
    std::memcpy(&lo1, bits + 8, sizeof lo1);
    std::memcpy(&hi1, bits + 24, sizeof hi1);
  }
  for (int h = 0; h < 2; ++h) {
    vh8 part;
    std::memcpy(&part, reinterpret_cast<const char*>(&id) + h * sizeof part, sizeof part);
    const vi8 ix = __builtin_convertvector(part, vi8);
    vi8 lo, hi;
    if (kWide) {
      lo = __builtin_shuffle(lo0, lo1, ix);
      hi = __builtin_shuffle(hi0, hi1, ix);
    } else {
      lo = __builtin_shuffle(lo0, ix);
      hi = __builtin_shuffle(hi0, ix);
    }
    const vi8 a = __builtin_shuffle(lo, hi, vi8{0, 8, 1, 9, 4, 12, 5, 13});
    const vi8 b = __builtin_shuffle(lo, hi, vi8{2, 10, 3, 11, 6, 14, 7, 15});
    vd4 da, db;
    std::memcpy(&da, &a, sizeof da);
    std::memcpy(&db, &b, sizeof db);
    acc[2 * h] += da;
    acc[2 * h + 1] += db;
  }
}

constexpr int kPerm[8] = {0, 1, 4, 5, 2, 3, 6, 7};  // composition of each accumulator lane

// Leaf index (0..2^D-1) reached by 16 compositions (bins bv[slot * B + lane]) from node Q of level L
// of a complete tree (heap order), depth first so that few partial indices are live at a time.
template <int D, int L, int Q>
__attribute__((always_inline)) inline void node_leaf(const int16_t* bv, const int32_t* ns, const int16_t* nb,
                                                     vs16& id) {
  constexpr int h = (1 << L) - 1 + Q;
  vs16 x;
  std::memcpy(&x, bv + static_cast<int64_t>(ns[h]) * B, sizeof x);
  const vs16 right = x > nb[h];  // -1 where the test sends right
  if constexpr (L == D - 1) {
    id = static_cast<int16_t>(2 * Q) - right;  // leaf 2Q or 2Q + 1
  } else {
    vs16 l, r;
    node_leaf<D, L + 1, 2 * Q>(bv, ns, nb, l);
    node_leaf<D, L + 1, 2 * Q + 1>(bv, ns, nb, r);
    id = right ? r : l;
  }
}

// Complete-layout trees of depth D over one block: raw[b] += leaf_t(b) for every tree, in tree order.
// kV vectors of 16 compositions go through each tree together (the tree's parameters are read once
// for them), with their sums held in registers across the trees.
template <int D, int kV>
__attribute__((always_inline)) inline void trees_depth_v(const Prepared& P, const int16_t* bins, double* raw) {
  constexpr int NI = (1 << D) - 1;
  const int64_t T = P.m->n_trees;
  vd4 acc[kV][4];
  for (int v = 0; v < kV; ++v)
    for (int i = 0; i < 4; ++i)
      for (int l = 0; l < 4; ++l) acc[v][i][l] = raw[v * kLanes + (i / 2) * 8 + kPerm[(i % 2) * 4 + l]];
  for (int64_t t = 0; t < T; ++t) {
    const int32_t* ns = P.node_slot.data() + t * NI;
    const int16_t* nb = P.node_bin.data() + t * NI;
    for (int v = 0; v < kV; ++v) {
      vs16 id;
      node_leaf<D, 0, 0>(bins + v * kLanes, ns, nb, id);
      add_leaves<(D > 3)>(P.leaf_bits.data() + t * 32, id, acc[v]);
    }
  }
  for (int v = 0; v < kV; ++v)
    for (int i = 0; i < 4; ++i)
      for (int l = 0; l < 4; ++l) raw[v * kLanes + (i / 2) * 8 + kPerm[(i % 2) * 4 + l]] = acc[v][i][l];
}

template <int D>
__attribute__((always_inline)) inline void trees_depth(const Prepared& P, const int16_t* bins, double* raw) {
  constexpr int kV = 2;
  static_assert(kVecs % kV == 0, "whole groups of vectors");
  for (int v = 0; v < kVecs; v += kV) trees_depth_v<D, kV>(P, bins + v * kLanes, raw + v * kLanes);
}

HEA_CLONES void trees_fast(const Prepared& P, const int16_t* bins, double* raw) {
  switch (P.depth) {
    case 0:
      for (int64_t t = 0; t < P.m->n_trees; ++t)
        for (int b = 0; b < B; ++b) raw[b] += P.leaf[t];
      break;
    case 1: trees_depth<1>(P, bins, raw); break;
    case 2: trees_depth<2>(P, bins, raw); break;
    case 3: trees_depth<3>(P, bins, raw); break;
    default: trees_depth<4>(P, bins, raw); break;
  }
}

// Any depth: rows[0..nr) of the block walk trees [t0, t1) in lockstep, branch-free steps (a leaf is its
// own child) until every walk is at a leaf, so the walks are independent chains the core overlaps;
// raw[row] += leaf in tree order. X holds the block's tested features by slot (X[slot * B + b]).
HEA_CLONES void trees_walk(const Prepared& P, const double* __restrict X, double* __restrict raw,
                           const int32_t* __restrict rows, int nr, int64_t t0, int64_t t1) {
  const Model& m = *P.m;
  const WalkNode* nodes = P.walk.data();
  const double* value = P.walk_value.data();
  int32_t node[B];
  for (int64_t t = t0; t < t1; ++t) {
    const auto root = static_cast<int32_t>(m.tree_offsets[t]);
    for (int r = 0; r < nr; ++r) node[r] = root;
    for (int step = 0; step < P.walk_depth[t]; ++step) {
      int32_t moving = 0;  // some walk not yet at its leaf after this step
      for (int r = 0; r < nr; ++r) {
        const WalkNode& nd = nodes[node[r]];
        const int32_t c =
            nd.child + static_cast<int32_t>(X[static_cast<int64_t>(nd.slot) * B + rows[r]] > nd.threshold);
        moving |= c ^ node[r];
        node[r] = c;
      }
      if (!moving) break;
    }
    for (int r = 0; r < nr; ++r) raw[rows[r]] += value[node[r]];
  }
}

// Clamp to [lo, hi] (NaN stays NaN: such rows are reported as NaN anyway).
__attribute__((always_inline)) inline double clamp(double v, double lo, double hi) {
  return v < lo ? lo : (v > hi ? hi : v);
}

// The linear member's Σ_j (v_j − mean_j) · w_j with w_j = coef_j / scale_j (without the intercept;
// within an ulp per term of ((v_j − mean_j) / scale_j) · coef_j, without a division) and whether
// the row is usable, for one block. A non-finite feature makes z NaN or ±inf (NaN · w, ±inf · w,
// ±inf · 0), so "every feature finite" is "z finite" (save a finite row whose sum overflows, which
// no standardised feature row comes near).
HEA_CLONES void linear_block(const Model& m, const double* __restrict w, const double* const* col, double* __restrict z,
                             uint8_t* __restrict ok) {
  // 32 rows at a time, their sums held in 8 vector registers across the features (written as
  // vector types: GCC otherwise vectorises across features, with scalar gathers)
  constexpr int kR = 32, kV = kR / 4;
  static_assert(B % kR == 0, "whole row groups");
  for (int r0 = 0; r0 < B; r0 += kR) {
    vd4 acc[kV] = {};
    for (int64_t j = 0; j < m.F; ++j) {
      const double* c = col[j] + r0;
      const double mu = m.lin_mean[j], wj = w[j];
      for (int v = 0; v < kV; ++v) {
        vd4 x;
        std::memcpy(&x, c + 4 * v, sizeof x);
        acc[v] += (x - mu) * wj;
      }
    }
    std::memcpy(z + r0, acc, sizeof acc);
  }
  for (int b = 0; b < B; ++b) ok[b] = static_cast<uint8_t>(z[b] - z[b] == 0.0);  // false for ±inf and NaN
}

// p = σ(cal_a · logit(p_avg) + cal_b) = 1 / (1 + e^(cal_a · ln((1 − p_avg) / p_avg) − cal_b)), with
// σ(x) = 1 / (1 + e^−x): one log and three exps per composition, by the vectorisable polynomials of
// fastmath.h (a few ulp; arguments clamped to their ranges, beyond which σ is 0 or 1 to far below
// the resolution that matters). Equal to the reference formula (libm exp, log, log1p) to ~1e-15.
// Written as separate simple loops: GCC if-converts a clamp only in a loop this plain.
HEA_CLONES void finish_block(const Model& m, const double* __restrict z, const double* __restrict raw,
                             const uint8_t* __restrict ok, double* __restrict out, double* __restrict s) {
  const double w_lin = m.w_lin, w_tree = m.w_tree, cal_a = m.cal_a, cal_b = m.cal_b, b0 = m.lin_intercept;
  double* a = s;
  double* t = s + B;
  for (int b = 0; b < B; ++b) a[b] = clamp(-(z[b] + b0), -708.0, 708.0);
  if (m.tree_mean) {  // a forest: the member is the mean of its trees' leaves, raw / n_trees
    const double nt = static_cast<double>(m.n_trees);
    for (int b = 0; b < B; ++b) t[b] = raw[b] / nt;
    for (int b = 0; b < B; ++b) {
      const double q = w_lin / (1.0 + fastmath::exp_poly(a[b])) + w_tree * t[b];
      a[b] = (1.0 - q) / q;  // e^−logit(q)
    }
  } else {
    for (int b = 0; b < B; ++b) t[b] = clamp(-raw[b], -708.0, 708.0);
    for (int b = 0; b < B; ++b) {
      const double q = w_lin / (1.0 + fastmath::exp_poly(a[b])) + w_tree / (1.0 + fastmath::exp_poly(t[b]));
      a[b] = (1.0 - q) / q;  // e^−logit(q)
    }
  }
  for (int b = 0; b < B; ++b) a[b] = clamp(a[b], DBL_MIN, DBL_MAX);
  for (int b = 0; b < B; ++b) a[b] = cal_a * fastmath::log_poly(a[b]) - cal_b;
  for (int b = 0; b < B; ++b) a[b] = clamp(a[b], -708.0, 708.0);
  for (int b = 0; b < B; ++b) out[b] = 1.0 / (1.0 + fastmath::exp_poly(a[b]));
  const double nan = std::numeric_limits<double>::quiet_NaN();
  for (int b = 0; b < B; ++b) out[b] = ok[b] ? out[b] : nan;
}

struct Work {
  std::vector<int16_t> bins;
  std::vector<double> raw, z, zero, scratch, bound, walk_x;
  std::vector<const double*> col;
  std::vector<uint8_t> ok;
  std::vector<int32_t> cell, bin_lo, bin_hi, stack, live;
  std::vector<double> box_lo, box_hi, settled;
  std::vector<double> tree_lo, tree_hi;      // walking layout: each tree's leaf bounds over the block's box
  std::vector<double> suffix_lo, suffix_hi;  // and their sums over trees t.. (walk_pruned)
  explicit Work(const Prepared& P)
      : bins(P.slot_feature.size() * B + kLanes),
        raw(B),
        z(B),
        zero(B, 0.0),
        scratch(2 * B),
        bound(2 * B),
        walk_x(std::max<size_t>(1, P.slot_feature.size()) * B),
        col(static_cast<size_t>(P.m->F)),
        ok(B),
        cell(B),
        bin_lo(P.slot_feature.size()),
        bin_hi(P.slot_feature.size()),
        stack(static_cast<size_t>(P.walk_stack)),
        live(B),
        box_lo(P.slot_feature.size()),
        box_hi(P.slot_feature.size()),
        settled(B),
        tree_lo(P.walk.empty() ? 0 : P.leaf_lo.size()),
        tree_hi(P.walk.empty() ? 0 : P.leaf_hi.size()),
        suffix_lo(P.walk.empty() ? 1 : P.leaf_lo.size() + 1),
        suffix_hi(P.walk.empty() ? 1 : P.leaf_hi.size() + 1) {}
};

// Margin on the bounds of p below: far above the few-ulp rounding of the bounds and of p itself.
constexpr double kBoundMargin = 1e-9;

// p of the combination formula of finish_block for one (z, raw), with libm (finish_block's
// polynomials agree to a few ulp, far inside kBoundMargin). p increases with z and with raw (the
// binding checks w_lin, w_tree >= 0 and cal_a > 0), so p at the corners of a box bounds p inside it.
double p_scalar(const Model& m, double z, double raw) {
  const double a = clamp(-(z + m.lin_intercept), -708.0, 708.0), t = clamp(-raw, -708.0, 708.0);
  const double q = m.w_lin / (1.0 + std::exp(a)) +
                   (m.tree_mean ? m.w_tree * (raw / static_cast<double>(m.n_trees)) : m.w_tree / (1.0 + std::exp(t)));
  const double r = clamp((1.0 - q) / q, DBL_MIN, DBL_MAX);
  const double u = clamp(m.cal_a * std::log(r) - m.cal_b, -708.0, 708.0);
  return 1.0 / (1.0 + std::exp(u));
}

// The range [*zlo, *zhi] of the linear member's z over the usable rows b < nb of a block (linear_block
// has filled w.z and w.ok); returns how many rows are usable (0: the range is empty, +inf / -inf).
int64_t z_range(const Work& w, int nb, double* zlo, double* zhi) {
  double lo = INFINITY, hi = -INFINITY;
  int64_t n = 0;
  for (int b = 0; b < nb; ++b)
    if (w.ok[b]) lo = std::min(lo, w.z[b]), hi = std::max(hi, w.z[b]), ++n;
  *zlo = lo;
  *zhi = hi;
  return n;
}

// Bounds of p over a box of (z, raw): p_scalar at its corners (p increases with both), widened by
// kBoundMargin: *plo <= p <= *phi for every (z, raw) in [zlo, zhi] x [rlo, rhi].
void p_box(const Model& m, double zlo, double zhi, double rlo, double rhi, double* plo, double* phi) {
  *plo = p_scalar(m, zlo, rlo) - kBoundMargin;
  *phi = p_scalar(m, zhi, rhi) + kBoundMargin;
}

// The box of the tested features over the rows b < nb with ok[b]: w.box_lo[s], w.box_hi[s] per slot,
// as the nodes compare them (rounded to float32 for tree_float32: rounding is monotone, so every
// row's compared value lies in the rounded box). Returns false when no row is ok.
bool block_box(const Prepared& P, Work& w, int nb) {
  const double* const* col = w.col.data();
  const uint8_t* ok = w.ok.data();
  bool any = false;
  for (int b = 0; b < nb; ++b) any |= ok[b] != 0;
  if (!any) return false;
  for (size_t s = 0; s < P.slot_feature.size(); ++s) {
    const double* c = col[P.slot_feature[s]];
    double lo = INFINITY, hi = -INFINITY;
    for (int b = 0; b < nb; ++b)
      if (ok[b]) lo = std::min(lo, c[b]), hi = std::max(hi, c[b]);
    if (P.m->tree_float32) lo = static_cast<float>(lo), hi = static_cast<float>(hi);
    w.box_lo[s] = lo;
    w.box_hi[s] = hi;
  }
  return true;
}

// Bounds of the raw tree score over the rows b < nb with ok[b] of one block (complete layout):
// each tested feature's bins over those rows lie in [bin(min value), bin(max value)] (bin is
// monotone), so a node sends some row left iff bin_lo <= node_bin and some row right iff
// bin_hi > node_bin; each tree contributes the smallest / largest of the leaves some row can reach,
// summed in tree order from the baseline like the rows' own sums (rounding is monotone, so the
// bounds hold for the rounded sums too). Returns false when no row is ok.
bool block_raw_bounds(const Prepared& P, Work& w, int nb, double* raw_lo, double* raw_hi) {
  const Model& m = *P.m;
  if (!block_box(P, w, nb)) return false;
  for (size_t s = 0; s < P.slot_feature.size(); ++s) {
    w.bin_lo[s] = P.binner[s].bin(w.box_lo[s]);
    w.bin_hi[s] = P.binner[s].bin(w.box_hi[s]);
  }
  const int NI = P.n_inner, NL = P.n_leaf;
  const int32_t *blo = w.bin_lo.data(), *bhi = w.bin_hi.data();
  double sum_lo = m.tree_baseline, sum_hi = m.tree_baseline;
  uint8_t reach[2 * (1 << kMaxFastDepth)];
  for (int64_t t = 0; t < m.n_trees; ++t) {
    const int32_t* ns = P.node_slot.data() + t * NI;
    const int16_t* nbin = P.node_bin.data() + t * NI;
    const double* leaf = P.leaf.data() + t * NL;
    std::fill(reach, reach + NI + NL, uint8_t{0});
    reach[0] = 1;
    for (int h = 0; h < NI; ++h) {
      if (!reach[h]) continue;
      reach[2 * h + 1] |= static_cast<uint8_t>(blo[ns[h]] <= nbin[h]);
      reach[2 * h + 2] |= static_cast<uint8_t>(bhi[ns[h]] > nbin[h]);
    }
    double lo = INFINITY, hi = -INFINITY;
    for (int l = 0; l < NL; ++l)
      if (reach[NI + l]) lo = std::min(lo, leaf[l]), hi = std::max(hi, leaf[l]);
    sum_lo += lo;
    sum_hi += hi;
  }
  *raw_lo = sum_lo;
  *raw_hi = sum_hi;
  return true;
}

// The same for the walking layout (deeper trees, forests): each tree's nodes that some row of the box
// reaches, depth first (left iff box_lo <= threshold, right iff box_hi > threshold); a tree stops
// early once it has met its own smallest and largest leaves, which bound it anyway.
bool block_raw_bounds_walk(const Prepared& P, Work& w, int nb, double* raw_lo, double* raw_hi) {
  const Model& m = *P.m;
  if (!block_box(P, w, nb)) return false;
  const WalkNode* nodes = P.walk.data();
  const double *blo = w.box_lo.data(), *bhi = w.box_hi.data();
  int32_t* stack = w.stack.data();
  double sum_lo = m.tree_baseline, sum_hi = m.tree_baseline;
  for (int64_t t = 0; t < m.n_trees; ++t) {
    const double tlo = P.leaf_lo[t], thi = P.leaf_hi[t];
    double lo = INFINITY, hi = -INFINITY;
    int top = 0;
    stack[top++] = static_cast<int32_t>(m.tree_offsets[t]);
    while (top > 0) {
      const int32_t i = stack[--top];
      const WalkNode& nd = nodes[i];
      if (nd.child == i) {  // a leaf
        lo = std::min(lo, P.walk_value[i]);
        hi = std::max(hi, P.walk_value[i]);
        if (lo <= tlo && hi >= thi) break;
        continue;
      }
      // a node's pending sibling plus one path: the stack never holds more than depth + 1 nodes
      if (bhi[nd.slot] > nd.threshold) stack[top++] = nd.child + 1;
      if (blo[nd.slot] <= nd.threshold) stack[top++] = nd.child;
    }
    w.tree_lo[t] = lo;
    w.tree_hi[t] = hi;
    sum_lo += lo;
    sum_hi += hi;
  }
  *raw_lo = sum_lo;
  *raw_hi = sum_hi;
  return true;
}

// Trees walked between two checks of walk_pruned.
constexpr int64_t kWalkGroup = 16;  // 4 to 32 screen within 10 % of each other; all 300 at once: 1.4-1.7x slower

struct RowIndex {  // 0, 1, ..., B − 1: every row of a block
  int32_t v[B];
  constexpr RowIndex() : v() {
    for (int b = 0; b < B; ++b) v[b] = b;
  }
  const int32_t* data() const { return v; }
};
constexpr RowIndex kAllRows;

// The walking layout's trees over one block under eval_block's pruning contract: the usable rows
// b < nb walk the trees kWalkGroup at a time; after each group a row whose p, whatever the remaining
// trees give (raw so far + the sums of the smallest / largest leaves the block's box reaches in each
// of them), cannot reach
// heap_min and lies on a known side of `threshold` is settled and walks no further. When every row
// settles, returns false with out[b] = 1 for the rows sure to pass (eval_block's contract); otherwise
// the walked rows get their exact p and each settled row a bound on the side it is known to lie: its
// lower bound when it passes the threshold, its upper bound when it fails — below heap_min either
// way, so the top-k and the passing count are those of every tree.
bool walk_pruned(const Prepared& P, Work& w, int nb, double heap_min, double threshold, double* out) {
  const Model& m = *P.m;
  const double* z = w.z.data();
  double* raw = w.raw.data();
  const uint8_t* ok = w.ok.data();
  int32_t* live = w.live.data();
  double* settled = w.settled.data();  // NaN: walked to the end
  int nl = 0;
  for (int b = 0; b < B; ++b) settled[b] = std::numeric_limits<double>::quiet_NaN();
  for (int b = 0; b < nb; ++b)
    if (ok[b]) live[nl++] = b;
  const int64_t T = m.n_trees;
  // what the trees left can add: the sums over t.. of each tree's leaf bounds over the block's box
  // (block_raw_bounds_walk, which eval_block's first stage ran on this block since a row is usable)
  double *sfx_lo = w.suffix_lo.data(), *sfx_hi = w.suffix_hi.data();
  sfx_lo[T] = sfx_hi[T] = 0.0;
  for (int64_t t = T - 1; nl > 0 && t >= 0; --t) {
    sfx_lo[t] = sfx_lo[t + 1] + w.tree_lo[t];
    sfx_hi[t] = sfx_hi[t + 1] + w.tree_hi[t];
  }
  for (int64_t t0 = 0; t0 < T && nl > 0; t0 += kWalkGroup) {
    const int64_t t1 = std::min(T, t0 + kWalkGroup);
    trees_walk(P, w.walk_x.data(), raw, live, nl, t0, t1);
    if (t1 == T) break;
    int keep = 0;
    for (int r = 0; r < nl; ++r) {
      const int b = live[r];
      const double hi = p_scalar(m, z[b], raw[b] + sfx_hi[t1]);
      double v = std::numeric_limits<double>::quiet_NaN();
      if (hi + kBoundMargin < heap_min) {
        if (hi + kBoundMargin < threshold) {
          v = hi;
        } else {
          const double lo = p_scalar(m, z[b], raw[b] + sfx_lo[t1]);
          if (lo - kBoundMargin >= threshold) v = lo;
        }
      }
      if (std::isnan(v)) {
        live[keep++] = b;
      } else {
        settled[b] = v;
      }
    }
    nl = keep;
  }
  if (nl == 0) {
    for (int b = 0; b < nb; ++b) out[b] = ok[b] && settled[b] >= threshold ? 1.0 : 0.0;
    return false;
  }
  finish_block(m, z, raw, ok, out, w.scratch.data());
  for (int b = 0; b < nb; ++b)
    if (ok[b] && !std::isnan(settled[b])) out[b] = settled[b];
  return true;
}

// p of one block whose feature j is col[j][0..B); out[b] for every b (padding included). With
// heap_min not NaN (the top-k driver: the score a composition must beat to enter the heap), the
// trees are skipped when they cannot matter, in two stages: (1) the block as a whole — p of every
// row lies in [p(min z, raw_lo), p(max z, raw_hi)] with the raw tree score's bounds over the block
// (block_raw_bounds; for deeper trees the baseline + each tree's smallest / largest leaf); (2) row
// by row, p(z_b, raw_lo) <= p_b <= p(z_b, raw_hi). When no row b < nb can reach heap_min and none
// straddles `threshold`, eval_block returns false and sets out[b] = 1 for the rows sure to pass the
// threshold (0 otherwise). The top-k and the passing count are exactly those of evaluating every
// tree (tests/test_phase_ensemble.py).
bool eval_block(const Prepared& P, Work& w, double* out, int nb = B, double heap_min = NAN,
                double threshold = -INFINITY) {
  const Model& m = *P.m;
  const double* const* col = w.col.data();
  double* z = w.z.data();
  double* raw = w.raw.data();
  uint8_t* ok = w.ok.data();
  linear_block(m, P.lin_w.data(), col, z, ok);
  if (!std::isnan(heap_min)) {
    double zlo, zhi;
    const bool any = z_range(w, nb, &zlo, &zhi) > 0;  // some row is ok
    // stage 1: one bound for the whole block, first with the trees' global extreme leaves (a few
    // scalar exps), then with the leaves the block's feature ranges can reach (a pass over the trees)
    const auto skip_block = [&](double rlo, double rhi) {
      double plo, phi;
      p_box(m, zlo, zhi, rlo, rhi, &plo, &phi);
      if (!(phi < heap_min && (plo >= threshold || phi < threshold))) return false;
      const double pass = plo >= threshold ? 1.0 : 0.0;
      for (int b = 0; b < nb; ++b) out[b] = ok[b] ? pass : 0.0;
      return true;
    };
    double rlo = P.raw_lo, rhi = P.raw_hi;
    if (any && skip_block(rlo, rhi)) return false;
    if (any && (P.fast ? block_raw_bounds(P, w, nb, &rlo, &rhi) : block_raw_bounds_walk(P, w, nb, &rlo, &rhi)) &&
        skip_block(rlo, rhi))
      return false;
    double* hi = w.bound.data();  // stage 2: row by row
    double* lo = hi + B;
    std::fill(raw, raw + B, rhi);
    finish_block(m, z, raw, ok, hi, w.scratch.data());
    std::fill(raw, raw + B, rlo);
    finish_block(m, z, raw, ok, lo, w.scratch.data());
    bool need = false;
    for (int b = 0; b < nb; ++b)
      need |= ok[b] && (hi[b] + kBoundMargin >= heap_min ||
                        (lo[b] - kBoundMargin < threshold && hi[b] + kBoundMargin >= threshold));
    if (!need) {
      for (int b = 0; b < nb; ++b) out[b] = ok[b] && lo[b] - kBoundMargin >= threshold ? 1.0 : 0.0;
      return false;
    }
  }
  for (int b = 0; b < B; ++b) raw[b] = m.tree_baseline;
  // the tested features by slot (X[slot * B + b]), rounded to float32 for trees that compare them so
  // (the complete layout reads float64 columns in place)
  double* X = w.walk_x.data();
  const bool copy = !P.fast || m.tree_float32;
  for (size_t k = 0; copy && k < P.slot_feature.size(); ++k) {
    const double* c = col[P.slot_feature[k]];
    if (m.tree_float32) {
      for (int b = 0; b < B; ++b) X[k * B + b] = static_cast<float>(c[b]);
    } else {
      std::copy(c, c + B, X + k * B);
    }
  }
  if (P.fast) {
    for (size_t s = 0; s < P.slot_feature.size(); ++s)
      block_bins(P.binner[s], copy ? X + s * B : col[P.slot_feature[s]], w.bins.data() + s * B, w.cell.data());
    trees_fast(P, w.bins.data(), raw);
  } else if (std::isnan(heap_min)) {
    trees_walk(P, X, raw, kAllRows.data(), B, 0, m.n_trees);
  } else {
    return walk_pruned(P, w, nb, heap_min, threshold, out);
  }
  finish_block(m, z, raw, ok, out, w.scratch.data());
  return true;
}

// The first, cheapest bound of eval_block's pruning for a whole block (lattice_tile_bounds): over the
// usable rows b < nb, *phi = an upper bound of their p from the linear member's range and the trees'
// extreme leaves (kBoundMargin added; -inf when no row is usable) and *npass = how many pass
// `threshold`. Returns false when that bound leaves some row's side of `threshold` unknown (then
// *npass is meaningless and the block must be evaluated).
bool block_bound(const Prepared& P, Work& w, int nb, double threshold, double* phi, int64_t* npass) {
  const Model& m = *P.m;
  linear_block(m, P.lin_w.data(), w.col.data(), w.z.data(), w.ok.data());
  double zlo, zhi;
  const int64_t n_ok = z_range(w, nb, &zlo, &zhi);
  *phi = -INFINITY;
  *npass = 0;
  if (n_ok == 0) return true;
  double plo;
  p_box(m, zlo, zhi, P.raw_lo, P.raw_hi, &plo, phi);
  if (plo >= threshold) {
    *npass = n_ok;
    return true;
  }
  return *phi < threshold;
}

// Threads pull items [0, n) in chunks from a shared counter; f(work, tid, lo, hi) with a per-thread
// work = make(). Items are independent, so results never depend on the thread count.
template <class Make, class F>
void dynamic_items(int64_t n, int64_t chunk, int t, Make&& make, F&& f) {
  if (n <= 0) return;
  const int64_t chunks = (n + chunk - 1) / chunk;
  std::atomic<int64_t> next{0};
  run_threads(
      t,
      [&](int tid) {
        auto work = make();
        for (int64_t c = next.fetch_add(1); c < chunks; c = next.fetch_add(1))
          f(work, tid, c * chunk, std::min(n, (c + 1) * chunk));
      },
      [&] { next.store(chunks); });
}

int threads_for(int threads, int64_t items) {
  return static_cast<int>(std::max<int64_t>(1, std::min<int64_t>(resolve_threads(threads), items)));
}

struct LatticeWork {
  Work w;
  std::vector<double> c, sum, scratch, p;
  LatticeWork(const Prepared& P, int64_t kmax)
      : w(P),
        c(static_cast<size_t>(kmax * B)),
        sum(B),
        scratch(static_cast<size_t>(descriptors::detail::kBlockScratch * B)),
        p(B) {}
};

// Walks ranks of tiles [lo, hi) and calls sink(rank0, nb, p, evaluated) for each block of one system,
// after evaluate(nb) -> evaluated has filled lw.p from the block's feature columns lw.w.col (not
// called for a block holding an element that is not allowed: p NaN, evaluated).
template <class Sink, class Evaluate>
void lattice_blocks(const lattice::Space& space, int64_t start, int64_t count, const LatticeFeatures& lf,
                    const Prepared& P, LatticeWork& lw, int64_t lo, int64_t hi, Sink&& sink, Evaluate&& evaluate) {
  const Model& m = *P.m;
  const int64_t E = space.n_palette();
  const unsigned need = lf.n_desc > 0 ? descriptors::needs_of(lf.cols, static_cast<int>(lf.n_desc)) : 0u;
  const double nan = std::numeric_limits<double>::quiet_NaN();
  int64_t rank0 = 0;
  int nb = 0;
  const lattice::Block* cur = nullptr;
  auto flush = [&]() {
    if (nb == 0) return;
    bool allowed = true, evaluated = true;
    for (int j = 0; j < cur->k; ++j) allowed &= lf.allowed[cur->elem[j]] != 0;
    if (!allowed) {
      std::fill(lw.p.begin(), lw.p.end(), nan);
    } else {
      descriptors::detail::units_to_fractions(lw.c.data(), cur->k, nb, static_cast<double>(cur->N), lw.sum.data());
      const double* o = lf.n_desc > 0 ? descriptors::detail::block_compute(lw.c.data(), cur->k, cur->elem, lf.props,
                                                                           lf.pair, E, lf.prm, need, lw.scratch.data())
                                      : nullptr;
      for (int64_t j = 0; j < lf.n_desc; ++j) lw.w.col[j] = o + static_cast<int64_t>(lf.cols[j]) * B;
      for (int64_t j = lf.n_desc; j < m.F; ++j) lw.w.col[j] = lw.w.zero.data();
      for (int j = 0; j < cur->k; ++j) {
        const int32_t f = lf.frac_feature[cur->elem[j]];
        if (f >= 0) lw.w.col[f] = lw.c.data() + static_cast<int64_t>(j) * B;
      }
      evaluated = evaluate(nb);
    }
    sink(rank0, nb, static_cast<const double*>(lw.p.data()), evaluated);
    nb = 0;
  };
  const int64_t r_lo = start + lo * kTile, r_hi = std::min(start + count, start + hi * kTile);
  descriptors::detail::gather_unit_blocks(space, r_lo, r_hi, lw.c.data(), nb, cur, rank0, flush);
}

// lattice_blocks with eval_block's pruning: heap_min() and threshold as eval_block's (heap_min() NaN:
// every tree runs).
template <class Sink, class HeapMin>
void lattice_tiles(const lattice::Space& space, int64_t start, int64_t count, const LatticeFeatures& lf,
                   const Prepared& P, LatticeWork& lw, int64_t lo, int64_t hi, Sink&& sink, HeapMin&& heap_min,
                   double threshold) {
  lattice_blocks(space, start, count, lf, P, lw, lo, hi, sink,
                 [&](int nb) { return eval_block(P, lw.w, lw.p.data(), nb, heap_min(), threshold); });
}

struct Worse {  // heap order: the top is the worst kept hit
  bool operator()(const screen::Hit& a, const screen::Hit& b) const { return screen::better(a, b); }
};
using Heap = std::priority_queue<screen::Hit, std::vector<screen::Hit>, Worse>;

}  // namespace

void rows(const double* V, int64_t n, const Model& m, double* out, int threads) {
  if (n <= 0) return;
  const Prepared P = prepare(m);
  const int64_t F = m.F, blocks = (n + B - 1) / B;
  struct RowWork {
    Work w;
    std::vector<double> X, p;
  };
  dynamic_items(
      blocks, kRowChunk, threads_for(threads, (blocks + kRowChunk - 1) / kRowChunk),
      [&] { return RowWork{Work(P), std::vector<double>(static_cast<size_t>(F * B)), std::vector<double>(B)}; },
      [&](RowWork& rw, int, int64_t lo, int64_t hi) {
        for (int64_t blk = lo; blk < hi; ++blk) {
          const int64_t r0 = blk * B, nb = std::min<int64_t>(B, n - r0);
          for (int64_t b = 0; b < B; ++b) {  // rows read in memory order (padding: copies of the last)
            const double* row = V + (r0 + std::min(b, nb - 1)) * F;
            for (int64_t j = 0; j < F; ++j) rw.X[j * B + b] = row[j];
          }
          for (int64_t j = 0; j < F; ++j) rw.w.col[j] = rw.X.data() + j * B;
          eval_block(P, rw.w, rw.p.data());
          std::copy(rw.p.begin(), rw.p.begin() + nb, out + r0);
        }
      });
}

std::shared_ptr<const Prepared> prepare_model(const Model& m) { return std::make_shared<const Prepared>(prepare(m)); }

void lattice_scores(const lattice::Space& space, int64_t start, int64_t count, const LatticeFeatures& lf,
                    const Prepared& P, double* out, int threads, double floor, double threshold) {
  if (count <= 0) return;
  const int64_t tiles = (count + kTile - 1) / kTile;
  // floor: eval_block's pruning with heap_min = floor and no threshold; a skipped block reports 1 for
  // its usable rows (they all pass -inf) and 0 for the others, written here as -inf and NaN.
  // threshold: heap_min = +inf (no row needs its exact p) and the threshold; a skipped block reports
  // 1 for the rows sure to pass it, written as +inf, and 0 for the others (failing or unusable), -inf.
  const bool sides = threshold != -INFINITY;
  const double heap_min = sides ? INFINITY : floor == -INFINITY ? std::numeric_limits<double>::quiet_NaN() : floor;
  const double pass = sides ? INFINITY : -INFINITY, fail = sides ? -INFINITY : std::numeric_limits<double>::quiet_NaN();
  dynamic_items(
      tiles, 1, threads_for(threads, tiles), [&] { return LatticeWork(P, space.max_k()); },
      [&](LatticeWork& lw, int, int64_t lo, int64_t hi) {
        lattice_tiles(
            space, start, count, lf, P, lw, lo, hi,
            [&](int64_t rank0, int nb, const double* p, bool evaluated) {
              double* o = out + (rank0 - start);
              if (evaluated) {
                std::copy(p, p + nb, o);
              } else {
                for (int b = 0; b < nb; ++b) o[b] = p[b] > 0 ? pass : fail;
              }
            },
            [&] { return heap_min; }, threshold);
      });
}

void lattice_tile_bounds(const lattice::Space& space, int64_t start, int64_t count, const LatticeFeatures& lf,
                         const Prepared& P, double threshold, int threads, double* bound, int64_t* pass) {
  if (count <= 0) return;
  const int64_t tiles = (count + kTile - 1) / kTile;
  dynamic_items(
      tiles, 1, threads_for(threads, tiles), [&] { return LatticeWork(P, space.max_k()); },
      [&](LatticeWork& lw, int, int64_t lo, int64_t hi) {
        for (int64_t t = lo; t < hi; ++t) {
          double phi = -INFINITY;
          int64_t n = 0;
          bool settled = true;
          lattice_blocks(
              space, start, count, lf, P, lw, t, t + 1, [](int64_t, int, const double*, bool) {},
              [&](int nb) {
                double b_phi = -INFINITY;
                int64_t b_pass = 0;
                settled &= block_bound(P, lw.w, nb, threshold, &b_phi, &b_pass);
                phi = std::max(phi, b_phi);
                n += b_pass;
                return false;
              });
          bound[t] = phi;
          pass[t] = settled ? n : -1;
        }
      });
}

int64_t lattice_topk(const lattice::Space& space, int64_t start, int64_t count, const LatticeFeatures& lf,
                     const Prepared& P, double threshold, int64_t k, int threads, std::vector<screen::Hit>* top,
                     double floor, const double* tile_bound, const int64_t* tile_pass) {
  top->clear();
  if (count <= 0 || k <= 0) return 0;
  const int64_t tiles = (count + kTile - 1) / kTile;
  const int t = threads_for(threads, tiles);
  std::vector<Heap> heaps(static_cast<size_t>(t));
  std::vector<int64_t> passing(static_cast<size_t>(t), 0);
  // with tile bounds, the tiles are visited best bound first (ties: lower tile), so the heaps fill with
  // good rows at once and the other tiles are skipped whole; the k best are the same in any order
  std::vector<int64_t> order;
  if (tile_bound != nullptr) {
    order.resize(static_cast<size_t>(tiles));
    std::iota(order.begin(), order.end(), int64_t{0});
    std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return tile_bound[a] > tile_bound[b]; });
  }
  dynamic_items(
      tiles, 1, t, [&] { return LatticeWork(P, space.max_k()); },
      [&](LatticeWork& lw, int tid, int64_t item, int64_t) {
        Heap& heap = heaps[static_cast<size_t>(tid)];
        int64_t& pass = passing[static_cast<size_t>(tid)];
        // a row enters the heap only with p >= threshold, so the threshold is a floor as well: while
        // the heap is not full, rows sure to fail it are settled without walking every tree
        const auto heap_min = [&] {
          return std::max(std::max(floor, threshold),
                          static_cast<int64_t>(heap.size()) < k ? -INFINITY : heap.top().score);
        };
        const int64_t tile = order.empty() ? item : order[static_cast<size_t>(item)];
        // cannot reach the heap, and its passing count is known: the count only
        if (tile_bound != nullptr && tile_bound[tile] < heap_min() && tile_pass[tile] >= 0) {
          pass += tile_pass[tile];
          return;
        }
        lattice_tiles(
            space, start, count, lf, P, lw, tile, tile + 1,
            [&](int64_t rank0, int nb, const double* p, bool evaluated) {
              if (!evaluated) {  // no row can enter the heap; p[b] = 1 marks those sure to pass
                for (int b = 0; b < nb; ++b) pass += p[b] > 0;
                return;
              }
              for (int b = 0; b < nb; ++b) {
                const double v = p[b];
                if (!(v >= threshold) || !std::isfinite(v)) continue;  // NaN fails v >= threshold
                ++pass;
                if (v < floor) continue;  // cannot enter the caller's pool
                const screen::Hit h{v, rank0 + b};
                if (static_cast<int64_t>(heap.size()) < k) {
                  heap.push(h);
                } else if (screen::better(h, heap.top())) {
                  heap.pop();
                  heap.push(h);
                }
              }
            },
            heap_min, threshold);
      });
  int64_t total = 0;
  std::vector<screen::Hit> all;
  for (int i = 0; i < t; ++i) {
    total += passing[static_cast<size_t>(i)];
    Heap& heap = heaps[static_cast<size_t>(i)];
    while (!heap.empty()) {
      all.push_back(heap.top());
      heap.pop();
    }
  }
  std::sort(all.begin(), all.end(), screen::better);
  if (static_cast<int64_t>(all.size()) > k) all.resize(static_cast<size_t>(k));
  *top = std::move(all);
  return total;
}

// ---- random-forest member (tree_link "mean"; forest_sum in phase_ensemble.h) ---------------------------
// Per feature row, the leaf values of every tree are summed in tree order from
// 0.0, as scikit-learn's RandomForestClassifier.predict_proba accumulates its trees before dividing
// by their number, so the sum is bitwise scikit-learn's. With `float32`, a node compares the feature
// rounded to float32 (scikit-learn's forests cast their input to float32) with the float64
// threshold. Rows with a non-finite feature give NaN.
// Layout: the nodes are packed once per call into 24-byte records (threshold, feature, absolute
// children), and rows are walked tree-major within blocks of kForestRows, so one tree's nodes stay in
// cache while the block's rows go down it; each row still adds its leaves in tree order. Blocks are
// split over threads, so results never depend on the thread count.
namespace {

constexpr int64_t kForestRows = 256;

struct ForestNode {
  double threshold;
  int32_t feature;  // -1 on leaves
  int32_t left;     // absolute node index (leaf: unused)
  int32_t right;
  int32_t pad;
};

}  // namespace

void forest_sum(const double* V, int64_t n, const Model& m, bool float32, double* out, int threads) {
  if (n <= 0) return;
  const int64_t F = m.F, T = m.n_trees, N = m.tree_offsets[T];
  std::vector<ForestNode> nodes(static_cast<size_t>(N));
  std::vector<double> leaf(static_cast<size_t>(N));
  for (int64_t t = 0; t < T; ++t)
    for (int64_t i = m.tree_offsets[t]; i < m.tree_offsets[t + 1]; ++i) {
      const bool inner = m.node_feature[i] >= 0;
      const auto base = static_cast<int32_t>(m.tree_offsets[t]);
      nodes[i] = ForestNode{m.node_threshold[i], m.node_feature[i], inner ? base + m.node_left[i] : 0,
                            inner ? base + m.node_right[i] : 0, 0};
      leaf[i] = m.node_value[i];
    }
  const int64_t blocks = (n + kForestRows - 1) / kForestRows;
  parallel_for(
      blocks, threads,
      [&](int64_t lo, int64_t hi, int64_t) {
        std::vector<double> X(static_cast<size_t>(kForestRows * F));
        for (int64_t blk = lo; blk < hi; ++blk) {
          const int64_t r0 = blk * kForestRows, nb = std::min(kForestRows, n - r0);
          for (int64_t b = 0; b < nb; ++b) {
            const double* v = V + (r0 + b) * F;
            for (int64_t j = 0; j < F; ++j)
              X[b * F + j] = float32 ? static_cast<double>(static_cast<float>(v[j])) : v[j];
            out[r0 + b] = 0.0;
          }
          for (int64_t t = 0; t < T; ++t) {
            const int64_t root = m.tree_offsets[t];
            for (int64_t b = 0; b < nb; ++b) {
              const double* x = X.data() + b * F;
              int64_t i = root;
              while (nodes[i].feature >= 0)
                i = x[nodes[i].feature] <= nodes[i].threshold ? nodes[i].left : nodes[i].right;
              out[r0 + b] += leaf[i];
            }
          }
          for (int64_t b = 0; b < nb; ++b) {
            const double* v = V + (r0 + b) * F;
            for (int64_t j = 0; j < F; ++j)
              if (!std::isfinite(v[j])) {
                out[r0 + b] = NAN;
                break;
              }
          }
        }
      },
      1);
}

}  // namespace hea_fast::phase_ensemble
