// Bindings for the Maresca–Curtin yield kernels (csrc/include/hea_fast/maresca_curtin.h).
// Arrays are validated here (shapes, finiteness, physical ranges; maresca_curtin_args.h) so the
// kernels never see bad input; the GIL is released around every kernel because they touch no
// Python objects.
#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "bind_util.h"
#include "columns_arg.h"
#include "hea_fast/lattice.h"
#include "hea_fast/maresca_curtin.h"
#include "hea_fast/parallel.h"
#include "maresca_curtin_args.h"
#include "modules.h"

namespace mc = hea_fast::mc;
using hb::carray;
using hea_fast::lattice::Space;

namespace {

// None -> nullptr (that reduction is skipped), else a writable C-contiguous array of exactly this
// dtype and shape (the kernel accumulates into it in place).
template <class T>
T* writable(const py::object& o, const char* name, std::vector<int64_t> shape) {
  if (o.is_none()) return nullptr;
  py::array a = o.cast<py::array>();
  if (!a.dtype().is(py::dtype::of<T>()))
    throw py::value_error(std::string(name) + ": wrong dtype (expected " + std::string(py::str(py::dtype::of<T>())) +
                          ")");
  if (!(a.flags() & py::array::c_style) || !a.writeable())
    throw py::value_error(std::string(name) + ": must be a writable C-contiguous array");
  hb::check_shape(a, name, shape);
  return static_cast<T*>(a.mutable_data());
}

// None -> nullptr; else an (n) per-composition override whose values all satisfy ok(v).
template <class Ok>
const double* row_override(const py::object& o, carray<double>& keep, const char* name, int64_t n, Ok ok,
                           const char* rule) {
  if (o.is_none()) return nullptr;
  keep = o.cast<carray<double>>();
  hb::check_shape(keep, name, {n});
  for (int64_t i = 0; i < n; ++i)
    if (!ok(keep.data()[i]))
      throw py::value_error(std::string(name) + " must " + rule + ", got " + std::to_string(keep.data()[i]));
  return keep.data();
}

auto tau0_deb(py::object frac_obj, carray<double> V, carray<double> C11, carray<double> C12, carray<double> C44,
              py::object mu_override, py::object nu_override, py::object threads, bool normalize) {
  const hb::ColumnsArg frac = hb::columns_arg(frac_obj, "fractions");
  const int64_t n = frac.n, E = frac.E;
  const auto el = hb::elem_arrays(V, C11, C12, C44, E, false);
  carray<double> mu, nu;
  const double* pmu = row_override(
      mu_override, mu, "shear_modulus", n, [](double v) { return std::isfinite(v) && v > 0; }, "be finite and > 0 GPa");
  const double* pnu =
      row_override(nu_override, nu, "poisson", n, [](double v) { return v > -1.0 && v < 0.5; }, "lie in (-1, 0.5)");
  const int t = hb::threads_arg(threads);
  py::array_t<double> tau0(n), deb(n);
  double *pt = tau0.mutable_data(), *pd = deb.mutable_data();
  if (frac.contiguous != nullptr && !normalize) {
    const double* pf = frac.contiguous;
    hb::check_finite(pf, n * E, "fractions");
    hb::check_nonnegative(pf, n * E, "fractions");
    hb::without_gil([&] {
      mc::tau0_deb_batch(pf, n, E, el.V.data(), el.C11.data(), el.C12.data(), el.C44.data(), pmu, pnu, mc::Constants{},
                         pt, pd, t);
    });
  } else {
    // Strided rows, separate columns or rows to normalise: chunks of rows gathered into a per-thread
    // C-ordered buffer, checked (finite, >= 0; with normalize a positive sum, then divided by it)
    // and computed there; rows are independent, so values equal a C-ordered call's.
    const int64_t nchunks = (n + hb::kGatherRows - 1) / hb::kGatherRows;
    const int nt = hea_fast::resolve_threads(t);
    std::vector<int64_t> first(static_cast<size_t>(nt), -1), where(static_cast<size_t>(nt), -1);
    hb::without_gil([&] {
      hea_fast::parallel_for(
          nchunks, nt,
          [&](int64_t lo, int64_t hi, int b) {
            std::vector<double> buf(static_cast<size_t>(hb::kGatherRows * E));
            for (int64_t ch = lo; ch < hi; ++ch) {
              const int64_t r0 = ch * hb::kGatherRows, m = std::min(hb::kGatherRows, n - r0);
              double* x = buf.data();
              frac.gather(r0, m, x);
              for (int64_t i = 0; i < m; ++i) {
                double s = 0;
                int64_t bad = -2;
                for (int64_t j = 0; j < E; ++j) {
                  const double v = x[i * E + j];
                  if (!(v >= 0) || !std::isfinite(v)) {
                    bad = j;
                    break;
                  }
                  s += v;
                }
                if (bad == -2 && normalize && (!(s > 0) || !std::isfinite(s))) bad = -1;
                if (bad != -2) {
                  first[b] = r0 + i;
                  where[b] = bad;
                  return;
                }
                if (normalize)
                  for (int64_t j = 0; j < E; ++j) x[i * E + j] = x[i * E + j] / s;
              }
              mc::tau0_deb_batch(x, m, E, el.V.data(), el.C11.data(), el.C12.data(), el.C44.data(),
                                 pmu ? pmu + r0 : nullptr, pnu ? pnu + r0 : nullptr, mc::Constants{}, pt + r0, pd + r0,
                                 1);
            }
          },
          /*grain=*/1);
    });
    for (size_t b = 0; b < first.size(); ++b)
      if (first[b] >= 0) {
        const int64_t r = first[b], j = where[b];
        double v = j >= 0 ? frac.at(r, j) : 0.0;
        for (int64_t k = 0; j < 0 && k < E; ++k) v += frac.at(r, k);  // the row's sum: 0 or +inf
        throw py::value_error(hb::invalid_row_message("fractions", r, j, v));
      }
  }
  for (int64_t i = 0; i < n; ++i)
    if (!(std::isfinite(pt[i]) && std::isfinite(pd[i])))
      throw py::value_error("composition " + std::to_string(i) +
                            ": non-finite tau_y0/dE_b (alloy elastic constants give C11 <= C12, C44 <= 0 or "
                            "nu outside (-1, 0.5); override shear_modulus/poisson)");
  return py::make_tuple(tau0, deb);
}

py::array_t<double> sigma(carray<double> tau0, carray<double> deb, carray<double> T, int model, py::object threads) {
  hb::check_shape(tau0, "tau0", {-1});
  const int64_t n = tau0.shape(0);
  hb::check_shape(deb, "deb", {n});
  hb::check_shape(T, "temperature_K", {n});
  hb::check_finite(tau0.data(), n, "tau0");
  hb::check_finite(deb.data(), n, "deb");
  hb::temperatures_arg(T);
  hb::model_arg(model);
  const int t = hb::threads_arg(threads);
  const double *a = tau0.data(), *b = deb.data(), *c = T.data();
  return hb::fill_array<double>({n},
                                [&](double* out) { mc::sigma_paired(a, b, c, n, model, mc::Constants{}, out, t); });
}

py::array_t<double> grid_sigma(const Space& s, int64_t rank_begin, int64_t rank_end, carray<double> V,
                               carray<double> C11, carray<double> C12, carray<double> C44, carray<double> T, int model,
                               py::object threads) {
  hb::check_rank_range(rank_begin, rank_end, s.size());
  const auto el = hb::elem_arrays(V, C11, C12, C44, s.n_palette(), true);
  const int64_t n = rank_end - rank_begin, nT = hb::temperatures_arg(T);
  hb::model_arg(model);
  const int t = hb::threads_arg(threads);
  return hb::fill_array<double>({n, nT}, [&](double* out) {
    mc::grid_sigma(s, rank_begin, rank_end, el.V.data(), el.C11.data(), el.C12.data(), el.C44.data(), T.data(),
                   static_cast<int>(nT), model, mc::Constants{}, out, t);
  });
}

py::array_t<double> grid_points(const Space& s, carray<int64_t> points, carray<double> V, carray<double> C11,
                                carray<double> C12, carray<double> C44, carray<double> T, int model,
                                py::object threads) {
  const auto el = hb::elem_arrays(V, C11, C12, C44, s.n_palette(), true);
  const int64_t nT = hb::temperatures_arg(T);
  if (nT < 1) throw py::value_error("temperature_K must not be empty");
  hb::check_shape(points, "points", {-1});
  const int64_t n = points.shape(0);
  const int64_t* pp = points.data();
  for (int64_t i = 0; i < n; ++i)
    if (pp[i] < 0 || pp[i] / nT >= s.size())
      throw py::value_error("point index " + std::to_string(pp[i]) + " at " + std::to_string(i) +
                            " is outside the grid of " + std::to_string(s.size()) + " x " + std::to_string(nT));
  hb::model_arg(model);
  const int t = hb::threads_arg(threads);
  return hb::fill_array<double>({n}, [&](double* out) {
    mc::grid_points(s, pp, n, el.V.data(), el.C11.data(), el.C12.data(), el.C44.data(), T.data(), static_cast<int>(nT),
                    model, mc::Constants{}, out, t);
  });
}

auto grid_reduce(const Space& s, int64_t rank_begin, int64_t rank_end, carray<double> V, carray<double> C11,
                 carray<double> C12, carray<double> C44, carray<double> T, int model, py::object hist, double h_lo,
                 double h_hi, py::array tmax, py::array targ, py::object bmax, py::object barg, py::object tsum,
                 py::object tsum2, int topk, py::object threads) {
  hb::check_rank_range(rank_begin, rank_end, s.size());
  const auto el = hb::elem_arrays(V, C11, C12, C44, s.n_palette(), true);
  const int64_t nT = hb::temperatures_arg(T);
  hb::model_arg(model);
  if (!(std::isfinite(h_lo) && std::isfinite(h_hi) && h_hi > h_lo))
    throw py::value_error("histogram range must satisfy lo < hi, got [" + std::to_string(h_lo) + ", " +
                          std::to_string(h_hi) + ")");
  if (topk < 0) throw py::value_error("topk must be >= 0, got " + std::to_string(topk));
  mc::GridReduce red;
  red.nT = static_cast<int>(nT);
  red.T = T.data();
  red.model = model;
  if (!hist.is_none()) {
    py::array h = hist.cast<py::array>();
    if (h.ndim() != 2 || h.shape(0) != nT || h.shape(1) < 3)
      throw py::value_error("hist must have shape (nT, nbins + 2) with nbins >= 1");
    red.nbins = static_cast<int>(h.shape(1) - 2);
    red.hist = writable<int64_t>(h, "hist", {nT, h.shape(1)});
  }
  red.h_lo = h_lo;
  red.h_hi = h_hi;
  red.tmax = writable<double>(tmax, "tmax", {nT});
  red.targ = writable<int64_t>(targ, "targ", {nT});
  red.bmax = writable<double>(bmax, "bmax", {s.n_blocks(), nT});
  red.barg = writable<int64_t>(barg, "barg", {s.n_blocks(), nT});
  if ((red.bmax == nullptr) != (red.barg == nullptr)) throw py::value_error("bmax and barg go together");
  red.tsum = writable<double>(tsum, "tsum", {nT});
  red.tsum2 = writable<double>(tsum2, "tsum2", {nT});
  if ((red.tsum == nullptr) != (red.tsum2 == nullptr)) throw py::value_error("tsum and tsum2 go together");
  red.topk = topk;
  py::array_t<double> tv({nT, static_cast<int64_t>(topk)});
  py::array_t<int64_t> ti({nT, static_cast<int64_t>(topk)});
  red.topk_val = tv.mutable_data();
  red.topk_idx = ti.mutable_data();
  const int t = hb::threads_arg(threads);
  hb::without_gil([&] {
    mc::grid_reduce(s, rank_begin, rank_end, el.V.data(), el.C11.data(), el.C12.data(), el.C44.data(), mc::Constants{},
                    red, t);
  });
  return py::make_tuple(tv, ti);
}

}  // namespace

