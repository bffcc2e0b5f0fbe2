// CPU SSVAE classifier head (see ssvae_head.h). Rows go through the network a block at a time
// (16 rows in float32, 8 in float64), stored unit-major (act[j][row], rows along the SIMD lanes):
// each Linear layer is a register-tiled loop over kMR = 6 output units x 2 SIMD vectors of rows
// (12 accumulators), one weight broadcast per unit and one FMA per accumulator per input, with the
// weights packed tile by tile so a tile reads them as one stream; the 100 x 100 hidden layer of the
// released model runs at ~80 % of the FMA units' peak. Hidden widths are padded to a multiple of
// kMR with zero weights (a padded unit's Softplus(0) meets a zero weight column in the next layer,
// so it adds exactly nothing). Softplus runs over the block 6 vectors at a time (independent
// polynomial chains interleaved). Work items (row blocks, (row, coalition) pairs, lattice tiles) are
// pulled dynamically by the threads; each is computed by the same instructions whatever the thread.
//
// The block forward pass is compiled twice on x86-64 (AVX2+FMA and baseline, target_clones) like
// the descriptor and screening kernels, and chosen at load time by CPU features.
#include "hea_fast/ssvae_head.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <vector>

#include "block_kernels.h"
#include "hea_fast/parallel.h"

#if defined(__SSE__)
#include <xmmintrin.h>
#endif

namespace hea_fast::ssvae_head {

namespace {

typedef float vf8 __attribute__((vector_size(32)));
typedef double vd4 __attribute__((vector_size(32)));
typedef int32_t vi8 __attribute__((vector_size(32)));

template <class T>
struct Simd;
template <>
struct Simd<float> {
  using V = vf8;
  static constexpr int L = 8;
};
template <>
struct Simd<double> {
  using V = vd4;
  static constexpr int L = 4;
};

constexpr int kNV = 2;  // SIMD vectors of rows per tile
constexpr int kMR = 6;  // output units per tile: kMR x kNV accumulators

template <class T>
constexpr int rows_of() {
  return kNV * Simd<T>::L;  // rows per block: 16 (float32), 8 (float64)
}

inline int64_t round_up(int64_t a, int64_t b) { return (a + b - 1) / b * b; }

// The head in the compute precision, hidden widths padded to kMR.
template <class T>
struct Net {
  int layers = 0;
  int64_t F = 0;
  int64_t in[kMaxLayers] = {}, out[kMaxLayers] = {};  // padded: in[l] = out[l-1]
  std::vector<T> W[kMaxLayers], b[kMaxLayers];
  std::vector<T> mean, std;  // empty: raw inputs
  int64_t widest = 0;
  Output output = Output::kProbability;

