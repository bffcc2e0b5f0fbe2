// CUDA bindings for the Maresca–Curtin kernels (device pointers as integers, streams as integers).
// Value checks on device data happen in Python (hea_fast.xyield.simulate) before these calls.
#include <cmath>
#include <stdexcept>

#include "bind_util.h"
#include "lattice_api.h"
#include "maresca_curtin_api.h"

namespace py = pybind11;
using hea_fast::bind::carray;

namespace {
template <class T>
T* ptr(uintptr_t p) { return reinterpret_cast<T*>(p); }
inline void* sp(uintptr_t s) { return reinterpret_cast<void*>(s); }
void model_ok(int model) {
  if (model != 0 && model != 1) throw py::value_error("model must be 0 (two-regime) or 1 (single-fit)");
}
}  // namespace

void bind_cuda_yield(py::module_& m) {
  m.def(
      "mc_tau0_deb",
      [](uintptr_t frac, int64_t n, int64_t E, uintptr_t V, uintptr_t C11, uintptr_t C12, uintptr_t C44, uintptr_t mu,
         uintptr_t nu, uintptr_t tau0, uintptr_t deb, uintptr_t stream) {
        py::gil_scoped_release nogil;
        hea_fast::cuda::mc_tau0_deb(ptr<const double>(frac), n, E, ptr<const double>(V), ptr<const double>(C11),
                                    ptr<const double>(C12), ptr<const double>(C44), ptr<const double>(mu),
                                    ptr<const double>(nu), ptr<double>(tau0), ptr<double>(deb), sp(stream));
      },
      py::arg("frac_ptr"), py::arg("n"), py::arg("E"), py::arg("V_ptr"), py::arg("C11_ptr"), py::arg("C12_ptr"),
      py::arg("C44_ptr"), py::arg("mu_ptr"), py::arg("nu_ptr"), py::arg("tau0_ptr"), py::arg("deb_ptr"),
      py::arg("stream"), "tau_y0 [MPa], dE_b [eV] on the GPU (mu_ptr/nu_ptr = 0: no override).");
  m.def(
      "mc_sigma",
      [](uintptr_t tau0, uintptr_t deb, uintptr_t T, int64_t n, int model, uintptr_t out, uintptr_t stream) {
        model_ok(model);
        py::gil_scoped_release nogil;
        hea_fast::cuda::mc_sigma(ptr<const double>(tau0), ptr<const double>(deb), ptr<const double>(T), n, model,
                                 ptr<double>(out), sp(stream));
      },
      py::arg("tau0_ptr"), py::arg("deb_ptr"), py::arg("T_ptr"), py::arg("n"), py::arg("model"), py::arg("out_ptr"),
      py::arg("stream"), "sigma_y [MPa] for paired device arrays.");
  m.def(
      "mc_grid_sigma",
      [](const hea_fast::cuda::DeviceLattice& d, int64_t rank_begin, int64_t rank_end, carray<double> V,
         carray<double> C11, carray<double> C12, carray<double> C44, carray<double> T, int model, uintptr_t out,
         uintptr_t stream) {
        const int64_t E = d.host().n_palette();
        hea_fast::bind::check_shape(V, "V", {E});
        hea_fast::bind::check_shape(C11, "C11", {E});
        hea_fast::bind::check_shape(C12, "C12", {E});
        hea_fast::bind::check_shape(C44, "C44", {E});
        hea_fast::bind::check_shape(T, "temperature_K", {-1});
        for (int64_t e = 0; e < E; ++e)
          if (!(V.data()[e] > 0 && C44.data()[e] > 0 && C11.data()[e] > C12.data()[e]))
            throw py::value_error("element " + std::to_string(e) + ": need V > 0, C44 > 0 and C11 > C12");
        for (int64_t t = 0; t < T.shape(0); ++t)
          if (!(std::isfinite(T.data()[t]) && T.data()[t] >= 0))
            throw py::value_error("temperature_K must be finite and >= 0 K");
        if (rank_begin < 0 || rank_end < rank_begin || rank_end > d.host().size())
          throw py::value_error("rank range outside the space of " + std::to_string(d.host().size()));
        if (T.shape(0) < 1 || T.shape(0) > hea_fast::cuda::kMaxGridTemperatures)
          throw py::value_error("the CUDA grid kernel takes 1..64 temperatures");
        model_ok(model);
        py::gil_scoped_release nogil;
        hea_fast::cuda::mc_grid_sigma(d, rank_begin, rank_end, V.data(), C11.data(), C12.data(), C44.data(), T.data(),
                                      static_cast<int>(T.shape(0)), model, ptr<double>(out), sp(stream));
      },
      py::arg("lattice"), py::arg("rank_begin"), py::arg("rank_end"), py::arg("V"), py::arg("C11"), py::arg("C12"),
      py::arg("C44"), py::arg("temperature_K"), py::arg("model"), py::arg("out_ptr"), py::arg("stream"),
      "Fused enumerate + sigma_y on the GPU -> out_ptr ((rank_end - rank_begin) x nT float64, device).");
}
