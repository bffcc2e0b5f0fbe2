// Maresca–Curtin (2020) reduced BCC edge-dislocation strength model (Acta Mater. 182, 235).
//
//   V̄ = Σ cₙVₙ [Å³]; Cij = Σ cₙCijₙ [GPa]; μ = √(C44 (C11 − C12)/2); B = (C11 + 2 C12)/3;
//   ν = (3B − 2μ)/(2(3B + μ)); b = (√3/2)(2V̄)^{1/3}, so b³ = (3√3/4)V̄ and b⁶ = (27/16)V̄²;
//   δ = Σ cₙ(Vₙ − V̄)² [Å⁶]; q = (1 + ν)/(1 − ν); r = δ/b⁶
//   τ_y0 = 0.040 α^{-1/3} μ q^{4/3} r^{2/3}  [MPa with μ in MPa]
//   ΔE_b = 2.00 α^{1/3} μ b³ q^{2/3} r^{1/3} [eV with μ b³ in GPa·Å³ × 6.2415e-3]
//   x = k_B T ln(ε̇₀/ε̇)/ΔE_b; the two published thermal-activation forms (Leyson & Curtin 2016, MC2020)
//     low-T  L(x) = 1 − x^{2/3}        high-T  H(x) = exp(−x/0.55)        (τ = τ_y0 · f(x))
//   continuous (default, code 2): the largest convex minorant of the published switch —
//     f = L(x)                          x ≤ x_s = 2^{-3/2}          (L ≥ 1/2, the published low-T range)
//     f = 1/2 − m_t (x − x_s)           x_s < x < x_t               (the tangent from (x_s, 1/2) to H)
//     f = H(x)                          x ≥ x_t = 0.546958570182787 (H(x_t) = 0.36992)
//     with x_t solving H(x_t)(1 + (x_t − x_s)/0.55) = 1/2 and m_t = H(x_t)/0.55 = 0.672580732187103:
//     continuous everywhere, C¹ except at x_s, convex, non-increasing, never above two-regime.
//   two-regime (code 0, the literal published rule): L while L ≥ 1/2 (x ≤ x_s), else H — jumps up by
//     H(x_s)/L(x_s) = 1.0516 (+5.2 %) at x_s;
//   single-fit (code 1): exp(−(1/0.55) x^{0.91});   σ_y = 3.067 τ [MPa].
// A composition with δ = 0 (pure element) has τ_y0 = ΔE_b = 0 and σ_y = 0 at every T.
// Functions here are header-inline so the CUDA mirror (csrc/cuda/maresca_curtin_cuda.cu) shares them.
#pragma once
#include <cmath>
#include <cstdint>

#include "hea_fast/hd.h"
#include "hea_fast/lattice.h"

