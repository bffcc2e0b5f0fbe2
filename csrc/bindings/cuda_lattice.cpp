// CUDA bindings for the simplex-lattice decoder (csrc/cuda/lattice_api.h). Device buffers arrive as
// integer addresses, streams as integers (bind_util.h). Compiled by the host compiler: includes only
// the CUDA-free lattice_api.h.
#include <memory>

#include "bind_util.h"
#include "lattice_api.h"
#include "lattice_args.h"
#include "modules.h"

using hb::dev_ptr;
using hb::stream_arg;
using hea_fast::cuda::DeviceLattice;

void bind_cuda_lattice(py::module_& m) {
  py::class_<DeviceLattice, std::shared_ptr<DeviceLattice>>(
      m, "DeviceLattice",
      "A simplex-lattice space (same parameters as _core.LatticeSpace) uploaded to the current GPU.")
      .def(py::init([](int n_palette, std::vector<std::pair<int, int>> parts, std::vector<double> lo,
                       std::vector<double> hi, std::vector<uint8_t> required, std::vector<uint8_t> forbidden) {
             return std::make_shared<DeviceLattice>(hb::make_space(n_palette, parts, lo, hi, required, forbidden));
           }),
           py::arg("n_palette"), py::arg("parts"), py::arg("lo"), py::arg("hi"), py::arg("required"),
           py::arg("forbidden"))
      .def_property_readonly("size", [](const DeviceLattice& d) { return d.host().size(); })
      .def_property_readonly("n_palette", [](const DeviceLattice& d) { return d.host().n_palette(); })
      .def(
          "fractions",
          [](const DeviceLattice& d, int64_t start, int64_t count, uintptr_t out, uintptr_t stream) {
            hb::check_rank_count(start, count, d.host().size());
            hb::without_gil(
                [&] { hea_fast::cuda::lattice_fractions(d, start, count, dev_ptr<double>(out), stream_arg(stream)); });
          },
          py::arg("start"), py::arg("count"), py::arg("out_ptr"), py::arg("stream"),
          "Write dense fractions (count x E, float64, device) of ranks [start, start + count) to out_ptr.")
      .def(
          "fractions_at",
          [](const DeviceLattice& d, uintptr_t ranks, int64_t n, uintptr_t out, uintptr_t stream) {
            hb::without_gil([&] {
              hea_fast::cuda::lattice_fractions_at(d, dev_ptr<const int64_t>(ranks), n, dev_ptr<double>(out),
                                                   stream_arg(stream));
            });
          },
          py::arg("ranks_ptr"), py::arg("n"), py::arg("out_ptr"), py::arg("stream"),
          "Dense fractions of n device int64 ranks (validated by the caller) -> out_ptr (n x E float64).");
}
