// CUDA bindings for the fused smoothed-l0 masked-weight kernels. Compiled by g++: sees only the
// CUDA-free masked_l0_api.h. Device tensors cross as integer pointers (torch `t.data_ptr()`) and
// the caller's stream (`torch.cuda.current_stream().cuda_stream`); the caller (hea_fast.xyield.
// masked) allocates outputs with torch, checks devices/dtypes/contiguity, and keeps them alive.
#include <cstdint>
#include <string>

#include "bind_util.h"
#include "masked_l0_api.h"
#include "modules.h"

namespace {
int dtype_code(const std::string& d) {
  if (d == "float32") return 0;
  if (d == "float64") return 1;
  throw py::value_error("dtype must be 'float32' or 'float64', got '" + d + "'");
}
void* ptr(std::uintptr_t p) { return hb::dev_ptr<void>(p); }
void check_n(int64_t n) {
  if (n < 0) throw py::value_error("n must be >= 0, got " + std::to_string(n));
}
}  // namespace

void bind_cuda_masked_l0(py::module_& m) {
  m.def(
      "masked_weight_forward",
      [](std::uintptr_t theta, std::uintptr_t ms, std::uintptr_t mt, double eps, std::uintptr_t w, int64_t n,
         const std::string& dtype, std::uintptr_t stream) {
        check_n(n);
        if (!(eps > 0)) throw py::value_error("eps must be positive, got " + std::to_string(eps));
        int dt = dtype_code(dtype);
        hb::without_gil([&] {  // asynchronous launch on the caller's stream
          hea_fast::cuda::masked_weight_forward(dt, ptr(theta), ptr(ms), ptr(mt), eps, ptr(w), n,
                                                hb::stream_arg(stream));
        });
      },
      py::arg("theta"), py::arg("m_s"), py::arg("m_t"), py::arg("eps"), py::arg("w"), py::arg("n"), py::arg("dtype"),
      py::arg("stream"), "w = theta*g(m_s)*g(m_t) on device pointers (0 for an absent mask).");
  m.def(
      "masked_weight_backward",
      [](std::uintptr_t grad_w, std::uintptr_t theta, std::uintptr_t ms, std::uintptr_t mt, double eps,
         std::uintptr_t gth, std::uintptr_t gms, std::uintptr_t gmt, int64_t n, const std::string& dtype,
         std::uintptr_t stream) {
        check_n(n);
        if (!(eps > 0)) throw py::value_error("eps must be positive, got " + std::to_string(eps));
        if (gms && !ms) throw py::value_error("grad_ms requested but m_s is null");
        if (gmt && !mt) throw py::value_error("grad_mt requested but m_t is null");
        int dt = dtype_code(dtype);
        hb::without_gil([&] {
          hea_fast::cuda::masked_weight_backward(dt, ptr(grad_w), ptr(theta), ptr(ms), ptr(mt), eps, ptr(gth), ptr(gms),
                                                 ptr(gmt), n, hb::stream_arg(stream));
        });
      },
      py::arg("grad_w"), py::arg("theta"), py::arg("m_s"), py::arg("m_t"), py::arg("eps"), py::arg("grad_theta"),
      py::arg("grad_ms"), py::arg("grad_mt"), py::arg("n"), py::arg("dtype"), py::arg("stream"),
      "Gradients of the masked weight on device pointers (0 = not computed / absent).");
  m.def(
      "prox_soft_threshold",
      [](std::uintptr_t mask, double lam, int64_t n, const std::string& dtype, std::uintptr_t stream) {
        check_n(n);
        if (!(lam >= 0)) throw py::value_error("lam must be >= 0, got " + std::to_string(lam));
        int dt = dtype_code(dtype);
        hb::without_gil([&] { hea_fast::cuda::prox_soft_threshold(dt, ptr(mask), lam, n, hb::stream_arg(stream)); });
      },
      py::arg("mask"), py::arg("lam"), py::arg("n"), py::arg("dtype"), py::arg("stream"),
      "In-place soft threshold of a device mask.");
}
