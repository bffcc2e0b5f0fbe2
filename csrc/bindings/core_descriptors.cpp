// Bindings for the one-pass HEA descriptor kernel (csrc/include/hea_fast/descriptors.h).
#include <sstream>

#include "bind_util.h"
#include "hea_fast/descriptors.h"
#include "modules.h"

namespace hd = hea_fast::descriptors;

namespace {

const char* const kNames[hd::kNumDescriptors] = {
    "delta", "dH_mix", "dS_mix", "VEC",    "dchi_pauling", "chi_allen_mean", "dchi_allen", "Tm",
    "K",     "Vm",     "Omega",  "Lambda", "gamma",        "local_delta_r",  "local_dchi", "r_mean"};
const char* const kProps[hd::kNumProps] = {"radius_pm", "chi_pauling",      "chi_allen",       "vec",
                                           "tm_K",      "bulk_modulus_GPa", "molar_volume_cm3"};

py::array_t<double> descriptors(hb::carray<double> x, hb::carray<double> props, hb::carray<double> pair,
                                double gas_constant, double log_offset, py::object threads, py::object columns) {
  hb::check_shape(x, "fractions", {-1, -1});
  const int64_t n = x.shape(0), E = x.shape(1);
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
  const double* xp = x.data();
  const double* pp = props.data();
  const double* hp = pair.data();
  double* op = out.mutable_data();
  int64_t bad_col = -1, bad_row = -1;
  // The kernel touches only these buffers (kept alive by the argument handles), never Python objects.
  hb::without_gil([&] {
    bad_row = hd::find_invalid_row(xp, n, E, nthreads, &bad_col);
    if (bad_row < 0)
      hd::compute_cpu(xp, n, E, pp, hp, hd::Params{gas_constant, log_offset}, op, nthreads, cols.data(), ncols);
  });
  if (bad_row >= 0) {
    std::ostringstream os;
    if (bad_col >= 0)
      os << "fractions: row " << bad_row << ", column " << bad_col << " holds " << xp[bad_row * E + bad_col]
         << "; amounts must be finite and non-negative";
    else
      os << "fractions: row " << bad_row << " sums to zero (no element present)";
    throw py::value_error(os.str());
  }
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

fractions: (n, E) float64 amounts (each row is divided by its sum); props: (E, 7) element
properties in DESCRIPTOR_PROPS order; pair: (E, E) binary mixing enthalpies (kJ/mol).
Returns (n, 16) float64 in DESCRIPTOR_COLUMNS order, or (n, len(columns)) for a list of column
indices (the work no requested column needs is skipped; values are bitwise those of a full call). NaN in props/pair propagates only to the
descriptors that use it. Raises ValueError for NaN/inf/negative amounts, all-zero rows and
shape mismatches. threads=None uses all cores; the result does not depend on it.)doc");
}
