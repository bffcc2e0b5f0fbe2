// Exact Pólya-Gamma PG(b, c) sampler valid for any real b > 0, in particular non-integer b < 1
// (the tempered Gibbs sampler for WBIC needs b = beta = 1/log n ~ 0.14).
//
// Notation (Polson, Scott & Windle 2013, JASA 108:1339; Windle, Polson & Scott 2014, arXiv 1405.0506):
// PG(b, c) = J*(b, c/2) / 4, where J*(h) has Laplace transform E exp(-s J) = cosh(sqrt(2 s))^-h and
// J*(h, z) is J*(h) exponentially tilted by exp(-z^2 x / 2). For 0 < h <= 1 we draw J*(h, z) exactly
// by rejection from a two-piece envelope, deciding acceptance with the alternating-series method of
// Devroye (1986, Ch. IV.5; Devroye 2009, Stat. Probab. Lett. 79:2251) applied to the density series
//
//   g_h(x) = sum_{n>=0} (-1)^n a_n(x),
//   a_n(x) = 2^h Gamma(n+h)/(Gamma(h) n!) (2n+h)/sqrt(2 pi x^3) exp(-(2n+h)^2/(2x)),
//
// (term-wise Laplace transform: sum (-1)^n 2^h C(n) e^{-(2n+h)sqrt(2s)} = cosh(sqrt(2s))^-h).
// Facts used (argued in the comments next to the code that relies on them):
//  * for x < t*(h) = 2(1+h)/log(2+h) the terms decrease from n = 0, so partial sums bracket g_h;
//    for any x they decrease from the first n with 2/(2n+h) < 2(2n+1+h)/x onwards.
//  * envelope a_0(x) e^{-z^2 x/2} = 2^h e^{-hz} IG(h/z, h^2) density (Levy law when z = 0).
//  * for x > t = 4 a cheap exact pre-rejection uses g_h(x) <= Kp exp(-pi^2 x/8), with
//    Kp >= sup_{x>=t} g_h(x) e^{pi^2 x/8} computed per h on a grid (1e-3 margin) and checked
//    against the large-x limit g_h(x) ~ (pi/2)^h/Gamma(h) x^{h-1} e^{-pi^2 x/8}.
// Acceptance is (1 + e^{-2z})^-h >= 2^-h (0.90 at h = 0.145). b > 1 is drawn as
// the sum of ceil(b) independent J*(b/ceil(b)) pieces (the family is closed under convolution).
//
// Header-only and __host__ __device__ (no exceptions, no allocation) so the CUDA Gibbs sampler uses
// the same code. The RNG is any type with uniform() in (0,1) and normal() (hea_fast::Philox4x32).
#pragma once
#include <cmath>
#include <cstdint>

#include "hea_fast/hd.h"
#include "hea_fast/philox.h"

