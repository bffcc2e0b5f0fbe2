// Maresca–Curtin (2020) yield kernels on the CPU: batch τ_y0/ΔE_b, σ_y(T), and the fused
// whole-grid enumeration + reduction used by hea_fast.xyield.grid (see maresca_curtin.h).
#include "hea_fast/maresca_curtin.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <limits>
#include <vector>

#include "hea_fast/fastmath.h"
#include "hea_fast/parallel.h"

namespace hea_fast::mc {
namespace {

constexpr int64_t kTile = 2048;  // compositions per tile (fixed: sums are added in tile order)

struct Cand {
  double v;
  int64_t i;
};
// "a ranks before b": larger σ first, then smaller point index (a total order, so top-k is unique).
inline bool before(const Cand& a, const Cand& b) { return a.v > b.v || (a.v == b.v && a.i < b.i); }

// Fixed-capacity top-k: heap whose root is the worst kept candidate.
struct TopK {
  int cap = 0;
  std::vector<Cand> h;
  void push(double v, int64_t i) {
    if (cap <= 0) return;
    Cand c{v, i};
    auto worse_first = [](const Cand& a, const Cand& b) { return before(a, b); };
    if (static_cast<int>(h.size()) < cap) {
      h.push_back(c);
      std::push_heap(h.begin(), h.end(), worse_first);
    } else if (before(c, h.front())) {
      std::pop_heap(h.begin(), h.end(), worse_first);
      h.back() = c;
      std::push_heap(h.begin(), h.end(), worse_first);
    }
  }
  double threshold() const {
    return static_cast<int>(h.size()) < cap ? -std::numeric_limits<double>::infinity() : h.front().v;
  }
};

struct Acc {
  std::vector<int64_t> hist;
  std::vector<double> tmax;
  std::vector<int64_t> targ;
  std::vector<TopK> top;
  // per-block maxima of this thread over the chunk's block interval [b_first, b_first + n)
  int64_t b_first = -1;
  std::vector<double> bmax;
  std::vector<int64_t> barg;
};

inline void upd_max(double& m, int64_t& a, double v, int64_t i) {
  if (v > m || (v == m && i < a)) {
    m = v;
    a = i;
  }
}

}  // namespace

void tau0_deb_batch(const double* frac, int64_t n, int64_t E, const double* V, const double* C11, const double* C12,
                    const double* C44, const double* mu_override, const double* nu_override, const Constants& k,
                    double* tau0, double* deb, int threads) {
  parallel_for(n, threads, [&](int64_t lo, int64_t hi, int) {
    for (int64_t i = lo; i < hi; ++i) {
      double Vbar, delta, mu, nu;
      alloy(DenseFractions{E, frac + i * E}, V, C11, C12, C44, Vbar, delta, mu, nu);
      if (mu_override) mu = mu_override[i];
      if (nu_override) nu = nu_override[i];
      tau0_deb(Vbar, delta, mu, nu, k.alpha, tau0[i], deb[i]);
    }
  });
}

void sigma_paired(const double* tau0, const double* deb, const double* T, int64_t n, int model, const Constants& k,
                  double* sigma, int threads) {
  const double kbl = k.kB * std::log(k.eps0 / k.eps);
  parallel_for(n, threads, [&](int64_t lo, int64_t hi, int) {
    for (int64_t i = lo; i < hi; ++i) sigma[i] = k.taylor * tau_T(tau0[i], deb[i], T[i], kbl, model);
  });
}

namespace {

// exp(y) for -708 <= y <= 0 without libm calls or branches (fastmath::exp_poly: Cody–Waite
// reduction, degree-13 Taylor polynomial, scaling through the exponent bits; ~1 ulp), so loops over
// temperatures vectorize. Callers check the range per composition and fall back to std::exp.
inline double exp_nonpos(double y) { return fastmath::exp_poly(y); }

// σ_y of m compositions × nT temperatures from per-composition scalars: s0 = 3.067 τ_y0,
// kappa = k_B ln(ε̇₀/ε̇)/ΔE_b (x = κT) and c = κ^{2/3} (two-regime/continuous: x^{2/3} = c·T^{2/3}) or
// κ^{0.91}/0.55 (single fit). Tp[t] = T^{2/3} or T^{0.91}. With T ascending (`sorted`), the
// two-regime and continuous rules are low-T for t < t_switch, (continuous only) the tangent segment
// for t_switch <= t < t_tangent and high-T after, so each branch is a straight loop (and exp is only
// evaluated where it is used); otherwise the branch is selected per point. Same branch tests
// (κT <= x_s, κT < x_t) as tau_T. Compiled for AVX2 and baseline x86-64 (no FMA, so every clone
// rounds identically) and dispatched at load time.
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
__attribute__((target_clones("avx2", "default")))
#endif
void eval_tile(int64_t m, int nT, int model, bool sorted, const double* s0, const double* kappa, const double* c,
               const double* T, const double* Tp, double* out) {
  double Tmax = 0, Tpmax = 0;
  for (int t = 0; t < nT; ++t) {
    Tmax = T[t] > Tmax ? T[t] : Tmax;
    Tpmax = Tp[t] > Tpmax ? Tp[t] : Tpmax;
  }
  const double x_line_end = model == kContinuous ? kXTangent : kXSwitch;  // two-regime: empty segment
  for (int64_t i = 0; i < m; ++i) {
    const double a = s0[i], kap = kappa[i], ci = c[i];
    double* o = out + i * nT;
    if (model == kSingleFit) {
      if (ci * Tpmax <= 708.0) {
        for (int t = 0; t < nT; ++t) o[t] = a * exp_nonpos(-ci * Tp[t]);
      } else {  // exponent would underflow the fast path: rare (nearly pure element)
        for (int t = 0; t < nT; ++t) o[t] = a * std::exp(-ci * Tp[t]);
      }
      continue;
    }
    const double kx = kap / 0.55;
    const bool fast = kx * Tmax <= 708.0;
    if (sorted && fast) {
      int ts = 0;
      while (ts < nT && T[ts] * kap <= kXSwitch) ++ts;
      int tt = ts;
      while (tt < nT && T[tt] * kap < x_line_end) ++tt;
      for (int t = 0; t < ts; ++t) o[t] = a * (1.0 - ci * Tp[t]);
      for (int t = ts; t < tt; ++t) o[t] = a * (kLine0 - kTangentSlope * (T[t] * kap));
      for (int t = tt; t < nT; ++t) o[t] = a * exp_nonpos(-kx * T[t]);
    } else {
      for (int t = 0; t < nT; ++t) {
        const double x = T[t] * kap;
        o[t] = x <= kXSwitch    ? a * (1.0 - ci * Tp[t])
               : x < x_line_end ? a * (kLine0 - kTangentSlope * x)
                                : a * std::exp(-kx * T[t]);
      }
    }
  }
}

// Enumerates ranks [r0, r0 + n) (sequential successor walk) and evaluates σ_y at all temperatures
// into sig (n x nT); blk[i] receives the block index of each composition.
struct TileEval {
  const lattice::Space& space;
  const double *V, *C11, *C12, *C44, *T;
  int nT, model;
  double kbl, taylor, calpha;
  std::vector<double> Tp;
  bool sorted = true;
  TileEval(const lattice::Space& sp, const double* V_, const double* C11_, const double* C12_, const double* C44_,
           const double* T_, int nT_, int model_, const Constants& k)
      : space(sp), V(V_), C11(C11_), C12(C12_), C44(C44_), T(T_), nT(nT_), model(model_), Tp(nT_) {
    kbl = k.kB * std::log(k.eps0 / k.eps);
    taylor = k.taylor;
    calpha = std::cbrt(k.alpha);
    for (int t = 0; t < nT; ++t) Tp[t] = model == kSingleFit ? std::pow(T[t], 0.91) : std::cbrt(T[t]) * std::cbrt(T[t]);
    for (int t = 1; t < nT; ++t) sorted = sorted && T[t - 1] <= T[t];
  }
  struct Buf {
    std::vector<double> s0, kappa, c;
    std::vector<int64_t> blk;
    void resize(int64_t n) {
      s0.resize(n);
      kappa.resize(n);
      c.resize(n);
      blk.resize(n);
    }
  };
  void run(int64_t r0, int64_t n, Buf& b, double* sig) const {
    b.resize(n);
    const lattice::Block* base = space.blocks().data();
    double cf[lattice::kMaxK];
    space.for_each(r0, n, [&](int64_t r, const lattice::Block& bl, const int32_t* u) {
      const int64_t i = r - r0;
      lattice::unit_fractions(bl, u, cf);
      double Vbar, delta, mu, nu, tau0, deb;
      alloy(SparseFractions{bl.k, bl.elem, cf}, V, C11, C12, C44, Vbar, delta, mu, nu);
      tau0_deb_ca(Vbar, delta, mu, nu, calpha, tau0, deb);
      b.blk[i] = &bl - base;
      if (deb > 0.0) {
        const double kap = kbl / deb;
        b.s0[i] = taylor * tau0;
        b.kappa[i] = kap;
        if (model == kSingleFit) {
          b.c[i] = std::pow(kap, 0.91) * (1.0 / 0.55);
        } else {
          const double ck = std::cbrt(kap);
          b.c[i] = ck * ck;
        }
      } else {  // pure element: σ = 0 at every T (s0 = 0 zeroes both regimes)
        b.s0[i] = 0.0;
        b.kappa[i] = 0.0;
        b.c[i] = 0.0;
      }
    });
    eval_tile(n, nT, model, sorted, b.s0.data(), b.kappa.data(), b.c.data(), T, Tp.data(), sig);
  }
};

}  // namespace

void grid_reduce(const lattice::Space& space, int64_t rank_begin, int64_t rank_end, const double* V, const double* C11,
                 const double* C12, const double* C44, const Constants& k, const GridReduce& red, int threads) {
  const int64_t count = rank_end - rank_begin;
  if (count <= 0) return;
  const int nT = red.nT;
  const int nb2 = red.nbins + 2;
  const double inv_w = red.hist ? red.nbins / (red.h_hi - red.h_lo) : 0.0;
  const int64_t ntiles = (count + kTile - 1) / kTile;
  TileEval te(space, V, C11, C12, C44, red.T, nT, red.model, k);
  std::vector<double> tile_sum(red.tsum ? ntiles * nT : 0), tile_sum2(red.tsum2 ? ntiles * nT : 0);
  const int nthreads = static_cast<int>(std::min<int64_t>(resolve_threads(threads), ntiles));
  std::vector<Acc> acc(std::max(1, nthreads));

  // Dynamic scheduling: threads pull tiles from a shared counter, so a core slowed down by other
  // jobs does not hold up the chunk. Each thread still sees its tiles in increasing rank order and
  // every reduction merges with a total-order tie-break, so results do not depend on which thread
  // took which tile.
  std::atomic<int64_t> next_tile{0};
  const int64_t b_lo = red.bmax ? space.block_of(rank_begin) : 0;
  const int64_t b_n = red.bmax ? space.block_of(rank_end - 1) - b_lo + 1 : 0;
  auto worker = [&](int tid) {
    Acc& a = acc[tid];
    if (red.hist) a.hist.assign(static_cast<size_t>(nT) * nb2, 0);
    a.tmax.assign(nT, -std::numeric_limits<double>::infinity());
    a.targ.assign(nT, -1);
    if (red.topk > 0) {
      a.top.assign(nT, TopK{});
      for (auto& tk : a.top) {
        tk.cap = red.topk;
        tk.h.reserve(red.topk);
      }
    }
    if (red.bmax) {
      a.b_first = b_lo;
      a.bmax.assign(static_cast<size_t>(b_n) * nT, -std::numeric_limits<double>::infinity());
      a.barg.assign(static_cast<size_t>(b_n) * nT, -1);
    }
    std::vector<double> sig(static_cast<size_t>(kTile) * nT), thr(nT);
    std::vector<int64_t> bins(nT);
    TileEval::Buf buf;
    for (;;) {
      const int64_t tile = next_tile.fetch_add(1);
      if (tile >= ntiles) break;
      const int64_t s0 = rank_begin + tile * kTile, n = std::min(kTile, rank_end - s0);
      te.run(s0, n, buf, sig.data());
      double* ts = red.tsum ? &tile_sum[tile * nT] : nullptr;
      double* ts2 = red.tsum2 ? &tile_sum2[tile * nT] : nullptr;
      if (ts) std::fill(ts, ts + nT, 0.0);
      if (ts2) std::fill(ts2, ts2 + nT, 0.0);
      for (int t = 0; t < nT; ++t) thr[t] = red.topk > 0 ? a.top[t].threshold() : 0.0;
      for (int64_t i = 0; i < n; ++i) {
        const double* sv = &sig[i * nT];
        const int64_t p0 = (s0 + i) * nT;
        if (red.hist) {
          for (int t = 0; t < nT; ++t) {
            const double f = (sv[t] - red.h_lo) * inv_w;
            bins[t] = f < 0 ? 0 : (f >= red.nbins ? red.nbins + 1 : static_cast<int64_t>(f) + 1);
          }
          for (int t = 0; t < nT; ++t) ++a.hist[static_cast<size_t>(t) * nb2 + bins[t]];
        }
        if (ts)
          for (int t = 0; t < nT; ++t) {
            ts[t] += sv[t];
            ts2[t] += sv[t] * sv[t];
          }
        for (int t = 0; t < nT; ++t)  // ranks ascend: the first maximum wins ties
          if (sv[t] > a.tmax[t]) {
            a.tmax[t] = sv[t];
            a.targ[t] = p0 + t;
          }
        if (red.bmax) {
          double* bm = &a.bmax[(buf.blk[i] - a.b_first) * nT];
          int64_t* ba = &a.barg[(buf.blk[i] - a.b_first) * nT];
          for (int t = 0; t < nT; ++t)
            if (sv[t] > bm[t]) {
              bm[t] = sv[t];
              ba[t] = p0 + t;
            }
        }
        if (red.topk > 0)
          for (int t = 0; t < nT; ++t)
            if (sv[t] >= thr[t]) {
              a.top[t].push(sv[t], p0 + t);
              thr[t] = a.top[t].threshold();
            }
      }
    }
  };
  run_threads(nthreads, worker, [&] { next_tile.store(ntiles); });  // an error stops the other workers

  // ---- merge (fixed order => identical results for any thread count) ----
  for (int tid = 0; tid < nthreads; ++tid) {
    Acc& a = acc[tid];
    if (red.hist && !a.hist.empty())
      for (size_t i = 0; i < a.hist.size(); ++i) red.hist[i] += a.hist[i];
    if (red.tmax && !a.tmax.empty())
      for (int t = 0; t < nT; ++t)
        if (a.targ[t] >= 0) upd_max(red.tmax[t], red.targ[t], a.tmax[t], a.targ[t]);
    if (red.bmax && a.b_first >= 0) {
      int64_t nbl = static_cast<int64_t>(a.bmax.size()) / nT;
      for (int64_t i = 0; i < nbl; ++i)
        for (int t = 0; t < nT; ++t) {
          int64_t ai = a.barg[i * nT + t];
          if (ai >= 0)
            upd_max(red.bmax[(a.b_first + i) * nT + t], red.barg[(a.b_first + i) * nT + t], a.bmax[i * nT + t], ai);
        }
    }
  }
  if (red.tsum) {
    for (int64_t tile = 0; tile < ntiles; ++tile)
      for (int t = 0; t < nT; ++t) {
        red.tsum[t] += tile_sum[tile * nT + t];
        if (red.tsum2) red.tsum2[t] += tile_sum2[tile * nT + t];
      }
  }
  if (red.topk > 0) {
    for (int t = 0; t < nT; ++t) {
      std::vector<Cand> all;
      for (int tid = 0; tid < nthreads; ++tid)
        if (!acc[tid].top.empty()) all.insert(all.end(), acc[tid].top[t].h.begin(), acc[tid].top[t].h.end());
      std::sort(all.begin(), all.end(), before);
      for (int i = 0; i < red.topk; ++i) {
        bool have = i < static_cast<int>(all.size());
        red.topk_val[t * red.topk + i] = have ? all[i].v : -std::numeric_limits<double>::infinity();
        red.topk_idx[t * red.topk + i] = have ? all[i].i : -1;
      }
    }
  }
}

void grid_sigma(const lattice::Space& space, int64_t rank_begin, int64_t rank_end, const double* V, const double* C11,
                const double* C12, const double* C44, const double* T, int nT, int model, const Constants& k,
                double* out, int threads) {
  const int64_t count = rank_end - rank_begin;
  if (count <= 0) return;
  const int64_t ntiles = (count + kTile - 1) / kTile;
  TileEval te(space, V, C11, C12, C44, T, nT, model, k);
  parallel_items(ntiles, threads, [&](int64_t tile) {  // dynamic: tiles are independent
    TileEval::Buf buf;
    const int64_t s0 = rank_begin + tile * kTile, n = std::min(kTile, rank_end - s0);
    te.run(s0, n, buf, out + (s0 - rank_begin) * nT);
  });
}

void grid_points(const lattice::Space& space, const int64_t* points, int64_t n, const double* V, const double* C11,
                 const double* C12, const double* C44, const double* T, int nT, int model, const Constants& k,
                 double* out, int threads) {
  const double kbl = k.kB * std::log(k.eps0 / k.eps);
  parallel_for(
      n, threads,
      [&](int64_t lo, int64_t hi, int) {
        int32_t u[lattice::kMaxK];
        double c[lattice::kMaxK];
        for (int64_t i = lo; i < hi; ++i) {
          const int64_t r = points[i] / nT;
          const int t = static_cast<int>(points[i] % nT);
          const lattice::Block& b = space.block(space.unrank(r, u));
          lattice::unit_fractions(b, u, c);
          double Vbar, delta, mu, nu, tau0, deb;
          alloy(SparseFractions{b.k, b.elem, c}, V, C11, C12, C44, Vbar, delta, mu, nu);
          tau0_deb(Vbar, delta, mu, nu, k.alpha, tau0, deb);
          out[i] = k.taylor * tau_T(tau0, deb, T[t], kbl, model);
        }
      },
      256);
}

}  // namespace hea_fast::mc