  explicit Net(const Head& h) : layers(h.layers), F(h.size[0]), output(h.output) {
    for (int l = 0; l < layers; ++l) {
      const int64_t n_out = h.size[l + 1], n_in = h.size[l];
      in[l] = l == 0 ? F : out[l - 1];
      out[l] = l + 1 == layers ? n_out : round_up(n_out, kMR);
      W[l].assign(static_cast<size_t>(out[l] * in[l]), T(0));
      b[l].assign(static_cast<size_t>(out[l]), T(0));
      // packed by tile: the kMR units of a tile interleaved per input j (Wp[k0 * in + j * kMR + r]), so
      // a tile reads its weights as one contiguous stream; single-unit tiles (a last layer) row-major
      for (int64_t k = 0; k < n_out; ++k) {
        const int64_t w = out[l] % kMR == 0 ? kMR : 1, k0 = k / w * w, r = k - k0;
        for (int64_t j = 0; j < n_in; ++j) W[l][k0 * in[l] + j * w + r] = static_cast<T>(h.weight[l][k * n_in + j]);
        b[l][k] = static_cast<T>(h.bias[l][k]);
      }
      widest = std::max(widest, out[l]);
    }
    widest = std::max(widest, F);
    if (h.mean != nullptr) {
      mean.resize(static_cast<size_t>(F));
      std.resize(static_cast<size_t>(F));
      for (int64_t j = 0; j < F; ++j) {
        mean[j] = static_cast<T>(h.mean[j]);
        std[j] = static_cast<T>(h.std[j]);
      }
    }
  }
};

// ---- Softplus over a block ----------------------------------------------------------------------
// float32: softplus(x) = x for x > 20 (torch's threshold), else max(x, 0) + log1p(exp(-|x|)).
// exp(a), a <= 0: a = k ln2 + r, |r| <= ln2/2, e^r = 1 + r + r^2 Q(r) with Q a degree-4 polynomial
// fitted for the least maximum relative error (3.1e-9 in float64 arithmetic), 2^k via the exponent
// bits (0 below -87, where float32 would be subnormal); log1p(t), t in [0, 1]: 2 atanh(s),
// s = t / (2 + t) <= 1/3, atanh(s)/s = 1 + z R(z), z = s^2, R of degree 3 fitted likewise (4.5e-9).
// Both far below float32 rounding (6e-8); tests/test_ssvae_head.py checks the result against libm.
// U vectors at a time: the U dependency chains (each ~30 operations deep) are interleaved.
template <int U>
__attribute__((always_inline)) inline void softplus8(vf8* v) {
  constexpr float kLog2e = 1.44269504088896341f, kShift = 12582912.0f;  // 1.5 * 2^23
  constexpr float kLn2Hi = 0.693145751953125f, kLn2Lo = 1.428606765330187e-06f;
  const vf8 zero = {};
  vf8 x[U], a[U], sh[U], r[U], p[U], t[U], s[U], z[U], q[U];
  for (int u = 0; u < U; ++u) {
    x[u] = v[u];
    vi8 bits;  // -|x|: the sign bit set
    std::memcpy(&bits, &x[u], sizeof bits);
    bits |= INT32_MIN;
    std::memcpy(&a[u], &bits, sizeof bits);
    sh[u] = a[u] * kLog2e + kShift;
  }
  for (int u = 0; u < U; ++u) {
    const vf8 kd = sh[u] - kShift;
    r[u] = (a[u] - kd * kLn2Hi) - kd * kLn2Lo;
  }
  for (int u = 0; u < U; ++u) {  // e^r = 1 + r + r^2 Q(r), Q of degree 4 fitted (minimax), by Estrin
    const vf8 r2 = r[u] * r[u];
    const vf8 q01 = r[u] * 0.16666521f + 0.49999994f, q23 = r[u] * 0.00836871f + 0.04166839f;
    const vf8 q = (q01 + r2 * q23) + (r2 * r2) * 0.0013814613f;
    p[u] = (r[u] + 1.0f) + r2 * q;
  }
  for (int u = 0; u < U; ++u) {
    vi8 sb;
    std::memcpy(&sb, &sh[u], sizeof sb);
    sb = (sb - 0x4B400000 + 127) << 23;
    vf8 scale;
    std::memcpy(&scale, &sb, sizeof scale);
    t[u] = p[u] * scale;
    vi8 tb, keep = a[u] >= zero - 87.0f;  // lane masks: all ones where kept
    std::memcpy(&tb, &t[u], sizeof tb);
    tb &= keep;
    std::memcpy(&t[u], &tb, sizeof tb);
    s[u] = t[u] / (t[u] + 2.0f);
    z[u] = s[u] * s[u];
  }
  for (int u = 0; u < U; ++u) {  // atanh(s)/s = 1 + z R(z), R of degree 3 fitted (minimax) on [0, 1/9]
    const vf8 r01 = z[u] * 0.20010850f + 0.33333206f, r23 = z[u] * 0.14012229f + 0.13999571f;
    q[u] = r01 + (z[u] * z[u]) * r23;
  }
  for (int u = 0; u < U; ++u) {
    const vf8 l1p = 2.0f * s[u] + 2.0f * s[u] * z[u] * q[u];
    const vf8 pos = (x[u] - a[u]) * 0.5f;  // max(x, 0) = (x + |x|) / 2, exactly
    const vf8 y = pos + l1p;
    v[u] = x[u] > zero + 20.0f ? x[u] : y;
  }
}

__attribute__((always_inline)) inline void softplus_block(vf8* v, int64_t nv) {
  int64_t i = 0;
  for (; i + 6 <= nv; i += 6) softplus8<6>(v + i);
  for (; i < nv; ++i) softplus8<1>(v + i);
}

inline void softplus_block(vd4* v, int64_t nv) {
  double* d = reinterpret_cast<double*>(v);
  for (int64_t i = 0; i < nv * 4; ++i) d[i] = d[i] > 20.0 ? d[i] : std::log1p(std::exp(d[i]));
}

// ---- Linear layer over a block -----------------------------------------------------------------
// out[k][row] = b[k] + Σ_j W[k][j] act[j][row] for the MR units of a tile (act/out: kNV vectors
// per unit; W packed as W[j * MR + r]).
template <class T, int MR>
__attribute__((always_inline)) inline void tile(const T* W, const T* b, const typename Simd<T>::V* act, int64_t n_in,
                                                typename Simd<T>::V* out) {
  using V = typename Simd<T>::V;
  V acc[MR][kNV];
  for (int r = 0; r < MR; ++r)
    for (int v = 0; v < kNV; ++v) acc[r][v] = V{} + b[r];
  for (int64_t j = 0; j < n_in; ++j) {
    V a[kNV];
    for (int v = 0; v < kNV; ++v) a[v] = act[j * kNV + v];
    for (int r = 0; r < MR; ++r) {
      const T w = W[j * MR + r];
      for (int v = 0; v < kNV; ++v) acc[r][v] += a[v] * w;
    }
  }
  for (int r = 0; r < MR; ++r)
    for (int v = 0; v < kNV; ++v) out[r * kNV + v] = acc[r][v];
}

// One block of kRows rows through the whole head: x0 (F x kNV vectors, standardised), a/b scratch
// (widest x kNV vectors each). Returns the logits' vectors (kNV of them, inside a or b).
template <class T>
__attribute__((always_inline)) inline const typename Simd<T>::V* forward_block(const Net<T>& net,
                                                                               const typename Simd<T>::V* x0,
                                                                               typename Simd<T>::V* a,
                                                                               typename Simd<T>::V* b) {
  using V = typename Simd<T>::V;
  const V* cur = x0;
  V* nxt = a;
  for (int l = 0; l < net.layers; ++l) {
    const T* W = net.W[l].data();
    const T* bias = net.b[l].data();
    const int64_t n_in = net.in[l], n_out = net.out[l];
    int64_t k = 0;
    if (n_out % kMR == 0)
      for (; k < n_out; k += kMR) tile<T, kMR>(W + k * n_in, bias + k, cur, n_in, nxt + k * kNV);
    else
      for (; k < n_out; ++k) tile<T, 1>(W + k * n_in, bias + k, cur, n_in, nxt + k * kNV);
    if (l + 1 < net.layers) softplus_block(nxt, n_out * kNV);
    cur = nxt;
    nxt = nxt == a ? b : a;
  }
  return cur;
}

HEA_CLONES const vf8* forward_f32(const Net<float>& net, const vf8* x0, vf8* a, vf8* b) {
  return forward_block<float>(net, x0, a, b);
}
HEA_CLONES const vd4* forward_f64(const Net<double>& net, const vd4* x0, vd4* a, vd4* b) {
  return forward_block<double>(net, x0, a, b);
}
inline const vf8* forward(const Net<float>& net, const vf8* x0, vf8* a, vf8* b) { return forward_f32(net, x0, a, b); }
inline const vd4* forward(const Net<double>& net, const vd4* x0, vd4* a, vd4* b) { return forward_f64(net, x0, a, b); }

// Flush-to-zero and denormals-are-zero on this thread while alive (x86): a hidden unit far in
// Softplus' tail times a small weight would otherwise make subnormal products, which cost
// microcode assists; the values involved are below 1e-37, far under float32 rounding of the sums.
class FlushDenormals {
 public:
#if defined(__SSE__)
  FlushDenormals() : saved_(_mm_getcsr()) { _mm_setcsr(saved_ | 0x8040u); }
  ~FlushDenormals() { _mm_setcsr(saved_); }

