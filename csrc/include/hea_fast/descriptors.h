// Empirical HEA descriptors, all computed in one pass per composition.
//
// Inputs (no Python, no I/O; the same kernel serves every element table):
//   x      (n, E) mole amounts, rows need not sum to 1 (each row is divided by its sum)
//   props  (E, kNumProps) element properties, element-major, columns in `Prop` order
//   pair   (E, E) symmetric binary mixing enthalpies ΔH_ij (kJ/mol)
//   params gas constant R (J/mol/K) and the offset inside the entropy logarithm
// Output (n, kNumDescriptors), columns in `Desc` order. Definitions (c_i = fractions, x̄ = Σ c_i x_i):
//   delta          100·√Σ c_i (1 − r_i/r̄)²                        %      Yang & Zhang, MCP 132 (2012) 233
//   dH_mix         4 Σ_{i<j} c_i c_j ΔH_ij                        kJ/mol Takeuchi & Inoue, Mater. Trans. 46 (2005) 2817
//   dS_mix         −R Σ c_i ln(c_i + log_offset)                  J/mol/K (log_offset = 0: ideal entropy)
//   VEC            Σ c_i VEC_i                                     –      Guo et al., JAP 109 (2011) 103505
//   dchi_pauling   √Σ c_i (χ_i − χ̄)²                              –      Fang et al., Comput. Mater. Sci. 26 (2003) 159
//   chi_allen_mean Σ c_i χA_i                                      –
//   dchi_allen     100·√Σ c_i (1 − χA_i/χ̄A)²                      %      Poletti & Battezzati, Acta Mater. 75 (2014)
//   297 Tm, K, Vm      rules of mixture                                K, GPa, cm³/mol Omega          Tm·ΔS_mix /
//   (1000·|ΔH_mix|); +inf when ΔH_mix = 0       Yang & Zhang 2012 Lambda         ΔS_mix / δ² (δ in %); +inf when δ = 0
//   J/mol/K Singh et al., Intermetallics 53 (2014) 112 gamma          ω_S/ω_L, ω(r) = 1 − √((r + r̄)² − r̄²)/(r + r̄),
//   r_S/r_L smallest/largest radius present
//                                                                   –      Wang et al., Scripta Mater. 94 (2015) 28
//   local_delta_r  Σ_{i<j} c_i c_j |r_i − r_j|                     pm     Wen et al., Acta Mater. 170 (2019) 109
//   local_dchi     Σ_{i<j} c_i c_j |χ_i − χ_j| (Pauling)           –      Wen et al. 2019
//   r_mean         r̄                                                pm
// Zero fractions are skipped (0·ln 0 = 0; an absent element never sets r_S or r_L).
#pragma once
#include <cmath>
#include <cstdint>

#include "hea_fast/hd.h"

