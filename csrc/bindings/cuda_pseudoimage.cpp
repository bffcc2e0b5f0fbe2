// CUDA binding for the pseudo-image kernel (csrc/cuda/pseudoimage_api.h; device pointers and stream
// as integers, bind_util.h). Inputs are checked in Python (hea_fast.xyield.pseudoimage) before the call.
#include "bind_util.h"
#include "modules.h"
#include "pseudoimage_api.h"

using hb::dev_ptr;

void bind_cuda_pseudoimage(py::module_& m) {
  m.def(
      "pseudo_images",
      [](uintptr_t frac, uintptr_t T, uintptr_t cell, uintptr_t out, int64_t n, int64_t E, uintptr_t stream) {
        if (n < 0 || E < 0) throw py::value_error("n and E must be >= 0");
        hb::without_gil([&] {
          hea_fast::cuda::pseudo_images(dev_ptr<const double>(frac), dev_ptr<const double>(T), n, E,
                                        dev_ptr<const int32_t>(cell), dev_ptr<float>(out), hb::stream_arg(stream));
        });
      },
      py::arg("frac_ptr"), py::arg("T_ptr"), py::arg("cells_ptr"), py::arg("out_ptr"), py::arg("n"), py::arg("E"),
      py::arg("stream"), "float32 (n, 2, 9, 18) pseudo-images on the GPU.");
}
