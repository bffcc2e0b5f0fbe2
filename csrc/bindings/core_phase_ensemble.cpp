// Bindings for the phase ensemble kernel (csrc/include/hea_fast/phase_ensemble.h). Every model array
// is checked here (shapes, finiteness, node indices) so that no input can make a tree walk leave
// its tree: a bad model raises ValueError naming the array and the node.
#include <cmath>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "bind_util.h"
#include "hea_fast/phase_ensemble.h"
#include "modules.h"

namespace PE = hea_fast::phase_ensemble;
namespace D = hea_fast::descriptors;
using hb::carray;

namespace {

// The model's arrays, kept alive while the kernel runs (Model points into them).
struct ModelArgs {
  carray<double> lin_mean, lin_scale, lin_coef, node_threshold, node_value;
  carray<int64_t> tree_offsets;
  carray<int32_t> node_feature, node_left, node_right;
  carray<uint8_t> node_missing_left;
  PE::Model m;
};

[[noreturn]] void bad_node(int64_t i, int64_t t, const std::string& what) {
  throw py::value_error("node " + std::to_string(i) + " (tree " + std::to_string(t) + ") " + what);
}

void check_scalar(double v, const char* name) {
  if (!std::isfinite(v)) throw py::value_error(std::string(name) + " must be finite, got " + std::to_string(v));
}

ModelArgs make_model(const py::dict& kw) {
  ModelArgs a;
  a.lin_mean = kw["lin_mean"].cast<carray<double>>();
  a.lin_scale = kw["lin_scale"].cast<carray<double>>();
  a.lin_coef = kw["lin_coef"].cast<carray<double>>();
  a.node_threshold = kw["node_threshold"].cast<carray<double>>();
  a.node_value = kw["node_value"].cast<carray<double>>();
  a.tree_offsets = kw["tree_offsets"].cast<carray<int64_t>>();
  a.node_feature = kw["node_feature"].cast<carray<int32_t>>();
  a.node_left = kw["node_left"].cast<carray<int32_t>>();
  a.node_right = kw["node_right"].cast<carray<int32_t>>();
  a.node_missing_left = kw["node_missing_left"].cast<carray<uint8_t>>();
  PE::Model& m = a.m;
  hb::check_shape(a.lin_mean, "lin_mean", {-1});
  m.F = a.lin_mean.shape(0);
  if (m.F < 1) throw py::value_error("lin_mean: the model needs at least one feature");
  hb::check_shape(a.lin_scale, "lin_scale", {m.F});
  hb::check_shape(a.lin_coef, "lin_coef", {m.F});
  hb::check_finite(a.lin_mean.data(), m.F, "lin_mean");
  hb::check_finite(a.lin_scale.data(), m.F, "lin_scale");
  hb::check_finite(a.lin_coef.data(), m.F, "lin_coef");
  for (int64_t j = 0; j < m.F; ++j)
    if (a.lin_scale.data()[j] == 0) throw py::value_error("lin_scale[" + std::to_string(j) + "] is 0");
  m.lin_intercept = kw["lin_intercept"].cast<double>();
  m.tree_baseline = kw["tree_baseline"].cast<double>();
  m.w_lin = kw["w_lin"].cast<double>();
  m.w_tree = kw["w_tree"].cast<double>();
  m.cal_a = kw["cal_a"].cast<double>();
  m.cal_b = kw["cal_b"].cast<double>();
  check_scalar(m.lin_intercept, "lin_intercept");
  check_scalar(m.tree_baseline, "tree_baseline");
  check_scalar(m.cal_b, "cal_b");
  if (!(m.w_lin >= 0 && m.w_tree >= 0 && std::fabs(m.w_lin + m.w_tree - 1.0) <= 1e-9))
    throw py::value_error("w_lin and w_tree must be >= 0 and sum to 1, got " + std::to_string(m.w_lin) + " and " +
                          std::to_string(m.w_tree));
  if (!(m.cal_a > 0 && std::isfinite(m.cal_a)))
    throw py::value_error("cal_a must be finite and > 0, got " + std::to_string(m.cal_a));
  const std::string link = kw["tree_link"].cast<std::string>();
  if (link != "logit" && link != "mean")
    throw py::value_error("tree_link must be 'logit' (boosted trees) or 'mean' (a forest), got '" + link + "'");
  m.tree_mean = link == "mean";
  if (m.tree_mean && a.tree_offsets.shape(0) < 2)
    throw py::value_error("tree_link 'mean' (a forest: the mean of its trees) needs at least one tree");
  m.tree_float32 = kw["tree_float32"].cast<bool>();

  hb::check_shape(a.tree_offsets, "tree_offsets", {-1});
  hb::check_shape(a.node_feature, "node_feature", {-1});
  const int64_t n = a.node_feature.shape(0);
  for (auto [arr, name] : {std::pair<const py::array*, const char*>{&a.node_threshold, "node_threshold"},
                           {&a.node_left, "node_left"},
                           {&a.node_right, "node_right"},
                           {&a.node_value, "node_value"},
                           {&a.node_missing_left, "node_missing_left"}})
    hb::check_shape(*arr, name, {n});
  const int64_t* off = a.tree_offsets.data();
  const int64_t T = a.tree_offsets.shape(0) - 1;
  if (T < 0 || off[0] != 0 || off[T] != n)
    throw py::value_error("tree_offsets must start at 0 and end at the node count " + std::to_string(n));
  const int32_t *feat = a.node_feature.data(), *left = a.node_left.data(), *right = a.node_right.data();
  const double *thr = a.node_threshold.data(), *val = a.node_value.data();
  for (int64_t t = 0; t < T; ++t) {
    if (off[t + 1] <= off[t])
      throw py::value_error("tree_offsets must increase strictly: tree " + std::to_string(t) + " is empty");
    const int64_t size = off[t + 1] - off[t];
    for (int64_t i = off[t]; i < off[t + 1]; ++i) {
      const int64_t local = i - off[t];
      if (feat[i] < -1 || feat[i] >= m.F)
        bad_node(i, t, "has feature " + std::to_string(feat[i]) + ", outside [-1, " + std::to_string(m.F) + ")");
      if (feat[i] == -1) {
        if (left[i] != -1 || right[i] != -1) bad_node(i, t, "is a leaf (feature -1) but has children");
        if (!std::isfinite(val[i])) bad_node(i, t, "has a non-finite leaf value");
        continue;
      }
      if (std::isnan(thr[i])) bad_node(i, t, "has a NaN threshold");
      for (int32_t c : {left[i], right[i]})
        if (c <= local || c >= size)
          bad_node(i, t,
                   "has child " + std::to_string(c) + ", outside (" + std::to_string(local) + ", " +
                       std::to_string(size) + ") (children index the tree's nodes after their parent)");
    }
  }
  m.lin_mean = a.lin_mean.data();
  m.lin_scale = a.lin_scale.data();
  m.lin_coef = a.lin_coef.data();
  m.n_trees = T;
  m.tree_offsets = off;
  m.node_feature = feat;
  m.node_threshold = thr;
  m.node_left = left;
  m.node_right = right;
  m.node_value = val;
  return a;
}

// The lattice feature source: palette element data, descriptor columns, fraction features, allowed.
struct LatticeArgs {
  carray<double> props, pair;
  carray<int> columns;
  carray<int32_t> fraction_features;
  carray<uint8_t> allowed;
  PE::LatticeFeatures lf;
};

LatticeArgs make_lattice(const hea_fast::lattice::Space& space, int64_t start, int64_t stop, const PE::Model& m,
                         carray<double> props, carray<double> pair, double gas_constant, double log_offset,
                         carray<int> columns, carray<uint8_t> allowed, carray<int32_t> fraction_features) {
  hb::check_rank_range(start, stop, space.size());
  const int64_t E = space.n_palette();
  LatticeArgs a{props, pair, columns, fraction_features, allowed, {}};
  hb::check_shape(props, "props", {E, D::kNumProps});
  hb::check_shape(pair, "pair", {E, E});
  hb::check_finite(props.data(), props.size(), "props");
  for (int64_t i = 0; i < E * E; ++i)
    if (std::isinf(pair.data()[i])) throw py::value_error("pair: infinite value at flat index " + std::to_string(i));
  hb::check_shape(columns, "columns", {-1});
  hb::check_shape(allowed, "allowed", {E});
  hb::check_shape(fraction_features, "fraction_features", {E});
  const int64_t nd = columns.shape(0);
  if (nd > m.F)
    throw py::value_error("columns: " + std::to_string(nd) + " descriptors for a model of " + std::to_string(m.F) +
                          " features");
  for (int64_t j = 0; j < nd; ++j)
    if (columns.data()[j] < 0 || columns.data()[j] >= D::kNumDescriptors)
      throw py::value_error("columns[" + std::to_string(j) + "] = " + std::to_string(columns.data()[j]) +
                            " is not a descriptor index (0.." + std::to_string(D::kNumDescriptors - 1) + ")");
  std::vector<uint8_t> seen(static_cast<size_t>(m.F), 0);
  for (int64_t e = 0; e < E; ++e) {
    const int32_t f = fraction_features.data()[e];
    if (f == -1) continue;
    if (f < nd || f >= m.F || seen[f])
      throw py::value_error("fraction_features[" + std::to_string(e) + "] = " + std::to_string(f) +
                            ": must be -1 or a distinct feature in [" + std::to_string(nd) + ", " +
                            std::to_string(m.F) + ")");
    seen[f] = 1;
  }
  if (!std::isfinite(gas_constant) || !std::isfinite(log_offset) || log_offset < 0)
    throw py::value_error("gas_constant and log_offset must be finite (log_offset >= 0)");
  a.lf = PE::LatticeFeatures{a.props.data(),
                             a.pair.data(),
                             D::Params{gas_constant, log_offset},
                             a.columns.data(),
                             nd,
                             a.fraction_features.data(),
                             a.allowed.data()};
  return a;
}

const char* kModelDoc =
    " Model arguments (keyword-only; hea_fast.phase.ensemble.EnsembleParams.arrays()): lin_mean, lin_scale, lin_coef "
    "(F,), lin_intercept, tree_baseline, tree_offsets (n_trees + 1,), node_feature, node_threshold, node_left, "
    "node_right (relative to the tree's first node), node_value, node_missing_left (n_nodes,), w_lin, w_tree, cal_a, "
    "cal_b; tree_link ('logit': boosted trees, σ(baseline + Σ leaves); 'mean': a forest, Σ leaves / n_trees), "
    "tree_float32 (nodes compare float32(v), as scikit-learn's forests do).";

const char* kLatticeDoc =
    " props (E, 7), pair (E, E): the palette's element data (props finite; a NaN pair enthalpy makes compositions "
    "holding both elements NaN where a descriptor reads it); columns: the descriptor indices of features "
    "0..len(columns)-1; allowed (E,): 0 makes compositions holding the element NaN; fraction_features (E,): the "
    "feature holding each palette element's fraction, or -1.";

// The model arguments, keyword-only and in EnsembleParams.arrays() order, of every entry point.
#define PE_MODEL_PARAMS                                                                                                \
  py::object lin_mean, py::object lin_scale, py::object lin_coef, py::object lin_intercept, py::object tree_baseline,  \
      py::object tree_offsets, py::object node_feature, py::object node_threshold, py::object node_left,               \
      py::object node_right, py::object node_value, py::object node_missing_left, py::object w_lin, py::object w_tree, \
      py::object cal_a, py::object cal_b, py::object tree_link, py::object tree_float32
#define PE_MODEL_DICT                                    \
  hb::dict_of({{"lin_mean", lin_mean},                   \
               {"lin_scale", lin_scale},                 \
               {"lin_coef", lin_coef},                   \
               {"lin_intercept", lin_intercept},         \
               {"tree_baseline", tree_baseline},         \
               {"tree_offsets", tree_offsets},           \
               {"node_feature", node_feature},           \
               {"node_threshold", node_threshold},       \
               {"node_left", node_left},                 \
               {"node_right", node_right},               \
               {"node_value", node_value},               \
               {"node_missing_left", node_missing_left}, \
               {"w_lin", w_lin},                         \
               {"w_tree", w_tree},                       \
               {"cal_a", cal_a},                         \
               {"cal_b", cal_b},                         \
               {"tree_link", tree_link},                 \
               {"tree_float32", tree_float32}})
#define PE_MODEL_ARGS                                                                                          \
  py::kw_only(), py::arg("lin_mean"), py::arg("lin_scale"), py::arg("lin_coef"), py::arg("lin_intercept"),     \
      py::arg("tree_baseline"), py::arg("tree_offsets"), py::arg("node_feature"), py::arg("node_threshold"),   \
      py::arg("node_left"), py::arg("node_right"), py::arg("node_value"), py::arg("node_missing_left"),        \
      py::arg("w_lin"), py::arg("w_tree"), py::arg("cal_a"), py::arg("cal_b"), py::arg("tree_link") = "logit", \
                                                                               py::arg("tree_float32") = false

// The lattice arguments of the fused entry points (phase_ensemble_lattice / _topk / _tile_bounds), in
// order: the rank range, the palette's element data, the feature layout and the prepared model.
#define PE_LATTICE_PARAMS                                                                                        \
  const hea_fast::lattice::Space &space, int64_t start, int64_t stop, carray<double> props, carray<double> pair, \
      double gas_constant, double log_offset, carray<int> columns, carray<uint8_t> allowed,                      \
      carray<int32_t> fraction_features, const PreparedModel &model
#define PE_LATTICE_ARGS                                                                                            \
  py::arg("space"), py::arg("start"), py::arg("stop"), py::arg("props"), py::arg("pair"), py::arg("gas_constant"), \
      py::arg("log_offset"), py::arg("columns"), py::arg("allowed"), py::arg("fraction_features"), py::arg("model")
#define PE_MAKE_LATTICE                                                                                    \
  make_lattice(space, start, stop, model.args->m, props, pair, gas_constant, log_offset, columns, allowed, \
               fraction_features)

// The number of kLatticeTile-rank tiles of [start, stop).
int64_t tiles_of(int64_t start, int64_t stop) { return (stop - start + PE::kLatticeTile - 1) / PE::kLatticeTile; }

// A model checked and prepared once (PhaseEnsembleModel): the arrays stay alive in `args` (held by
// pointer, so the Model the prepared layout points into never moves).
struct PreparedModel {
  std::unique_ptr<ModelArgs> args;
  std::shared_ptr<const PE::Prepared> prepared;
  explicit PreparedModel(const py::dict& kw)
      : args(std::make_unique<ModelArgs>(make_model(kw))), prepared(PE::prepare_model(args->m)) {}
};

}  // namespace

