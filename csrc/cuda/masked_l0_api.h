// CUDA-free declarations of the fused smoothed-l0 masked-weight kernels (masked_l0_cuda.cu), the
// CUDA mirror of hea_fast/masked_l0.h. Pointers are device pointers; `stream` is a cudaStream_t
// passed as void* so g++-compiled bindings never include cuda_runtime.h. Launches are
// asynchronous on `stream`; launch errors are thrown as std::runtime_error.
#pragma once
#include <cstdint>

namespace hea_fast::cuda {

// dtype: 0 = float32, 1 = float64. ms / mt may be null (gate = 1).
void masked_weight_forward(int dtype, const void* theta, const void* ms, const void* mt, double eps, void* w, int64_t n,
                           void* stream);

// Any of grad_theta / grad_ms / grad_mt may be null (not computed).
void masked_weight_backward(int dtype, const void* grad_w, const void* theta, const void* ms, const void* mt,
                            double eps, void* grad_theta, void* grad_ms, void* grad_mt, int64_t n, void* stream);

// In place: m <- sign(m) max(|m| - lam, 0).
void prox_soft_threshold(int dtype, void* m, double lam, int64_t n, void* stream);

}  // namespace hea_fast::cuda
