// Bindings for the one-pass HEA descriptor kernel (csrc/include/hea_fast/descriptors.h).
#include <algorithm>
#include <sstream>
#include <vector>

#include "bind_util.h"
#include "columns_arg.h"
#include "hea_fast/descriptors.h"
#include "hea_fast/parallel.h"
#include "modules.h"

namespace hd = hea_fast::descriptors;

namespace {

const char* const kNames[hd::kNumDescriptors] = {
    "delta", "dH_mix", "dS_mix", "VEC",    "dchi_pauling", "chi_allen_mean", "dchi_allen", "Tm",
    "K",     "Vm",     "Omega",  "Lambda", "gamma",        "local_delta_r",  "local_dchi", "r_mean"};
const char* const kProps[hd::kNumProps] = {"radius_pm", "chi_pauling",      "chi_allen",       "vec",
                                           "tm_K",      "bulk_modulus_GPa", "molar_volume_cm3"};

py::array_t<double> descriptors(py::object x_obj, hb::carray<double> props, hb::carray<double> pair,
                                double gas_constant, double log_offset, py::object threads, py::object columns) {
  const hb::ColumnsArg x = hb::columns_arg(x_obj, "fractions");
  const int64_t n = x.n, E = x.E;
  if (E == 0) throw py::value_error("fractions: expected at least one element column, got shape (n, 0)");
  hb::check_shape(props, "props", {E, hd::kNumProps});
  hb::check_shape(pair, "pair", {E, E});
  if (!std::isfinite(gas_constant) || gas_constant <= 0)
    throw py::value_error("gas_constant must be positive and finite, got " + std::to_string(gas_constant));
  if (!std::isfinite(log_offset) || log_offset < 0)
    throw py::value_error("log_offset must be >= 0 and finite, got " + std::to_string(log_offset));
  const int nthreads = hb::threads_arg(threads);
  std::vector<int> cols;
  if (!columns.is_none()) {
    for (auto c : columns) {
      const int k = c.cast<int>();
      if (k < 0 || k >= hd::kNumDescriptors)
        throw py::value_error("columns: " + std::to_string(k) + " is not a descriptor column index [0, " +
                              std::to_string(hd::kNumDescriptors) + ")");
      cols.push_back(k);
    }
    if (cols.empty()) throw py::value_error("columns: empty list (pass None for every descriptor)");
  } else {
    for (int d = 0; d < hd::kNumDescriptors; ++d) cols.push_back(d);
  }
  const int ncols = static_cast<int>(cols.size());
  py::array_t<double> out({n, static_cast<int64_t>(ncols)});
  const double* pp = props.data();
  const double* hp = pair.data();
  double* op = out.mutable_data();
  const hd::Params prm{gas_constant, log_offset};
  int64_t bad_col = -1, bad_row = -1;
  double bad_value = 0;
  // The kernel touches only these buffers (kept alive by the argument handles), never Python objects.
  if (x.contiguous != nullptr) {
    const double* xp = x.contiguous;
    hb::without_gil([&] {
      bad_row = hd::find_invalid_row(xp, n, E, nthreads, &bad_col);
      if (bad_row < 0) hd::compute_cpu(xp, n, E, pp, hp, prm, op, nthreads, cols.data(), ncols);
    });
    if (bad_row >= 0 && bad_col >= 0) bad_value = xp[bad_row * E + bad_col];
    if (bad_row >= 0 && bad_col < 0)
      for (int64_t j = 0; j < E; ++j) bad_value += xp[bad_row * E + j];  // 0 or +inf: the message says which
  } else {
    // Strided rows or separate columns: chunks of rows are gathered into a per-thread C-ordered
    // buffer and computed there (chunks start at multiples of kGatherRows, so values are bitwise
    // those of a C-ordered call); each thread stops at its first invalid row, and the first of
    // those (threads own increasing row ranges) is the first invalid row overall.
    const int64_t nchunks = (n + hb::kGatherRows - 1) / hb::kGatherRows;
    const int t = hea_fast::resolve_threads(nthreads);
    std::vector<int64_t> first(static_cast<size_t>(t), -1), where(static_cast<size_t>(t), -1);
    hb::without_gil([&] {
      hea_fast::parallel_for(
          nchunks, t,
          [&](int64_t lo, int64_t hi, int b) {
            std::vector<double> buf(static_cast<size_t>(hb::kGatherRows * E));
            for (int64_t ch = lo; ch < hi; ++ch) {
              const int64_t r0 = ch * hb::kGatherRows, m = std::min(hb::kGatherRows, n - r0);
              x.gather(r0, m, buf.data());
              int64_t col = -1;
              const int64_t r = hb::first_invalid_row(buf.data(), m, E, &col);
              if (r >= 0) {
                first[b] = r0 + r;
                where[b] = col;
                return;
              }
              hd::compute_cpu(buf.data(), m, E, pp, hp, prm, op + r0 * ncols, 1, cols.data(), ncols);
            }
          },
          /*grain=*/1);
    });
    for (size_t b = 0; b < first.size(); ++b)
      if (first[b] >= 0) {
        bad_row = first[b];
        bad_col = where[b];
        break;
      }
    if (bad_row >= 0 && bad_col >= 0) bad_value = x.at(bad_row, bad_col);
    if (bad_row >= 0 && bad_col < 0)
      for (int64_t j = 0; j < E; ++j) bad_value += x.at(bad_row, j);
  }
  if (bad_row >= 0) throw py::value_error(hb::invalid_row_message("fractions", bad_row, bad_col, bad_value));
  return out;
}

}  // namespace

void bind_descriptors(py::module_& m) {
  py::list names, props;
  for (const char* s : kNames) names.append(s);
  for (const char* s : kProps) props.append(s);
  m.attr("DESCRIPTOR_COLUMNS") = py::tuple(names);
  m.attr("DESCRIPTOR_PROPS") = py::tuple(props);
  m.def("descriptors", &descriptors, py::arg("fractions"), py::arg("props"), py::arg("pair"), py::arg("gas_constant"),
        py::arg("log_offset") = 0.0, py::arg("threads") = py::none(), py::arg("columns") = py::none(),
        R"doc(All empirical HEA descriptors in one pass per composition.

fractions: (n, E) amounts (each row is divided by its sum): a 2-D array of any layout, or a
list of E 1-D arrays (columns, e.g. a DataFrame's), read in place without a copy; props: (E, 7) element
properties in DESCRIPTOR_PROPS order; pair: (E, E) binary mixing enthalpies (kJ/mol).
Returns (n, 16) float64 in DESCRIPTOR_COLUMNS order, or (n, len(columns)) for a list of column
indices (the work no requested column needs is skipped; values are bitwise those of a full call). NaN in props/pair propagates only to the
descriptors that use it. Raises ValueError for NaN/inf/negative amounts, all-zero rows and
shape mismatches. threads=None uses all cores; the result does not depend on it.)doc");
}
