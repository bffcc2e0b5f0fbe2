// CUDA mirror of the fused smoothed-l0 masked-weight kernels (see hea_fast/masked_l0.h for the
// formulas). Grid-stride loops, one thread per weight entry; every entry is independent, so the
// results equal the CPU kernel's up to floating-point contraction (FMA) differences.
#include <cuda_runtime.h>

#include <stdexcept>
#include <string>

#include "masked_l0_api.h"
#include "runtime_api.h"

namespace hea_fast::cuda {
namespace {

template <class T>
__device__ __forceinline__ T gate_of(T m, T eps) {
  T m2 = m * m;
  return m2 / (m2 + eps);
}

template <class T>
__global__ void fwd_kernel(const T* __restrict__ theta, const T* __restrict__ ms,
                           const T* __restrict__ mt, T eps, T* __restrict__ w, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(blockDim.x) * gridDim.x) {
    T v = theta[i];
    if (ms) v *= gate_of(ms[i], eps);
    if (mt) v *= gate_of(mt[i], eps);
    w[i] = v;
  }
}

template <class T>
__global__ void bwd_kernel(const T* __restrict__ gw, const T* __restrict__ theta,
                           const T* __restrict__ ms, const T* __restrict__ mt, T eps,
                           T* __restrict__ gth, T* __restrict__ gms, T* __restrict__ gmt,
                           int64_t n) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(blockDim.x) * gridDim.x) {
    T G = gw[i];
    T gs = T(1), gt = T(1), s2 = T(0), t2 = T(0);
    if (ms) { s2 = ms[i] * ms[i] + eps; gs = ms[i] * ms[i] / s2; }
    if (mt) { t2 = mt[i] * mt[i] + eps; gt = mt[i] * mt[i] / t2; }
    if (gth) gth[i] = G * gs * gt;
    if (gms) gms[i] = G * theta[i] * (T(2) * ms[i] * eps / (s2 * s2)) * gt;
    if (gmt) gmt[i] = G * theta[i] * gs * (T(2) * mt[i] * eps / (t2 * t2));
  }
}

template <class T>
__global__ void prox_kernel(T* __restrict__ m, T lam, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(blockDim.x) * gridDim.x) {
    T v = m[i];
    T a = fabs(v) - lam;
    m[i] = a > T(0) ? copysign(a, v) : T(0);
  }
}

constexpr int kThreads = 256;
inline int blocks_for(int64_t n) {
  int64_t b = (n + kThreads - 1) / kThreads;
  if (b > 65535) b = 65535;  // grid-stride loops cover the rest
  return b < 1 ? 1 : static_cast<int>(b);
}

void check_dtype(int dtype) {
  if (dtype != 0 && dtype != 1)
    throw std::invalid_argument("masked_l0 CUDA: dtype must be 0 (float32) or 1 (float64), got " +
                                std::to_string(dtype));
}

}  // namespace

void masked_weight_forward(int dtype, const void* theta, const void* ms, const void* mt, double eps,
                           void* w, int64_t n, void* stream) {
  check_dtype(dtype);
  if (n <= 0) return;
  auto s = static_cast<cudaStream_t>(stream);
  if (dtype == 0)
    fwd_kernel<float><<<blocks_for(n), kThreads, 0, s>>>(
        static_cast<const float*>(theta), static_cast<const float*>(ms),
        static_cast<const float*>(mt), static_cast<float>(eps), static_cast<float*>(w), n);
  else
    fwd_kernel<double><<<blocks_for(n), kThreads, 0, s>>>(
        static_cast<const double*>(theta), static_cast<const double*>(ms),
        static_cast<const double*>(mt), eps, static_cast<double*>(w), n);
  check_last_error("masked_weight_forward");
}

void masked_weight_backward(int dtype, const void* grad_w, const void* theta, const void* ms,
                            const void* mt, double eps, void* grad_theta, void* grad_ms,
                            void* grad_mt, int64_t n, void* stream) {
  check_dtype(dtype);
  if (n <= 0) return;
  auto s = static_cast<cudaStream_t>(stream);
  if (dtype == 0)
    bwd_kernel<float><<<blocks_for(n), kThreads, 0, s>>>(
        static_cast<const float*>(grad_w), static_cast<const float*>(theta),
        static_cast<const float*>(ms), static_cast<const float*>(mt), static_cast<float>(eps),
        static_cast<float*>(grad_theta), static_cast<float*>(grad_ms),
        static_cast<float*>(grad_mt), n);
  else
    bwd_kernel<double><<<blocks_for(n), kThreads, 0, s>>>(
        static_cast<const double*>(grad_w), static_cast<const double*>(theta),
        static_cast<const double*>(ms), static_cast<const double*>(mt), eps,
        static_cast<double*>(grad_theta), static_cast<double*>(grad_ms),
        static_cast<double*>(grad_mt), n);
  check_last_error("masked_weight_backward");
}

void prox_soft_threshold(int dtype, void* m, double lam, int64_t n, void* stream) {
  check_dtype(dtype);
  if (n <= 0) return;
  auto s = static_cast<cudaStream_t>(stream);
  if (dtype == 0)
    prox_kernel<float><<<blocks_for(n), kThreads, 0, s>>>(static_cast<float*>(m),
                                                          static_cast<float>(lam), n);
  else
    prox_kernel<double><<<blocks_for(n), kThreads, 0, s>>>(static_cast<double*>(m), lam, n);
  check_last_error("prox_soft_threshold");
}

}  // namespace hea_fast::cuda
