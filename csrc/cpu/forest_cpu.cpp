// Random-forest member of the phase ensemble (hea_fast.phase.ensemble, tree_link "mean"; declared in
// phase_ensemble.h). Per feature row, the leaf values of every tree are summed in tree order from
// 0.0, as scikit-learn's RandomForestClassifier.predict_proba accumulates its trees before dividing
// by their number, so the sum is bitwise scikit-learn's. With `float32`, a node compares the feature
// rounded to float32 (scikit-learn's forests cast their input to float32) with the float64
// threshold. Rows with a non-finite feature give NaN.
// Layout: the nodes are packed once per call into 24-byte records (threshold, feature, absolute
// children), and rows are walked tree-major within blocks of kRows, so one tree's nodes stay in
// cache while the block's rows go down it; each row still adds its leaves in tree order. Blocks are
// split over threads, so results never depend on the thread count.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "hea_fast/parallel.h"
#include "hea_fast/phase_ensemble.h"

namespace hea_fast::phase_ensemble {

namespace {

constexpr int64_t kRows = 256;

struct Node {
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
  std::vector<Node> nodes(static_cast<size_t>(N));
  std::vector<double> leaf(static_cast<size_t>(N));
  for (int64_t t = 0; t < T; ++t)
    for (int64_t i = m.tree_offsets[t]; i < m.tree_offsets[t + 1]; ++i) {
      const bool inner = m.node_feature[i] >= 0;
      const auto base = static_cast<int32_t>(m.tree_offsets[t]);
      nodes[i] = Node{m.node_threshold[i], m.node_feature[i], inner ? base + m.node_left[i] : 0,
                      inner ? base + m.node_right[i] : 0, 0};
      leaf[i] = m.node_value[i];
    }
  const int64_t blocks = (n + kRows - 1) / kRows;
  parallel_for(
      blocks, threads,
      [&](int64_t lo, int64_t hi, int64_t) {
        std::vector<double> X(static_cast<size_t>(kRows * F));
        for (int64_t blk = lo; blk < hi; ++blk) {
          const int64_t r0 = blk * kRows, nb = std::min(kRows, n - r0);
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
