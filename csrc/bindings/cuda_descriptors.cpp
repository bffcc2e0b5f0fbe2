// CUDA bindings for the descriptor kernel. Compiled by g++: sees only the CUDA-free
// descriptors_api.h. Device buffers cross as integer pointers (torch `t.data_ptr()`) with the
// caller's stream (`torch.cuda.current_stream().cuda_stream`); hea_fast.features allocates them
// with torch, validates the amounts and keeps the tensors alive.
#include <cstdint>
#include <string>

#include "bind_util.h"
#include "descriptors_api.h"
#include "modules.h"

using hb::dev_ptr;

void bind_cuda_descriptors(py::module_& m) {
  m.def(
      "descriptors",
      [](std::uintptr_t x, int64_t n, int64_t E, std::uintptr_t props, std::uintptr_t pair, double gas_constant,
         double log_offset, std::uintptr_t out, std::uintptr_t stream) {
        if (n < 0) throw py::value_error("n must be >= 0, got " + std::to_string(n));
        if (E <= 0) throw py::value_error("E must be >= 1, got " + std::to_string(E));
        if (n > 0 && (!x || !props || !pair || !out)) throw py::value_error("null device pointer");
        if (!(gas_constant > 0)) throw py::value_error("gas_constant must be positive");
        if (!(log_offset >= 0)) throw py::value_error("log_offset must be >= 0");
        hb::without_gil([&] {  // asynchronous launch on the caller's stream
          hea_fast::cuda::descriptors(dev_ptr<const double>(x), n, E, dev_ptr<const double>(props),
                                      dev_ptr<const double>(pair), gas_constant, log_offset, dev_ptr<double>(out),
                                      hb::stream_arg(stream));
        });
      },
      py::arg("x"), py::arg("n"), py::arg("E"), py::arg("props"), py::arg("pair"), py::arg("gas_constant"),
      py::arg("log_offset"), py::arg("out"), py::arg("stream"),
      "Descriptor kernel on device pointers: x (n,E), props (E,7), pair (E,E) float64 -> out (n,16).");
}
