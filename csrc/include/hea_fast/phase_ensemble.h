// The phase ensemble (hea_fast.phase.ensemble): P(single phase) of a feature vector
// v = [descriptors (F_d) | element fractions (F_e)] as the average of a logistic regression and a
// gradient-boosted tree ensemble (scikit-learn HistGradientBoostingClassifier), Platt-calibrated:
//   logit_lin = Σ_j ((v_j − mean_j) / scale_j) · coef_j + intercept
//   raw       = baseline + Σ_t leaf_t(v)      (tree order, float64: bitwise scikit-learn's raw score)
//   p_avg     = w_lin σ(logit_lin) + w_tree σ(raw),   p = σ(cal_a (log p_avg − log1p(−p_avg)) + cal_b)
// or, for a random-forest member (Model::tree_mean), w_tree · raw / n_trees with raw summed from 0.0
// (scikit-learn's RandomForestClassifier.predict_proba) in place of w_tree σ(raw).
// A tree goes left at an internal node iff v[feature] <= threshold. Rows with a non-finite feature
// give NaN. Three drivers share one block evaluation:
//   rows           feature rows V (n, F) -> p
//   lattice_scores lattice ranks -> descriptors (the shared descriptor block kernel) and fractions
//                  -> p, without decoding (NaN for compositions holding an element not allowed)
//   lattice_topk   the same, keeping the k best with p >= threshold (screen.h's Hit order)
// Results never depend on the thread count.
#pragma once
#include <cstdint>
#include <limits>
#include <memory>
#include <vector>

#include "hea_fast/descriptors.h"
#include "hea_fast/lattice.h"
#include "hea_fast/screen.h"

namespace hea_fast::phase_ensemble {

// Arrays as hea_fast.phase.ensemble.EnsembleParams holds them (validated by the caller: node
// children lie after their parent inside their tree, features in [0, F) on internal nodes).
struct Model {
  int64_t F = 0;  // features: descriptors + fractions
  const double* lin_mean = nullptr;
  const double* lin_scale = nullptr;
  const double* lin_coef = nullptr;
  double lin_intercept = 0;
  double tree_baseline = 0;
  int64_t n_trees = 0;
  const int64_t* tree_offsets = nullptr;  // (n_trees + 1)
  const int32_t* node_feature = nullptr;  // (n_nodes), -1 on leaves
  const double* node_threshold = nullptr;
  const int32_t* node_left = nullptr;  // relative to the tree's first node, -1 on leaves
  const int32_t* node_right = nullptr;
  const double* node_value = nullptr;
  double w_lin = 0.5, w_tree = 0.5, cal_a = 1.0, cal_b = 0.0;
  // A random-forest member (EnsembleParams tree_link "mean"): the member is raw / n_trees instead of
  // σ(raw), and with tree_float32 a node compares float32(v) with its float64 threshold (scikit-learn's
  // forests cast their input to float32).
  bool tree_mean = false;
  bool tree_float32 = false;
};

// Where a lattice composition's features come from: descriptors `cols` (n_desc of them, features
// 0..n_desc-1) by the descriptor block kernel from the palette's element data, and the fraction of
// palette element e as feature frac_feature[e] (-1: the element has no fraction feature and adds
// nothing). allowed[e] == 0: compositions holding e give NaN. A NaN pair enthalpy makes the
// descriptors that read it NaN for compositions holding both elements, and so p.
struct LatticeFeatures {
  const double* props = nullptr;  // (E, kNumProps)
  const double* pair = nullptr;   // (E, E)
  descriptors::Params prm{};
  const int* cols = nullptr;
  int64_t n_desc = 0;
  const int32_t* frac_feature = nullptr;  // (E)
  const uint8_t* allowed = nullptr;       // (E)
};

void rows(const double* V, int64_t n, const Model& m, double* out, int threads);

// A random-forest member (csrc/cpu/phase_ensemble_cpu.cpp): out[r] = Σ_t leaf_t(V[r]) in tree order from
// 0.0 (the member is that sum / n_trees), nodes comparing float32(v) when `float32`; NaN for a row
// with a non-finite feature. The linear member and the model's scalars are not read.
void forest_sum(const double* V, int64_t n, const Model& m, bool float32, double* out, int threads);

// A model in the block evaluator's layout (complete trees or the walking layout, leaf bounds),
// prepared once for the many calls of a screen (about 5 ms for a 300-tree forest of 200,000 nodes;
// `rows` prepares its Model itself). It points into the Model and its arrays, which must outlive it.
struct Prepared;
std::shared_ptr<const Prepared> prepare_model(const Model& m);

// p of ranks [start, start + count). floor (-inf: none): a composition whose p is below floor may get any value below
// it instead (its upper bound, or -inf when its block was skipped), which spares the trees of such blocks and rows;
// every p >= floor is exact and a NaN p stays NaN. threshold (-inf: none; not with a floor): only the
// side of it each p lies on is kept — a value on the same side (a bound of p, +inf, -inf) may stand
// for p, and a NaN p may come back as -inf.
void lattice_scores(const lattice::Space& space, int64_t start, int64_t count, const LatticeFeatures& lf,
                    const Prepared& P, double* out, int threads,
                    double floor = -std::numeric_limits<double>::infinity(),
                    double threshold = -std::numeric_limits<double>::infinity());

// The k best (finite p >= threshold) of ranks [start, start + count), best first (higher p, then
// lower rank) in *top; returns how many passed. floor: the caller keeps only p >= floor (e.g. the
// worst score of a full pool the result is merged into), so rows below it are left out of *top and
// their trees may be skipped; the count of passing rows is exact whatever the floor.
// tile_bound, tile_pass (nullptr: none): lattice_tile_bounds of the same ranks and threshold; a tile
// whose bound cannot reach the k best kept so far (nor floor, nor threshold) and whose passing count
// is known (>= 0) is skipped and adds that count; one with an unknown count is evaluated for it.
// The threshold acts as a floor too (no row below it enters *top), so a screen with a threshold
// settles rows sure to fail it before the k best are found.
int64_t lattice_topk(const lattice::Space& space, int64_t start, int64_t count, const LatticeFeatures& lf,
                     const Prepared& P, double threshold, int64_t k, int threads, std::vector<screen::Hit>* top,
                     double floor = -std::numeric_limits<double>::infinity(), const double* tile_bound = nullptr,
                     const int64_t* tile_pass = nullptr);

// Per tile of kLatticeTile ranks of [start, start + count) (the tiles lattice_topk walks): bound[t], an
// upper bound of p over the tile's usable compositions (-inf when it has none), and pass[t], how many
// of them have p >= threshold — from each block's descriptors, the linear member's range over the
// block and the trees' smallest / largest leaves, no tree walked. A tile where those bounds leave some
// composition's side of threshold unknown gets pass -1 (its count needs the trees) and its bound.
// A screen orders and skips tiles by them (best first); results never depend on the thread count.
constexpr int64_t kLatticeTile = 1 << 13;
void lattice_tile_bounds(const lattice::Space& space, int64_t start, int64_t count, const LatticeFeatures& lf,
                         const Prepared& P, double threshold, int threads, double* bound, int64_t* pass);

}  // namespace hea_fast::phase_ensemble
