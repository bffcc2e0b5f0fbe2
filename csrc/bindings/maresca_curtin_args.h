// Validation shared by the CPU and CUDA Maresca–Curtin bindings (core_maresca_curtin.cpp,
// cuda_maresca_curtin.cpp): the per-element arrays, temperatures and model code, with errors naming
// the offending value, so the kernels never see input outside the model's physical range.
#pragma once
#include <cmath>
#include <sstream>
#include <string>

#include "bind_util.h"
#include "hea_fast/maresca_curtin.h"

namespace hea_fast::bind {

struct ElemArrays {
  carray<double> V, C11, C12, C44;
};

// V [Å³], C11, C12, C44 [GPa]: one entry per palette element (E). V must be finite and > 0; with
// require_elastic, the elastic constants must be finite with C44 > 0 and C11 > C12 (the grid kernels
// use the rule-of-mixtures moduli directly).
inline ElemArrays elem_arrays(carray<double> V, carray<double> C11, carray<double> C12, carray<double> C44, int64_t E,
                              bool require_elastic) {
  check_shape(V, "V", {E});
  check_shape(C11, "C11", {E});
  check_shape(C12, "C12", {E});
  check_shape(C44, "C44", {E});
  for (int64_t e = 0; e < E; ++e) {
    const double v = V.data()[e];
    if (!(std::isfinite(v) && v > 0))
      throw py::value_error("V: atomic volume of element " + std::to_string(e) + " must be finite and > 0 A^3, got " +
                            std::to_string(v));
    if (!require_elastic) continue;
    const double c11 = C11.data()[e], c12 = C12.data()[e], c44 = C44.data()[e];
    if (!(std::isfinite(c11) && std::isfinite(c12) && std::isfinite(c44) && c44 > 0 && c11 > c12)) {
      std::ostringstream os;
      os << "elastic constants of element " << e << " (C11=" << c11 << ", C12=" << c12 << ", C44=" << c44
         << " GPa) must be finite with C44 > 0 and C11 > C12";
      throw py::value_error(os.str());
    }
  }
  return {V, C11, C12, C44};
}

// temperature_K: a 1-D array of finite temperatures >= 0 K; returns its length.
inline int64_t temperatures_arg(const carray<double>& T) {
  check_shape(T, "temperature_K", {-1});
  for (int64_t i = 0; i < T.shape(0); ++i)
    if (!(std::isfinite(T.data()[i]) && T.data()[i] >= 0))
      throw py::value_error("temperature_K must be finite and >= 0 K, got " + std::to_string(T.data()[i]) +
                            " at index " + std::to_string(i));
  return T.shape(0);
}

inline int model_arg(int model) {
  if (model != mc::kTwoRegime && model != mc::kSingleFit && model != mc::kContinuous)
    throw py::value_error("model must be 0 (two-regime), 1 (single-fit) or 2 (continuous), got " +
                          std::to_string(model));
  return model;
}

}  // namespace hea_fast::bind
