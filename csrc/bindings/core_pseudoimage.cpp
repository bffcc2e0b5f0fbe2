// Bindings for the pseudo-image kernel (csrc/include/hea_fast/pseudoimage.h).
#include <cmath>

#include "bind_util.h"
#include "hea_fast/pseudoimage.h"
#include "modules.h"

namespace pi = hea_fast::pseudoimage;
using hb::carray;

namespace {

py::array_t<float> pseudo_images(carray<double> frac, carray<double> T, carray<int32_t> cell, py::object threads,
                                 bool normalize) {
  hb::check_shape(frac, "fractions", {-1, -1});
  const int64_t n = frac.shape(0), E = frac.shape(1);
  hb::check_shape(T, "temperature_K", {n});
  hb::check_shape(cell, "cells", {E});
  const double* pf = frac.data();
  for (int64_t i = 0; i < n; ++i) {  // one pass: finite, >= 0, and (amounts) a positive row sum
    double sum = 0.0;
    for (int64_t e = 0; e < E; ++e) {
      const double v = pf[i * E + e];
      if (!(std::isfinite(v) && v >= 0))
        throw py::value_error("fractions: row " + std::to_string(i) + ", column " + std::to_string(e) + " holds " +
                              std::to_string(v) + " (must be finite and >= 0)");
      sum += v;
    }
    if (normalize && !(sum > 0)) throw py::value_error("fractions: row " + std::to_string(i) + " is all zeros");
  }
  for (int64_t i = 0; i < n; ++i)
    if (!(std::isfinite(T.data()[i]) && T.data()[i] >= 0))
      throw py::value_error("temperature_K must be finite and >= 0 K, got " + std::to_string(T.data()[i]) +
                            " at index " + std::to_string(i));
  for (int64_t e = 0; e < E; ++e)
    if (cell.data()[e] < 0 || cell.data()[e] >= pi::kCells)
      throw py::value_error("cells[" + std::to_string(e) + "] = " + std::to_string(cell.data()[e]) +
                            " is outside the 9x18 grid [0, 162)");
  const int t = hb::threads_arg(threads);
  const double* pT = T.data();
  const int32_t* pc = cell.data();
  return hb::fill_array<float>({n, 2, pi::kRows, pi::kCols},
                               [&](float* out) { pi::pseudo_images(pf, pT, n, E, pc, out, t, normalize); });
}

}  // namespace

void bind_pseudoimage(py::module_& m) {
  m.def("pseudo_images", &pseudo_images, py::arg("fractions"), py::arg("temperature_K"), py::arg("cells"),
        py::arg("threads") = py::none(), py::arg("normalize") = false,
        "float32 (n, 2, 9, 18): channel 0 = fraction at each element's cell, channel 1 = (T_K - 273.15)/2000. "
        "normalize=True: `fractions` are amounts in any unit, each row divided by its sum (left to right in float64, "
        "as hea_fast.composition.as_batch does) before rounding.");
}
