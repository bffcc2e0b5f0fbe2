// CUDA bindings for the Maresca–Curtin kernels (csrc/cuda/maresca_curtin_api.h): device pointers and
// streams as integers (bind_util.h). Value checks on device data happen in Python
// (hea_fast.xyield.maresca_curtin) before these calls; host arrays are checked here as on the CPU.
#include "bind_util.h"
#include "lattice_api.h"
#include "maresca_curtin_api.h"
#include "maresca_curtin_args.h"
#include "modules.h"

namespace hc = hea_fast::cuda;
using hb::carray;
using hb::dev_ptr;
using hb::stream_arg;

void bind_cuda_maresca_curtin(py::module_& m) {
  m.def(
      "mc_tau0_deb",
      [](uintptr_t frac, int64_t n, int64_t E, uintptr_t V, uintptr_t C11, uintptr_t C12, uintptr_t C44, uintptr_t mu,
         uintptr_t nu, uintptr_t tau0, uintptr_t deb, uintptr_t stream) {
        hb::without_gil([&] {
          hc::mc_tau0_deb(dev_ptr<const double>(frac), n, E, dev_ptr<const double>(V), dev_ptr<const double>(C11),
                          dev_ptr<const double>(C12), dev_ptr<const double>(C44), dev_ptr<const double>(mu),
                          dev_ptr<const double>(nu), dev_ptr<double>(tau0), dev_ptr<double>(deb), stream_arg(stream));
        });
      },
      py::arg("frac_ptr"), py::arg("n"), py::arg("E"), py::arg("V_ptr"), py::arg("C11_ptr"), py::arg("C12_ptr"),
      py::arg("C44_ptr"), py::arg("mu_ptr"), py::arg("nu_ptr"), py::arg("tau0_ptr"), py::arg("deb_ptr"),
      py::arg("stream"), "tau_y0 [MPa], dE_b [eV] on the GPU (mu_ptr/nu_ptr = 0: no override).");
  m.def(
      "mc_sigma",
      [](uintptr_t tau0, uintptr_t deb, uintptr_t T, int64_t n, int model, uintptr_t out, uintptr_t stream) {
        hb::model_arg(model);
        hb::without_gil([&] {
          hc::mc_sigma(dev_ptr<const double>(tau0), dev_ptr<const double>(deb), dev_ptr<const double>(T), n, model,
                       dev_ptr<double>(out), stream_arg(stream));
        });
      },
      py::arg("tau0_ptr"), py::arg("deb_ptr"), py::arg("T_ptr"), py::arg("n"), py::arg("model"), py::arg("out_ptr"),
      py::arg("stream"), "sigma_y [MPa] for paired device arrays.");
  m.def(
      "mc_grid_sigma",
      [](const hc::DeviceLattice& d, int64_t rank_begin, int64_t rank_end, carray<double> V, carray<double> C11,
         carray<double> C12, carray<double> C44, carray<double> T, int model, uintptr_t out, uintptr_t stream) {
        const auto el = hb::elem_arrays(V, C11, C12, C44, d.host().n_palette(), true);
        const int64_t nT = hb::temperatures_arg(T);
        hb::check_rank_range(rank_begin, rank_end, d.host().size());
        if (nT < 1 || nT > hc::kMaxGridTemperatures)
          throw py::value_error("the CUDA grid kernel takes 1.." + std::to_string(hc::kMaxGridTemperatures) +
                                " temperatures, got " + std::to_string(nT));
        hb::model_arg(model);
        hb::without_gil([&] {
          hc::mc_grid_sigma(d, rank_begin, rank_end, el.V.data(), el.C11.data(), el.C12.data(), el.C44.data(), T.data(),
                            static_cast<int>(nT), model, dev_ptr<double>(out), stream_arg(stream));
        });
      },
      py::arg("lattice"), py::arg("rank_begin"), py::arg("rank_end"), py::arg("V"), py::arg("C11"), py::arg("C12"),
      py::arg("C44"), py::arg("temperature_K"), py::arg("model"), py::arg("out_ptr"), py::arg("stream"),
      "Fused enumerate + sigma_y on the GPU -> out_ptr ((rank_end - rank_begin) x nT float64, device).");
}
