// CPU driver for the one-pass descriptor kernel (formulas and references in descriptors.h).
// Rows are split into contiguous blocks across threads; each row is computed independently by
// the same inline function the CUDA kernel uses, so results are bitwise independent of `threads`.
//
// Two paths, chosen per call from E and the table only (never from the thread count):
//  * gathered (any E): per row, the nonzero columns are gathered and `compute_row` runs on them;
//  * dense blocks (E <= kDenseMaxE and every property/pair value finite): rows are processed
//    kBlock at a time in a column-major scratch block, so every loop runs across rows and
//    vectorises (a polynomial log, masked min/max, pair terms c_i c_j H_ij with no branches). Blocks
//    are aligned to global row indices and always full (padded), so each row goes through the same
//    instructions whatever the thread split. The block function (`detail::block_compute`, see
//    block_kernels.h) takes the block's element columns explicitly, so the fused screening kernel
//    (screen_cpu.cpp) runs it over a system's k present elements with bitwise the same results; it
//    skips the property means, deviations, pair sums and final formulas no requested column reads.
//    On x86-64 it is compiled twice (x86-64-v3, i.e. AVX2+FMA, and baseline) and picked at load
//    time by CPU features (GCC/Clang target_clones).
#include "hea_fast/descriptors.h"

#include <cfloat>
#include <cstring>
#include <vector>

#include "block_kernels.h"
#include "hea_fast/fastmath.h"
#include "hea_fast/parallel.h"

namespace hea_fast::descriptors {

namespace {

using detail::kBlock;
constexpr int64_t kDenseMaxE = 16;
constexpr int32_t kIdentity[kDenseMaxE] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};

}  // namespace

