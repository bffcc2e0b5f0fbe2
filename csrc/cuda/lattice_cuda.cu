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

void ck(cudaError_t e, const char* what) {
  if (e != cudaSuccess) throw std::runtime_error(std::string(what) + ": " + cudaGetErrorString(e));
}

__global__ void fractions_range_kernel(LatticeView v, int64_t start, int64_t count, double* out) {
  int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  if (i >= count) return;
  int32_t u[lattice::kMaxK];
  const lattice::Block* b = d_unrank(v, start + i, u);
  double* row = out + i * v.E;
  for (int e = 0; e < v.E; ++e) row[e] = 0.0;
  for (int j = 0; j < b->k; ++j) row[b->elem[j]] = static_cast<double>(u[j]) / b->N;
}

__global__ void fractions_at_kernel(LatticeView v, const int64_t* ranks, int64_t n, double* out) {
  int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  if (i >= n) return;
  int32_t u[lattice::kMaxK];
  const lattice::Block* b = d_unrank(v, ranks[i], u);
  double* row = out + i * v.E;
  for (int e = 0; e < v.E; ++e) row[e] = 0.0;
  for (int j = 0; j < b->k; ++j) row[b->elem[j]] = static_cast<double>(u[j]) / b->N;
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
  ck(cudaMalloc(&d_blocks_, nb * sizeof(lattice::Block)), "cudaMalloc(blocks)");
  ck(cudaMalloc(&d_tables_, flat.size() * sizeof(int64_t)), "cudaMalloc(tables)");
  ck(cudaMalloc(&d_offsets_, offsets.size() * sizeof(int64_t)), "cudaMalloc(offsets)");
  if (!blocks.empty())
    ck(cudaMemcpy(d_blocks_, blocks.data(), blocks.size() * sizeof(lattice::Block), cudaMemcpyHostToDevice), "copy blocks");
  ck(cudaMemcpy(d_tables_, flat.data(), flat.size() * sizeof(int64_t), cudaMemcpyHostToDevice), "copy tables");
  ck(cudaMemcpy(d_offsets_, offsets.data(), offsets.size() * sizeof(int64_t), cudaMemcpyHostToDevice), "copy offsets");
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
  if (count <= 0) return;
  const int threads = 256;
  const int64_t blocks = (count + threads - 1) / threads;
  fractions_range_kernel<<<static_cast<unsigned>(blocks), threads, 0, static_cast<cudaStream_t>(stream)>>>(
      d.view(), start, count, out);
  check_last_error("lattice_fractions");
}

void lattice_fractions_at(const DeviceLattice& d, const int64_t* ranks, int64_t n, double* out, void* stream) {
  if (n <= 0) return;
  const int threads = 256;
  const int64_t blocks = (n + threads - 1) / threads;
  fractions_at_kernel<<<static_cast<unsigned>(blocks), threads, 0, static_cast<cudaStream_t>(stream)>>>(d.view(), ranks,
                                                                                                       n, out);
  check_last_error("lattice_fractions_at");
}

}  // namespace hea_fast::cuda
