// Bindings for the Maresca–Curtin yield kernels (csrc/include/hea_fast/maresca_curtin.h).
// Arrays are validated here (shapes, finiteness, physical ranges) so the kernels never see bad
// input; the GIL is released around every kernel because they touch no Python objects.
#include <cmath>
#include <limits>
#include <sstream>

#include "bind_util.h"
#include "hea_fast/lattice.h"
#include "hea_fast/maresca_curtin.h"

namespace py = pybind11;
using hea_fast::bind::carray;
using hea_fast::lattice::Space;
namespace mc = hea_fast::mc;

namespace {

struct ElemArrays {
  carray<double> V, C11, C12, C44;
};

ElemArrays elem_arrays(carray<double> V, carray<double> C11, carray<double> C12, carray<double> C44, int64_t E,
                       bool require_elastic) {
  hea_fast::bind::check_shape(V, "V", {E});
  hea_fast::bind::check_shape(C11, "C11", {E});
  hea_fast::bind::check_shape(C12, "C12", {E});
  hea_fast::bind::check_shape(C44, "C44", {E});
  for (int64_t e = 0; e < E; ++e) {
    double v = V.data()[e];
    if (!(std::isfinite(v) && v > 0))
      throw py::value_error("V: atomic volume of element " + std::to_string(e) + " must be finite and > 0 A^3, got " +
                            std::to_string(v));
    if (require_elastic) {
      double c11 = C11.data()[e], c12 = C12.data()[e], c44 = C44.data()[e];
      if (!(std::isfinite(c11) && std::isfinite(c12) && std::isfinite(c44) && c44 > 0 && c11 > c12)) {
        std::ostringstream os;
        os << "elastic constants of element " << e << " (C11=" << c11 << ", C12=" << c12 << ", C44=" << c44
           << " GPa) must be finite with C44 > 0 and C11 > C12";
        throw py::value_error(os.str());
      }
    }
  }
  return {V, C11, C12, C44};
}

int model_arg(int model) {
  if (model != mc::kTwoRegime && model != mc::kSingleFit)
    throw py::value_error("model must be 0 (two-regime) or 1 (single-fit), got " + std::to_string(model));
  return model;
}

void check_T(const double* T, int64_t n) {
  for (int64_t i = 0; i < n; ++i)
    if (!(std::isfinite(T[i]) && T[i] >= 0))
      throw py::value_error("temperature_K must be finite and >= 0 K, got " + std::to_string(T[i]) + " at index " +
                            std::to_string(i));
}

template <class T>
T* writable(py::array& a, const char* name, std::vector<int64_t> shape);

// None -> nullptr (that reduction is skipped), else a writable array of the exact dtype/shape.
template <class T>
T* optional_writable(py::object o, const char* name, std::vector<int64_t> shape) {
  if (o.is_none()) return nullptr;
  py::array a = o.cast<py::array>();
  return writable<T>(a, name, shape);
}

template <class T>
T* writable(py::array& a, const char* name, std::vector<int64_t> shape) {
  if (!a.dtype().is(py::dtype::of<T>()))
    throw py::value_error(std::string(name) + ": wrong dtype (expected " + std::string(py::str(py::dtype::of<T>())) + ")");
  if (!(a.flags() & py::array::c_style) || !a.writeable())
    throw py::value_error(std::string(name) + ": must be a writable C-contiguous array");
  hea_fast::bind::check_shape(a, name, shape);
  return static_cast<T*>(a.mutable_data());
}

}  // namespace

