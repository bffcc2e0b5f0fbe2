// Shared helpers for the pybind11 binding files: array validation with errors that name the
// offending argument and value. Only binding files include pybind11.
#pragma once
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <cmath>
#include <cstdint>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace hea_fast::bind {
namespace py = pybind11;

template <class T>
using carray = py::array_t<T, py::array::c_style | py::array::forcecast>;

// Raises ValueError unless `a` has `ndim` dimensions; `shape` entries >= 0 must match exactly.
inline void check_shape(const py::array& a, const char* name, std::vector<int64_t> shape) {
  if (a.ndim() != static_cast<py::ssize_t>(shape.size())) {
    std::ostringstream os;
    os << name << ": expected a " << shape.size() << "-D array, got " << a.ndim() << "-D with shape (";
    for (py::ssize_t i = 0; i < a.ndim(); ++i) os << (i ? ", " : "") << a.shape(i);
    os << ")";
    throw py::value_error(os.str());
  }
  for (size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] >= 0 && a.shape(i) != shape[i]) {
      std::ostringstream os;
      os << name << ": dimension " << i << " has size " << a.shape(i) << ", expected " << shape[i];
      throw py::value_error(os.str());
    }
  }
}

// Raises ValueError naming the first non-finite entry (flat index and value).
template <class T>
void check_finite(const T* p, int64_t n, const char* name) {
  for (int64_t i = 0; i < n; ++i) {
    if (!std::isfinite(static_cast<double>(p[i]))) {
      std::ostringstream os;
      os << name << ": non-finite value " << p[i] << " at flat index " << i;
      throw py::value_error(os.str());
    }
  }
}

template <class T>
void check_nonnegative(const T* p, int64_t n, const char* name) {
  for (int64_t i = 0; i < n; ++i) {
    if (!(p[i] >= 0)) {
      std::ostringstream os;
      os << name << ": negative or NaN value " << p[i] << " at flat index " << i;
      throw py::value_error(os.str());
    }
  }
}

inline int threads_arg(py::object threads) {
  if (threads.is_none()) return 0;
  int t = threads.cast<int>();
  if (t < 0) throw py::value_error("threads must be a positive integer or None, got " + std::to_string(t));
  return t;
}

}  // namespace hea_fast::bind
