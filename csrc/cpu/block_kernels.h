// Internal block kernels shared by the CPU drivers (descriptors_cpu.cpp, probit_cpu.cpp,
// screen_cpu.cpp). Each works on kBlock compositions at a time, column-major ("c[j * kBlock + b]"),
// so every inner loop runs across compositions and vectorises. Drivers that must agree bit for bit
// (the dense descriptor path and the fused screening kernel; mixture_probit and the screening
// kernel) call the same function on the same values.
#pragma once
#include <cstdint>

#include "hea_fast/descriptors.h"
#include "hea_fast/lattice.h"
#include "hea_fast/probit.h"

#if defined(__x86_64__) && defined(__linux__) && (defined(__GNUC__) || defined(__clang__)) && \
    !defined(HEA_FAST_NO_CLONES)  // target_clones needs ELF ifunc
// compiled twice (x86-64-v3, i.e. AVX2+FMA, and baseline), picked at load time by CPU features
#define HEA_CLONES __attribute__((target_clones("arch=x86-64-v3", "default")))
#else
#define HEA_CLONES
#endif

namespace hea_fast::descriptors::detail {

constexpr int kBlock = 64;
// doubles of scratch block_compute needs after the fraction block: accumulators + output block
constexpr int64_t kBlockScratch = 17 + kNumDescriptors;

// Descriptors of kBlock compositions over the same m element columns: c (m x kBlock, column-major)
// holds fractions already divided by their row sums, elem[j] the palette index of column j (into
// props (E, kNumProps) and pair (E, E)). Zero fractions contribute nothing, so a block over a
// palette's E columns and one over only a system's present columns give bitwise equal values.
// w: kBlockScratch * kBlock doubles. Returns the kNumDescriptors x kBlock result block inside w
// (descriptors no `need` flag asks for are left unspecified where they depend on skipped work).
double* block_compute(const double* c, int64_t m, const int32_t* elem, const double* props, const double* pair,
                      int64_t E, Params prm, unsigned need, double* w);

// Units of a block's nb rows (c[j * kBlock + b], k columns, as doubles) -> fractions in place: u / N as
// the lattice decoder computes them, then divided by the row sum as the descriptor kernel does, so the
// fused lattice drivers (screen_cpu.cpp, ssvae_head_cpu.cpp) see the fractions decode would give.
// Rows nb..kBlock-1 become copies of row 0 (padding, never reported). sum: kBlock doubles of scratch.
void units_to_fractions(double* c, int k, int nb, double N, double* sum);

// Walks ranks [r_lo, r_hi) of a lattice space gathering each system's compositions, as units, into c
// (column-major, k columns x kBlock rows: the input of units_to_fractions); calls flush() before a
// block would overflow or change system, and once at the end. flush reads *cur (the system), rank0
// (the rank of the block's first row) and nb (its rows), and must set nb = 0.
template <class Flush>
void gather_unit_blocks(const lattice::Space& space, int64_t r_lo, int64_t r_hi, double* c, int& nb,
                        const lattice::Block*& cur, int64_t& rank0, Flush&& flush) {
  space.for_each(r_lo, r_hi - r_lo, [&](int64_t r, const lattice::Block& blk, const int32_t* u) {
    if (&blk != cur || nb == kBlock) {
      flush();
      cur = &blk;
      rank0 = r;
    }
    for (int j = 0; j < blk.k; ++j) c[j * kBlock + nb] = static_cast<double>(u[j]);
    ++nb;
  });
  flush();
}

}  // namespace hea_fast::descriptors::detail

namespace hea_fast::probit::detail {

constexpr int kBlock = descriptors::detail::kBlock;

// Model constants derived once per call: |anchor_k|^2.
struct Prepared {
  const MixturePredictive* m;
  const double* a2;  // (K)
};

// MacKay probit predictive for kBlock rows: X (d x kBlock, column-major) -> out (kBlock); NaN for
// rows with a non-finite standardized value. w: scratch of (d + 8) * kBlock doubles.
void block_probit(const double* X, const Prepared& p, double* out, double* w);
constexpr int64_t kProbitScratch = 8;  // plus d rows

}  // namespace hea_fast::probit::detail
