// CUDA mirror of the simplex-lattice decoder (csrc/include/hea_fast/lattice.h). CUDA-free for the
// host compiler: device pointers are raw pointers, streams are void*. The __device__ helpers at the
// bottom are visible to nvcc only and are shared by lattice_cuda.cu and maresca_curtin_cuda.cu.
#pragma once
#include <cstdint>
#include <memory>

#include "hea_fast/lattice.h"

namespace hea_fast::cuda {

// Plain view of a lattice uploaded to the device (what the kernels take by value).
struct LatticeView {
  const lattice::Block* blocks = nullptr;  // device, n_blocks entries
  const int64_t* tables = nullptr;         // device, all suffix tables concatenated
  const int64_t* table_offset = nullptr;   // device, start of table t in `tables`
  int64_t n_blocks = 0;
  int64_t size = 0;
  int E = 0;
  int max_k = 0;
};

// Owns a host Space and its device copy (blocks + suffix tables) on the current device.
class DeviceLattice {
 public:
  explicit DeviceLattice(std::shared_ptr<const lattice::Space> host);
  ~DeviceLattice();
  DeviceLattice(const DeviceLattice&) = delete;
  DeviceLattice& operator=(const DeviceLattice&) = delete;
  const lattice::Space& host() const { return *host_; }
  LatticeView view() const { return view_; }

 private:
  std::shared_ptr<const lattice::Space> host_;
  LatticeView view_;
  void* d_blocks_ = nullptr;
  void* d_tables_ = nullptr;
  void* d_offsets_ = nullptr;
};

// Dense fractions (count x E, device) of ranks [start, start + count).
void lattice_fractions(const DeviceLattice& d, int64_t start, int64_t count, double* out, void* stream);
// Dense fractions (n x E, device) of device ranks (validated by the caller).
void lattice_fractions_at(const DeviceLattice& d, const int64_t* ranks, int64_t n, double* out, void* stream);

#if defined(__CUDACC__)
// Index of the block holding `rank` (last block with offset <= rank).
__device__ __forceinline__ int64_t d_block_of(const LatticeView& v, int64_t rank) {
  int64_t lo = 0, hi = v.n_blocks - 1;
  while (lo < hi) {
    int64_t mid = (lo + hi + 1) >> 1;
    if (v.blocks[mid].offset <= rank)
      lo = mid;
    else
      hi = mid - 1;
  }
  return lo;
}

// Units of the composition with this rank (the CPU's order: lattice.h unrank_in_block); returns the block.
__device__ __forceinline__ const lattice::Block* d_unrank(const LatticeView& v, int64_t rank, int32_t* units) {
  const lattice::Block* b = &v.blocks[d_block_of(v, rank)];
  lattice::unrank_in_block(*b, v.tables + v.table_offset[b->table], rank - b->offset, units);
  return b;
}
#endif

}  // namespace hea_fast::cuda
