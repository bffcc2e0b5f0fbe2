// CPU implementation of the fused smoothed-l0 masked weights (see hea_fast/masked_l0.h).
#include "hea_fast/masked_l0.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <utility>
#include <vector>

#include "hea_fast/parallel.h"

namespace hea_fast::masked_l0 {
namespace {
// Spawning std::threads costs tens of microseconds; the CNN's conv weights are 0.3k-18k entries,
// so blocks below this size stay on the calling thread.
constexpr int64_t kGrain = int64_t(1) << 16;

// Small inputs run inline, skipping parallel_for's bookkeeping. (This was first added because
// hardware_concurrency() cost ~9 us per call, more than the whole kernel on a 64x32x3x3 weight;
// resolve_threads now reads it once per process, but the inline path is still the cheapest.)
template <class F>
void run_blocks(int64_t n, int threads, F&& f) {
  if (n <= 2 * kGrain || threads == 1) {
    if (n > 0) f(int64_t(0), n, 0);
    return;
  }
  parallel_for(n, threads, std::forward<F>(f), kGrain);
}

// Restrict-qualified locals: inside the parallel_for lambda the pointers are captured by reference
// and GCC cannot prove they do not alias the outputs, so it refused to vectorise (-fopt-info-vec).
template <class T>
void bwd_full(const T* __restrict__ G, const T* __restrict__ theta, const T* __restrict__ ms, const T* __restrict__ mt,
              T eps, T* __restrict__ gth, T* __restrict__ gms, T* __restrict__ gmt, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    const T th = theta[i], s = ms[i], t = mt[i];
    const T rs = T(1) / (s * s + eps), rt = T(1) / (t * t + eps);
    const T gs = s * s * rs, gt = t * t * rt;
    const T dgs = T(2) * eps * s * rs * rs, dgt = T(2) * eps * t * rt * rt;
    gth[i] = G[i] * gs * gt;
    gms[i] = G[i] * th * dgs * gt;
    gmt[i] = G[i] * th * gs * dgt;
  }
}

template <class T>
void fwd_full(const T* __restrict__ theta, const T* __restrict__ ms, const T* __restrict__ mt, T eps, T* __restrict__ w,
              int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    const T s2 = ms[i] * ms[i], t2 = mt[i] * mt[i];
    w[i] = theta[i] * s2 * t2 / ((s2 + eps) * (t2 + eps));
  }
}
}  // namespace

template <class T>
void masked_weight_forward(const T* theta, const T* ms, const T* mt, T eps, T* w, int64_t n, int threads) {
  run_blocks(n, threads, [&](int64_t lo, int64_t hi, int) {
    if (ms && mt) {
      fwd_full(theta + lo, ms + lo, mt + lo, eps, w + lo, hi - lo);
    } else if (ms) {
      for (int64_t i = lo; i < hi; ++i) w[i] = theta[i] * gate_of(ms[i], eps);
    } else if (mt) {
      for (int64_t i = lo; i < hi; ++i) w[i] = theta[i] * gate_of(mt[i], eps);
    } else {
      std::copy(theta + lo, theta + hi, w + lo);
    }
  });
}

// The hot case (both masks, all three gradients) gets its own branch-free loop so the compiler
// vectorises it; one reciprocal per mask gives both the gate m^2 r and its slope 2 m eps r^2.
template <class T>
void masked_weight_backward(const T* grad_w, const T* theta, const T* ms, const T* mt, T eps, T* grad_theta, T* grad_ms,
                            T* grad_mt, int64_t n, int threads) {
  run_blocks(n, threads, [&](int64_t lo, int64_t hi, int) {
    if (ms && mt && grad_theta && grad_ms && grad_mt) {
      bwd_full(grad_w + lo, theta + lo, ms + lo, mt + lo, eps, grad_theta + lo, grad_ms + lo, grad_mt + lo, hi - lo);
      return;
    }
    for (int64_t i = lo; i < hi; ++i) {
      const T G = grad_w[i];
      T gs = T(1), gt = T(1), dgs = T(0), dgt = T(0);
      if (ms) {
        const T r = T(1) / (ms[i] * ms[i] + eps);
        gs = ms[i] * ms[i] * r;
        dgs = T(2) * eps * ms[i] * r * r;
      }
      if (mt) {
        const T r = T(1) / (mt[i] * mt[i] + eps);
        gt = mt[i] * mt[i] * r;
        dgt = T(2) * eps * mt[i] * r * r;
      }
      if (grad_theta) grad_theta[i] = G * gs * gt;
      if (grad_ms) grad_ms[i] = G * theta[i] * dgs * gt;
      if (grad_mt) grad_mt[i] = G * theta[i] * gs * dgt;
    }
  });
}

template <class T>
int64_t prox_soft_threshold(T* m, int64_t n, T lam, int threads) {
  // Per-block zero counts summed in block order: the count never depends on the thread count.
  std::vector<int64_t> zeros(
      static_cast<size_t>(n <= 2 * kGrain || threads == 1 ? 1 : std::max(1, resolve_threads(threads))), 0);
  run_blocks(n, threads, [&](int64_t lo, int64_t hi, int b) {
    int64_t z = 0;
    for (int64_t i = lo; i < hi; ++i) {
      T v = m[i];
      T a = std::fabs(v) - lam;
      T r = a > T(0) ? std::copysign(a, v) : (a == a ? T(0) : v);  // NaN stays NaN (a diverged mask shows)
      m[i] = r;
      z += (r == T(0));
    }
    zeros[static_cast<size_t>(b)] = z;
  });
  int64_t total = 0;
  for (int64_t z : zeros) total += z;
  return total;
}

template <class T>
void gate(const T* m, T eps, T* out, int64_t n, int threads) {
  run_blocks(n, threads, [&](int64_t lo, int64_t hi, int) {
    for (int64_t i = lo; i < hi; ++i) out[i] = gate_of(m[i], eps);
  });
}

#define HEA_INST(T)                                                                                             \
  template void masked_weight_forward<T>(const T*, const T*, const T*, T, T*, int64_t, int);                    \
  template void masked_weight_backward<T>(const T*, const T*, const T*, const T*, T, T*, T*, T*, int64_t, int); \
  template int64_t prox_soft_threshold<T>(T*, int64_t, T, int);                                                 \
  template void gate<T>(const T*, T, T*, int64_t, int);
HEA_INST(float)
HEA_INST(double)
#undef HEA_INST

}  // namespace hea_fast::masked_l0
