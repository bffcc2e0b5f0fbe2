// Small CUDA runtime helpers shared by every CUDA kernel file.
#include <cuda_runtime.h>

#include <stdexcept>
#include <string>

#include "runtime_api.h"

namespace hea_fast::cuda {

int device_count() {
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess) {
    cudaGetLastError();  // clear the sticky "no driver" error
    return 0;
  }
  return n;
}

void check(cudaError_t e, const char* what) {
  if (e != cudaSuccess) throw std::runtime_error(std::string(what) + ": " + cudaGetErrorString(e));
}

void check_last_error(const char* where) { check(cudaGetLastError(), where); }

void synchronize(void* stream) {
  check(cudaStreamSynchronize(static_cast<cudaStream_t>(stream)), "cudaStreamSynchronize");
}

}  // namespace hea_fast::cuda