namespace hea_fast::descriptors {

enum Prop : int { kRadius = 0, kChiPauling, kChiAllen, kVec, kTm, kBulk, kVm, kNumProps };

enum Desc : int {
  kDelta = 0,
  kDHmix,
  kDSmix,
  kVEC,
  kDchiPauling,
  kChiAllenMean,
  kDchiAllen,
  kTmMean,
  kKMean,
  kVmMean,
  kOmega,
  kLambda,
  kGamma,
  kLocalDeltaR,
  kLocalDchi,
  kRMean,
  kNumDescriptors
};

struct Params {
  double gas_constant;  // J/mol/K
  double log_offset;    // ΔS uses ln(c + log_offset); 0 for the ideal entropy
};

// δ (%) from dr = Σ c_i (1 − r_i/r̄)². When every radius present is the same, r̄ is off by a few ulp
// and dr comes out near 1e-30 instead of 0, so Λ = ΔS_mix/δ² read 1e28 for some such alloys
// (Nb0.3Ta0.7) and +inf for others; any two radii of a table (≥ 0.1 pm apart below 300 pm) give
// dr ≥ 1e-7·c(1 − c), so dr below 1e-24 is read as δ = 0 (the NumPy reference tests rmin == rmax).
HEA_HD double delta_percent(double dr) { return dr < 1e-24 ? 0.0 : 100.0 * sqrt(dr); }

// One composition, seen through `row`: row.size() candidate entries, row.col(t) the element
// column of entry t and row.c(t) its mole fraction (amount / row sum, a true division so that a
// lone element gets exactly 1). Entries with c = 0 are skipped, so a row may list all E columns
// or only the nonzero ones. Writes kNumDescriptors values to `out`.
template <class Row>
HEA_HD void compute_row(const Row& row, const double* props, const double* pair, int64_t E, Params prm, double* out) {
  const int k = row.size();
  // The entropy gets its own loop: log() is a call, and every xmm register is caller-saved, so
  // keeping the eight accumulators below live across it would spill them all for each element.
  double ent = 0;
  for (int t = 0; t < k; ++t) {
    const double c = row.c(t);
    if (c > 0) ent += c * log(c + prm.log_offset);
  }
  double sr = 0, sp = 0, sa = 0, sv = 0, st = 0, sk = 0, sm = 0;
  double rmin = INFINITY, rmax = -INFINITY;
  for (int t = 0; t < k; ++t) {
    const double c = row.c(t);
    if (!(c > 0)) continue;
    const double* p = props + row.col(t) * kNumProps;
    sr += c * p[kRadius];
    sp += c * p[kChiPauling];
    sa += c * p[kChiAllen];
    sv += c * p[kVec];
    st += c * p[kTm];
    sk += c * p[kBulk];
    sm += c * p[kVm];
    rmin = p[kRadius] < rmin ? p[kRadius] : rmin;
    rmax = p[kRadius] > rmax ? p[kRadius] : rmax;
  }
  // Second pass: deviations from the means (two-pass form, no cancellation) and the pair sums.
  double dr = 0, dp = 0, da = 0, dh = 0, lr = 0, lc = 0;
  const double inv_r = 1.0 / sr, inv_a = 1.0 / sa;
  for (int t = 0; t < k; ++t) {
    const double ci = row.c(t);
    if (!(ci > 0)) continue;
    const int i = row.col(t);
    const double* pi = props + i * kNumProps;
    // (x̄ − x_i)/x̄ rather than 1 − x_i·(1/x̄): exactly 0 for a lone element
    const double u = (sr - pi[kRadius]) * inv_r;
    const double w = pi[kChiPauling] - sp;
    const double v = (sa - pi[kChiAllen]) * inv_a;
    dr += ci * u * u;
    dp += ci * w * w;
    da += ci * v * v;
    double hrow = 0, lrow = 0, crow = 0;
    for (int s = t + 1; s < k; ++s) {
      const double cj = row.c(s);
      if (!(cj > 0)) continue;
      const int j = row.col(s);
      const double* pj = props + j * kNumProps;
      hrow += cj * pair[i * E + j];
      lrow += cj * fabs(pi[kRadius] - pj[kRadius]);
      crow += cj * fabs(pi[kChiPauling] - pj[kChiPauling]);
    }
    dh += ci * hrow;
    lr += ci * lrow;
    lc += ci * crow;
  }
  const double delta = delta_percent(dr);
  const double dH = 4.0 * dh;
  const double dS = -prm.gas_constant * ent;
  out[kDelta] = delta;
  out[kDHmix] = dH;
  out[kDSmix] = dS;
  out[kVEC] = sv;
  out[kDchiPauling] = sqrt(dp);
  out[kChiAllenMean] = sa;
  out[kDchiAllen] = 100.0 * sqrt(da);
  out[kTmMean] = st;
  out[kKMean] = sk;
  out[kVmMean] = sm;
  out[kOmega] = dH == 0.0 ? INFINITY : st * dS / (1000.0 * fabs(dH));
  out[kLambda] = delta == 0.0 ? INFINITY : dS / (delta * delta);
  const double as = rmin + sr, al = rmax + sr;
  const double ws = 1.0 - sqrt(as * as - sr * sr) / as;
  const double wl = 1.0 - sqrt(al * al - sr * sr) / al;
  out[kGamma] = ws / wl;
  out[kLocalDeltaR] = lr;
  out[kLocalDchi] = lc;
  out[kRMean] = sr;
}

// Row views. Gathered: the nonzero columns and their fractions, precomputed by the caller.
struct GatheredRow {
  const int* cols;
  const double* fr;
  int k;
  HEA_HD int size() const { return k; }
  HEA_HD int col(int t) const { return cols[t]; }
  HEA_HD double c(int t) const { return fr[t]; }
};
// Dense: all E columns of one row, fractions divided on the fly (zeros skipped by compute_row).
struct DenseRow {
  const double* x;
  double sum;
  int E;
  HEA_HD int size() const { return E; }
  HEA_HD int col(int t) const { return t; }
  HEA_HD double c(int t) const { return x[t] / sum; }
};

// Gathers the entries > 0 of a row of E amounts: their columns into cols and amounts into fr (only
// the first `cap` are stored) and returns how many there are; `sum` receives the row's sum. Dividing
// fr by sum gives the GatheredRow of the row (when the count is <= cap).
HEA_HD int gather_nonzero(const double* xr, int64_t E, int cap, int* cols, double* fr, double& sum) {
  int k = 0;
  double s = 0;
  for (int64_t j = 0; j < E; ++j) {
    const double v = xr[j];
    s += v;
    if (v > 0) {
      if (k < cap) {
        cols[k] = static_cast<int>(j);
        fr[k] = v;
      }
      ++k;
    }
  }
  sum = s;
  return k;
}

// Work groups a descriptor needs (the dense block path skips the rest).
enum Need : unsigned {
  kNeedDevR = 1u,       // Σ c_i (1 − r_i/r̄)²: delta, Lambda
  kNeedEntropy = 2u,    // Σ c ln c: dS_mix, Omega, Lambda
  kNeedPairs = 4u,      // pair sums: dH_mix, Omega, local_delta_r, local_dchi
  kNeedMinMax = 8u,     // r_min / r_max: gamma
  kNeedDevP = 16u,      // Σ c_i (χ_i − χ̄)² (Pauling): dchi_pauling
  kNeedDevA = 32u,      // Σ c_i (1 − χ_i/χ̄)² (Allen): dchi_allen
  kNeedMeanR = 64u,     // r̄: delta, gamma, Lambda, r_mean
  kNeedMeanP = 128u,    // Pauling χ̄: dchi_pauling
  kNeedMeanA = 256u,    // Allen χ̄: chi_allen_mean, dchi_allen
  kNeedMeanV = 512u,    // VEC
  kNeedMeanTm = 1024u,  // Tm, Omega
  kNeedMeanK = 2048u,   // K
  kNeedMeanVm = 4096u,  // Vm
  kNeedAll = 8191u,
};
unsigned needs_of(const int* cols, int ncols);

// CPU entry point: multi-threaded over rows (hea_fast/parallel.h); each row is independent, so
// the result does not depend on `threads`. Rows must be validated by the caller (finite,
// non-negative, positive sum). threads <= 0: all hardware threads.
// cols/ncols: the descriptor columns to write, in that order (out is (n, ncols)); cols = nullptr
// writes all kNumDescriptors. The dense path then skips the work no requested column needs; the
// requested values are bitwise the same as in a full call.
void compute_cpu(const double* x, int64_t n, int64_t E, const double* props, const double* pair, Params prm,
                 double* out, int threads, const int* cols = nullptr, int ncols = kNumDescriptors);

// Finds the first invalid row of x (n, E): a non-finite or negative entry (`*col` = its column)
// or a row summing to zero or overflowing to +inf (`*col` = -1). Returns -1 when every row is
// valid. Multi-threaded.
int64_t find_invalid_row(const double* x, int64_t n, int64_t E, int threads, int64_t* col);

}  // namespace hea_fast::descriptors
