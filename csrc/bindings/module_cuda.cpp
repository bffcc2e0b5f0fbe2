// The optional _cuda extension module. Compiled by the host C++ compiler: it includes only the
// CUDA-free csrc/cuda/*_api.h headers (streams passed as void*), never cuda_runtime.h.
#include <pybind11/pybind11.h>
#include "runtime_api.h"
namespace py = pybind11;
void bind_cuda_descriptors(py::module_& m);
void bind_cuda_wbic(py::module_& m);
void bind_cuda_yield(py::module_& m);
void bind_cuda_lattice(py::module_& m);
void bind_cuda_pseudoimage(py::module_& m);
void bind_cuda_masked_l0(py::module_& m);
void bind_cuda_screen(py::module_& m);

PYBIND11_MODULE(_cuda, m) {
  m.doc() = "hea_fast CUDA kernels";
  m.def("device_count", [] { return hea_fast::cuda::device_count(); }, "Number of visible CUDA devices (0 when none or no driver).");
  bind_cuda_descriptors(m);
  bind_cuda_wbic(m);
  bind_cuda_yield(m);
  bind_cuda_lattice(m);
  bind_cuda_pseudoimage(m);
  bind_cuda_masked_l0(m);
  bind_cuda_screen(m);
}
