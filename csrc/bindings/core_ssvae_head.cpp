// Bindings for the SSVAE classifier-head kernel (csrc/include/hea_fast/ssvae_head.h).
#include <cmath>
#include <string>
#include <vector>

#include "bind_util.h"
#include "hea_fast/ssvae_head.h"
#include "modules.h"

namespace SH = hea_fast::ssvae_head;
namespace D = hea_fast::descriptors;
using hb::carray;

namespace {

// The head's arrays, kept alive while the kernel runs (Head points into them).
struct HeadArgs {
  std::vector<carray<double>> weights, biases;
  carray<double> mean, std;
  SH::Head head;
};

SH::Output output_arg(const std::string& output) {
  if (output == "probability") return SH::Output::kProbability;
  if (output == "logit") return SH::Output::kLogit;
  throw py::value_error("output must be 'probability' or 'logit', got '" + output + "'");
}

bool dtype_arg(const std::string& dtype) {
  if (dtype == "float32") return false;
  if (dtype == "float64") return true;
  throw py::value_error("dtype must be 'float32' or 'float64', got '" + dtype + "'");
}

// weights[l] (out, in) and biases[l] (out,) of a Linear stack F -> ... -> 1, all finite; mean/std
// (F,) or None (std > 0).
void make_head(HeadArgs& a, const py::sequence& weights, const py::sequence& biases, const py::object& mean,
               const py::object& std, const std::string& output, const std::string& dtype) {
  const auto L = static_cast<int64_t>(py::len(weights));
  if (L < 1 || L > SH::kMaxLayers)
    throw py::value_error("weights: 1 to " + std::to_string(SH::kMaxLayers) + " layers are supported, got " +
                          std::to_string(L));
  if (static_cast<int64_t>(py::len(biases)) != L)
    throw py::value_error("biases: " + std::to_string(py::len(biases)) + " arrays for " + std::to_string(L) +
                          " weight matrices");
  SH::Head& h = a.head;
  h.layers = static_cast<int>(L);
  for (int64_t l = 0; l < L; ++l) {
    a.weights.push_back(weights[l].cast<carray<double>>());
    a.biases.push_back(biases[l].cast<carray<double>>());
  }
  for (int64_t l = 0; l < L; ++l) {
    const std::string wn = "weights[" + std::to_string(l) + "]", bn = "biases[" + std::to_string(l) + "]";
    const auto& W = a.weights[l];
    hb::check_shape(W, wn.c_str(), {-1, l == 0 ? -1 : h.size[l]});
    if (l == 0) h.size[0] = W.shape(1);
    h.size[l + 1] = W.shape(0);
    if (h.size[l + 1] < 1 || h.size[l + 1] > SH::kMaxWidth || h.size[l] < 1)
      throw py::value_error(wn + ": layer sizes must lie in [1, " + std::to_string(SH::kMaxWidth) + "], got (" +
                            std::to_string(h.size[l + 1]) + ", " + std::to_string(h.size[l]) + ")");
    hb::check_shape(a.biases[l], bn.c_str(), {h.size[l + 1]});
    hb::check_finite(W.data(), W.size(), wn.c_str());
    hb::check_finite(a.biases[l].data(), a.biases[l].size(), bn.c_str());
    h.weight[l] = W.data();
    h.bias[l] = a.biases[l].data();
  }
  if (h.size[L] != 1)
    throw py::value_error("weights[" + std::to_string(L - 1) + "]: the last layer must have 1 output, got " +
                          std::to_string(h.size[L]));
  if (h.size[0] > SH::kMaxWidth) throw py::value_error("too many input features: " + std::to_string(h.size[0]));
  if (mean.is_none() != std.is_none()) throw py::value_error("give both mean and std, or neither");
  if (!mean.is_none()) {
    a.mean = mean.cast<carray<double>>();
    a.std = std.cast<carray<double>>();
    hb::check_shape(a.mean, "mean", {h.size[0]});
    hb::check_shape(a.std, "std", {h.size[0]});
    hb::check_finite(a.mean.data(), a.mean.size(), "mean");
    for (int64_t j = 0; j < h.size[0]; ++j)
      if (!(a.std.data()[j] > 0 && std::isfinite(a.std.data()[j])))
        throw py::value_error("std[" + std::to_string(j) + "] = " + std::to_string(a.std.data()[j]) +
                              " must be finite and > 0");
    h.mean = a.mean.data();
    h.std = a.std.data();
  }
  h.output = output_arg(output);
  h.float64 = dtype_arg(dtype);
}

// (n, F) rows, all finite: ValueError naming the first bad row and column
void check_rows(const carray<double>& a, const char* name, int64_t F) {
  hb::check_shape(a, name, {-1, F});
  const int64_t n = a.shape(0);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < F; ++j)
      if (!std::isfinite(a.data()[i * F + j]))
        throw py::value_error(std::string(name) + ": non-finite value " + std::to_string(a.data()[i * F + j]) +
                              " at row " + std::to_string(i) + ", column " + std::to_string(j));
}

