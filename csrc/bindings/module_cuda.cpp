// The optional _cuda extension module. Compiled by the host C++ compiler: it includes only the
// CUDA-free csrc/cuda/*_api.h headers (streams passed as void*), never cuda_runtime.h.
#include <pybind11/pybind11.h>

#include "modules.h"
#include "runtime_api.h"

PYBIND11_MODULE(_cuda, m) {
  m.doc() = "hea_fast CUDA kernels";
  m.def(
      "device_count", [] { return hea_fast::cuda::device_count(); },
      "Number of visible CUDA devices (0 when none or no driver).");
  for (auto bind : {bind_cuda_descriptors, bind_cuda_wbic, bind_cuda_maresca_curtin, bind_cuda_lattice,
                    bind_cuda_pseudoimage, bind_cuda_masked_l0, bind_cuda_screen})
    bind(m);
}
