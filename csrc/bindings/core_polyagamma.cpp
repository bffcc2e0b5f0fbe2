// Bindings for the exact Pólya-Gamma sampler (csrc/include/hea_fast/polyagamma.h): batched draws and
// the two test helpers that expose its series density and envelope. Inputs are validated here
// (ValueError naming the value); the GIL is released around the batched kernel.
#include <sstream>

#include "bind_util.h"
#include "hea_fast/polyagamma.h"
#include "modules.h"

using hb::carray;

namespace {

py::array_t<double> polyagamma(carray<double> b, carray<double> c, uint64_t seed, py::object threads) {
  hb::check_shape(b, "b", {-1});
  hb::check_shape(c, "c", {b.shape(0)});
  const int64_t n = b.shape(0);
  hb::check_finite(b.data(), n, "b");
  hb::check_finite(c.data(), n, "c");
  for (int64_t i = 0; i < n; ++i)
    if (!(b.data()[i] > 0)) {
      std::ostringstream os;
      os << "b: PG shape must be positive, got " << b.data()[i] << " at index " << i;
      throw py::value_error(os.str());
    }
  const int t = hb::threads_arg(threads);
  const double *pb = b.data(), *pc = c.data();
  return hb::fill_array<double>({n}, [&](double* out) { hea_fast::polyagamma_sample(pb, pc, n, seed, out, t); });
}

void check_h(double h) {
  if (!(h > 0 && h <= 1)) throw py::value_error("h must be in (0, 1], got " + std::to_string(h));
}

}  // namespace

void bind_polyagamma(py::module_& m) {
  m.def("polyagamma", &polyagamma, py::arg("b"), py::arg("c"), py::arg("seed") = 0, py::arg("threads") = py::none(),
        "Exact PG(b_i, c_i) draws; element i uses the Philox stream (seed, i).");
  m.def(
      "jstar_density",
      [](double h, carray<double> x) {
        hb::check_shape(x, "x", {-1});
        check_h(h);
        py::array_t<double> out(x.shape(0));
        for (int64_t i = 0; i < x.shape(0); ++i) out.mutable_data()[i] = hea_fast::pg::jstar_density(h, x.data()[i]);
        return out;
      },
      py::arg("h"), py::arg("x"), "Density of J*(h) by its alternating series (test helper).");
  m.def(
      "jstar_envelope",
      [](double h) {
        check_h(h);
        const auto cfg = hea_fast::pg::make_jstar_config(h);
        return py::make_tuple(cfg.t, cfg.Kp);
      },
      py::arg("h"), "(t, Kp) of the right envelope Kp exp(-pi^2 x/8) on x > t (test helper).");
}