namespace hea_fast {
namespace pg {

constexpr double kPi = 3.14159265358979323846;
constexpr double kPi2over8 = 1.2337005501361697;  // pi^2 / 8: smallest rate of the gamma series
constexpr double kInvSqrt2Pi = 0.3989422804014327;

// Parameters of the J*(h, .) sampler for one 0 < h <= 1 (independent of the tilt z).
struct JStarConfig {
  double h = 1.0;
  double t = 1.0;                  // split point between the left and right envelope pieces
  double two_h = 2.0;              // 2^h
  double Kp = 1.5707963267948966;  // right envelope constant (untilted)
  int pieces = 1;                  // number of J*(h) pieces summed (b = pieces * h)
};

// g_h(x) by the alternating series; stops when the terms are decreasing and negligible.
HEA_HD double jstar_density(double h, double x) {
  if (!(x > 0)) return 0.0;
  const double pre = std::exp(h * 0.6931471805599453) * kInvSqrt2Pi / (x * std::sqrt(x));
  double c = 1.0, s = 0.0;
  for (int n = 0; n < 2000; ++n) {
    if (n > 0) c *= (n - 1 + h) / n;
    const double k = 2.0 * n + h;
    const double a = pre * c * k * std::exp(-k * k / (2.0 * x));
    s += (n & 1) ? -a : a;
    // decreasing from here on (see header) and below rounding of the sum: done
    const bool decreasing = 2.0 / (2.0 * n + h) < 2.0 * (2.0 * n + 1.0 + h) / x;
    if (decreasing && a <= 1e-17 * std::fabs(s)) break;
  }
  return s;
}

// Host-side setup for one h in (0, 1]: picks t and computes the right-envelope constant.
inline JStarConfig make_jstar_config(double h) {
  JStarConfig cfg;
  cfg.h = h;
  // t: start of the cheap pre-rejection bound (g_h/a_0 < 0.14 beyond x = 4 for all h <= 1).
  cfg.t = 4.0;
  cfg.two_h = std::exp(h * 0.6931471805599453);
  // sup_{x>=t} g_h(x) e^{pi^2 x/8}: this is rho(x) x^{h-1} with rho(x) = g_h(x)/(x^{h-1}e^{-pi^2x/8}).
  // rho tends to (pi/2)^h/Gamma(h) with an O(1/x) excess for h < 1 (g_h is a Gamma(h, pi^2/8)
  // term convolved with a positive remainder R, and (1 - R/x)^{h-1} > 1), and from below for h = 1;
  // beyond x = 12 both factors are monotone, so the grid max on [t, 12] plus the limit term bounds it.
  double best = std::exp(h * std::log(kPi / 2.0) - std::lgamma(h)) * std::pow(12.0, h - 1.0);
  for (int i = 0; i <= 320; ++i) {
    const double x = cfg.t + (12.0 - cfg.t) * i / 320.0;
    const double v = jstar_density(h, x) * std::exp(kPi2over8 * x);
    if (v > best) best = v;
  }
  cfg.Kp = best * (1.0 + 1e-3);
  return cfg;
}

// Config for PG(b, .) with any b > 0: b = pieces * h with h <= 1.
inline JStarConfig make_pg_config(double b) {
  int pieces = b <= 1.0 ? 1 : static_cast<int>(std::ceil(b - 1e-12));
  JStarConfig cfg = make_jstar_config(b / pieces);
  cfg.pieces = pieces;
  return cfg;
}

// One draw of J*(h, z), 0 < h <= 1, z >= 0.
//
// Envelope: a_0(x) e^{-z^2 x/2}, i.e. 2^h e^{-hz} times the inverse Gaussian IG(h/z, h^2) density
// (the Levy law h^2/N^2 when z = 0). g_h <= a_0 on (0, inf): for x < t*(h) because the series
// alternates with decreasing terms from n = 0, beyond that g_h/a_0 keeps decreasing (checked on a
// dense grid for h in (0, 1] by tests/test_polyagamma.py). Acceptance = (1 + e^{-2z})^-h >= 2^-h
// (0.90 at h = 0.145), and needs no per-draw normalising constants.
template <class RNG>
HEA_HD double sample_jstar(const JStarConfig& cfg, double z, RNG& rng) {
  const double h = cfg.h;
  const double mu = h / z, lam = h * h;
  for (int attempt = 0; attempt < 1000000; ++attempt) {
    double x;
    const double nv = rng.normal();
    if (!(z > 1e-6)) {
      // tiny tilt: Levy proposal thinned by e^{-z^2 x/2} (exact; also avoids mu = h/z overflowing)
      x = lam / (nv * nv);
      if (z > 0 && !(rng.uniform() < std::exp(-0.5 * z * z * x))) continue;
    } else {
      // Michael-Schucany-Haas in the cancellation-free form x1 = mu / (1 + phi + sqrt(phi (2 + phi))),
      // phi = mu N^2 / (2 lambda); the other root mu^2/x1 is taken with probability x1/(mu + x1).
      const double phi = mu * nv * nv / (2.0 * lam);
      const double x1 = mu / (1.0 + phi + std::sqrt(phi * (2.0 + phi)));
      x = rng.uniform() <= mu / (mu + x1) ? x1 : mu * mu / x1;
    }
    // accept with probability g_h(x) / a_0(x)
    const double y = rng.uniform();
    if (x > cfg.t) {
      // cheap exact pre-rejection with g_h(x) <= Kp e^{-pi^2 x/8} (valid for x >= t)
      const double a0 = cfg.two_h * h * kInvSqrt2Pi / (x * std::sqrt(x)) * std::exp(-lam / (2.0 * x));
      if (y * a0 > cfg.Kp * std::exp(-kPi2over8 * x)) continue;
    }
    // r_n = a_n/a_0 = C_n (2n+h)/h exp(-2n(n+h)/x). The tail from index j on alternates with
    // decreasing terms once B_j = 2/(2j+h) - 2(2j+1+h)/x < 0 (log(a_{j+1}/a_j) <= B_j, B_j decreasing),
    // so the partial sum S_N brackets g_h/a_0 once B_{N+1} < 0: an upper bound for even N, lower for odd N.
    double s = 1.0, c = 1.0;
    bool mono = 2.0 / (2.0 + h) < 2.0 * (3.0 + h) / x;  // B_1 < 0
    bool accepted = false;
    for (int n = 1;; ++n) {
      c *= (n - 1 + h) / n;
      const double r = c * ((2.0 * n + h) / h) * std::exp(-2.0 * n * (n + h) / x);
      s += (n & 1) ? -r : r;
      mono = mono || 2.0 / (2.0 * (n + 1) + h) < 2.0 * (2.0 * (n + 1) + 1.0 + h) / x;
      if (mono) {
        if (n & 1) {
          if (y <= s) {
            accepted = true;
            break;
          }
        } else if (y > s) {
          break;
        }
        // unresolved at rounding level (probability ~1e-16 per draw): decide by the sum itself
        if (r <= 1e-17 || n > 100000) {
          accepted = y <= s;
          break;
        }
      }
    }
    if (accepted) return x;
  }
  return NAN;  // unreachable in practice (acceptance >= 0.5 per attempt)
}

// One draw of PG(b, c) using a config made by make_pg_config(b).
template <class RNG>
HEA_HD double sample_pg(const JStarConfig& cfg, double c, RNG& rng) {
  const double z = 0.5 * std::fabs(c);
  double s = 0.0;
  for (int i = 0; i < cfg.pieces; ++i) s += sample_jstar(cfg, z, rng);
  return 0.25 * s;
}

}  // namespace pg

// Batched PG(b_i, c_i) draws; element i uses the Philox stream (seed, i), so the output does not
// depend on the thread count. Implemented in csrc/cpu/polyagamma_cpu.cpp.
void polyagamma_sample(const double* b, const double* c, int64_t n, uint64_t seed, double* out, int threads);

}  // namespace hea_fast
