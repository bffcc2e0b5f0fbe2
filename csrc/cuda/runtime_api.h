// CUDA-free declarations of runtime helpers implemented in runtime.cu (safe to include from g++).
#pragma once
#include <cstdint>
#include <string>

namespace hea_fast::cuda {
// Number of visible devices; 0 when there is no driver or no GPU (never throws).
int device_count();
// Throws std::runtime_error with the CUDA error string if the last kernel launch failed.
void check_last_error(const char* where);
// Blocks until all work on `stream` (a cudaStream_t passed as void*) is done; throws on error.
void synchronize(void* stream);
}  // namespace hea_fast::cuda

#if defined(__CUDACC__)  // the kernel files only: the bindings never see cuda_runtime.h
#include <cuda_runtime.h>
namespace hea_fast::cuda {
// Throws std::runtime_error("<what>: <CUDA error string>") unless e is cudaSuccess.
void check(cudaError_t e, const char* what);
}  // namespace hea_fast::cuda
#endif
