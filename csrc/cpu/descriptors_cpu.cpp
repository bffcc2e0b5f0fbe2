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
//    instructions whatever the thread split. On x86-64 the block function is compiled twice
//    (x86-64-v3, i.e. AVX2+FMA, and baseline) and picked at load time by CPU features (GCC/Clang target_clones).
#include "hea_fast/descriptors.h"

#include <cfloat>
#include <cstring>
#include <vector>

#include "hea_fast/parallel.h"

#if defined(__x86_64__) && defined(__linux__) && (defined(__GNUC__) || defined(__clang__)) && \
    !defined(HEA_FAST_NO_CLONES)  // target_clones needs ELF ifunc
#define HEA_CLONES __attribute__((target_clones("arch=x86-64-v3", "default")))
#else
#define HEA_CLONES
#endif

namespace hea_fast::descriptors {

namespace {

constexpr int kBlock = 64;
constexpr int64_t kDenseMaxE = 16;
constexpr int64_t kScratchRows = 17 + kNumDescriptors;  // accumulators + output block

// ln(x) for positive normal doubles by pure arithmetic, so loops calling it vectorise. Reduce to
// x = 2^k m with m in [sqrt(1/2), sqrt(2)), then ln m = 2 atanh(s), s = (m-1)/(m+1), |s| <= 0.1716:
// the odd series to s^21 leaves a truncation error < 1e-17 relative. Measured against libm on
// 2^20 log-uniform points in [e^-40, e^3]: max relative error 3.3e-16.
__attribute__((always_inline)) inline double log_poly(double x) {
  uint64_t bits;
  std::memcpy(&bits, &x, 8);
  const uint64_t tmp = bits - 0x3fe6a09e667f3bcdULL;  // bit pattern of sqrt(1/2)
  const int64_t k = static_cast<int64_t>(tmp) >> 52;
  const uint64_t mb = bits - (static_cast<uint64_t>(k) << 52);
  double m;
  std::memcpy(&m, &mb, 8);
  const double s = (m - 1.0) / (m + 1.0), z = s * s;
  double p = 1.0 / 21;
  p = p * z + 1.0 / 19;
  p = p * z + 1.0 / 17;
  p = p * z + 1.0 / 15;
  p = p * z + 1.0 / 13;
  p = p * z + 1.0 / 11;
  p = p * z + 1.0 / 9;
  p = p * z + 1.0 / 7;
  p = p * z + 1.0 / 5;
  p = p * z + 1.0 / 3;
  return (2.0 * s + 2.0 * s * z * p) + static_cast<double>(static_cast<int32_t>(k)) * 0.6931471805599453;
}

// Rows [r0, r0 + kBlock) with rows >= n padded (computed on a dummy composition, not written).
// `w` holds (E + kScratchRows) * kBlock doubles of scratch.
HEA_CLONES void dense_block(const double* x, int64_t n, int64_t r0, int64_t E, const double* props,
                            const double* pair, Params prm, double* out, double* w, const int* cols, int ncols,
                            unsigned need) {
  constexpr int B = kBlock;
  double* c = w;  // c[j * B + b]
  double* acc = w + E * B;
  double* s = acc + 0 * B;
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
  for (int b = 0; b < B; ++b) {
    sr[b] = sp[b] = sa[b] = sv[b] = st[b] = sk[b] = sm[b] = ent[b] = 0;
    dr[b] = dp[b] = da[b] = dh[b] = lr[b] = lc[b] = 0;
    rmin[b] = INFINITY;
    rmax[b] = -INFINITY;
  }
  int ntiny = 0;
  for (int64_t j = 0; j < E; ++j) {
    const double* p = props + j * kNumProps;
    const double pr = p[kRadius], pp = p[kChiPauling], pa = p[kChiAllen], pv = p[kVec], pt = p[kTm],
                 pk = p[kBulk], pm = p[kVm];
    const double* cj = c + j * B;
    for (int b = 0; b < B; ++b) {
      const double v = cj[b];
      sr[b] += v * pr;
      sp[b] += v * pp;
      sa[b] += v * pa;
      sv[b] += v * pv;
      st[b] += v * pt;
      sk[b] += v * pk;
      sm[b] += v * pm;
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
        ent[b] += v * log_poly(arg);
      }
    }
  }
  const bool tiny = ntiny > 0;
  if (tiny) {  // subnormal fractions (amount ratios below 1e-308): redo the entropy with libm
    for (int b = 0; b < B; ++b) {
      double e = 0;
      for (int64_t j = 0; j < E; ++j) {
        const double v = c[j * B + b];
        if (v > 0) e += v * log(v + prm.log_offset);
      }
      ent[b] = e;
    }
  }
  for (int64_t i = 0; i < E; ++i) {
    const double* pi = props + i * kNumProps;
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
    for (int64_t j = i + 1; j < E; ++j) {
      const double* pj = props + j * kNumProps;
      const double h = pair[i * E + j], adr = fabs(ri - pj[kRadius]), adc = fabs(pci - pj[kChiPauling]);
      const double* cj = c + j * B;
      for (int b = 0; b < B; ++b) {
        const double wij = ci[b] * cj[b];
        dh[b] += wij * h;
        lr[b] += wij * adr;
        lc[b] += wij * adc;
      }
    }
  }
  // Final formulas, in the same order as compute_row, column-major, then copied out row-major.
  for (int b = 0; b < B; ++b) {
    const double delta = 100.0 * sqrt(dr[b]);
    const double dH = 4.0 * dh[b];
    const double dS = -prm.gas_constant * ent[b];
    const double as = rmin[b] + sr[b], al = rmax[b] + sr[b];
    const double ws = 1.0 - sqrt(as * as - sr[b] * sr[b]) / as;
    const double wl = 1.0 - sqrt(al * al - sr[b] * sr[b]) / al;
    o[kDelta * B + b] = delta;
    o[kDHmix * B + b] = dH;
    o[kDSmix * B + b] = dS;
    o[kVEC * B + b] = sv[b];
    o[kDchiPauling * B + b] = sqrt(dp[b]);
    o[kChiAllenMean * B + b] = sa[b];
    o[kDchiAllen * B + b] = 100.0 * sqrt(da[b]);
    o[kTmMean * B + b] = st[b];
    o[kKMean * B + b] = sk[b];
    o[kVmMean * B + b] = sm[b];
    o[kOmega * B + b] = dH == 0.0 ? INFINITY : st[b] * dS / (1000.0 * fabs(dH));
    o[kLambda * B + b] = delta == 0.0 ? INFINITY : dS / (delta * delta);
    o[kGamma * B + b] = ws / wl;
    o[kLocalDeltaR * B + b] = lr[b];
    o[kLocalDchi * B + b] = lc[b];
    o[kRMean * B + b] = sr[b];
  }
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
      case kDelta: need |= kNeedDevR; break;
      case kDchiPauling: need |= kNeedDevP; break;
      case kDchiAllen: need |= kNeedDevA; break;
      case kDSmix: need |= kNeedEntropy; break;
      case kDHmix: case kLocalDeltaR: case kLocalDchi: need |= kNeedPairs; break;
      case kOmega: need |= kNeedPairs | kNeedEntropy; break;
      case kLambda: need |= kNeedEntropy | kNeedDevR; break;
      case kGamma: need |= kNeedMinMax; break;
      default: break;  // property means only
    }
  }
  return need;
}

void compute_cpu(const double* x, int64_t n, int64_t E, const double* props, const double* pair,
                 Params prm, double* out, int threads, const int* cols, int ncols) {
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
          std::vector<double> w(static_cast<size_t>((E + kScratchRows) * kBlock));
          for (int64_t blk = lo; blk < hi; ++blk) dense_block(x, n, blk * kBlock, E, props, pair, prm, out, w.data(), cols, ncols, need);
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
          const double* xr = x + r * E;
          int k = 0;
          double s = 0;
          for (int64_t j = 0; j < E; ++j) {
            const double v = xr[j];
            s += v;
            if (v > 0) {
              nz[k] = static_cast<int>(j);
              fr[k++] = v;
            }
          }
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
          if (!(s > 0)) {
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
