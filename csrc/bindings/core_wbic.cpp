// Bindings for the PG sampler and the batched WBIC Gibbs sampler (hea_fast/polyagamma.h, wbic.h).
// Inputs are validated here (ValueError naming the value); the GIL is released around the kernels,
// which touch only the NumPy buffers held alive by this frame.
#include <sstream>

#include "bind_util.h"
#include "hea_fast/polyagamma.h"
#include "hea_fast/wbic.h"
#include "wbic_args.h"

namespace py = pybind11;
using hea_fast::bind::carray;
using hea_fast::bind::check_finite;
using hea_fast::bind::check_shape;
using hea_fast::bind::threads_arg;

using hea_fast::bind::check_labels;
using hea_fast::bind::check_positive;

void bind_wbic(py::module_& m) {
  m.def(
      "polyagamma",
      [](carray<double> b, carray<double> c, uint64_t seed, py::object threads) {
        check_shape(b, "b", {-1});
        check_shape(c, "c", {b.shape(0)});
        const int64_t n = b.shape(0);
        check_finite(b.data(), n, "b");
        check_finite(c.data(), n, "c");
        for (int64_t i = 0; i < n; ++i)
          if (!(b.data()[i] > 0)) {
            std::ostringstream os;
            os << "b: PG shape must be positive, got " << b.data()[i] << " at index " << i;
            throw py::value_error(os.str());
          }
        const int t = threads_arg(threads);
        py::array_t<double> out(n);
        double* o = out.mutable_data();
        {
          py::gil_scoped_release nogil;
          hea_fast::polyagamma_sample(b.data(), c.data(), n, seed, o, t);
        }
        return out;
      },
      py::arg("b"), py::arg("c"), py::arg("seed") = 0, py::arg("threads") = py::none(),
      "Exact PG(b_i, c_i) draws; element i uses the Philox stream (seed, i).");

  m.def(
      "wbic_subsets",
      [](carray<double> X, carray<double> y, carray<int64_t> idx, double prior_var, bool fit_intercept,
         double beta, int64_t n_iter, int64_t burn_in, int64_t n_chains, double target_stderr,
         int64_t max_iter, uint64_t seed, double prune_above, py::object threads) {
        const auto opt = hea_fast::bind::wbic_options(X, y, idx, prior_var, fit_intercept, beta, n_iter, burn_in,
                                                      n_chains, target_stderr, max_iter, seed, prune_above);
        const int64_t n = X.shape(0), p = X.shape(1), S = idx.shape(0), kmax = idx.shape(1);
        const int t = threads_arg(threads);
        std::vector<hea_fast::WBICSubsetResult> res(S);
        {
          py::gil_scoped_release nogil;
          hea_fast::wbic_subsets(X.data(), n, p, y.data(), idx.data(), S, kmax, opt, res.data(), t);
        }
        return hea_fast::bind::wbic_result_dict(res);
      },
      py::arg("X"), py::arg("y"), py::arg("subsets"), py::kw_only(), py::arg("prior_var") = 10.0,
      py::arg("fit_intercept") = true, py::arg("beta"), py::arg("n_iter") = 1000, py::arg("burn_in") = 50,
      py::arg("n_chains") = 4, py::arg("target_stderr") = 0.0, py::arg("max_iter") = 20000,
      py::arg("seed") = 0, py::arg("prune_above") = 0.0, py::arg("threads") = py::none(),
      "Batched tempered PG-Gibbs WBIC over column subsets (rows of `subsets`, padded with -1).");

  m.def(
      "wbic_posterior_draws",
      [](carray<double> A, carray<double> y, double beta, double prior_var, int64_t n_draws,
         int64_t burn_in, int64_t n_chains, uint64_t seed, py::object threads) {
        check_shape(A, "A", {-1, -1});
        const int64_t n = A.shape(0), d = A.shape(1);
        check_shape(y, "y", {n});
        check_finite(A.data(), n * d, "A");
        check_labels(y.data(), n);
        check_positive(beta, "beta");
        check_positive(prior_var, "prior_var");
        if (n_draws < 1 || burn_in < 0 || n_chains < 1 || d < 1)
          throw py::value_error("n_draws, n_chains and A's columns must be >= 1 and burn_in >= 0");
        const int t = threads_arg(threads);
        py::array_t<double> out({n_chains, n_draws, d});
        double* o = out.mutable_data();
        {
          py::gil_scoped_release nogil;
          hea_fast::wbic_posterior_draws(A.data(), n, d, y.data(), beta, prior_var, n_draws, burn_in,
                                         n_chains, seed, o, t);
        }
        return out;
      },
      py::arg("A"), py::arg("y"), py::kw_only(), py::arg("beta"), py::arg("prior_var") = 10.0,
      py::arg("n_draws") = 1000, py::arg("burn_in") = 200, py::arg("n_chains") = 4, py::arg("seed") = 0,
      py::arg("threads") = py::none(),
      "PG-Gibbs draws of the logistic weights (design A includes any intercept column).");

  m.def(
      "jstar_density",
      [](double h, carray<double> x) {
        check_shape(x, "x", {-1});
        if (!(h > 0 && h <= 1)) throw py::value_error("h must be in (0, 1], got " + std::to_string(h));
        py::array_t<double> out(x.shape(0));
        for (int64_t i = 0; i < x.shape(0); ++i) out.mutable_data()[i] = hea_fast::pg::jstar_density(h, x.data()[i]);
        return out;
      },
      py::arg("h"), py::arg("x"), "Density of J*(h) by its alternating series (test helper).");

  m.def(
      "jstar_envelope",
      [](double h) {
        if (!(h > 0 && h <= 1)) throw py::value_error("h must be in (0, 1], got " + std::to_string(h));
        auto cfg = hea_fast::pg::make_jstar_config(h);
        return py::make_tuple(cfg.t, cfg.Kp);
      },
      py::arg("h"), "(t, Kp) of the right envelope Kp exp(-pi^2 x/8) on x > t (test helper).");
}
