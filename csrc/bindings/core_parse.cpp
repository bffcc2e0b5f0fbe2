// Bindings for the batch formula parser (csrc/include/hea_fast/parse.h).
#include <Python.h>

#include <sstream>

#include "bind_util.h"
#include "hea_fast/parse.h"
#include "modules.h"

namespace hp = hea_fast::parse;

namespace {

py::tuple parse_formulas(py::object formulas, py::object elements_z, py::object threads) {
  if (PyUnicode_Check(formulas.ptr())) throw py::type_error("formulas must be a sequence of strings, not a single str");
  const int nthreads = hb::threads_arg(threads);

  // Column map: requested elements in the caller's order, or (None) every element present.
  std::vector<int32_t> column_of_z(hp::kNumZ, -1);
  int64_t ncols = -1;
  if (!elements_z.is_none()) {
    auto ez = elements_z.cast<hb::carray<int64_t>>();
    hb::check_shape(ez, "elements_z", {-1});
    ncols = ez.shape(0);
    for (int64_t j = 0; j < ncols; ++j) {
      const int64_t z = ez.data()[j];
      if (z < 1 || z >= hp::kNumZ)
        throw py::value_error("elements_z: atomic number " + std::to_string(z) + " at index " + std::to_string(j) +
                              " is outside 1..118");
      if (column_of_z[z] >= 0)
        throw py::value_error("elements_z: element " + std::string(hp::element_symbol(int(z))) + " appears twice");
      column_of_z[z] = static_cast<int32_t>(j);
    }
  }

  // A tuple owns a reference to every string for the whole call, so the UTF-8 buffers read without
  // the GIL stay alive even if another thread mutates the caller's list meanwhile.
  PyObject* tup = PySequence_Tuple(formulas.ptr());
  if (tup == nullptr) throw py::error_already_set();
  py::tuple items = py::reinterpret_steal<py::tuple>(tup);
  const int64_t n = PyTuple_GET_SIZE(tup);
  std::vector<const char*> strs(n, nullptr);
  std::vector<int64_t> nbytes(n, 0);
  py::array_t<int32_t> status(n);
  py::array_t<int64_t> pos(n), len(n);
  int32_t* st = status.mutable_data();
  int64_t* ps = pos.mutable_data();
  int64_t* ls = len.mutable_data();
  for (int64_t i = 0; i < n; ++i) {
    PyObject* o = PyTuple_GET_ITEM(tup, i);
    st[i] = hp::kNotString;
    ps[i] = -1;
    ls[i] = 0;
    if (!PyUnicode_Check(o)) continue;
    Py_ssize_t sz = 0;
    // compact ASCII strings: a pointer to the string's own data; others: the cached UTF-8 copy
    const char* u = PyUnicode_AsUTF8AndSize(o, &sz);
    if (u == nullptr) {  // lone surrogates cannot be encoded: left to the Python reference
      PyErr_Clear();
      continue;
    }
    strs[i] = u;
    nbytes[i] = sz;
    st[i] = hp::kOk;
  }

  hp::ParsedBatch parsed;
  // The parser reads only the UTF-8 buffers (owned by `items`) and writes C++ buffers.
  hb::without_gil([&] { hp::parse_batch(strs.data(), nbytes.data(), n, nthreads, st, ps, ls, parsed); });
  if (ncols < 0) {  // every element present, in atomic-number order
    ncols = 0;
    for (int z = 1; z < hp::kNumZ; ++z)
      if ((parsed.present[z >> 6] >> (z & 63)) & 1) column_of_z[z] = static_cast<int32_t>(ncols++);
  }
  py::array_t<int32_t> zcols(ncols);
  for (int z = 1; z < hp::kNumZ; ++z)
    if (column_of_z[z] >= 0) zcols.mutable_data()[column_of_z[z]] = z;
  py::array_t<double> out({n, ncols});
  double* op = out.mutable_data();
  // fills every row (zeros included) of the fresh array
  hb::without_gil([&] { hp::scatter_batch(parsed, column_of_z.data(), ncols, nthreads, op, st); });
  return py::make_tuple(out, zcols, status, pos, len);
}

}  // namespace

void bind_parse(py::module_& m) {
  py::list names, symbols;
  for (int i = 0; i < hp::kNumStatus; ++i) names.append(hp::kStatusNames[i]);
  for (int z = 1; z < hp::kNumZ; ++z) symbols.append(hp::element_symbol(z));
  m.attr("PARSE_STATUS") = py::tuple(names);
  m.attr("PARSE_ELEMENTS") = py::tuple(symbols);
  m.attr("PARSE_MAX_DEPTH") = hp::kMaxDepth;
  m.def("parse_formulas", &parse_formulas, py::arg("formulas"), py::arg("elements_z") = py::none(),
        py::arg("threads") = py::none(),
        R"doc(Parse a sequence of alloy formulas (the grammar of hea_fast.composition) in parallel.

elements_z: optional int array of atomic numbers fixing the output columns (in that order);
None: every element present in a successful row, in atomic-number order.
Returns (fractions (n, E) float64, elements_z (E,) int32, status (n,) int32, pos (n,) int64,
len (n,) int64). status indexes PARSE_STATUS ("ok" = 0); failed rows are zero rows; pos/len
locate the error in code points (pos -1: none). Non-string items get "not_a_string" and are left
to Python. threads=None uses all cores; the result does not depend on it.)doc");
}
