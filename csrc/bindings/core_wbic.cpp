// Bindings for the batched tempered PG-Gibbs WBIC sampler (csrc/include/hea_fast/wbic.h). Inputs are
// validated here (wbic_args.h, shared with the CUDA binding; ValueError naming the value); the GIL is
// released around the kernels, which touch only the NumPy buffers held alive by this frame.
#include "bind_util.h"
#include "hea_fast/wbic.h"
#include "modules.h"
#include "wbic_args.h"

using hb::carray;

namespace {

py::dict wbic_subsets(carray<double> X, carray<double> y, carray<int64_t> idx, double prior_var, bool fit_intercept,
                      double beta, int64_t n_iter, int64_t burn_in, int64_t n_chains, double target_stderr,
                      int64_t max_iter, uint64_t seed, double prune_above, py::object threads) {
  const auto opt = hb::wbic_options(X, y, idx, prior_var, fit_intercept, beta, n_iter, burn_in, n_chains, target_stderr,
                                    max_iter, seed, prune_above);
  const int64_t n = X.shape(0), p = X.shape(1), S = idx.shape(0), kmax = idx.shape(1);
  const int t = hb::threads_arg(threads);
  std::vector<hea_fast::WBICSubsetResult> res(S);
  hb::without_gil([&] { hea_fast::wbic_subsets(X.data(), n, p, y.data(), idx.data(), S, kmax, opt, res.data(), t); });
  return hb::wbic_result_dict(res);
}

py::array_t<double> posterior_draws(carray<double> A, carray<double> y, double beta, double prior_var, int64_t n_draws,
                                    int64_t burn_in, int64_t n_chains, uint64_t seed, py::object threads) {
  hb::check_shape(A, "A", {-1, -1});
  const int64_t n = A.shape(0), d = A.shape(1);
  hb::check_shape(y, "y", {n});
  hb::check_finite(A.data(), n * d, "A");
  hb::check_labels(y.data(), n);
  hb::check_positive(beta, "beta");
  hb::check_positive(prior_var, "prior_var");
  if (n_draws < 1 || burn_in < 0 || n_chains < 1 || d < 1)
    throw py::value_error("n_draws, n_chains and A's columns must be >= 1 and burn_in >= 0");
  const int t = hb::threads_arg(threads);
  const double *pa = A.data(), *yp = y.data();
  return hb::fill_array<double>({n_chains, n_draws, d}, [&](double* out) {
    hea_fast::wbic_posterior_draws(pa, n, d, yp, beta, prior_var, n_draws, burn_in, n_chains, seed, out, t);
  });
}

}  // namespace

void bind_wbic(py::module_& m) {
  hb::def_wbic_subsets(m, &wbic_subsets, py::arg("threads") = py::none(),
                       "Batched tempered PG-Gibbs WBIC over column subsets (rows of `subsets`, padded with -1).");
  m.def("wbic_posterior_draws", &posterior_draws, py::arg("A"), py::arg("y"), py::kw_only(), py::arg("beta"),
        py::arg("prior_var") = 10.0, py::arg("n_draws") = 1000, py::arg("burn_in") = 200, py::arg("n_chains") = 4,
        py::arg("seed") = 0, py::arg("threads") = py::none(),
        "PG-Gibbs draws of the logistic weights (design A includes any intercept column).");
}
