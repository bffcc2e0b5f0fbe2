// Elementary functions by pure arithmetic (no libm calls), so loops calling them vectorise under
// -O3 without -ffast-math. Accuracy is a few ulp over the documented ranges; both are checked
// against libm in tests (through the kernels that use them, tests/test_screen_fused.py
// and tests/test_descriptors.py) and were measured on dense random samples when written.
#pragma once
#include <cstdint>
#include <cstring>

namespace hea_fast::fastmath {

// ln(x) for positive normal doubles. Reduce to x = 2^k m with m in [sqrt(1/2), sqrt(2)), then
// ln m = 2 atanh(s), s = (m-1)/(m+1), |s| <= 0.1716: the odd series to s^21 leaves a truncation
// error < 1e-17 relative. Measured against libm on 2^20 log-uniform points in [e^-40, e^3]: max
// relative error 3.3e-16.
__attribute__((always_inline)) inline double log_poly(double x) {
  // Only 64-bit logical shifts, masks and adds, and the 2^52 trick for integer -> double, so the
  // whole function vectorises with AVX2 (no 64-bit arithmetic shift or conversion instructions).
  uint64_t bits;
  std::memcpy(&bits, &x, 8);
  const uint64_t tmp = bits - 0x3fe6a09e667f3bcdULL;         // bit pattern of sqrt(1/2)
  const uint64_t mb = bits - (tmp & 0xfff0000000000000ULL);  // exponent k removed: m in [sqrt(1/2), sqrt(2))
  const uint64_t kb = (tmp >> 52) | 0x4330000000000000ULL;   // 2^52 + (k mod 4096), as a double
  const uint64_t nb = (tmp >> 63) | 0x4330000000000000ULL;   // 2^52 + (1 if k < 0)
  double kd, neg, m;
  std::memcpy(&kd, &kb, 8);
  std::memcpy(&neg, &nb, 8);
  std::memcpy(&m, &mb, 8);
  // the signed exponent k = (k mod 4096) − 4096·[k < 0], exact in doubles; written without a
  // floating-point select, which GCC keeps as a branch under -ftrapping-math (no vectorising)
  kd = (kd - 4503599627370496.0) - 4096.0 * (neg - 4503599627370496.0);
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
  return (2.0 * s + 2.0 * s * z * p) + kd * 0.6931471805599453;
}

// e^x for x in [-708, 708] (callers clamp: beyond it e^x under/overflows anyway). x = k ln2 + r
// with k = round(x / ln2) (magic-number rounding, exact for |x / ln2| < 2^51) and |r| <= ln2/2,
// ln2 split in a 32-bit-exact high part and a low part so k·ln2_hi is exact; e^r by its Taylor
// series to r^13 (truncation < 4e-18 relative), scaled by 2^k through the exponent bits.
__attribute__((always_inline)) inline double exp_poly(double x) {
  constexpr double kLog2e = 1.4426950408889634, kShift = 6755399441055744.0;  // 1.5 * 2^52
  constexpr double kLn2Hi = 6.93147180369123816490e-01, kLn2Lo = 1.90821492927058770002e-10;
  const double sh = x * kLog2e + kShift;  // round(x / ln2) in the low mantissa bits
  const double kd = sh - kShift;
  const double r = (x - kd * kLn2Hi) - kd * kLn2Lo;
  double p = 1.0 / 6227020800.0;  // 1/13!
  p = p * r + 1.0 / 479001600.0;
  p = p * r + 1.0 / 39916800.0;
  p = p * r + 1.0 / 3628800.0;
  p = p * r + 1.0 / 362880.0;
  p = p * r + 1.0 / 40320.0;
  p = p * r + 1.0 / 5040.0;
  p = p * r + 1.0 / 720.0;
  p = p * r + 1.0 / 120.0;
  p = p * r + 1.0 / 24.0;
  p = p * r + 1.0 / 6.0;
  p = p * r + 0.5;
  p = p * r + 1.0;
  p = p * r + 1.0;
  // 2^k from the bits of sh: its low mantissa bits hold k (two's complement) + those of kShift
  uint64_t sb;
  std::memcpy(&sb, &sh, 8);
  sb = (sb - 0x4338000000000000ULL + 1023) << 52;
  double scale;
  std::memcpy(&scale, &sb, 8);
  return p * scale;
}

}  // namespace hea_fast::fastmath
