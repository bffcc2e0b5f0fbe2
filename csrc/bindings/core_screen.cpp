// Bindings for the fused screening kernels (csrc/include/hea_fast/screen.h).
#include <cmath>
#include <limits>
#include <string>

#include "bind_util.h"
#include "hea_fast/screen.h"
#include "modules.h"
#include "probit_args.h"

namespace D = hea_fast::descriptors;
using hb::carray;

namespace {

// Validates the rank range, the palette element data and the descriptor columns; the returned
// struct points into the arrays (keep them alive).
hea_fast::screen::MixtureScreen make_screen(const hea_fast::lattice::Space& space, int64_t start, int64_t stop,
                                            const carray<double>& props, const carray<double>& pair,
                                            double gas_constant, double log_offset, const carray<int>& columns,
                                            const hb::ProbitArrays& arrays) {
  hb::check_rank_range(start, stop, space.size());
  const int64_t E = space.n_palette();
  hb::check_shape(props, "props", {E, D::kNumProps});
  hb::check_shape(pair, "pair", {E, E});
  hb::check_finite(props.data(), props.size(), "props");
  hb::check_finite(pair.data(), pair.size(), "pair");
  hb::check_shape(columns, "columns", {-1});
  const int64_t d = columns.shape(0);
  if (d < 1 || d > hea_fast::probit::kMaxRowD)
    throw py::value_error("columns: 1 to " + std::to_string(hea_fast::probit::kMaxRowD) +
                          " descriptor columns are needed, got " + std::to_string(d));
  for (int64_t j = 0; j < d; ++j)
    if (columns.data()[j] < 0 || columns.data()[j] >= D::kNumDescriptors)
      throw py::value_error("columns[" + std::to_string(j) + "] = " + std::to_string(columns.data()[j]) +
                            " is not a descriptor index (0.." + std::to_string(D::kNumDescriptors - 1) + ")");
  if (!std::isfinite(gas_constant) || !std::isfinite(log_offset) || log_offset < 0)
    throw py::value_error("gas_constant and log_offset must be finite (log_offset >= 0)");
  return {props.data(), pair.data(), D::Params{gas_constant, log_offset}, columns.data(),
          hb::mixture_predictive(arrays, d)};
}

// Registers f(space, start, stop, props, pair, gas_constant, log_offset, columns, mean, scale, cl,
// anchors, sub, mu, cov, <extra>) as m.<name>: the arguments both screening functions share.
template <class F, class... Extra>
void def_screen(py::module_& m, const char* name, F&& f, const char* doc, Extra&&... extra) {
  const std::string full = std::string(doc) +
                           " space: a LatticeSpace; props (E, 7) and pair (E, E): the palette's element data (finite); "
                           "columns: the descriptor indices the model reads, in its order; mean ... cov: the model, as "
                           "core.mixture_probit.";
  m.def(name, std::forward<F>(f), py::arg("space"), py::arg("start"), py::arg("stop"), py::arg("props"),
        py::arg("pair"), py::arg("gas_constant"), py::arg("log_offset"), py::arg("columns"), py::arg("mean"),
        py::arg("scale"), py::arg("cl"), py::arg("anchors"), py::arg("sub"), py::arg("mu"), py::arg("cov"),
        std::forward<Extra>(extra)..., full.c_str());
}

}  // namespace

void bind_screen(py::module_& m) {
  def_screen(
      m, "screen_mixture_topk",
      [](const hea_fast::lattice::Space& space, int64_t start, int64_t stop, carray<double> props, carray<double> pair,
         double gas_constant, double log_offset, carray<int> columns, carray<double> mean, carray<double> scale,
         carray<int64_t> cl, carray<double> anchors, carray<int64_t> sub, carray<double> mu, carray<double> cov,
         py::object threshold, int64_t k, py::object threads) {
        const hb::ProbitArrays arrays{mean, scale, cl, anchors, sub, mu, cov};
        const auto ms = make_screen(space, start, stop, props, pair, gas_constant, log_offset, columns, arrays);
        if (k < 1) throw py::value_error("k must be >= 1, got " + std::to_string(k));
        const double thr = hb::optional_double(threshold, "threshold", -std::numeric_limits<double>::infinity());
        const int t = hb::threads_arg(threads);
        std::vector<hea_fast::screen::Hit> top;
        int64_t passing;
        hb::without_gil(
            [&] { passing = hea_fast::screen::mixture_topk(space, start, stop - start, ms, thr, k, t, &top); });
        return hb::topk_tuple(top, passing);
      },
      R"doc(Fused screening of lattice ranks [start, stop): the model's descriptors -> mixture
P(single phase) by the probit predictive -> the k best with a finite score >= threshold. Returns (scores,
ranks, n_passing), best first (higher score, then lower rank). Scores are bitwise those of fractions ->
core.descriptors -> core.mixture_probit for palettes of at most 16 elements. threads=None uses all cores;
the result does not depend on it.)doc",
      py::arg("threshold") = py::none(), py::arg("k") = 1000, py::arg("threads") = py::none());

  def_screen(
      m, "screen_mixture_scores",
      [](const hea_fast::lattice::Space& space, int64_t start, int64_t stop, carray<double> props, carray<double> pair,
         double gas_constant, double log_offset, carray<int> columns, carray<double> mean, carray<double> scale,
         carray<int64_t> cl, carray<double> anchors, carray<int64_t> sub, carray<double> mu, carray<double> cov,
         py::object threads, const std::string& method) {
        const hb::ProbitArrays arrays{mean, scale, cl, anchors, sub, mu, cov};
        const auto ms = make_screen(space, start, stop, props, pair, gas_constant, log_offset, columns, arrays);
        if (method != "block" && method != "row")
          throw py::value_error("method must be 'block' or 'row', got '" + method + "'");
        const int t = hb::threads_arg(threads);
        const bool block = method == "block";
        return hb::fill_array<double>({stop - start}, [&](double* out) {
          if (block)
            hea_fast::screen::mixture_block_scores(space, start, stop - start, ms, out, t);
          else
            hea_fast::screen::mixture_scores(space, start, stop - start, ms, out, t);
        });
      },
      R"doc(P(single phase) of every rank in [start, stop) (NaN where the model's inputs are not
finite). method="block": the vectorised block functions of screen_mixture_topk (bitwise its scores);
method="row": one composition at a time by the row functions the CUDA screening kernel runs
(descriptors.h compute_row, probit.h predict_row), the host-emulated form of that kernel, equal to
"block" to rounding.)doc",
      py::arg("threads") = py::none(), py::arg("method") = "block");
}
