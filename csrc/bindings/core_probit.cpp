// Bindings for the fused mixture predictive (csrc/include/hea_fast/probit.h). The model arrays are
// validated by probit_args.h, shared with the fused screening binding (core_screen.cpp).
#include "bind_util.h"
#include "hea_fast/probit.h"
#include "modules.h"
#include "probit_args.h"

using hb::carray;

namespace {

py::array_t<double> mixture_probit(carray<double> X, carray<double> mean, carray<double> scale, carray<int64_t> cl,
                                   carray<double> anchors, carray<int64_t> sub, carray<double> mu, carray<double> cov,
                                   py::object threads) {
  hb::check_shape(X, "X", {-1, -1});
  const int64_t n = X.shape(0), d = X.shape(1);
  const auto mp = hb::mixture_predictive(hb::ProbitArrays{mean, scale, cl, anchors, sub, mu, cov}, d);
  const int t = hb::threads_arg(threads);
  const double* px = X.data();
  return hb::fill_array<double>({n}, [&](double* out) { hea_fast::probit::mixture_probit(px, n, mp, out, t); });
}

}  // namespace

void bind_probit(py::module_& m) {
  m.def("mixture_probit", &mixture_probit, py::arg("X"), py::arg("mean"), py::arg("scale"), py::arg("cl"),
        py::arg("anchors"), py::arg("sub"), py::arg("mu"), py::arg("cov"), py::arg("threads") = py::none(),
        "Mixture posterior predictive by MacKay's probit approximation, fused (see hea_fast.screen.MixtureScorer).");
}
