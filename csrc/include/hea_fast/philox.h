// Counter-based RNG (Philox4x32-10, Salmon et al. SC'11). A stream is keyed by (seed, a, b), e.g.
// (seed, subset, chain), and draws are a pure function of the key and a counter, so parallel results
// are identical for a given seed whatever the thread count. Usable from host and device code.
#pragma once
#include <cmath>
#include <cstdint>

#include "hea_fast/hd.h"

namespace hea_fast {

struct Philox4x32 {
  uint32_t key[2];
  uint32_t ctr[4];
  uint32_t out[4];
  int idx;

  HEA_HD Philox4x32(uint64_t seed, uint64_t stream_a, uint64_t stream_b = 0) {
    key[0] = static_cast<uint32_t>(seed);
    key[1] = static_cast<uint32_t>(seed >> 32);
    ctr[0] = 0;
    ctr[1] = 0;
    ctr[2] = static_cast<uint32_t>(stream_a) ^ static_cast<uint32_t>(stream_b >> 32) * 0x9E3779B9u;
    ctr[3] = static_cast<uint32_t>(stream_a >> 32) ^ static_cast<uint32_t>(stream_b);
    idx = 4;
  }

  HEA_HD static void mulhilo(uint32_t a, uint32_t b, uint32_t& hi, uint32_t& lo) {
    uint64_t p = static_cast<uint64_t>(a) * b;
    hi = static_cast<uint32_t>(p >> 32);
    lo = static_cast<uint32_t>(p);
  }

  HEA_HD void block() {
    uint32_t c0 = ctr[0], c1 = ctr[1], c2 = ctr[2], c3 = ctr[3];
    uint32_t k0 = key[0], k1 = key[1];
    for (int r = 0; r < 10; ++r) {
      uint32_t hi0, lo0, hi1, lo1;
      mulhilo(0xD2511F53u, c0, hi0, lo0);
      mulhilo(0xCD9E8D57u, c2, hi1, lo1);
      uint32_t n0 = hi1 ^ c1 ^ k0, n1 = lo1, n2 = hi0 ^ c3 ^ k1, n3 = lo0;
      c0 = n0;
      c1 = n1;
      c2 = n2;
      c3 = n3;
      k0 += 0x9E3779B9u;
      k1 += 0xBB67AE85u;
    }
    out[0] = c0;
    out[1] = c1;
    out[2] = c2;
    out[3] = c3;
    // advance the 64-bit counter held in ctr[0..1]
    if (++ctr[0] == 0) ++ctr[1];
    idx = 0;
  }

  HEA_HD uint32_t next_u32() {
    if (idx >= 4) block();
    return out[idx++];
  }

  // Uniform in the open interval (0, 1) with 53 random bits.
  HEA_HD double uniform() {
    uint64_t a = next_u32() >> 5, b = next_u32() >> 6;
    return (static_cast<double>(a * 67108864ull + b) + 0.5) * (1.0 / 9007199254740992.0);
  }

  // Standard normal by Box–Muller (one value per call; the pair's second value is discarded to keep
  // the stream position a simple function of the number of calls).
  HEA_HD double normal() {
    double u1 = uniform(), u2 = uniform();
    return std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586476925286766559 * u2);
  }
};

}  // namespace hea_fast