void bind_phase_ensemble(py::module_& m) {
  m.def(
      "phase_ensemble",
      [](carray<double> V, py::object threads, PE_MODEL_PARAMS) {
        ModelArgs a = make_model(PE_MODEL_DICT);
        hb::check_shape(V, "V", {-1, a.m.F});
        const int64_t n = V.shape(0);
        const int t = hb::threads_arg(threads);
        const double* pv = V.data();
        return hb::fill_array<double>({n}, [&](double* out) { PE::rows(pv, n, a.m, out, t); });
      },
      py::arg("V"), py::arg("threads") = py::none(), PE_MODEL_ARGS,
      (std::string("P(single phase) of feature rows V (n, F) -> (n,) float64; NaN for a row with a non-finite "
                   "feature.") +
       kModelDoc)
          .c_str());

  m.def(
      "phase_forest_sum",
      [](carray<double> V, bool float32, py::object threads, PE_MODEL_PARAMS) {
        ModelArgs a = make_model(PE_MODEL_DICT);
        hb::check_shape(V, "V", {-1, a.m.F});
        const int64_t n = V.shape(0);
        const int t = hb::threads_arg(threads);
        const double* pv = V.data();
        return hb::fill_array<double>({n}, [&](double* out) { PE::forest_sum(pv, n, a.m, float32, out, t); });
      },
      py::arg("V"), py::arg("float32"), py::arg("threads") = py::none(), PE_MODEL_ARGS,
      (std::string("Σ_t leaf_t(v) of feature rows V (n, F) over the model's trees in tree order from 0.0 -> (n,) "
                   "float64 (a random-forest member: divide by the tree count); nodes compare float32(v) when "
                   "float32; NaN for a row with a non-finite feature.") +
       kModelDoc)
          .c_str());

  py::class_<PreparedModel, std::shared_ptr<PreparedModel>>(
      m, "PhaseEnsembleModel",
      "A phase ensemble checked and laid out for the fused lattice kernels once (trees in the block "
      "evaluator's layout, leaf bounds), for many calls of phase_ensemble_lattice / phase_ensemble_topk; it keeps "
      "its arrays alive.")
      .def(py::init([](PE_MODEL_PARAMS) { return std::make_shared<PreparedModel>(PE_MODEL_DICT); }), PE_MODEL_ARGS,
           (std::string("Check and prepare a model.") + kModelDoc).c_str())
      .def_property_readonly("n_features", [](const PreparedModel& pm) { return pm.args->m.F; })
      .def_property_readonly("n_trees", [](const PreparedModel& pm) { return pm.args->m.n_trees; });

  m.def(
      "phase_ensemble_lattice",
      [](PE_LATTICE_PARAMS, py::object threads, py::object floor, py::object threshold) {
        LatticeArgs la = PE_MAKE_LATTICE;
        const int t = hb::threads_arg(threads);
        const double fl = hb::optional_double(floor, "floor", -std::numeric_limits<double>::infinity());
        const double th = hb::optional_double(threshold, "threshold", -std::numeric_limits<double>::infinity());
        if (!floor.is_none() && !threshold.is_none()) throw py::value_error("give floor or threshold, not both");
        return hb::fill_array<double>({stop - start}, [&](double* out) {
          PE::lattice_scores(space, start, stop - start, la.lf, *model.prepared, out, t, fl, th);
        });
      },
      PE_LATTICE_ARGS, py::arg("threads") = py::none(), py::arg("floor") = py::none(),
      py::arg("threshold") = py::none(),
      (std::string(
           "P(single phase) of every lattice rank in [start, stop): (stop - start,) float64, the descriptors "
           "computed from the ranks by the descriptor block kernel, the fractions from the units; model: a "
           "PhaseEnsembleModel. floor (None: none): a rank whose p is below floor may get any value below it instead "
           "(-inf, or an upper bound), which spares the trees of such compositions; every p >= floor is "
           "exact and NaN stays NaN. threshold (None: none; not with floor): only the side of it each p lies on "
           "is kept, a value on that side (a bound, +inf or -inf) standing for p; a NaN p may come back as "
           "-inf.") +
       kLatticeDoc)
          .c_str());

  m.def(
      "phase_ensemble_topk",
      [](PE_LATTICE_PARAMS, py::object threshold, int64_t k, py::object threads, py::object floor,
         py::object tile_bound, py::object tile_pass) {
        LatticeArgs la = PE_MAKE_LATTICE;
        if (k < 1) throw py::value_error("k must be >= 1, got " + std::to_string(k));
        if (tile_bound.is_none() != tile_pass.is_none())
          throw py::value_error("give tile_bound and tile_pass together (phase_ensemble_tile_bounds), or neither");
        carray<double> tb;
        carray<int64_t> tp;
        if (!tile_bound.is_none()) {
          const int64_t tiles = tiles_of(start, stop);
          tb = tile_bound.cast<carray<double>>();
          tp = tile_pass.cast<carray<int64_t>>();
          hb::check_shape(tb, "tile_bound", {tiles});
          hb::check_shape(tp, "tile_pass", {tiles});
          for (int64_t i = 0; i < tiles; ++i)
            if (std::isnan(tb.data()[i]) || tp.data()[i] < -1 || tp.data()[i] > PE::kLatticeTile)
              throw py::value_error("tile_bound / tile_pass[" + std::to_string(i) +
                                    "]: not a tile bound (NaN, or a count outside [-1, tile size]; -1: unknown)");
        }
        const double* tbp = tile_bound.is_none() ? nullptr : tb.data();
        const int64_t* tpp = tile_pass.is_none() ? nullptr : tp.data();
        const double fl = hb::optional_double(floor, "floor", -std::numeric_limits<double>::infinity());
        const double thr = hb::optional_double(threshold, "threshold", -std::numeric_limits<double>::infinity());
        const int t = hb::threads_arg(threads);
        std::vector<hea_fast::screen::Hit> top;
        int64_t passing = 0;
        hb::without_gil([&] {
          passing = PE::lattice_topk(space, start, stop - start, la.lf, *model.prepared, thr, k, t, &top, fl, tbp, tpp);
        });
        return hb::topk_tuple(top, passing);
      },
      PE_LATTICE_ARGS, py::arg("threshold") = py::none(), py::arg("k") = 1000, py::arg("threads") = py::none(),
      py::arg("floor") = py::none(), py::arg("tile_bound") = py::none(), py::arg("tile_pass") = py::none(),
      (std::string("Fused screening of lattice ranks [start, stop) by the phase ensemble `model` (a "
                   "PhaseEnsembleModel): the k best with a finite p >= threshold, as (scores, ranks, n_passing), best "
                   "first (higher p, then lower rank); the result does not depend on threads. floor: rows with p < "
                   "floor are left out of the k best (and their trees may be skipped), e.g. the worst score of a full "
                   "pool the result is merged into; n_passing is exact whatever the floor. tile_bound, tile_pass: "
                   "phase_ensemble_tile_bounds of the same ranks and threshold (the caller pairs them): a tile whose "
                   "bound cannot reach the k best so far (or floor, or threshold) is skipped, its passing count added, "
                   "unless the count is unknown (-1): then it is scored for its count.") +
       kLatticeDoc)
          .c_str());

  m.def(
      "phase_ensemble_tile_bounds",
      [](PE_LATTICE_PARAMS, py::object threshold, py::object threads) {
        LatticeArgs la = PE_MAKE_LATTICE;
        const double thr = hb::optional_double(threshold, "threshold", -std::numeric_limits<double>::infinity());
        const int t = hb::threads_arg(threads);
        const int64_t tiles = tiles_of(start, stop);
        py::array_t<double> bound(tiles);
        py::array_t<int64_t> pass(tiles);
        double* pb = bound.mutable_data();
        int64_t* pp = pass.mutable_data();
        hb::without_gil(
            [&] { PE::lattice_tile_bounds(space, start, stop - start, la.lf, *model.prepared, thr, t, pb, pp); });
        return py::make_tuple(bound, pass);
      },
      PE_LATTICE_ARGS, py::arg("threshold") = py::none(), py::arg("threads") = py::none(),
      (std::string("Per tile of 8192 ranks of [start, stop) (the tiles phase_ensemble_topk walks): (bound, passing), "
                   "an upper bound of p over the tile's usable compositions (-inf: none) and how many have a p >= "
                   "threshold, from the block bounds alone (no tree walked); a tile whose compositions' side of the "
                   "threshold those bounds leave unknown gets passing -1 (its bound stays). For phase_ensemble_topk's "
                   "tile_bound / tile_pass (best-first screening).") +
       kLatticeDoc)
          .c_str());
}