namespace hea_fast::mc {

enum Model : int { kTwoRegime = 0, kSingleFit = 1, kContinuous = 2 };

struct Constants {
  double alpha = 1.0 / 12.0;   // BCC line-tension prefactor
  double eps0 = 1.0e4;         // reference strain rate [1/s]
  double eps = 1.0e-3;         // applied strain rate [1/s]
  double taylor = 3.067;       // σ_y / τ
  double kB = 8.617333262e-5;  // eV/K
};

constexpr double kGPaA3_eV = 1.0e-21 / 1.602176634e-19;  // 1 GPa·Å³ in eV
constexpr double kXSwitch = 0.35355339059327376220;      // 2^{-3/2}: 1 − x^{2/3} = 1/2
// continuous model: tangent point x_t, slope m_t = exp(−x_t/0.55)/0.55 and intercept 1/2 + m_t x_s of
// the segment f = kLine0 − m_t x on (x_s, x_t) (40-digit solution of the tangency condition, rounded)
constexpr double kXTangent = 0.54695857018278703447;
constexpr double kTangentSlope = 0.67258073218710349031;
constexpr double kLine0 = 0.73779319831245705465;

// τ_y0 [MPa] and ΔE_b [eV] from alloy V̄ [Å³], δ [Å⁶], μ [GPa], ν; ca = α^{1/3} (hoisted out of
// per-composition loops by the grid kernel: cube roots dominate its per-composition cost).
HEA_HD void tau0_deb_ca(double Vbar, double delta, double mu_GPa, double nu, double ca, double& tau0, double& deb) {
  if (!(delta > 0.0)) {
    tau0 = 0.0;
    deb = 0.0;
    return;
  }
  const double r = delta * (16.0 / 27.0) / (Vbar * Vbar);
  const double b3 = 1.2990381056766580 * Vbar;  // (3√3/4) V̄
  const double q = (1.0 + nu) / (1.0 - nu);
  const double cq = cbrt(q), cr = cbrt(r);
  tau0 = 0.040 / ca * (mu_GPa * 1.0e3) * q * cq * cr * cr;
  deb = 2.00 * ca * mu_GPa * b3 * kGPaA3_eV * cq * cq * cr;
}

HEA_HD void tau0_deb(double Vbar, double delta, double mu_GPa, double nu, double alpha, double& tau0, double& deb) {
  tau0_deb_ca(Vbar, delta, mu_GPa, nu, cbrt(alpha), tau0, deb);
}

// Resolved shear strength τ [MPa] at T [K]; kB_log_rate = k_B ln(ε̇₀/ε̇) [eV/K].
HEA_HD double tau_T(double tau0, double deb, double T, double kB_log_rate, int model) {
  if (!(deb > 0.0)) return 0.0;
  const double x = (kB_log_rate / deb) * T;  // same rounding as the grid kernel's κ·T
  if (model == kSingleFit) return tau0 * exp(-(1.0 / 0.55) * pow(x, 0.91));
  if (x <= kXSwitch) {
    const double c = cbrt(x);
    return tau0 * (1.0 - c * c);
  }
  if (model == kContinuous && x < kXTangent) return tau0 * (kLine0 - kTangentSlope * x);
  return tau0 * exp(-x / 0.55);
}

// Composition views for `alloy`: size() entries, col(t) the element index of entry t (into the
// per-element arrays) and c(t) its mole fraction. Sparse: the k elements of a lattice block (or any
// gathered list); dense: all E columns of a fraction row.
struct SparseFractions {
  int k;
  const int32_t* elem;
  const double* frac;
  HEA_HD int64_t size() const { return k; }
  HEA_HD int64_t col(int64_t t) const { return elem[t]; }
  HEA_HD double c(int64_t t) const { return frac[t]; }
};
struct DenseFractions {
  int64_t E;
  const double* row;
  HEA_HD int64_t size() const { return E; }
  HEA_HD int64_t col(int64_t t) const { return t; }
  HEA_HD double c(int64_t t) const { return row[t]; }
};

// Alloy V̄ [Å³], δ [Å⁶], μ [GPa] and ν by the rules of mixture above, from one composition seen
// through a view; entries with c <= 0 are skipped, so a dense row and the list of its nonzero
// entries give bitwise the same values.
template <class Row>
HEA_HD void alloy(const Row& row, const double* V, const double* C11, const double* C12, const double* C44,
                  double& Vbar, double& delta, double& mu, double& nu) {
  double v = 0, c11 = 0, c12 = 0, c44 = 0;
  for (int64_t t = 0; t < row.size(); ++t) {
    const double c = row.c(t);
    if (!(c > 0.0)) continue;
    const int64_t e = row.col(t);
    v += c * V[e];
    c11 += c * C11[e];
    c12 += c * C12[e];
    c44 += c * C44[e];
  }
  double d = 0;
  for (int64_t t = 0; t < row.size(); ++t) {
    const double c = row.c(t);
    if (!(c > 0.0)) continue;
    const double dv = V[row.col(t)] - v;
    d += c * dv * dv;
  }
  Vbar = v;
  delta = d;
  mu = sqrt(c44 * (c11 - c12) * 0.5);
  const double B = (c11 + 2.0 * c12) / 3.0;
  nu = (3.0 * B - 2.0 * mu) / (2.0 * (3.0 * B + mu));
}

// ---- CPU batch kernels (csrc/cpu/maresca_curtin_cpu.cpp) ----

// Dense fractions (n x E) -> tau0 [MPa], deb [eV]. mu_override / nu_override: per-row arrays or
// nullptr (use the rule-of-mixtures alloy values).
void tau0_deb_batch(const double* frac, int64_t n, int64_t E, const double* V, const double* C11, const double* C12,
                    const double* C44, const double* mu_override, const double* nu_override, const Constants& k,
                    double* tau0, double* deb, int threads);

// σ_y [MPa] for paired (tau0[i], deb[i], T[i]).
void sigma_paired(const double* tau0, const double* deb, const double* T, int64_t n, int model, const Constants& k,
                  double* sigma, int threads);

// ---- whole-grid streaming reduction over lattice ranks [rank_begin, rank_end) × nT temperatures ----
// Point index = rank * nT + t. Reductions (all independent of the thread count):
//  hist      (nT x (nbins + 2)) int64 counts of σ_y on [h_lo, h_hi) (bin 0 underflow, nbins+1 overflow), accumulated
//  tmax      (nT) max σ_y, targ (nT) its point index (smallest index on ties), updated in place
//  bmax      (n_blocks x nT) per-system max, barg its point index, updated in place
//  tsum      (nT) Σσ, tsum2 (nT) Σσ²: sums over fixed tiles added in tile order, accumulated
//  topk_val/topk_idx (nT x topk): the topk largest σ per temperature within the range, sorted by
//            (σ desc, index asc); entries beyond the range's size are (-inf, -1). Written (not merged).
struct GridReduce {
  int nT = 0;
  const double* T = nullptr;
  int model = kContinuous;
  int nbins = 0;
  double h_lo = 0, h_hi = 1;
  int64_t* hist = nullptr;
  double* tmax = nullptr;
  int64_t* targ = nullptr;
  double* bmax = nullptr;
  int64_t* barg = nullptr;
  double* tsum = nullptr;
  double* tsum2 = nullptr;
  int topk = 0;
  double* topk_val = nullptr;
  int64_t* topk_idx = nullptr;
};

void grid_reduce(const lattice::Space& space, int64_t rank_begin, int64_t rank_end, const double* V, const double* C11,
                 const double* C12, const double* C44, const Constants& k, const GridReduce& red, int threads);

// σ_y of every point of ranks [rank_begin, rank_end) at nT temperatures -> out ((rank_end-rank_begin) x nT).
void grid_sigma(const lattice::Space& space, int64_t rank_begin, int64_t rank_end, const double* V, const double* C11,
                const double* C12, const double* C44, const double* T, int nT, int model, const Constants& k,
                double* out, int threads);

// σ_y at arbitrary point indices (rank * nT + t) -> out (n); tau0/deb optional outputs (may be null).
void grid_points(const lattice::Space& space, const int64_t* points, int64_t n, const double* V, const double* C11,
                 const double* C12, const double* C44, const double* T, int nT, int model, const Constants& k,
                 double* out, int threads);

}  // namespace hea_fast::mc