void bind_maresca_curtin(py::module_& m) {
  m.def("mc_tau0_deb", &tau0_deb, py::arg("fractions"), py::arg("V"), py::arg("C11"), py::arg("C12"), py::arg("C44"),
        py::arg("mu_override") = py::none(), py::arg("nu_override") = py::none(), py::arg("threads") = py::none(),
        py::arg("normalize") = false,
        "Maresca-Curtin tau_y0 [MPa] and dE_b [eV] of dense fraction rows (n x E): a 2-D array of any layout or a "
        "list of E 1-D columns, read in place. normalize=True divides each row by its sum first (rows of amounts; "
        "an all-zero row is an error).");
  m.def("mc_sigma", &sigma, py::arg("tau0"), py::arg("deb"), py::arg("temperature_K"), py::arg("model") = 0,
        py::arg("threads") = py::none(),
        "Tensile yield strength sigma_y = 3.067 tau [MPa] for paired (tau0, dE_b, T). model: 0 two-regime, "
        "1 single-fit, 2 continuous (hea_fast.xyield.maresca_curtin.MODEL_CODES; its wrappers default to 2).");
  m.def("mc_grid_sigma", &grid_sigma, py::arg("space"), py::arg("rank_begin"), py::arg("rank_end"), py::arg("V"),
        py::arg("C11"), py::arg("C12"), py::arg("C44"), py::arg("temperature_K"), py::arg("model") = 0,
        py::arg("threads") = py::none(),
        "sigma_y [MPa] of every lattice point in [rank_begin, rank_end) at each temperature -> (n, nT).");
  m.def("mc_grid_points", &grid_points, py::arg("space"), py::arg("points"), py::arg("V"), py::arg("C11"),
        py::arg("C12"), py::arg("C44"), py::arg("temperature_K"), py::arg("model") = 0, py::arg("threads") = py::none(),
        "sigma_y [MPa] at point indices rank * nT + t.");
  m.def("mc_grid_reduce", &grid_reduce, py::arg("space"), py::arg("rank_begin"), py::arg("rank_end"), py::arg("V"),
        py::arg("C11"), py::arg("C12"), py::arg("C44"), py::arg("temperature_K"), py::arg("model"), py::arg("hist"),
        py::arg("h_lo"), py::arg("h_hi"), py::arg("tmax"), py::arg("targ"), py::arg("bmax"), py::arg("barg"),
        py::arg("tsum"), py::arg("tsum2"), py::arg("topk"), py::arg("threads") = py::none(),
        "Fused enumerate + Maresca-Curtin + reductions over lattice ranks [rank_begin, rank_end). Accumulates hist, "
        "tmax/targ, bmax/barg (per system), tsum/tsum2 in place; returns this range's per-temperature top-k "
        "(values, point indices), sorted by (sigma desc, index asc).");
}
