// CUDA bindings for the simplex-lattice decoder. Device buffers arrive as integer addresses
// (torch `data_ptr()`), streams as integers (`torch.cuda.current_stream().cuda_stream`).
// Compiled by the host compiler: includes only the CUDA-free lattice_api.h.
#include <pybind11/stl.h>

#include <memory>
#include <stdexcept>

#include "bind_util.h"
#include "lattice_api.h"

namespace py = pybind11;
using hea_fast::cuda::DeviceLattice;

namespace {
template <class T>
T* ptr(uintptr_t p) { return reinterpret_cast<T*>(p); }
inline void* stream_ptr(uintptr_t s) { return reinterpret_cast<void*>(s); }
}  // namespace

void bind_cuda_lattice(py::module_& m) {
  py::class_<DeviceLattice, std::shared_ptr<DeviceLattice>>(
      m, "DeviceLattice", "A simplex-lattice space (same parameters as _core.LatticeSpace) uploaded to the current GPU.")
      .def(py::init([](int n_palette, std::vector<std::pair<int, int>> parts, std::vector<double> lo,
                       std::vector<double> hi, std::vector<uint8_t> required, std::vector<uint8_t> forbidden) {
             std::vector<hea_fast::lattice::Part> ps;
             for (auto& p : parts) ps.push_back({p.first, p.second});
             std::shared_ptr<const hea_fast::lattice::Space> host;
             try {
               host = std::make_shared<hea_fast::lattice::Space>(n_palette, ps, lo, hi, required, forbidden);
             } catch (const std::overflow_error& e) {
               throw py::value_error(e.what());
             } catch (const std::invalid_argument& e) {
               throw py::value_error(e.what());
             }
             return std::make_shared<DeviceLattice>(host);
           }),
           py::arg("n_palette"), py::arg("parts"), py::arg("lo"), py::arg("hi"), py::arg("required"),
           py::arg("forbidden"))
      .def_property_readonly("size", [](const DeviceLattice& d) { return d.host().size(); })
      .def_property_readonly("n_palette", [](const DeviceLattice& d) { return d.host().n_palette(); })
      .def(
          "fractions",
          [](const DeviceLattice& d, int64_t start, int64_t count, uintptr_t out, uintptr_t stream) {
            if (start < 0 || count < 0 || start > d.host().size() || count > d.host().size() - start)
              throw py::value_error("rank range outside the space of " + std::to_string(d.host().size()));
            py::gil_scoped_release nogil;
            hea_fast::cuda::lattice_fractions(d, start, count, ptr<double>(out), stream_ptr(stream));
          },
          py::arg("start"), py::arg("count"), py::arg("out_ptr"), py::arg("stream"),
          "Write dense fractions (count x E, float64, device) of ranks [start, start + count) to out_ptr.")
      .def(
          "fractions_at",
          [](const DeviceLattice& d, uintptr_t ranks, int64_t n, uintptr_t out, uintptr_t stream) {
            py::gil_scoped_release nogil;
            hea_fast::cuda::lattice_fractions_at(d, ptr<const int64_t>(ranks), n, ptr<double>(out), stream_ptr(stream));
          },
          py::arg("ranks_ptr"), py::arg("n"), py::arg("out_ptr"), py::arg("stream"),
          "Dense fractions of n device int64 ranks (validated by the caller) -> out_ptr (n x E float64).");
}
