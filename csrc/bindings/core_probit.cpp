// Bindings for the fused mixture predictive (csrc/include/hea_fast/probit.h).
#include "bind_util.h"
#include "hea_fast/probit.h"
#include "probit_args.h"

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
        const b::ProbitArrays arrays{mean, scale, cl, anchors, sub, mu, cov};
        const auto mp = b::mixture_predictive(arrays, d);
        const int t = b::threads_arg(threads);
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
