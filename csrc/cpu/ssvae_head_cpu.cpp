// CPU SSVAE classifier head (see ssvae_head.h). Rows go through the network a block at a time
// (16 rows in float32, 8 in float64), stored unit-major (act[j][row], rows along the SIMD lanes):
// each Linear layer is a register-tiled loop over kMR = 6 output units x 2 SIMD vectors of rows
// (12 accumulators), one weight broadcast per unit and one FMA per accumulator per input, with the
// weights packed tile by tile so a tile reads them as one stream; the 100 x 100 hidden layer of the
// released model runs at ~80 % of the FMA units' peak. Hidden widths are padded to a multiple of
// kMR with zero weights (a padded unit's Softplus(0) meets a zero weight column in the next layer,
// so it adds exactly nothing). Softplus runs over the block 6 vectors at a time (independent
// polynomial chains interleaved). Work items (row blocks, (row, background blocks) pairs, lattice
// tiles) are pulled dynamically by the threads; each is computed by the same instructions whatever
// the thread. Profile of the coalition driver (8 -> 100 -> 100 -> 1, one thread): ~58 % in the 100 x
// 100 tile loop (at the FMA units' peak), ~30 % in Softplus, the rest layer 0, inputs and sums.
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
typedef uint32_t vu8 __attribute__((vector_size(32)));

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
  std::vector<T> first_t;    // layer 0's weights transposed, (F, out[0]): first_t[j * out[0] + k] = W0(k, j)
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
    first_t.assign(static_cast<size_t>(F * out[0]), T(0));
    for (int64_t k = 0; k < h.size[1]; ++k)
      for (int64_t j = 0; j < F; ++j) first_t[j * out[0] + k] = static_cast<T>(h.weight[0][k * F + j]);
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
// float32: softplus(x) = max(x, 0) + log1p(t), t = exp(-|x|). For x > 20 (torch's threshold, where
// torch returns x) log1p(t) < 2.1e-9 is below half an ulp of x, so the sum is x exactly and needs no
// select. exp(a), a = -|x| clamped to >= -87.3 (t then stays a normal float; below that softplus is
// < 1.2e-38, flushed anyway): a = k ln2 + r, |r| <= ln2/2, e^r = 1 + r + r^2 Q(r) with Q a degree-4
// polynomial fitted for the least maximum relative error (3.1e-9 in float64 arithmetic), by Horner;
// 2^k from the exponent bits: the rounding constant 1.5 * 2^23 + 127 leaves k + 127 in the low bits
// of sh, and shifting them by 23 drops the constant's own bits. log1p(t), t in [0, 1]: 2 atanh(s),
// s = t / (2 + t) <= 1/3, atanh(s)/s = 1 + z R(z), z = s^2, R of degree 3 fitted likewise (4.5e-9),
// as s (2 + z 2R(z)) by Horner. Both far below float32 rounding (6e-8); tests/test_ssvae_head.py
// checks the result against libm. U vectors at a time: U independent dependency chains interleaved.
template <int U>
__attribute__((always_inline)) inline void softplus8(vf8* v) {
  constexpr float kLog2e = 1.44269504088896341f, kShift = 12583039.0f;  // 1.5 * 2^23 + 127
  constexpr float kLn2Hi = 0.693145751953125f, kLn2Lo = 1.428606765330187e-06f;
  const vf8 zero = {};
  vf8 x[U], a[U], sh[U], r[U], t[U];
  for (int u = 0; u < U; ++u) {
    x[u] = v[u];
    vi8 bits;  // -|x|: the sign bit set
    std::memcpy(&bits, &x[u], sizeof bits);
    bits |= INT32_MIN;
    std::memcpy(&a[u], &bits, sizeof bits);
    a[u] = a[u] > zero - 87.3f ? a[u] : zero - 87.3f;
    sh[u] = a[u] * kLog2e + kShift;
    const vf8 kd = sh[u] - kShift;
    r[u] = (a[u] - kd * kLn2Hi) - kd * kLn2Lo;
  }
  for (int u = 0; u < U; ++u) {  // e^r = 1 + r (1 + r Q(r)), Q of degree 4 fitted (minimax), by Horner
    vf8 q = r[u] * 0.0013814613f + 0.00836871f;
    q = q * r[u] + 0.04166839f;
    q = q * r[u] + 0.16666521f;
    q = q * r[u] + 0.49999994f;
    q = q * r[u] + 1.0f;
    const vf8 p = q * r[u] + 1.0f;
    vu8 sb;
    std::memcpy(&sb, &sh[u], sizeof sb);
    sb <<= 23;  // (k + 127) << 23: 2^k
    vf8 scale;
    std::memcpy(&scale, &sb, sizeof scale);
    t[u] = p * scale;
  }
  for (int u = 0; u < U; ++u) {  // log1p(t) = s (2 + z 2R(z)), R of degree 3 fitted (minimax) on [0, 1/9]
    const vf8 s = t[u] / (t[u] + 2.0f);
    const vf8 z = s * s;
    vf8 w = z * (2.0f * 0.14012229f) + 2.0f * 0.13999571f;
    w = w * z + 2.0f * 0.20010850f;
    w = w * z + 2.0f * 0.33333206f;
    w = w * z + 2.0f;
    const vf8 pos = x[u] > zero ? x[u] : zero;
    v[u] = pos + s * w;
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

// One block of kRows rows through layers first..L-1 of the head: cur (the block's inputs to layer
// `first`, in[first] x kNV vectors), a/b scratch (widest x kNV vectors each). Returns the logits'
// vectors (kNV of them: cur itself when first == L, else inside a or b).
template <class T>
__attribute__((always_inline)) inline const typename Simd<T>::V* forward_layers(const Net<T>& net, int first,
                                                                                const typename Simd<T>::V* cur,
                                                                                typename Simd<T>::V* a,
                                                                                typename Simd<T>::V* b) {
  using V = typename Simd<T>::V;
  V* nxt = a;
  for (int l = first; l < net.layers; ++l) {
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

// The whole head on one block: x0 (F x kNV vectors, standardised).
template <class T>
__attribute__((always_inline)) inline const typename Simd<T>::V* forward_block(const Net<T>& net,
                                                                               const typename Simd<T>::V* x0,
                                                                               typename Simd<T>::V* a,
                                                                               typename Simd<T>::V* b) {
  return forward_layers<T>(net, 0, x0, a, b);
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

// ---- coalitions -------------------------------------------------------------------------------
// A work item is one row x and up to kCoalitionBlocks blocks of background rows. For each block the
// 2^F coalitions are visited in bit-reversed order (feature 0's bit changes slowest), so that layer
// 0's pre-activation, accumulated over the features in the order 0..F-1 exactly as `tile` does,
// shares its prefixes: level j+1 = level j + input_j * W0(:, j) depends on bits 0..j of the
// coalition only, and a step recomputes the levels from the first feature whose bit changed (2 per
// step on average instead of F). The FMA sequence is the plain forward pass's, so every f(z) is
// bitwise what `head` gives for z. Per coalition, f is summed in float64 over the item's rows in
// order, and the items' sums in background order: the grouping depends on m only, never on threads.
constexpr int64_t kCoalitionBlocks = 4;  // background blocks per work item

template <class T>
struct CoalitionScratch {
  using V = typename Simd<T>::V;
  AlignedVecs<V> a, b, prefix, xin, bin;  // activations; layer-0 prefixes (F + 1 levels); inputs
  std::vector<double> acc;                // per coalition
  explicit CoalitionScratch(const Net<T>& net)
      : a(net.widest * kNV),
        b(net.widest * kNV),
        prefix((net.F + 1) * net.out[0] * kNV),
        xin(net.F * kNV),
        bin(net.F * kNV),
        acc(size_t(1) << net.F) {}
  T* x_lanes() { return reinterpret_cast<T*>(xin.data()); }  // [j * rows + row]
  T* b_lanes() { return reinterpret_cast<T*>(bin.data()); }
};

// All 2^F coalitions of one background block (nb real rows, weights wts or nullptr) into s.acc.
template <class T>
__attribute__((always_inline)) inline void coalition_block(const Net<T>& net, CoalitionScratch<T>& s, const double* wts,
                                                           int64_t nb) {
  using V = typename Simd<T>::V;
  static_assert(kNV == 2, "the prefix loop is written for two vectors per unit");
  const int64_t F = net.F, M = int64_t(1) << F, n0 = net.out[0];
  V* P = s.prefix.data();
  const V* xin = s.xin.data();
  const V* bin = s.bin.data();
  for (int64_t k = 0; k < n0; ++k) P[k * kNV] = P[k * kNV + 1] = V{} + net.b[0][k];
  for (int64_t c = 0; c < M; ++c) {
    int64_t S = 0;  // c bit-reversed over F bits
    for (int64_t j = 0; j < F; ++j) S |= ((c >> (F - 1 - j)) & 1) << j;
    const int64_t j0 = c == 0 ? 0 : F - 1 - __builtin_ctzll(static_cast<unsigned long long>(c));
    for (int64_t j = j0; j < F; ++j) {
      const V* in = ((S >> j) & 1) ? xin + j * kNV : bin + j * kNV;
      const V i0 = in[0], i1 = in[1];
      const V* src = P + j * n0 * kNV;
      V* dst = P + (j + 1) * n0 * kNV;
      const T* w = net.first_t.data() + j * n0;
      for (int64_t k = 0; k < n0; ++k) {
        dst[k * kNV] = src[k * kNV] + i0 * w[k];
        dst[k * kNV + 1] = src[k * kNV + 1] + i1 * w[k];
      }
    }
    V* h0 = P + F * n0 * kNV;
    if (net.layers > 1) softplus_block(h0, n0 * kNV);
    const T* z = reinterpret_cast<const T*>(forward_layers<T>(net, 1, h0, s.a.data(), s.b.data()));
    double sum = s.acc[S];
    if (wts == nullptr)
      for (int64_t r = 0; r < nb; ++r) sum += finish(static_cast<double>(z[r]), net.output);
    else
      for (int64_t r = 0; r < nb; ++r) sum += wts[r] * finish(static_cast<double>(z[r]), net.output);
    s.acc[S] = sum;
  }
}

HEA_CLONES void coalition_block_f32(const Net<float>& net, CoalitionScratch<float>& s, const double* wts, int64_t nb) {
  coalition_block<float>(net, s, wts, nb);
}
HEA_CLONES void coalition_block_f64(const Net<double>& net, CoalitionScratch<double>& s, const double* wts,
                                    int64_t nb) {
  coalition_block<double>(net, s, wts, nb);
}
inline void run_coalition_block(const Net<float>& net, CoalitionScratch<float>& s, const double* wts, int64_t nb) {
  coalition_block_f32(net, s, wts, nb);
}
inline void run_coalition_block(const Net<double>& net, CoalitionScratch<double>& s, const double* wts, int64_t nb) {
  coalition_block_f64(net, s, wts, nb);
}

template <class T>
void coalitions_impl(const double* x, int64_t n, const double* bg, int64_t m, const double* weights, const Head& h,
                     double* out, int threads) {
  const Net<T> net(h);
  constexpr int R = rows_of<T>();
  const int64_t F = net.F, M = int64_t(1) << F;
  // standardised once: rows of x and of the background
  std::vector<T> xs(static_cast<size_t>(n * F)), bs(static_cast<size_t>(m * F));
  for (int64_t i = 0; i < n * F; ++i) xs[i] = scaled(net, i % F, x[i]);
  for (int64_t i = 0; i < m * F; ++i) bs[i] = scaled(net, i % F, bg[i]);
  double total = static_cast<double>(m);
  if (weights != nullptr) {
    total = 0.0;
    for (int64_t r = 0; r < m; ++r) total += weights[r];
  }
  const int64_t blocks = (m + R - 1) / R, chunks = (blocks + kCoalitionBlocks - 1) / kCoalitionBlocks;
  // rows x in groups, so that the per-item sums stay below 2^22 doubles (32 MB)
  const int64_t group = std::max<int64_t>(1, (int64_t(1) << 22) / (chunks * M));
  std::vector<double> part;
  for (int64_t g0 = 0; g0 < n; g0 += group) {
    const int64_t gn = std::min(group, n - g0);
    part.assign(static_cast<size_t>(gn * chunks * M), 0.0);
    dynamic_chunks(
        gn * chunks, 1, threads, [&] { return CoalitionScratch<T>(net); },
        [&](CoalitionScratch<T>& s, int64_t lo, int64_t hi) {
          T* xl = s.x_lanes();
          T* bl = s.b_lanes();
          for (int64_t item = lo; item < hi; ++item) {
            const int64_t i = g0 + item / chunks, ch = item % chunks;
            for (int64_t j = 0; j < F; ++j)
              for (int r = 0; r < R; ++r) xl[j * R + r] = xs[i * F + j];
            std::fill(s.acc.begin(), s.acc.end(), 0.0);
            const int64_t b_hi = std::min(blocks, (ch + 1) * kCoalitionBlocks);
            for (int64_t blk = ch * kCoalitionBlocks; blk < b_hi; ++blk) {
              const int64_t r0 = blk * R, nb = std::min<int64_t>(R, m - r0);
              for (int64_t j = 0; j < F; ++j)
                for (int64_t r = 0; r < R; ++r) bl[j * R + r] = bs[(r0 + std::min(r, nb - 1)) * F + j];
              run_coalition_block(net, s, weights == nullptr ? nullptr : weights + r0, nb);
            }
            std::copy(s.acc.begin(), s.acc.end(), part.begin() + item * M);
          }
        });
    for (int64_t i = 0; i < gn; ++i)
      for (int64_t S = 0; S < M; ++S) {
        double sum = 0.0;
        for (int64_t ch = 0; ch < chunks; ++ch) sum += part[(i * chunks + ch) * M + S];
        out[(g0 + i) * M + S] = sum / total;
      }
  }
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

void coalition_values(const double* x, int64_t n, const double* bg, int64_t m, const double* weights, const Head& h,
                      double* out, int threads) {
  if (n <= 0 || m <= 0) return;
  h.float64 ? coalitions_impl<double>(x, n, bg, m, weights, h, out, threads)
            : coalitions_impl<float>(x, n, bg, m, weights, h, out, threads);
}

void lattice_scores(const lattice::Space& space, int64_t start, int64_t count, const double* props, const double* pair,
                    descriptors::Params prm, const int* cols, const uint8_t* allowed, const Head& h, double* out,
                    int threads) {
  if (count <= 0) return;
  h.float64 ? lattice_impl<double>(space, start, count, props, pair, prm, cols, allowed, h, out, threads)
            : lattice_impl<float>(space, start, count, props, pair, prm, cols, allowed, h, out, threads);
}

}  // namespace hea_fast::ssvae_head
