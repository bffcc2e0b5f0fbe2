// Bindings for the fused mixture predictive (csrc/include/hea_fast/probit.h).
#include <string>

#include "bind_util.h"
#include "hea_fast/probit.h"

namespace py = pybind11;
using hea_fast::bind::carray;

void bind_probit(py::module_& m) {
  m.def(
      "mixture_probit",
      [](carray<double> X, carray<double> mean, carray<double> scale, carray<int64_t> cl, carray<double> anchors,
         carray<int64_t> sub, carray<double> mu, carray<double> cov, py::object threads) {
        namespace b = hea_fast::bind;
        b::check_shape(X, "X", {-1, -1});
        const int64_t n = X.shape(0), d = X.shape(1);
        b::check_shape(mean, "mean", {d});
        b::check_shape(scale, "scale", {d});
        b::check_shape(cl, "cl", {-1});
        b::check_shape(sub, "sub", {-1});
        b::check_shape(mu, "mu", {-1, sub.shape(0) + 1});
        const int64_t K = mu.shape(0), q = sub.shape(0) + 1;
        if (K < 1) throw py::value_error("mu: at least one cluster is needed");
        b::check_shape(cov, "cov", {K, q, q});
        if (K > 1) b::check_shape(anchors, "anchors", {K, cl.shape(0)});
        b::check_finite(mean.data(), d, "mean");
        b::check_finite(mu.data(), mu.size(), "mu");
        b::check_finite(cov.data(), cov.size(), "cov");
        if (K > 1) b::check_finite(anchors.data(), anchors.size(), "anchors");
        for (int64_t j = 0; j < d; ++j)
          if (!(scale.data()[j] > 0) || !std::isfinite(scale.data()[j]))
            throw py::value_error("scale[" + std::to_string(j) + "] = " + std::to_string(scale.data()[j]) +
                                  " must be positive and finite");
        for (int64_t j = 0; j < cl.shape(0); ++j)
          if (cl.data()[j] < 0 || cl.data()[j] >= d)
            throw py::value_error("cl[" + std::to_string(j) + "] = " + std::to_string(cl.data()[j]) +
                                  " is not a column of X (d = " + std::to_string(d) + ")");
        for (int64_t j = 0; j < sub.shape(0); ++j)
          if (sub.data()[j] < 0 || sub.data()[j] >= d)
            throw py::value_error("sub[" + std::to_string(j) + "] = " + std::to_string(sub.data()[j]) +
                                  " is not a column of X (d = " + std::to_string(d) + ")");
        int t = b::threads_arg(threads);
        hea_fast::probit::MixturePredictive mp{d,        mean.data(), scale.data(), K,         cl.shape(0), cl.data(),
                                               anchors.data(), sub.shape(0), sub.data(), mu.data(), cov.data()};
        py::array_t<double> out(n);
        double* po = out.mutable_data();
        const double* px = X.data();
        {
          py::gil_scoped_release nogil;
          hea_fast::probit::mixture_probit(px, n, mp, po, t);
        }
        return out;
      },
      py::arg("X"), py::arg("mean"), py::arg("scale"), py::arg("cl"), py::arg("anchors"), py::arg("sub"),
      py::arg("mu"), py::arg("cov"), py::arg("threads") = py::none(),
      "Mixture posterior predictive by MacKay's probit approximation, fused (see hea_fast.screen.MixtureScorer).");
}
