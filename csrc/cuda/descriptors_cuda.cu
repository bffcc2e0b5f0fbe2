// CUDA mirror of the CPU descriptor kernel: one thread per composition, running the very same
// inline row function (csrc/include/hea_fast/descriptors.h, compiled __host__ __device__), so
// CPU and GPU agree to rounding of the math library (log/sqrt may differ by an ulp).
#include <cuda_runtime.h>

#include <stdexcept>
#include <string>

#include "descriptors_api.h"
#include "hea_fast/descriptors.h"
#include "runtime_api.h"

namespace hea_fast::cuda {
namespace {

namespace hd = hea_fast::descriptors;

// Rows with up to kMaxGather nonzero amounts gather their columns into registers/local memory,
// so the pair loop costs k^2; wider rows fall back to scanning all E columns (zeros skipped).
constexpr int kMaxGather = 16;

__global__ void descriptors_kernel(const double* __restrict__ x, int64_t n, int64_t E, const double* __restrict__ props,
                                   const double* __restrict__ pair, hd::Params prm, double* __restrict__ out) {
  const int64_t r = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (r >= n) return;
  const double* xr = x + r * E;
  int nz[kMaxGather];
  double fr[kMaxGather];
  double s;
  const int k = hd::gather_nonzero(xr, E, kMaxGather, nz, fr, s);
  double* o = out + r * hd::kNumDescriptors;
  if (k <= kMaxGather) {
    for (int t = 0; t < k; ++t) fr[t] /= s;
    hd::compute_row(hd::GatheredRow{nz, fr, k}, props, pair, E, prm, o);
  } else {
    hd::compute_row(hd::DenseRow{xr, s, static_cast<int>(E)}, props, pair, E, prm, o);
  }
}

}  // namespace

void descriptors(const double* x, int64_t n, int64_t E, const double* props, const double* pair, double gas_constant,
                 double log_offset, double* out, void* stream) {
  if (n <= 0) return;
  constexpr int kThreads = 128;
  const int64_t blocks = (n + kThreads - 1) / kThreads;
  if (blocks > 2147483647LL) throw std::invalid_argument("descriptors: too many rows for one launch");
  descriptors_kernel<<<static_cast<unsigned>(blocks), kThreads, 0, static_cast<cudaStream_t>(stream)>>>(
      x, n, E, props, pair, hd::Params{gas_constant, log_offset}, out);
  check_last_error("descriptors_kernel launch");
}

}  // namespace hea_fast::cuda
