// CUDA simplex-lattice decoding: one thread per rank, each unranks independently (no successor
// chains), so any rank range or rank list decodes in one launch.
#include <cuda_runtime.h>

#include <algorithm>
#include <stdexcept>
#include <string>
#include <vector>

#include "lattice_api.h"
#include "runtime_api.h"

namespace hea_fast::cuda {
namespace {

// One thread per output row: ranks[i] when a rank list is given, else start + i.
__global__ void fractions_kernel(LatticeView v, int64_t start, const int64_t* ranks, int64_t n, double* out) {
  const int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  if (i >= n) return;
  int32_t u[lattice::kMaxK];
  const lattice::Block* b = d_unrank(v, ranks ? ranks[i] : start + i, u);
  lattice::dense_fractions(*b, u, out + i * v.E, v.E);
}

void launch_fractions(const DeviceLattice& d, int64_t start, const int64_t* ranks, int64_t n, double* out, void* stream,
                      const char* what) {
  if (n <= 0) return;
  constexpr int kThreads = 256;
  const int64_t blocks = (n + kThreads - 1) / kThreads;
  fractions_kernel<<<static_cast<unsigned>(blocks), kThreads, 0, static_cast<cudaStream_t>(stream)>>>(d.view(), start,
                                                                                                      ranks, n, out);
  check_last_error(what);
}

}  // namespace

DeviceLattice::DeviceLattice(std::shared_ptr<const lattice::Space> host) : host_(std::move(host)) {
  const auto& blocks = host_->blocks();
  // concatenate the distinct suffix tables, remembering where each starts
  std::vector<int64_t> flat, offsets;
  int32_t n_tables = 0;
  for (const auto& b : blocks) n_tables = std::max(n_tables, b.table + 1);
  offsets.assign(n_tables, -1);
  for (const auto& b : blocks) {
    if (offsets[b.table] >= 0) continue;
    offsets[b.table] = static_cast<int64_t>(flat.size());
    const int64_t* g = host_->table(b);
    flat.insert(flat.end(), g, g + static_cast<int64_t>(b.k + 1) * (b.N + 1));
  }
  if (flat.empty()) flat.push_back(0);
  if (offsets.empty()) offsets.push_back(0);
  size_t nb = std::max<size_t>(1, blocks.size());
  check(cudaMalloc(&d_blocks_, nb * sizeof(lattice::Block)), "cudaMalloc(blocks)");
  check(cudaMalloc(&d_tables_, flat.size() * sizeof(int64_t)), "cudaMalloc(tables)");
  check(cudaMalloc(&d_offsets_, offsets.size() * sizeof(int64_t)), "cudaMalloc(offsets)");
  if (!blocks.empty())
    check(cudaMemcpy(d_blocks_, blocks.data(), blocks.size() * sizeof(lattice::Block), cudaMemcpyHostToDevice),
          "copy blocks");
  check(cudaMemcpy(d_tables_, flat.data(), flat.size() * sizeof(int64_t), cudaMemcpyHostToDevice), "copy tables");
  check(cudaMemcpy(d_offsets_, offsets.data(), offsets.size() * sizeof(int64_t), cudaMemcpyHostToDevice),
        "copy offsets");
  view_.blocks = static_cast<const lattice::Block*>(d_blocks_);
  view_.tables = static_cast<const int64_t*>(d_tables_);
  view_.table_offset = static_cast<const int64_t*>(d_offsets_);
  view_.n_blocks = host_->n_blocks();
  view_.size = host_->size();
  view_.E = host_->n_palette();
  view_.max_k = host_->max_k();
}

DeviceLattice::~DeviceLattice() {
  cudaFree(d_blocks_);
  cudaFree(d_tables_);
  cudaFree(d_offsets_);
}

void lattice_fractions(const DeviceLattice& d, int64_t start, int64_t count, double* out, void* stream) {
  launch_fractions(d, start, nullptr, count, out, stream, "lattice_fractions");
}

void lattice_fractions_at(const DeviceLattice& d, const int64_t* ranks, int64_t n, double* out, void* stream) {
  launch_fractions(d, 0, ranks, n, out, stream, "lattice_fractions_at");
}

}  // namespace hea_fast::cuda
