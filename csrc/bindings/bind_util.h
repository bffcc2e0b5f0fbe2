// Shared helpers for the pybind11 binding files: array validation with errors that name the
// offending argument and value, GIL release around kernels, result dicts, and the integer pointers
// and streams of the _cuda bindings. Only binding files include pybind11.
#pragma once
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <cmath>
#include <cstdint>
#include <initializer_list>
#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>
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

// A float argument that may be None (-> none_value); NaN is refused with an error naming it.
inline double optional_double(py::object v, const char* name, double none_value) {
  if (v.is_none()) return none_value;
  const double x = v.cast<double>();
  if (std::isnan(x)) throw py::value_error(std::string(name) + " is NaN");
  return x;
}

// (scores, ranks, n_passing) arrays of a top-k list of hits (fields .score, .rank), order kept.
template <class Hit>
py::tuple topk_tuple(const std::vector<Hit>& top, int64_t passing) {
  const auto n = static_cast<py::ssize_t>(top.size());
  py::array_t<double> scores(n);
  py::array_t<int64_t> ranks(n);
  for (py::ssize_t i = 0; i < n; ++i) {
    scores.mutable_data()[i] = top[static_cast<size_t>(i)].score;
    ranks.mutable_data()[i] = top[static_cast<size_t>(i)].rank;
  }
  return py::make_tuple(scores, ranks, passing);
}

inline int threads_arg(py::object threads) {
  if (threads.is_none()) return 0;
  int t = threads.cast<int>();
  if (t < 0) throw py::value_error("threads must be a positive integer or None, got " + std::to_string(t));
  return t;
}

// Raises ValueError unless 0 <= begin <= end <= size: a rank range of a lattice of `size` points.
inline void check_rank_range(int64_t begin, int64_t end, int64_t size) {
  if (begin < 0 || end < begin || end > size) {
    std::ostringstream os;
    os << "rank range [" << begin << ", " << end << ") is outside the space of " << size << " compositions";
    throw py::value_error(os.str());
  }
}

// The same for ranks [start, start + count) (saturating, so no count overflows).
inline void check_rank_count(int64_t start, int64_t count, int64_t size) {
  int64_t end;
  if (__builtin_add_overflow(start, count, &end)) end = count < 0 ? INT64_MIN : INT64_MAX;
  check_rank_range(start, end, size);
}

// Runs f() with the GIL released, so other Python threads run meanwhile. Only for kernel calls that
// touch no Python object: take every pointer out of the arrays before (they stay alive in the
// calling frame) and raise errors after.
template <class F>
decltype(auto) without_gil(F&& f) {
  py::gil_scoped_release release;
  return f();
}

// A fresh array of this shape, filled by fill(T* data) with the GIL released (see without_gil).
template <class T, class F>
py::array_t<T> fill_array(std::vector<py::ssize_t> shape, F&& fill) {
  py::array_t<T> out(std::move(shape));
  T* data = out.mutable_data();
  without_gil([&] { fill(data); });
  return out;
}

// {name: value, ...} in the given order, e.g. one array per result field.
inline py::dict dict_of(std::initializer_list<std::pair<const char*, py::object>> items) {
  py::dict d;
  for (const auto& [name, value] : items) d[name] = value;
  return d;
}

// _cuda bindings: device buffers cross as integer addresses (torch `t.data_ptr()`), streams as
// integers (`torch.cuda.current_stream().cuda_stream`, see hea_fast._backend.cuda_stream).
template <class T>
T* dev_ptr(std::uintptr_t address) {
  return reinterpret_cast<T*>(address);
}
inline void* stream_arg(std::uintptr_t stream) { return reinterpret_cast<void*>(stream); }

}  // namespace hea_fast::bind

// The two short names every binding file uses.
namespace py = pybind11;
namespace hb = hea_fast::bind;
