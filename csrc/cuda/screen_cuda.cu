// CUDA screening scores: one thread per rank unranks its composition (lattice_api.h d_unrank) and
// runs `screen::score_row`, the host/device row function of csrc/include/hea_fast/screen.h. The
// top-k selection runs on the scores in hea_fast.screen (torch on the device, then the exact
// (score, rank) order on the few candidates).
#include <cuda_runtime.h>

#include <stdexcept>

#include "runtime_api.h"
#include "screen_api.h"

namespace hea_fast::cuda {
namespace {

__global__ void screen_scores_kernel(LatticeView v, int64_t start, int64_t count, screen::MixtureScreen s,
                                     const double* __restrict__ a2, double* __restrict__ out) {
  const int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= count) return;
  int32_t u[lattice::kMaxK];
  const lattice::Block* b = d_unrank(v, start + i, u);
  out[i] = screen::score_row(*b, u, s, a2, v.E);
}

}  // namespace

void screen_mixture_scores(const DeviceLattice& d, int64_t start, int64_t count, const screen::MixtureScreen& s,
                           const double* a2, double* out, void* stream) {
  if (count <= 0) return;
  constexpr int kThreads = 128;
  const int64_t blocks = (count + kThreads - 1) / kThreads;
  if (blocks > 2147483647LL) throw std::invalid_argument("screen_mixture_scores: too many ranks for one launch");
  screen_scores_kernel<<<static_cast<unsigned>(blocks), kThreads, 0, static_cast<cudaStream_t>(stream)>>>(
      d.view(), start, count, s, a2, out);
  check_last_error("screen_scores_kernel launch");
}

}  // namespace hea_fast::cuda