 private:
  unsigned saved_;
#endif
};

inline double finish(double logit, Output o) { return o == Output::kLogit ? logit : 1.0 / (1.0 + std::exp(-logit)); }

// 32-byte aligned storage for n SIMD vectors (std::vector<V> would drop the vector type's alignment:
// GCC ignores attributes on template arguments).
template <class V>
class AlignedVecs {
 public:
  explicit AlignedVecs(int64_t n) : raw_(static_cast<size_t>(n) * sizeof(V) + 32) {
    const auto p = reinterpret_cast<std::uintptr_t>(raw_.data());
    data_ = reinterpret_cast<V*>((p + 31) & ~std::uintptr_t(31));
  }
  V* data() { return data_; }

 private:
  std::vector<unsigned char> raw_;
  V* data_;
};

// Per-thread scratch: the input block and two activation blocks.
template <class T>
struct Scratch {
  using V = typename Simd<T>::V;
  AlignedVecs<V> x0, a, b;
  explicit Scratch(const Net<T>& net) : x0(net.F * kNV), a(net.widest * kNV), b(net.widest * kNV) {}
  T* in() { return reinterpret_cast<T*>(x0.data()); }  // in()[j * rows + row]
  // the block's logits (rows of the block in order), inside a or b
  const T* run(const Net<T>& net) { return reinterpret_cast<const T*>(forward(net, x0.data(), a.data(), b.data())); }
};

// Input value j of a row: cast to the compute precision, then standardised as torch does.
template <class T>
inline T scaled(const Net<T>& net, int64_t j, double v) {
  const T t = static_cast<T>(v);
  return net.mean.empty() ? t : (t - net.mean[j]) / net.std[j];
}

// Threads pull chunks of `chunk` consecutive items [lo, hi) from a shared counter (dynamic
// scheduling: on a shared machine a descheduled thread does not hold the others up) and call
// f(work, lo, hi) with their own `work = make()`, made once per thread. Items are independent, so
// results never depend on the thread count.
template <class Make, class F>
void dynamic_chunks(int64_t n, int64_t chunk, int threads, Make&& make, F&& f) {
  if (n <= 0) return;
  const int64_t chunks = (n + chunk - 1) / chunk;
  const int t = static_cast<int>(std::min<int64_t>(resolve_threads(threads), chunks));
  std::atomic<int64_t> next{0};
  run_threads(
      t,
      [&](int) {
        const FlushDenormals ftz;
        auto work = make();
        for (int64_t c = next.fetch_add(1); c < chunks; c = next.fetch_add(1))
          f(work, c * chunk, std::min(n, (c + 1) * chunk));
      },
      [&] { next.store(chunks); });
}

template <class T>
void head_impl(const double* e, int64_t n, const Head& h, double* out, int threads) {
  const Net<T> net(h);
  constexpr int R = rows_of<T>();
  const int64_t F = net.F, blocks = (n + R - 1) / R;
  dynamic_chunks(
      blocks, 64, threads, [&] { return Scratch<T>(net); },
      [&](Scratch<T>& s, int64_t lo, int64_t hi) {
        T* x = s.in();
        for (int64_t blk = lo; blk < hi; ++blk) {
          const int64_t r0 = blk * R, nb = std::min<int64_t>(R, n - r0);
          for (int64_t j = 0; j < F; ++j)
            for (int64_t r = 0; r < R; ++r) x[j * R + r] = scaled(net, j, e[(r0 + std::min(r, nb - 1)) * F + j]);
          const T* z = s.run(net);
          for (int64_t r = 0; r < nb; ++r) {
            bool finite = true;
            for (int64_t j = 0; j < F; ++j) finite &= std::isfinite(e[(r0 + r) * F + j]);
            out[r0 + r] =
                finite ? finish(static_cast<double>(z[r]), net.output) : std::numeric_limits<double>::quiet_NaN();
          }
        }
      });
}

template <class T>
void coalitions_impl(const double* x, int64_t n, const double* bg, int64_t m, const Head& h, double* out, int threads) {
  const Net<T> net(h);
  constexpr int R = rows_of<T>();
  const int64_t F = net.F, M = int64_t(1) << F;
  // standardised once: rows of x and of the background
  std::vector<T> xs(static_cast<size_t>(n * F)), bs(static_cast<size_t>(m * F));
  for (int64_t i = 0; i < n * F; ++i) xs[i] = scaled(net, i % F, x[i]);
  for (int64_t i = 0; i < m * F; ++i) bs[i] = scaled(net, i % F, bg[i]);
  dynamic_chunks(
      n * M, 1, threads, [&] { return Scratch<T>(net); },
      [&](Scratch<T>& s, int64_t lo, int64_t hi) {
        T* in = s.in();
        for (int64_t item = lo; item < hi; ++item) {
          const int64_t i = item / M, S = item % M;
          const T* xi = xs.data() + i * F;
          double sum = 0.0;
          for (int64_t r0 = 0; r0 < m; r0 += R) {
            const int64_t nb = std::min<int64_t>(R, m - r0);
            for (int64_t j = 0; j < F; ++j) {
              T* col = in + j * R;
              if ((S >> j) & 1) {
                for (int r = 0; r < R; ++r) col[r] = xi[j];
              } else {
                for (int64_t r = 0; r < R; ++r) col[r] = bs[(r0 + std::min(r, nb - 1)) * F + j];
              }
            }
            const T* z = s.run(net);
            for (int64_t r = 0; r < nb; ++r) sum += finish(static_cast<double>(z[r]), net.output);
          }
          out[item] = sum / static_cast<double>(m);
        }
      });
}

// ---- lattice ranks -> descriptors -> head ------------------------------------------------------
using descriptors::detail::kBlock;
constexpr int64_t kTile = 1 << 12;  // ranks per work item (threads pull tiles dynamically)
static_assert(kBlock % rows_of<float>() == 0 && kBlock % rows_of<double>() == 0, "head blocks tile kBlock");

template <class T>
void lattice_impl(const lattice::Space& space, int64_t start, int64_t count, const double* props, const double* pair,
                  descriptors::Params prm, const int* cols, const uint8_t* allowed, const Head& h, double* out,
                  int threads) {
  const Net<T> net(h);
  constexpr int R = rows_of<T>();
  constexpr int B = kBlock;
  const int64_t F = net.F, E = space.n_palette(), kmax = space.max_k();
  const unsigned need = descriptors::needs_of(cols, static_cast<int>(F));
  const int64_t tiles = (count + kTile - 1) / kTile;
  const double nan = std::numeric_limits<double>::quiet_NaN();
  struct Work {
    std::vector<double> c, sum, w;
    Scratch<T> s;
  };
  dynamic_chunks(
      tiles, 1, threads,
      [&] {
        return Work{std::vector<double>(static_cast<size_t>(kmax * B)), std::vector<double>(B),
                    std::vector<double>(static_cast<size_t>(descriptors::detail::kBlockScratch * B)), Scratch<T>(net)};
      },
      [&](Work& wk, int64_t lo, int64_t hi) {
        std::vector<double>& c = wk.c;
        std::vector<double>& sum = wk.sum;
        std::vector<double>& w = wk.w;
        Scratch<T>& s = wk.s;
        T* in = s.in();
        int64_t rank0 = 0;
        int nb = 0;
        const lattice::Block* cur = nullptr;
        auto flush = [&]() {
          if (nb == 0) return;
          double* dst = out + (rank0 - start);
          bool ok = true;
          for (int j = 0; j < cur->k; ++j) ok &= allowed[cur->elem[j]] != 0;
          if (!ok) {
            std::fill(dst, dst + nb, nan);
            nb = 0;
            return;
          }
          descriptors::detail::units_to_fractions(c.data(), cur->k, nb, static_cast<double>(cur->N), sum.data());
          const double* o =
              descriptors::detail::block_compute(c.data(), cur->k, cur->elem, props, pair, E, prm, need, w.data());
          for (int b0 = 0; b0 < nb; b0 += R) {
            for (int64_t j = 0; j < F; ++j)
              for (int r = 0; r < R; ++r) in[j * R + r] = scaled(net, j, o[cols[j] * B + b0 + r]);
            const T* z = s.run(net);
            for (int r = 0; r < R && b0 + r < nb; ++r) {
              bool finite = true;
              for (int64_t j = 0; j < F; ++j) finite &= std::isfinite(o[cols[j] * B + b0 + r]);
              dst[b0 + r] = finite ? finish(static_cast<double>(z[r]), net.output) : nan;
            }
          }
          nb = 0;
        };
        const int64_t r_lo = start + lo * kTile, r_hi = std::min(start + count, start + hi * kTile);
        descriptors::detail::gather_unit_blocks(space, r_lo, r_hi, c.data(), nb, cur, rank0, flush);
      });
}

}  // namespace

void head(const double* e, int64_t n, const Head& h, double* out, int threads) {
  if (n <= 0) return;
  h.float64 ? head_impl<double>(e, n, h, out, threads) : head_impl<float>(e, n, h, out, threads);
}

void coalition_values(const double* x, int64_t n, const double* bg, int64_t m, const Head& h, double* out,
                      int threads) {
  if (n <= 0 || m <= 0) return;
  h.float64 ? coalitions_impl<double>(x, n, bg, m, h, out, threads)
            : coalitions_impl<float>(x, n, bg, m, h, out, threads);
}

void lattice_scores(const lattice::Space& space, int64_t start, int64_t count, const double* props, const double* pair,
                    descriptors::Params prm, const int* cols, const uint8_t* allowed, const Head& h, double* out,
                    int threads) {
  if (count <= 0) return;
  h.float64 ? lattice_impl<double>(space, start, count, props, pair, prm, cols, allowed, h, out, threads)
            : lattice_impl<float>(space, start, count, props, pair, prm, cols, allowed, h, out, threads);
}

}  // namespace hea_fast::ssvae_head
