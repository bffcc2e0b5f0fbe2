// An (n, E) float64 matrix of amounts given without a copy: a 2-D array of any strides (a pandas
// frame's F-ordered block, a column slice, a transposed view) or a sequence of E 1-D arrays (the
// columns, in the caller's order: pandas Series values, views of another array). Kernels that need
// C-ordered rows read it in chunks of rows gathered into a small per-thread buffer (`gather`), so
// the conversion is one pass fused with the kernel's own threads instead of a full copy first.
// Used by core_descriptors.cpp and core_maresca_curtin.cpp.
#pragma once
#include <cmath>
#include <cstdint>
#include <cstring>
#include <sstream>
#include <string>
#include <vector>

#include "bind_util.h"

namespace hea_fast::bind {

class ColumnsArg {
 public:
  int64_t n = 0, E = 0;
  // Non-null when the input is one C-contiguous (n, E) float64 array: kernels use it directly.
  const double* contiguous = nullptr;

  // Rows [r0, r0 + m) into buf (m x E, C order).
  void gather(int64_t r0, int64_t m, double* buf) const {
    for (int64_t j = 0; j < E; ++j) {
      const char* p = base_[j] + r0 * stride_[j];
      const int64_t s = stride_[j];
      if (s == static_cast<int64_t>(sizeof(double))) {
        const double* q = reinterpret_cast<const double*>(p);
        for (int64_t i = 0; i < m; ++i) buf[i * E + j] = q[i];
      } else {
        for (int64_t i = 0; i < m; ++i) std::memcpy(buf + i * E + j, p + i * s, sizeof(double));
      }
    }
  }

  double at(int64_t r, int64_t j) const {
    double v;
    std::memcpy(&v, base_[j] + r * stride_[j], sizeof(double));
    return v;
  }

  std::vector<py::array> keep;  // the arrays the pointers point into

  void add_column(const char* base, int64_t stride) {
    base_.push_back(base);
    stride_.push_back(stride);
  }

 private:
  std::vector<const char*> base_;
  std::vector<int64_t> stride_;
};

// `obj`: a 2-D array (float64 of any strides is read in place; other dtypes are converted once) or
// a list/tuple of 1-D arrays of equal length. Errors name `name`.
inline ColumnsArg columns_arg(const py::handle& obj, const char* name) {
  ColumnsArg a;
  if (py::isinstance<py::list>(obj) || py::isinstance<py::tuple>(obj)) {
    py::sequence seq = py::reinterpret_borrow<py::sequence>(obj);
    a.E = static_cast<int64_t>(seq.size());
    int64_t j = 0;
    for (py::handle item : seq) {
      auto col = py::array_t<double, py::array::forcecast>::ensure(item);
      if (!col) throw py::value_error(std::string(name) + ": column " + std::to_string(j) + " is not numeric");
      if (col.ndim() != 1) {
        std::ostringstream os;
        os << name << ": column " << j << " must be 1-D, got " << col.ndim() << "-D";
        throw py::value_error(os.str());
      }
      if (j == 0) a.n = col.shape(0);
      if (col.shape(0) != a.n) {
        std::ostringstream os;
        os << name << ": column " << j << " has " << col.shape(0) << " rows, column 0 has " << a.n;
        throw py::value_error(os.str());
      }
      a.add_column(reinterpret_cast<const char*>(col.data()), col.strides(0));
      a.keep.push_back(col);
      ++j;
    }
    return a;
  }
  py::array arr = py::array::ensure(obj);
  if (!arr) throw py::value_error(std::string(name) + ": expected a 2-D array or a list of 1-D columns");
  if (!arr.dtype().is(py::dtype::of<double>())) {
    auto conv = py::array_t<double, py::array::c_style | py::array::forcecast>::ensure(arr);
    if (!conv) throw py::value_error(std::string(name) + ": cannot convert to float64");
    arr = conv;
  }
  check_shape(arr, name, {-1, -1});
  a.n = arr.shape(0);
  a.E = arr.shape(1);
  const char* base = static_cast<const char*>(arr.data());
  for (int64_t j = 0; j < a.E; ++j) a.add_column(base + j * arr.strides(1), arr.strides(0));
  if (arr.flags() & py::array::c_style) a.contiguous = reinterpret_cast<const double*>(base);
  a.keep.push_back(arr);
  return a;
}

// Rows per gathered chunk: a multiple of every kernel block (the descriptor kernel's 64-row blocks
// stay aligned to global row indices, so results are bitwise those of a C-ordered call).
constexpr int64_t kGatherRows = 4096;

// The first invalid row of m gathered rows (E amounts each): a non-finite or negative entry
// (*col = its column) or a row summing to zero or overflowing to +inf (*col = -1); -1 when all
// are valid.
inline int64_t first_invalid_row(const double* buf, int64_t m, int64_t E, int64_t* col) {
  for (int64_t i = 0; i < m; ++i) {
    double s = 0;
    for (int64_t j = 0; j < E; ++j) {
      const double v = buf[i * E + j];
      if (!(v >= 0) || !std::isfinite(v)) {
        *col = j;
        return i;
      }
      s += v;
    }
    if (!(s > 0) || !std::isfinite(s)) {
      *col = -1;
      return i;
    }
  }
  return -1;
}

// "fractions: row r, column j holds v; amounts must be finite and non-negative" or, for col < 0
// (value = the row's sum), "fractions: row r sums to zero (no element present)" / "... overflows".
inline std::string invalid_row_message(const char* name, int64_t row, int64_t col, double value) {
  std::ostringstream os;
  if (col >= 0)
    os << name << ": row " << row << ", column " << col << " holds " << value
       << "; amounts must be finite and non-negative";
  else if (value > 0)
    os << name << ": row " << row << ": its amounts sum to " << value << " (they overflow; scale them down)";
  else
    os << name << ": row " << row << " sums to zero (no element present)";
  return os.str();
}

}  // namespace hea_fast::bind
