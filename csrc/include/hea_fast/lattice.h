// Simplex-lattice composition spaces with exact size, ranking and unranking.
//
// A space is a palette of E elements (E <= 64) and a list of parts (k, N): every composition has
// exactly k principal elements chosen from the allowed palette (containing all required elements),
// each with an integer number of units u_i in [lo_i, hi_i] (lo_i >= 1, so every chosen element is
// present), sum u_i = N; the fraction of element i is u_i / N (step = 100/N at.%).
// E.g. the X-Yield grid: parts (3,100), (4,100) (1 % steps) and (5,20), (6,20), (7,20) (5 % steps).
//
// Ranks: parts in the given order; within a part, element subsets ("systems") in lexicographic
// order of their sorted palette indices; within a system, unit vectors (u_0, ..., u_{k-1}) in
// lexicographic order. Each (part, subset) with a non-empty lattice is a Block with a contiguous
// rank range [offset, offset + count). Any rank range can be decoded independently, so a rank range
// is a self-contained chunk of work (threads, Dask tasks, resumable checkpoints).
//
// Counting uses suffix tables g[j][s] = number of ways elements j..k-1 can sum to s within their
// bounds; blocks with equal (k, N, bounds) share one table. Sizes overflowing int64 throw
// std::overflow_error.
#pragma once
#include <cstdint>
#include <vector>

#include "hea_fast/hd.h"

namespace hea_fast::lattice {

constexpr int kMaxK = 16;  // most principal elements per composition
constexpr int kMaxPalette = 64;
constexpr int kMaxN = 100000;  // finest step: 0.001 at.%

struct Part {
  int32_t k;  // number of principal elements
  int32_t N;  // units per composition (100 / step_percent)
};

struct Block {
  int32_t part;  // index into the parts list
  int32_t k, N;
  int32_t table;  // index of the shared suffix-count table
  int32_t elem[kMaxK];
  int32_t lo[kMaxK], hi[kMaxK];  // unit bounds of each chosen element
  int64_t count;
  int64_t offset;  // first rank of this block
  uint64_t mask;   // palette bitmask of the chosen elements
};

// Units (u_0, ..., u_{k-1}) of the composition with rank r within block b (0 <= r < b.count), from
// the block's suffix table g (Space::table(b) on the host, the uploaded copy on the device).
HEA_HD void unrank_in_block(const Block& b, const int64_t* g, int64_t r, int32_t* units) {
  const int W = b.N + 1;
  int s = b.N;
  for (int j = 0; j < b.k - 1; ++j) {
    const int umax = b.hi[j] < s ? b.hi[j] : s;
    int u = b.lo[j];
    for (; u <= umax; ++u) {
      const int64_t c = g[static_cast<int64_t>(j + 1) * W + (s - u)];
      if (r < c) break;
      r -= c;
    }
    units[j] = u;
    s -= u;
  }
  units[b.k - 1] = s;
}

// Fractions u_j / N of the block's k elements (a true division: the correctly rounded fraction,
// identical on every decode path) -> c (k values).
HEA_HD void unit_fractions(const Block& b, const int32_t* units, double* c) {
  for (int j = 0; j < b.k; ++j) c[j] = static_cast<double>(units[j]) / b.N;
}

// The same fractions scattered into a dense palette row (E values, zero outside the block's elements).
HEA_HD void dense_fractions(const Block& b, const int32_t* units, double* row, int E) {
  for (int e = 0; e < E; ++e) row[e] = 0.0;
  for (int j = 0; j < b.k; ++j) row[b.elem[j]] = static_cast<double>(units[j]) / b.N;
}

class Space {
 public:
  // lo_frac/hi_frac: per palette element fraction bounds (size E), applied to the element when it is
  // present (a lower bound does not make it required: hea_fast.lattice sets `required` for the
  // per-element bounds that should). required/forbidden: size E flags.
  Space(int n_palette, const std::vector<Part>& parts, const std::vector<double>& lo_frac,
        const std::vector<double>& hi_frac, const std::vector<uint8_t>& required,
        const std::vector<uint8_t>& forbidden);

  int n_palette() const { return E_; }
  int max_k() const { return max_k_; }
  int64_t size() const { return size_; }
  int64_t n_blocks() const { return static_cast<int64_t>(blocks_.size()); }
  const Block& block(int64_t b) const { return blocks_[b]; }
  const std::vector<Block>& blocks() const { return blocks_; }
  const std::vector<Part>& parts() const { return parts_; }

  // Suffix table of block b: g[j * (N + 1) + s].
  const int64_t* table(const Block& b) const { return tables_[b.table].data(); }

  int64_t block_of(int64_t rank) const;  // requires 0 <= rank < size()
  // units (size >= k) of the composition with this rank; returns the block index.
  int64_t unrank(int64_t rank, int32_t* units) const;
  // Lexicographic successor within block b; false when `units` was the block's last composition.
  bool next(const Block& b, int32_t* units) const;
  // Rank within block of units.
  int64_t rank_in_block(const Block& b, const int32_t* units) const;
  // Rank of a dense fraction row (size E); -1 when the composition is not a point of the space.
  int64_t rank_of(const double* frac) const;

  // ---- batch kernels (multi-threaded; results independent of the thread count) ----
  // dense fractions of ranks [start, start + count) -> out (count x E)
  void fractions(int64_t start, int64_t count, double* out, int threads) const;
  // dense fractions of arbitrary ranks -> out (n x E)
  void fractions_at(const int64_t* ranks, int64_t n, double* out, int threads) const;
  // sparse form of ranks [start, start + count): elem/frac (count x max_k), padded with -1 / 0
  void sparse(int64_t start, int64_t count, int32_t* elem, double* frac, int threads) const;
  // block index of each rank
  void blocks_of(const int64_t* ranks, int64_t n, int64_t* out, int threads) const;
  // ranks of dense fraction rows (n x E); -1 for rows outside the space
  void rank(const double* frac, int64_t n, int64_t* out, int threads) const;

  // Visit ranks [start, start + count) in order as (rank, block, units); f(rank, block, units).
  // Sequential: uses the O(1)-amortised successor instead of unranking each point.
  template <class F>
  void for_each(int64_t start, int64_t count, F&& f) const {
    if (count <= 0) return;
    int32_t units[kMaxK];
    int64_t b = unrank(start, units);
    int64_t left_in_block = blocks_[b].offset + blocks_[b].count - start;
    for (int64_t r = start, end = start + count; r < end; ++r) {
      f(r, blocks_[b], units);
      if (r + 1 == end) break;
      if (--left_in_block == 0) {
        ++b;
        first_units(blocks_[b], units);
        left_in_block = blocks_[b].count;
      } else {
        next(blocks_[b], units);
      }
    }
  }

  void first_units(const Block& b, int32_t* units) const;

 private:
  int E_ = 0;
  int max_k_ = 0;
  int64_t size_ = 0;
  std::vector<Part> parts_;
  std::vector<Block> blocks_;
  std::vector<std::vector<int64_t>> tables_;
  // (part, mask) -> block lookup for rank_of: sorted by (part, mask)
  std::vector<std::pair<std::pair<int32_t, uint64_t>, int64_t>> lookup_;
};

// Number of compositions of N into k parts with each part in [lo_j, hi_j] (exact; throws on overflow).
int64_t bounded_compositions(int k, int N, const int32_t* lo, const int32_t* hi);

}  // namespace hea_fast::lattice