void bind_yield(py::module_& m) {
  m.def(
      "mc_tau0_deb",
      [](carray<double> frac, carray<double> V, carray<double> C11, carray<double> C12, carray<double> C44,
         py::object mu_override, py::object nu_override, py::object threads) {
        hea_fast::bind::check_shape(frac, "fractions", {-1, -1});
        const int64_t n = frac.shape(0), E = frac.shape(1);
        auto el = elem_arrays(V, C11, C12, C44, E, false);
        hea_fast::bind::check_finite(frac.data(), frac.size(), "fractions");
        hea_fast::bind::check_nonnegative(frac.data(), frac.size(), "fractions");
        carray<double> mu, nu;
        const double *pmu = nullptr, *pnu = nullptr;
        if (!mu_override.is_none()) {
          mu = mu_override.cast<carray<double>>();
          hea_fast::bind::check_shape(mu, "shear_modulus", {n});
          for (int64_t i = 0; i < n; ++i)
            if (!(std::isfinite(mu.data()[i]) && mu.data()[i] > 0))
              throw py::value_error("shear_modulus must be finite and > 0 GPa, got " + std::to_string(mu.data()[i]));
          pmu = mu.data();
        }
        if (!nu_override.is_none()) {
          nu = nu_override.cast<carray<double>>();
          hea_fast::bind::check_shape(nu, "poisson", {n});
          for (int64_t i = 0; i < n; ++i)
            if (!(nu.data()[i] > -1.0 && nu.data()[i] < 0.5))
              throw py::value_error("poisson must lie in (-1, 0.5), got " + std::to_string(nu.data()[i]));
          pnu = nu.data();
        }
        int t = hea_fast::bind::threads_arg(threads);
        py::array_t<double> tau0(n), deb(n);
        double *pt = tau0.mutable_data(), *pd = deb.mutable_data();
        const double* pf = frac.data();
        {
          py::gil_scoped_release nogil;
          mc::tau0_deb_batch(pf, n, E, el.V.data(), el.C11.data(), el.C12.data(), el.C44.data(), pmu, pnu,
                             mc::Constants{}, pt, pd, t);
        }
        for (int64_t i = 0; i < n; ++i)
          if (!(std::isfinite(pt[i]) && std::isfinite(pd[i])))
            throw py::value_error("composition " + std::to_string(i) +
                                  ": non-finite tau_y0/dE_b (alloy elastic constants give C11 <= C12, C44 <= 0 or "
                                  "nu outside (-1, 0.5); override shear_modulus/poisson)");
        return py::make_tuple(tau0, deb);
      },
      py::arg("fractions"), py::arg("V"), py::arg("C11"), py::arg("C12"), py::arg("C44"),
      py::arg("mu_override") = py::none(), py::arg("nu_override") = py::none(), py::arg("threads") = py::none(),
      "Maresca-Curtin tau_y0 [MPa] and dE_b [eV] of dense fraction rows (n x E).");

  m.def(
      "mc_sigma",
      [](carray<double> tau0, carray<double> deb, carray<double> T, int model, py::object threads) {
        hea_fast::bind::check_shape(tau0, "tau0", {-1});
        const int64_t n = tau0.shape(0);
        hea_fast::bind::check_shape(deb, "deb", {n});
        hea_fast::bind::check_shape(T, "temperature_K", {n});
        hea_fast::bind::check_finite(tau0.data(), n, "tau0");
        hea_fast::bind::check_finite(deb.data(), n, "deb");
        check_T(T.data(), n);
        model_arg(model);
        int t = hea_fast::bind::threads_arg(threads);
        py::array_t<double> out(n);
        double* po = out.mutable_data();
        const double *a = tau0.data(), *b = deb.data(), *c = T.data();
        {
          py::gil_scoped_release nogil;
          mc::sigma_paired(a, b, c, n, model, mc::Constants{}, po, t);
        }
        return out;
      },
      py::arg("tau0"), py::arg("deb"), py::arg("temperature_K"), py::arg("model") = 0, py::arg("threads") = py::none(),
      "Tensile yield strength sigma_y = 3.067 tau [MPa] for paired (tau0, dE_b, T).");

  m.def(
      "mc_grid_sigma",
      [](const Space& s, int64_t rank_begin, int64_t rank_end, carray<double> V, carray<double> C11,
         carray<double> C12, carray<double> C44, carray<double> T, int model, py::object threads) {
        if (rank_begin < 0 || rank_end < rank_begin || rank_end > s.size())
          throw py::value_error("rank range [" + std::to_string(rank_begin) + ", " + std::to_string(rank_end) +
                                ") is outside [0, " + std::to_string(s.size()) + "]");
        auto el = elem_arrays(V, C11, C12, C44, s.n_palette(), true);
        hea_fast::bind::check_shape(T, "temperature_K", {-1});
        check_T(T.data(), T.shape(0));
        model_arg(model);
        int t = hea_fast::bind::threads_arg(threads);
        const int64_t n = rank_end - rank_begin, nT = T.shape(0);
        py::array_t<double> out({n, nT});
        double* po = out.mutable_data();
        {
          py::gil_scoped_release nogil;
          mc::grid_sigma(s, rank_begin, rank_end, el.V.data(), el.C11.data(), el.C12.data(), el.C44.data(), T.data(),
                         static_cast<int>(nT), model, mc::Constants{}, po, t);
        }
        return out;
      },
      py::arg("space"), py::arg("rank_begin"), py::arg("rank_end"), py::arg("V"), py::arg("C11"), py::arg("C12"),
      py::arg("C44"), py::arg("temperature_K"), py::arg("model") = 0, py::arg("threads") = py::none(),
      "sigma_y [MPa] of every lattice point in [rank_begin, rank_end) at each temperature -> (n, nT).");

  m.def(
      "mc_grid_points",
      [](const Space& s, carray<int64_t> points, carray<double> V, carray<double> C11, carray<double> C12,
         carray<double> C44, carray<double> T, int model, py::object threads) {
        auto el = elem_arrays(V, C11, C12, C44, s.n_palette(), true);
        hea_fast::bind::check_shape(T, "temperature_K", {-1});
        const int64_t nT = T.shape(0);
        if (nT < 1) throw py::value_error("temperature_K must not be empty");
        check_T(T.data(), nT);
        hea_fast::bind::check_shape(points, "points", {-1});
        const int64_t n = points.shape(0);
        const int64_t* pp = points.data();
        for (int64_t i = 0; i < n; ++i)
          if (pp[i] < 0 || pp[i] / nT >= s.size())
            throw py::value_error("point index " + std::to_string(pp[i]) + " at " + std::to_string(i) +
                                  " is outside the grid of " + std::to_string(s.size()) + " x " + std::to_string(nT));
        model_arg(model);
        int t = hea_fast::bind::threads_arg(threads);
        py::array_t<double> out(n);
        double* po = out.mutable_data();
        {
          py::gil_scoped_release nogil;
          mc::grid_points(s, pp, n, el.V.data(), el.C11.data(), el.C12.data(), el.C44.data(), T.data(),
                          static_cast<int>(nT), model, mc::Constants{}, po, t);
        }
        return out;
      },
      py::arg("space"), py::arg("points"), py::arg("V"), py::arg("C11"), py::arg("C12"), py::arg("C44"),
      py::arg("temperature_K"), py::arg("model") = 0, py::arg("threads") = py::none(),
      "sigma_y [MPa] at point indices rank * nT + t.");

  m.def(
      "mc_grid_reduce",
      [](const Space& s, int64_t rank_begin, int64_t rank_end, carray<double> V, carray<double> C11,
         carray<double> C12, carray<double> C44, carray<double> T, int model, py::object hist, double h_lo,
         double h_hi, py::array tmax, py::array targ, py::object bmax, py::object barg, py::object tsum,
         py::object tsum2, int topk, py::object threads) {
        if (rank_begin < 0 || rank_end < rank_begin || rank_end > s.size())
          throw py::value_error("rank range [" + std::to_string(rank_begin) + ", " + std::to_string(rank_end) +
                                ") is outside [0, " + std::to_string(s.size()) + "]");
        auto el = elem_arrays(V, C11, C12, C44, s.n_palette(), true);
        hea_fast::bind::check_shape(T, "temperature_K", {-1});
        const int64_t nT = T.shape(0);
        check_T(T.data(), nT);
        model_arg(model);
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
        red.bmax = optional_writable<double>(bmax, "bmax", {s.n_blocks(), nT});
        red.barg = optional_writable<int64_t>(barg, "barg", {s.n_blocks(), nT});
        if ((red.bmax == nullptr) != (red.barg == nullptr)) throw py::value_error("bmax and barg go together");
        red.tsum = optional_writable<double>(tsum, "tsum", {nT});
        red.tsum2 = optional_writable<double>(tsum2, "tsum2", {nT});
        if ((red.tsum == nullptr) != (red.tsum2 == nullptr)) throw py::value_error("tsum and tsum2 go together");
        red.topk = topk;
        py::array_t<double> tv({nT, static_cast<int64_t>(topk)});
        py::array_t<int64_t> ti({nT, static_cast<int64_t>(topk)});
        red.topk_val = tv.mutable_data();
        red.topk_idx = ti.mutable_data();
        int t = hea_fast::bind::threads_arg(threads);
        {
          py::gil_scoped_release nogil;
          mc::grid_reduce(s, rank_begin, rank_end, el.V.data(), el.C11.data(), el.C12.data(), el.C44.data(),
                          mc::Constants{}, red, t);
        }
        return py::make_tuple(tv, ti);
      },
      py::arg("space"), py::arg("rank_begin"), py::arg("rank_end"), py::arg("V"), py::arg("C11"), py::arg("C12"),
      py::arg("C44"), py::arg("temperature_K"), py::arg("model"), py::arg("hist"), py::arg("h_lo"), py::arg("h_hi"),
      py::arg("tmax"), py::arg("targ"), py::arg("bmax"), py::arg("barg"), py::arg("tsum"), py::arg("tsum2"),
      py::arg("topk"), py::arg("threads") = py::none(),
      "Fused enumerate + Maresca-Curtin + reductions over lattice ranks [rank_begin, rank_end). Accumulates hist, "
      "tmax/targ, bmax/barg (per system), tsum/tsum2 in place; returns this range's per-temperature top-k "
      "(values, point indices), sorted by (sigma desc, index asc).");
}
