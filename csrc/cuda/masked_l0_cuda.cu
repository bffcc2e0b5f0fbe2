// CUDA mirror of the fused smoothed-l0 masked-weight kernels (see hea_fast/masked_l0.h for the
// formulas). Grid-stride loops, one thread per weight entry; every entry is independent, so the
// results equal the CPU kernel's up to floating-point contraction (FMA) differences.
#include <cuda_runtime.h>

#include <stdexcept>
#include <string>

#include "hea_fast/masked_l0.h"
#include "masked_l0_api.h"
#include "runtime_api.h"

namespace hea_fast::cuda {
namespace {

template <class T>
__global__ void fwd_kernel(const T* __restrict__ theta, const T* __restrict__ ms, const T* __restrict__ mt, T eps,
                           T* __restrict__ w, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(blockDim.x) * gridDim.x) {
    T v = theta[i];
    if (ms) v *= masked_l0::gate_of(ms[i], eps);
    if (mt) v *= masked_l0::gate_of(mt[i], eps);
    w[i] = v;
  }
}

template <class T>
__global__ void bwd_kernel(const T* __restrict__ gw, const T* __restrict__ theta, const T* __restrict__ ms,
                           const T* __restrict__ mt, T eps, T* __restrict__ gth, T* __restrict__ gms,
                           T* __restrict__ gmt, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(blockDim.x) * gridDim.x) {
    T G = gw[i];
    T gs = T(1), gt = T(1), s2 = T(0), t2 = T(0);
    if (ms) {
      s2 = ms[i] * ms[i] + eps;
      gs = ms[i] * ms[i] / s2;
    }
    if (mt) {
      t2 = mt[i] * mt[i] + eps;
      gt = mt[i] * mt[i] / t2;
    }
    if (gth) gth[i] = G * gs * gt;
    if (gms) gms[i] = G * theta[i] * (T(2) * ms[i] * eps / (s2 * s2)) * gt;
    if (gmt) gmt[i] = G * theta[i] * gs * (T(2) * mt[i] * eps / (t2 * t2));
  }
}

template <class T>
__global__ void prox_kernel(T* __restrict__ m, T lam, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(blockDim.x) * gridDim.x) {
    T v = m[i];
    T a = fabs(v) - lam;
    m[i] = a > T(0) ? copysign(a, v) : (a == a ? T(0) : v);  // NaN stays NaN, as on the CPU
  }
}

constexpr int kThreads = 256;
inline int blocks_for(int64_t n) {
  int64_t b = (n + kThreads - 1) / kThreads;
  if (b > 65535) b = 65535;  // grid-stride loops cover the rest
  return b < 1 ? 1 : static_cast<int>(b);
}

// Typed launchers: the public entry points pick the float or double one from the dtype code.
template <class T>
void launch_forward(const void* theta, const void* ms, const void* mt, double eps, void* w, int64_t n, cudaStream_t s) {
  fwd_kernel<T><<<blocks_for(n), kThreads, 0, s>>>(static_cast<const T*>(theta), static_cast<const T*>(ms),
                                                   static_cast<const T*>(mt), static_cast<T>(eps), static_cast<T*>(w),
                                                   n);
}

template <class T>
void launch_backward(const void* grad_w, const void* theta, const void* ms, const void* mt, double eps,
                     void* grad_theta, void* grad_ms, void* grad_mt, int64_t n, cudaStream_t s) {
  bwd_kernel<T><<<blocks_for(n), kThreads, 0, s>>>(
      static_cast<const T*>(grad_w), static_cast<const T*>(theta), static_cast<const T*>(ms), static_cast<const T*>(mt),
      static_cast<T>(eps), static_cast<T*>(grad_theta), static_cast<T*>(grad_ms), static_cast<T*>(grad_mt), n);
}

template <class T>
void launch_prox(void* m, double lam, int64_t n, cudaStream_t s) {
  prox_kernel<T><<<blocks_for(n), kThreads, 0, s>>>(static_cast<T*>(m), static_cast<T>(lam), n);
}

// dtype code 0 -> float, 1 -> double (anything else throws).
bool is_float(int dtype) {
  if (dtype != 0 && dtype != 1)
    throw std::invalid_argument("masked_l0 CUDA: dtype must be 0 (float32) or 1 (float64), got " +
                                std::to_string(dtype));
  return dtype == 0;
}

}  // namespace

void masked_weight_forward(int dtype, const void* theta, const void* ms, const void* mt, double eps, void* w, int64_t n,
                           void* stream) {
  const bool f32 = is_float(dtype);
  if (n <= 0) return;
  (f32 ? launch_forward<float> : launch_forward<double>)(theta, ms, mt, eps, w, n, static_cast<cudaStream_t>(stream));
  check_last_error("masked_weight_forward");
}

void masked_weight_backward(int dtype, const void* grad_w, const void* theta, const void* ms, const void* mt,
                            double eps, void* grad_theta, void* grad_ms, void* grad_mt, int64_t n, void* stream) {
  const bool f32 = is_float(dtype);
  if (n <= 0) return;
  (f32 ? launch_backward<float> : launch_backward<double>)(grad_w, theta, ms, mt, eps, grad_theta, grad_ms, grad_mt, n,
                                                           static_cast<cudaStream_t>(stream));
  check_last_error("masked_weight_backward");
}

void prox_soft_threshold(int dtype, void* m, double lam, int64_t n, void* stream) {
  const bool f32 = is_float(dtype);
  if (n <= 0) return;
  (f32 ? launch_prox<float> : launch_prox<double>)(m, lam, n, static_cast<cudaStream_t>(stream));
  check_last_error("prox_soft_threshold");
}

}  // namespace hea_fast::cuda
