// Validation, signature and result packing shared by the CPU and CUDA WBIC bindings (core_wbic.cpp,
// cuda_wbic.cpp): one set of checks and error messages naming the offending value, one keyword
// signature, one result dict.
#pragma once
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "bind_util.h"
#include "hea_fast/wbic.h"

namespace hea_fast::bind {

inline void check_positive(double v, const char* name) {
  if (!(v > 0) || !std::isfinite(v)) {
    std::ostringstream os;
    os << name << " must be a positive finite number, got " << v;
    throw py::value_error(os.str());
  }
}

inline void check_labels(const double* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i)
    if (y[i] != 0.0 && y[i] != 1.0) {
      std::ostringstream os;
      os << "y must contain only 0 and 1, got " << y[i] << " at index " << i;
      throw py::value_error(os.str());
    }
}

// Checks X (n, p) finite, y (n) in {0, 1}, subsets (S, kmax) column indices padded with -1 at the
// end, and the sampler settings; returns the options.
inline WBICOptions wbic_options(const carray<double>& X, const carray<double>& y, const carray<int64_t>& idx,
                                double prior_var, bool fit_intercept, double beta, int64_t n_iter, int64_t burn_in,
                                int64_t n_chains, double target_stderr, int64_t max_iter, uint64_t seed,
                                double prune_above) {
  check_shape(X, "X", {-1, -1});
  const int64_t n = X.shape(0), p = X.shape(1);
  check_shape(y, "y", {n});
  check_shape(idx, "subsets", {-1, -1});
  check_finite(X.data(), n * p, "X");
  check_labels(y.data(), n);
  check_positive(prior_var, "prior_var");
  check_positive(beta, "beta");
  if (n_iter < 8) throw py::value_error("n_iter must be >= 8, got " + std::to_string(n_iter));
  if (burn_in < 0) throw py::value_error("burn_in must be >= 0, got " + std::to_string(burn_in));
  if (n_chains < 1) throw py::value_error("n_chains must be >= 1, got " + std::to_string(n_chains));
  if (max_iter < n_iter) throw py::value_error("max_iter must be >= n_iter, got " + std::to_string(max_iter));
  const int64_t S = idx.shape(0), kmax = idx.shape(1);
  for (int64_t s = 0; s < S; ++s) {
    bool ended = false;
    int k = 0;
    for (int64_t j = 0; j < kmax; ++j) {
      const int64_t v = idx.data()[s * kmax + j];
      if (v < 0) {
        ended = true;
        continue;
      }
      if (ended || v >= p) {
        std::ostringstream os;
        os << "subsets: row " << s << " has invalid column index " << v << " (p = " << p << "; pad with -1 at the end)";
        throw py::value_error(os.str());
      }
      ++k;
    }
    if (k == 0 && !fit_intercept)
      throw py::value_error("subsets: row " + std::to_string(s) + " is empty and fit_intercept=False");
  }
  WBICOptions opt;
  opt.prior_var = prior_var;
  opt.beta = beta;
  opt.fit_intercept = fit_intercept;
  opt.n_iter = n_iter;
  opt.burn_in = burn_in;
  opt.n_chains = n_chains;
  opt.max_iter = max_iter;
  opt.target_stderr = target_stderr;
  opt.prune_above = prune_above;
  opt.seed = seed;
  return opt;
}

// {"wbic", "stderr", "rhat", "laplace_wbic", "n_iter", "pruned"}: one array entry per subset.
inline py::dict wbic_result_dict(const std::vector<WBICSubsetResult>& res) {
  const auto S = static_cast<py::ssize_t>(res.size());
  py::array_t<double> w(S), se(S), rh(S), lap(S);
  py::array_t<int64_t> it(S);
  py::array_t<bool> pr(S);
  for (py::ssize_t s = 0; s < S; ++s) {
    w.mutable_data()[s] = res[s].wbic;
    se.mutable_data()[s] = res[s].stderr;
    rh.mutable_data()[s] = res[s].rhat;
    lap.mutable_data()[s] = res[s].laplace;
    it.mutable_data()[s] = res[s].n_iter;
    pr.mutable_data()[s] = res[s].pruned != 0;
  }
  return dict_of({{"wbic", w}, {"stderr", se}, {"rhat", rh}, {"laplace_wbic", lap}, {"n_iter", it}, {"pruned", pr}});
}

// Registers f as m.wbic_subsets(X, y, subsets, *, prior_var, fit_intercept, beta, n_iter, burn_in,
// n_chains, target_stderr, max_iter, seed, prune_above, <extra>): the keyword signature of
// wbic_options, shared by the CPU form (extra: threads) and the CUDA form (extra: stream).
template <class F, class... Extra>
void def_wbic_subsets(py::module_& m, F&& f, Extra&&... extra) {
  m.def("wbic_subsets", std::forward<F>(f), py::arg("X"), py::arg("y"), py::arg("subsets"), py::kw_only(),
        py::arg("prior_var") = 10.0, py::arg("fit_intercept") = true, py::arg("beta"), py::arg("n_iter") = 1000,
        py::arg("burn_in") = 50, py::arg("n_chains") = 4, py::arg("target_stderr") = 0.0, py::arg("max_iter") = 20000,
        py::arg("seed") = 0, py::arg("prune_above") = 0.0, std::forward<Extra>(extra)...);
}

}  // namespace hea_fast::bind