namespace detail {

// One block of kBlock compositions over the same m element columns (see block_kernels.h).
HEA_CLONES double* block_compute(const double* c, int64_t m, const int32_t* elem, const double* props,
                                 const double* pair, int64_t E, Params prm, unsigned need, double* w) {
  constexpr int B = kBlock;
  double* acc = w;
  double* sr = acc + 1 * B;
  double* sp = acc + 2 * B;
  double* sa = acc + 3 * B;
  double* sv = acc + 4 * B;
  double* st = acc + 5 * B;
  double* sk = acc + 6 * B;
  double* sm = acc + 7 * B;
  double* ent = acc + 8 * B;
  double* rmin = acc + 9 * B;
  double* rmax = acc + 10 * B;
  double* dr = acc + 11 * B;
  double* dp = acc + 12 * B;
  double* da = acc + 13 * B;
  double* dh = acc + 14 * B;
  double* lr = acc + 15 * B;
  double* lc = acc + 16 * B;
  double* o = acc + 17 * B;  // kNumDescriptors rows: the block's results, column-major
  for (int b = 0; b < B; ++b) {
    sr[b] = sp[b] = sa[b] = sv[b] = st[b] = sk[b] = sm[b] = ent[b] = 0;
    dr[b] = dp[b] = da[b] = dh[b] = lr[b] = lc[b] = 0;
    rmin[b] = INFINITY;
    rmax[b] = -INFINITY;
  }
  // the property means, each accumulated only when a requested descriptor reads it
  const struct {
    unsigned bit;
    int prop;
    double* acc;
  } means[] = {{kNeedMeanR, kRadius, sr}, {kNeedMeanP, kChiPauling, sp}, {kNeedMeanA, kChiAllen, sa},
               {kNeedMeanV, kVec, sv},    {kNeedMeanTm, kTm, st},        {kNeedMeanK, kBulk, sk},
               {kNeedMeanVm, kVm, sm}};
  int ntiny = 0;
  for (int64_t j = 0; j < m; ++j) {
    const double* p = props + elem[j] * kNumProps;
    const double pr = p[kRadius];
    const double* cj = c + j * B;
    for (const auto& mean : means) {
      if (!(need & mean.bit)) continue;
      const double pv = p[mean.prop];
      double* acc = mean.acc;
      for (int b = 0; b < B; ++b) acc[b] += cj[b] * pv;
    }
    // branch-free selects (non-short-circuit &) so these loops vectorise too
    if (need & kNeedMinMax)
      for (int b = 0; b < B; ++b) {
        const bool on = cj[b] > 0;
        rmin[b] = (on & (pr < rmin[b])) ? pr : rmin[b];
        rmax[b] = (on & (pr > rmax[b])) ? pr : rmax[b];
      }
    if (need & kNeedEntropy) {
      for (int b = 0; b < B; ++b) ntiny += (cj[b] > 0) & (cj[b] + prm.log_offset < DBL_MIN);
      for (int b = 0; b < B; ++b) {
        const double v = cj[b];
        const double arg = v + prm.log_offset + static_cast<double>(v <= 0);  // finite log at v = 0
        ent[b] += v * fastmath::log_poly(arg);
      }
    }
  }
  const bool tiny = ntiny > 0;
  if (tiny) {  // subnormal fractions (amount ratios below 1e-308): redo the entropy with libm
    for (int b = 0; b < B; ++b) {
      double e = 0;
      for (int64_t j = 0; j < m; ++j) {
        const double v = c[j * B + b];
        if (v > 0) e += v * log(v + prm.log_offset);
      }
      ent[b] = e;
    }
  }
  for (int64_t i = 0; i < m; ++i) {
    const int64_t ei = elem[i];
    const double* pi = props + ei * kNumProps;
    const double ri = pi[kRadius], pci = pi[kChiPauling], ai = pi[kChiAllen];
    const double* ci = c + i * B;
    // the same expressions as a fused loop would evaluate, split so unneeded divisions are skipped
    if (need & kNeedDevR)
      for (int b = 0; b < B; ++b) {
        const double u = (sr[b] - ri) / sr[b];
        dr[b] += ci[b] * u * u;
      }
    if (need & kNeedDevP)
      for (int b = 0; b < B; ++b) {
        const double q = pci - sp[b];
        dp[b] += ci[b] * q * q;
      }
    if (need & kNeedDevA)
      for (int b = 0; b < B; ++b) {
        const double v = (sa[b] - ai) / sa[b];
        da[b] += ci[b] * v * v;
      }
    if (need & kNeedPairs)
      for (int64_t j = i + 1; j < m; ++j) {
        const int64_t ej = elem[j];
        const double* pj = props + ej * kNumProps;
        const double h = pair[ei * E + ej], adr = fabs(ri - pj[kRadius]), adc = fabs(pci - pj[kChiPauling]);
        const double* cj = c + j * B;
        for (int b = 0; b < B; ++b) {
          const double wij = ci[b] * cj[b];
          dh[b] += wij * h;
          lr[b] += wij * adr;
          lc[b] += wij * adc;
        }
      }
  }
  // Final formulas (the expressions of compute_row), column-major, each group only when needed.
  if (need & kNeedDevR)
    for (int b = 0; b < B; ++b) o[kDelta * B + b] = delta_percent(dr[b]);
  if (need & kNeedPairs)
    for (int b = 0; b < B; ++b) {
      o[kDHmix * B + b] = 4.0 * dh[b];
      o[kLocalDeltaR * B + b] = lr[b];
      o[kLocalDchi * B + b] = lc[b];
    }
  if (need & kNeedEntropy)
    for (int b = 0; b < B; ++b) o[kDSmix * B + b] = -prm.gas_constant * ent[b];
  if (need & kNeedMeanV)
    for (int b = 0; b < B; ++b) o[kVEC * B + b] = sv[b];
  if (need & kNeedDevP)
    for (int b = 0; b < B; ++b) o[kDchiPauling * B + b] = sqrt(dp[b]);
  if (need & kNeedMeanA)
    for (int b = 0; b < B; ++b) o[kChiAllenMean * B + b] = sa[b];
  if (need & kNeedDevA)
    for (int b = 0; b < B; ++b) o[kDchiAllen * B + b] = 100.0 * sqrt(da[b]);
  if (need & kNeedMeanTm)
    for (int b = 0; b < B; ++b) o[kTmMean * B + b] = st[b];
  if (need & kNeedMeanK)
    for (int b = 0; b < B; ++b) o[kKMean * B + b] = sk[b];
  if (need & kNeedMeanVm)
    for (int b = 0; b < B; ++b) o[kVmMean * B + b] = sm[b];
  if ((need & (kNeedPairs | kNeedEntropy | kNeedMeanTm)) == (kNeedPairs | kNeedEntropy | kNeedMeanTm))
    for (int b = 0; b < B; ++b) {
      const double dH = o[kDHmix * B + b], dS = o[kDSmix * B + b];
      o[kOmega * B + b] = dH == 0.0 ? INFINITY : st[b] * dS / (1000.0 * fabs(dH));
    }
  if ((need & (kNeedEntropy | kNeedDevR)) == (kNeedEntropy | kNeedDevR))
    for (int b = 0; b < B; ++b) {
      const double delta = o[kDelta * B + b], dS = o[kDSmix * B + b];
      o[kLambda * B + b] = delta == 0.0 ? INFINITY : dS / (delta * delta);
    }
  if (need & kNeedMinMax)
    for (int b = 0; b < B; ++b) {
      const double as = rmin[b] + sr[b], al = rmax[b] + sr[b];
      const double ws = 1.0 - sqrt(as * as - sr[b] * sr[b]) / as;
      const double wl = 1.0 - sqrt(al * al - sr[b] * sr[b]) / al;
      o[kGamma * B + b] = ws / wl;
    }
  if (need & kNeedMeanR)
    for (int b = 0; b < B; ++b) o[kRMean * B + b] = sr[b];
  return o;
}

HEA_CLONES void units_to_fractions(double* c, int k, int nb, double N, double* sum) {
  constexpr int B = kBlock;
  for (int j = 0; j < k; ++j)
    for (int b = nb; b < B; ++b) c[j * B + b] = c[j * B];
  for (int b = 0; b < B; ++b) sum[b] = 0;
  for (int j = 0; j < k; ++j)
    for (int b = 0; b < B; ++b) {
      const double x = c[j * B + b] / N;
      c[j * B + b] = x;
      sum[b] += x;
    }
  for (int j = 0; j < k; ++j)
    for (int b = 0; b < B; ++b) c[j * B + b] = c[j * B + b] / sum[b];
}

}  // namespace detail

