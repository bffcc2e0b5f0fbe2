// CUDA binding for the pseudo-image kernel (device pointers and stream as integers). Inputs are
// checked in Python (hea_fast.xyield.pseudoimage._pseudo_images_cuda) before the call.
#include "bind_util.h"
#include "pseudoimage_api.h"

namespace py = pybind11;

void bind_cuda_pseudoimage(py::module_& m) {
  m.def(
      "pseudo_images",
      [](uintptr_t frac, uintptr_t T, uintptr_t cell, uintptr_t out, int64_t n, int64_t E, uintptr_t stream) {
        if (n < 0 || E < 0) throw py::value_error("n and E must be >= 0");
        py::gil_scoped_release nogil;
        hea_fast::cuda::pseudo_images(reinterpret_cast<const double*>(frac), reinterpret_cast<const double*>(T), n, E,
                                      reinterpret_cast<const int32_t*>(cell), reinterpret_cast<float*>(out),
                                      reinterpret_cast<void*>(stream));
      },
      py::arg("frac_ptr"), py::arg("T_ptr"), py::arg("cells_ptr"), py::arg("out_ptr"), py::arg("n"), py::arg("E"),
      py::arg("stream"), "float32 (n, 2, 9, 18) pseudo-images on the GPU.");
}