const char* kHeadArgs =
    " weights/biases: the Linear layers of the head (nn.Linear layout (out, in), float64 copies of the model's "
    "float32 parameters), F -> ... -> 1, Softplus between layers; mean/std: the model's standardisation (None for "
    "raw inputs); output: 'probability' or 'logit'; dtype: 'float32' (the torch model's precision) or 'float64'.";

}  // namespace

void bind_ssvae_head(py::module_& m) {
  m.def(
      "ssvae_head",
      [](carray<double> e, py::sequence weights, py::sequence biases, py::object mean, py::object std,
         const std::string& output, const std::string& dtype, py::object threads) {
        HeadArgs a;
        make_head(a, weights, biases, mean, std, output, dtype);
        hb::check_shape(e, "e", {-1, a.head.size[0]});
        const int64_t n = e.shape(0);
        const int t = hb::threads_arg(threads);
        const double* pe = e.data();
        return hb::fill_array<double>({n}, [&](double* out) { SH::head(pe, n, a.head, out, t); });
      },
      py::arg("e"), py::arg("weights"), py::arg("biases"), py::arg("mean") = py::none(), py::arg("std") = py::none(),
      py::arg("output") = "probability", py::arg("dtype") = "float32", py::arg("threads") = py::none(),
      (std::string("The SSVAE classifier head on descriptor rows e (n, F) -> (n,) float64; NaN for a row with a "
                   "non-finite value.") +
       kHeadArgs)
          .c_str());

  m.def(
      "ssvae_head_coalitions",
      [](carray<double> x, carray<double> background, py::sequence weights, py::sequence biases, py::object mean,
         py::object std, const std::string& output, const std::string& dtype, py::object threads,
         py::object background_weights) {
        HeadArgs a;
        make_head(a, weights, biases, mean, std, output, dtype);
        const int64_t F = a.head.size[0];
        if (F > SH::kMaxCoalitionFeatures)
          throw py::value_error("coalitions of " + std::to_string(F) + " features: at most " +
                                std::to_string(SH::kMaxCoalitionFeatures) + " are supported");
        check_rows(x, "x", F);
        check_rows(background, "background", F);
        const int64_t n = x.shape(0), mb = background.shape(0);
        if (mb < 1) throw py::value_error("background is empty");
        carray<double> bw;
        const double* pw = nullptr;
        if (!background_weights.is_none()) {
          bw = background_weights.cast<carray<double>>();
          hb::check_shape(bw, "background_weights", {mb});
          double total = 0.0;
          for (int64_t r = 0; r < mb; ++r) {
            const double w = bw.data()[r];
            if (!(std::isfinite(w) && w >= 0))
              throw py::value_error("background_weights[" + std::to_string(r) + "] = " + std::to_string(w) +
                                    " must be finite and >= 0");
            total += w;
          }
          if (!(total > 0)) throw py::value_error("background_weights sum to 0");
          pw = bw.data();
        }
        const int t = hb::threads_arg(threads);
        const double *px = x.data(), *pb = background.data();
        return hb::fill_array<double>({n, int64_t(1) << F},
                                      [&](double* out) { SH::coalition_values(px, n, pb, mb, pw, a.head, out, t); });
      },
      py::arg("x"), py::arg("background"), py::arg("weights"), py::arg("biases"), py::arg("mean") = py::none(),
      py::arg("std") = py::none(), py::arg("output") = "probability", py::arg("dtype") = "float32",
      py::arg("threads") = py::none(), py::arg("background_weights") = py::none(),
      (std::string("Coalition values v[i, S] = mean over background rows b of f(z), z_j = x[i, j] where bit j of S "
                   "is set, b_j otherwise: (n, 2^F) float64, the value function of exact interventional Shapley "
                   "values; with background_weights (m,) (finite, >= 0, positive sum) the weighted mean "
                   "Σ_b w_b f / Σ_b w_b. Each f(z) is bitwise the head's value at z; the sums run in float64 "
                   "in a grouping fixed by the background size, independent of threads and of the other rows.") +
       kHeadArgs)
          .c_str());

  m.def(
      "ssvae_head_lattice",
      [](const hea_fast::lattice::Space& space, int64_t start, int64_t stop, carray<double> props, carray<double> pair,
         double gas_constant, double log_offset, carray<int> columns, carray<uint8_t> allowed, py::sequence weights,
         py::sequence biases, py::object mean, py::object std, const std::string& output, const std::string& dtype,
         py::object threads) {
        HeadArgs a;
        make_head(a, weights, biases, mean, std, output, dtype);
        hb::check_rank_range(start, stop, space.size());
        const int64_t E = space.n_palette(), F = a.head.size[0];
        hb::check_shape(props, "props", {E, D::kNumProps});
        hb::check_shape(pair, "pair", {E, E});
        hb::check_finite(props.data(), props.size(), "props");
        hb::check_finite(pair.data(), pair.size(), "pair");
        hb::check_shape(columns, "columns", {F});
        hb::check_shape(allowed, "allowed", {E});
        for (int64_t j = 0; j < F; ++j)
          if (columns.data()[j] < 0 || columns.data()[j] >= D::kNumDescriptors)
            throw py::value_error("columns[" + std::to_string(j) + "] = " + std::to_string(columns.data()[j]) +
                                  " is not a descriptor index (0.." + std::to_string(D::kNumDescriptors - 1) + ")");
        if (!std::isfinite(gas_constant) || !std::isfinite(log_offset) || log_offset < 0)
          throw py::value_error("gas_constant and log_offset must be finite (log_offset >= 0)");
        const int t = hb::threads_arg(threads);
        const D::Params prm{gas_constant, log_offset};
        const double *pp = props.data(), *ph = pair.data();
        const int* pc = columns.data();
        const uint8_t* pa = allowed.data();
        return hb::fill_array<double>({stop - start}, [&](double* out) {
          SH::lattice_scores(space, start, stop - start, pp, ph, prm, pc, pa, a.head, out, t);
        });
      },
      py::arg("space"), py::arg("start"), py::arg("stop"), py::arg("props"), py::arg("pair"), py::arg("gas_constant"),
      py::arg("log_offset"), py::arg("columns"), py::arg("allowed"), py::arg("weights"), py::arg("biases"),
      py::arg("mean") = py::none(), py::arg("std") = py::none(), py::arg("output") = "probability",
      py::arg("dtype") = "float32", py::arg("threads") = py::none(),
      (std::string("The head on the descriptors `columns` (F of them, in the head's input order) of every lattice "
                   "rank in [start, stop): (stop - start,) float64, computed from the ranks with the descriptor "
                   "block kernel (props (E, 7), pair (E, E): the palette's element data, finite); NaN for "
                   "compositions holding an element with allowed[e] == 0.") +
       kHeadArgs)
          .c_str());
}