namespace {

// Rows [r0, r0 + kBlock) of x (n, E) with rows >= n padded (computed on a dummy composition, not
// written). `w` holds (E + detail::kBlockScratch) * kBlock doubles of scratch.
void dense_block(const double* x, int64_t n, int64_t r0, int64_t E, const double* props, const double* pair, Params prm,
                 double* out, double* w, const int* cols, int ncols, unsigned need) {
  constexpr int B = kBlock;
  double* c = w;  // c[j * B + b]
  double* s = w + E * B;
  const int nb = static_cast<int>(n - r0 < B ? n - r0 : B);
  for (int64_t j = 0; j < E; ++j) {
    for (int b = 0; b < nb; ++b) c[j * B + b] = x[(r0 + b) * E + j];
    for (int b = nb; b < B; ++b) c[j * B + b] = 1.0;  // padding: a valid equiatomic row
  }
  for (int b = 0; b < B; ++b) s[b] = 0;
  for (int64_t j = 0; j < E; ++j)
    for (int b = 0; b < B; ++b) s[b] += c[j * B + b];
  for (int64_t j = 0; j < E; ++j)
    for (int b = 0; b < B; ++b) c[j * B + b] = c[j * B + b] / s[b];
  const double* o = detail::block_compute(c, E, kIdentity, props, pair, E, prm, need, w + E * B);
  for (int b = 0; b < nb; ++b)
    for (int d = 0; d < ncols; ++d) out[(r0 + b) * ncols + d] = o[cols[d] * B + b];
}

bool dense_ok(int64_t E, const double* props, const double* pair) {
  if (E > kDenseMaxE) return false;
  for (int64_t i = 0; i < E * kNumProps; ++i)
    if (!std::isfinite(props[i])) return false;
  for (int64_t i = 0; i < E * E; ++i)
    if (!std::isfinite(pair[i])) return false;
  return true;
}

}  // namespace

