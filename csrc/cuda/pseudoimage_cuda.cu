// CUDA pseudo-images: one thread per output pixel (n x 2 x 162); a channel-0 pixel sums the
// fractions of the elements mapped to its cell in element order, like the CPU kernel, so the
// results are bitwise equal.
#include <cuda_runtime.h>

#include "hea_fast/pseudoimage.h"
#include "pseudoimage_api.h"
#include "runtime_api.h"

namespace hea_fast::cuda {
namespace {

__global__ void pseudo_images_kernel(const double* frac, const double* T, int64_t n, int64_t E, const int32_t* cell,
                                     float* out) {
  const int64_t total = n * 2 * pseudoimage::kCells;
  int64_t idx = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  if (idx >= total) return;
  const int64_t i = idx / (2 * pseudoimage::kCells);
  const int rem = static_cast<int>(idx % (2 * pseudoimage::kCells));
  const int ch = rem / pseudoimage::kCells, c = rem % pseudoimage::kCells;
  if (ch == 1) {
    out[idx] = pseudoimage::temperature_value(T[i]);
    return;
  }
  double acc = 0.0;
  bool used = false;
  const double* row = frac + i * E;
  for (int64_t e = 0; e < E; ++e) {
    if (cell[e] == c && row[e] != 0.0) {
      acc = used ? acc + row[e] : row[e];
      used = true;
    }
  }
  out[idx] = used ? static_cast<float>(acc) : 0.0f;
}

}  // namespace

void pseudo_images(const double* frac, const double* T, int64_t n, int64_t E, const int32_t* cell, float* out,
                   void* stream) {
  if (n <= 0) return;
  const int64_t total = n * 2 * pseudoimage::kCells;
  const int threads = 256;
  pseudo_images_kernel<<<static_cast<unsigned>((total + threads - 1) / threads), threads, 0,
                         static_cast<cudaStream_t>(stream)>>>(frac, T, n, E, cell, out);
  check_last_error("pseudo_images");
}

}  // namespace hea_fast::cuda
