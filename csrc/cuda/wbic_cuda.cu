// CUDA mirror of the tempered PG-Gibbs WBIC sampler (csrc/cpu/wbic_cpu.cpp): one thread block per
// (subset, chain). Threads split the observations for the PG draws, the conditional precision
// A^T Omega A and the log-likelihood (shared-memory atomics); thread 0 does the d x d Cholesky,
// the Gaussian draw and the control-variate value. The PG sampler is the same header-only code as
// on the CPU (hea_fast/polyagamma.h, __host__ __device__).
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>
#include <vector>

#include "hea_fast/linalg.h"
#include "hea_fast/philox.h"
#include "hea_fast/polyagamma.h"
#include "runtime_api.h"
#include "wbic_api.h"

namespace hea_fast::cuda {
namespace {

constexpr int kMaxD = kWbicMaxK + 1;
constexpr int kThreads = 256;

__device__ double softplus_d(double x) { return (x > 0 ? x : 0.0) + log1p(exp(-fabs(x))); }

struct KernelArgs {
  const double* X;
  const double* y;
  const int64_t* idx;     // (S, kmax)
  const double* w_hat;    // (S, kmax+1)
  const double* grad;     // (S, kmax+1)
  const double* hess;     // (S, kmax+1, kmax+1)
  const int64_t* active;  // subsets to advance in this launch
  double* state_w;        // (S, C, kMaxD) chain state
  double* z_out;          // (n_active, C, count)
  double* l_out;
  int64_t n, p, kmax, C;
  int64_t t_start, count;  // iterations [t_start, t_start + count) (t counts burn-in too)
  int64_t burn_in;
  double beta, prior_var;
  uint64_t seed;
  pg::JStarConfig cfg;
  int fit_intercept;
};

__device__ double design(const KernelArgs& a, int64_t s, int k, int64_t i, int j) {
  if (a.fit_intercept) {
    if (j == 0) return 1.0;
    --j;
  }
  (void)k;
  return a.X[i * a.p + a.idx[s * a.kmax + j]];
}

__global__ void gibbs_kernel(KernelArgs a) {
  const int64_t ja = blockIdx.x / a.C, c = blockIdx.x % a.C;
  const int64_t s = a.active[ja];
  int k = 0;
  while (k < a.kmax && a.idx[s * a.kmax + k] >= 0) ++k;
  const int d = k + (a.fit_intercept ? 1 : 0);
  const int64_t dm = a.kmax + 1;
  __shared__ double P[kMaxD * kMaxD];
  __shared__ double w[kMaxD], atk[kMaxD], m[kMaxD];
  __shared__ double lsum;
  // stream keyed by the subset's columns and the chain (see hea_fast/wbic.h)
  const uint64_t stream = subset_key(a.idx + s * a.kmax, k) + static_cast<uint64_t>(c) * 0x9E3779B97F4A7C15ull;
  const uint64_t per_iter = static_cast<uint64_t>(a.n + d + 1);
  double* wstate = a.state_w + (s * a.C + c) * kMaxD;

  // A^T kappa
  if (threadIdx.x < kMaxD) atk[threadIdx.x] = 0.0;
  __syncthreads();
  {
    double loc[kMaxD];
    for (int j = 0; j < d; ++j) loc[j] = 0.0;
    for (int64_t i = threadIdx.x; i < a.n; i += blockDim.x) {
      const double kap = a.beta * (a.y[i] - 0.5);
      for (int j = 0; j < d; ++j) loc[j] += kap * design(a, s, k, i, j);
    }
    for (int j = 0; j < d; ++j) atomicAdd(&atk[j], loc[j]);
  }
  if (threadIdx.x == 0) {
    if (a.t_start == 0) {
      // start: draw from the tempered Laplace approximation around the mode
      for (int r = 0; r < d; ++r)
        for (int q = 0; q < d; ++q)
          P[r * kMaxD + q] = a.beta * a.hess[(s * dm + r) * dm + q] + (r == q ? 1.0 / a.prior_var : 0.0);
      Philox4x32 rng(a.seed, stream, ~0ull);
      double e[kMaxD];
      for (int j = 0; j < d; ++j) e[j] = rng.normal();
      const bool ok = linalg::cholesky(P, d, kMaxD);
      if (ok) linalg::solve_upper_t(P, d, kMaxD, e);
      for (int j = 0; j < d; ++j) wstate[j] = a.w_hat[s * dm + j] + (ok ? e[j] : 0.0);
    }
    for (int j = 0; j < d; ++j) w[j] = wstate[j];
  }
  __syncthreads();

  for (int64_t t = a.t_start; t < a.t_start + a.count; ++t) {
    for (int q = threadIdx.x; q < kMaxD * kMaxD; q += blockDim.x) P[q] = 0.0;
    if (threadIdx.x == 0) lsum = 0.0;
    __syncthreads();
    double loc[kMaxD * (kMaxD + 1) / 2];
    const int np = d * (d + 1) / 2;
    for (int q = 0; q < np; ++q) loc[q] = 0.0;
    for (int64_t i = threadIdx.x; i < a.n; i += blockDim.x) {
      double ai[kMaxD], psi = 0.0;
      for (int j = 0; j < d; ++j) {
        ai[j] = design(a, s, k, i, j);
        psi += ai[j] * w[j];
      }
      Philox4x32 rng(a.seed, stream, static_cast<uint64_t>(t) * per_iter + static_cast<uint64_t>(i));
      const double om = pg::sample_pg(a.cfg, psi, rng);
      int q = 0;
      for (int r = 0; r < d; ++r)
        for (int cc = 0; cc <= r; ++cc) loc[q++] += om * ai[r] * ai[cc];
    }
    {
      int q = 0;
      for (int r = 0; r < d; ++r)
        for (int cc = 0; cc <= r; ++cc) atomicAdd(&P[r * kMaxD + cc], loc[q++]);
    }
    __syncthreads();
    double cv = 0.0;
    if (threadIdx.x == 0) {
      for (int r = 0; r < d; ++r) P[r * kMaxD + r] += 1.0 / a.prior_var;
      if (!linalg::cholesky(P, d, kMaxD)) {
        for (int r = 0; r < d; ++r) P[r * kMaxD + r] = NAN;
      }
      for (int r = 0; r < d; ++r) m[r] = atk[r];
      linalg::solve_chol(P, d, kMaxD, m);
      Philox4x32 rng(a.seed, stream, static_cast<uint64_t>(t) * per_iter + static_cast<uint64_t>(a.n));
      double e[kMaxD];
      for (int r = 0; r < d; ++r) e[r] = rng.normal();
      linalg::solve_upper_t(P, d, kMaxD, e);
      for (int r = 0; r < d; ++r) w[r] = m[r] + e[r];
      // control variate  -q(w) + E[q | omega]  (l_hat cancels), with tr(H P^-1)
      const double* g = a.grad + s * dm;
      const double* H = a.hess + s * dm * dm;
      const double* wh = a.w_hat + s * dm;
      double col[kMaxD];
      const double qw = linalg::taylor_quadratic(H, static_cast<int>(dm), g, wh, w, d);
      const double qm = linalg::taylor_quadratic(H, static_cast<int>(dm), g, wh, m, d);
      const double tr = linalg::trace_solve(H, static_cast<int>(dm), P, d, kMaxD, col);
      cv = -qw + qm + 0.5 * tr;
    }
    __syncthreads();
    double ll = 0.0;
    for (int64_t i = threadIdx.x; i < a.n; i += blockDim.x) {
      double psi = 0.0;
      for (int j = 0; j < d; ++j) psi += design(a, s, k, i, j) * w[j];
      ll += softplus_d(psi) - a.y[i] * psi;
    }
    atomicAdd(&lsum, ll);
    __syncthreads();
    if (threadIdx.x == 0 && t >= a.burn_in) {
      const int64_t o = (ja * a.C + c) * a.count + (t - a.t_start);
      a.l_out[o] = lsum;
      a.z_out[o] = lsum + cv;
    }
    __syncthreads();
  }
  if (threadIdx.x == 0)
    for (int j = 0; j < d; ++j) wstate[j] = w[j];
}

template <class T>
struct DevBuf {
  T* p = nullptr;
  explicit DevBuf(size_t n) {
    if (n) check(cudaMalloc(&p, n * sizeof(T)), "cudaMalloc");
  }
  ~DevBuf() {
    if (p) cudaFree(p);
  }
  void upload(const T* src, size_t n, cudaStream_t st) {
    if (n) check(cudaMemcpyAsync(p, src, n * sizeof(T), cudaMemcpyHostToDevice, st), "cudaMemcpyAsync (to device)");
  }
  void download(T* dst, size_t n, cudaStream_t st) const {
    if (n) check(cudaMemcpyAsync(dst, p, n * sizeof(T), cudaMemcpyDeviceToHost, st), "cudaMemcpyAsync (to host)");
  }
  DevBuf(const DevBuf&) = delete;
  DevBuf& operator=(const DevBuf&) = delete;
};

}  // namespace

void wbic_subsets(const double* X, int64_t n, int64_t p, const double* y, const int64_t* idx, int64_t S, int64_t kmax,
                  const WBICOptions& opt, WBICSubsetResult* out, void* stream, int host_threads) {
  if (kmax > kWbicMaxK)
    throw std::invalid_argument("CUDA WBIC supports subsets of at most " + std::to_string(kWbicMaxK) + " columns");
  cudaStream_t st = static_cast<cudaStream_t>(stream);
  const int64_t dm = kmax + 1, C = opt.n_chains;
  std::vector<double> w_hat(S * dm), grad(S * dm), hess(S * dm * dm), lap(S);
  wbic_prepare(X, n, p, y, idx, S, kmax, opt, w_hat.data(), grad.data(), hess.data(), lap.data(), host_threads);
  const std::vector<int64_t> active = wbic_prescreen(lap.data(), S, opt, out);
  if (active.empty()) return;
  DevBuf<double> dX(n * p), dy(n), dwh(S * dm), dg(S * dm), dH(S * dm * dm), dstate(S * C * kMaxD);
  DevBuf<int64_t> didx(S * kmax), dact(active.size());
  dX.upload(X, n * p, st);
  dy.upload(y, n, st);
  dwh.upload(w_hat.data(), S * dm, st);
  dg.upload(grad.data(), S * dm, st);
  dH.upload(hess.data(), S * dm * dm, st);
  didx.upload(idx, S * kmax, st);

  KernelArgs a{};
  a.X = dX.p;
  a.y = dy.p;
  a.idx = didx.p;
  a.w_hat = dwh.p;
  a.grad = dg.p;
  a.hess = dH.p;
  a.state_w = dstate.p;
  a.n = n;
  a.p = p;
  a.kmax = kmax;
  a.C = C;
  a.burn_in = opt.burn_in;
  a.beta = opt.beta;
  a.prior_var = opt.prior_var;
  a.seed = opt.seed;
  a.cfg = pg::make_pg_config(opt.beta);
  a.fit_intercept = opt.fit_intercept ? 1 : 0;

  // host copies of each active subset's recorded series, grown by rounds
  std::vector<std::vector<double>> zs(S), ls(S);
  std::vector<int64_t> T(S, 0), t_next(S, 0);
  std::vector<int64_t> todo = active;
  int64_t want = opt.n_iter;
  while (!todo.empty()) {
    // all subsets in `todo` share t_next (they advance in lockstep)
    const int64_t t0 = t_next[todo[0]];
    const int64_t first = t0 == 0 ? 0 : t0;
    const int64_t count = (t0 == 0 ? opt.burn_in : 0) + want - T[todo[0]];
    dact.upload(todo.data(), todo.size(), st);
    DevBuf<double> dz(todo.size() * C * count), dl(todo.size() * C * count);
    a.active = dact.p;
    a.z_out = dz.p;
    a.l_out = dl.p;
    a.t_start = first;
    a.count = count;
    gibbs_kernel<<<static_cast<unsigned>(todo.size() * C), kThreads, 0, st>>>(a);
    check_last_error("wbic gibbs_kernel");
    std::vector<double> hz(todo.size() * C * count), hl(hz.size());
    dz.download(hz.data(), hz.size(), st);
    dl.download(hl.data(), hl.size(), st);
    synchronize(stream);
    const int64_t skip = t0 == 0 ? opt.burn_in : 0;  // burn-in slots were not written
    const int64_t rec = count - skip;
    std::vector<int64_t> again;
    int64_t need_max = 0;
    for (size_t j = 0; j < todo.size(); ++j) {
      const int64_t s = todo[j];
      const int64_t Told = T[s], Tn = Told + rec;
      std::vector<double> nz(C * Tn), nl(C * Tn);
      for (int64_t c = 0; c < C; ++c) {
        for (int64_t t = 0; t < Told; ++t) {
          nz[c * Tn + t] = zs[s][c * Told + t];
          nl[c * Tn + t] = ls[s][c * Told + t];
        }
        for (int64_t t = 0; t < rec; ++t) {
          nz[c * Tn + Told + t] = hz[(j * C + c) * count + skip + t];
          nl[c * Tn + Told + t] = hl[(j * C + c) * count + skip + t];
        }
      }
      zs[s].swap(nz);
      ls[s].swap(nl);
      T[s] = Tn;
      t_next[s] = t0 + count;
      double mean, se, rh;
      wbic_chain_stats(zs[s].data(), ls[s].data(), C, Tn, Tn, &mean, &se, &rh);
      out[s].wbic = mean;
      out[s].stderr = se;
      out[s].rhat = rh;
      out[s].n_iter = Tn;
      const int64_t next = wbic_next_length(Tn, se, opt);
      if (next > Tn) {
        need_max = std::max(need_max, next);
        again.push_back(s);
      }
    }
    // subsets extended together must share the same T; group them by their current T
    if (again.empty()) break;
    const int64_t Tref = T[again[0]];
    std::vector<int64_t> same;
    for (int64_t s : again)
      if (T[s] == Tref) same.push_back(s);
    todo.swap(same);
    want = need_max;
  }
}

}  // namespace hea_fast::cuda