unsigned needs_of(const int* cols, int ncols) {
  unsigned need = 0;
  for (int k = 0; k < ncols; ++k) {
    switch (cols[k]) {
      case kDelta: need |= kNeedDevR | kNeedMeanR; break;
      case kDchiPauling: need |= kNeedDevP | kNeedMeanP; break;
      case kDchiAllen: need |= kNeedDevA | kNeedMeanA; break;
      case kDSmix: need |= kNeedEntropy; break;
      case kDHmix:
      case kLocalDeltaR:
      case kLocalDchi: need |= kNeedPairs; break;
      case kOmega: need |= kNeedPairs | kNeedEntropy | kNeedMeanTm; break;
      case kLambda: need |= kNeedEntropy | kNeedDevR | kNeedMeanR; break;
      case kGamma: need |= kNeedMinMax | kNeedMeanR; break;
      case kVEC: need |= kNeedMeanV; break;
      case kChiAllenMean: need |= kNeedMeanA; break;
      case kTmMean: need |= kNeedMeanTm; break;
      case kKMean: need |= kNeedMeanK; break;
      case kVmMean: need |= kNeedMeanVm; break;
      case kRMean: need |= kNeedMeanR; break;
      default: break;
    }
  }
  return need;
}

void compute_cpu(const double* x, int64_t n, int64_t E, const double* props, const double* pair, Params prm,
                 double* out, int threads, const int* cols, int ncols) {
  int all[kNumDescriptors];
  if (cols == nullptr) {
    for (int d = 0; d < kNumDescriptors; ++d) all[d] = d;
    cols = all;
    ncols = kNumDescriptors;
  }
  const unsigned need = needs_of(cols, ncols);
  if (dense_ok(E, props, pair)) {
    const int64_t nblocks = (n + kBlock - 1) / kBlock;
    parallel_for(
        nblocks, threads,
        [&](int64_t lo, int64_t hi, int) {
          std::vector<double> w(static_cast<size_t>((E + detail::kBlockScratch) * kBlock));
          for (int64_t blk = lo; blk < hi; ++blk)
            dense_block(x, n, blk * kBlock, E, props, pair, prm, out, w.data(), cols, ncols, need);
        },
        /*grain=*/64);
    return;
  }
  parallel_for(
      n, threads,
      [&](int64_t lo, int64_t hi, int) {
        // Gathering the nonzero columns first makes the O(k^2) pair loop cost k^2, not E^2, for
        // sparse rows (datasets over 30-70 elements with 2-10 per alloy).
        std::vector<int> nz(static_cast<size_t>(E));
        std::vector<double> fr(static_cast<size_t>(E));
        double row[kNumDescriptors];
        for (int64_t r = lo; r < hi; ++r) {
          double s;
          const int k = gather_nonzero(x + r * E, E, static_cast<int>(E), nz.data(), fr.data(), s);
          for (int t = 0; t < k; ++t) fr[t] /= s;
          compute_row(GatheredRow{nz.data(), fr.data(), k}, props, pair, E, prm, row);
          for (int d = 0; d < ncols; ++d) out[r * ncols + d] = row[cols[d]];
        }
      },
      /*grain=*/4096);
}

int64_t find_invalid_row(const double* x, int64_t n, int64_t E, int threads, int64_t* col) {
  const int t = resolve_threads(threads);
  std::vector<int64_t> first(static_cast<size_t>(t), -1), where(static_cast<size_t>(t), -1);
  parallel_for(
      n, t,
      [&](int64_t lo, int64_t hi, int b) {
        for (int64_t r = lo; r < hi; ++r) {
          const double* xr = x + r * E;
          double s = 0;
          for (int64_t j = 0; j < E; ++j) {
            const double v = xr[j];
            if (!(v >= 0) || !std::isfinite(v)) {  // NaN fails v >= 0
              first[b] = r;
              where[b] = j;
              return;
            }
            s += v;
          }
          if (!(s > 0) || !std::isfinite(s)) {  // no element, or amounts whose sum overflows
            first[b] = r;
            where[b] = -1;
            return;
          }
        }
      },
      /*grain=*/8192);
  // Blocks are contiguous and in order, so the first block that found something has the first row.
  for (size_t b = 0; b < first.size(); ++b) {
    if (first[b] >= 0) {
      *col = where[b];
      return first[b];
    }
  }
  return -1;
}

}  // namespace hea_fast::descriptors
