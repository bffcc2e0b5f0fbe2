// CUDA Maresca–Curtin (2020) kernels: the formulas are the host/device inline functions of
// hea_fast/maresca_curtin.h, so CPU and GPU evaluate the same expressions (parity tests in
// tests/test_maresca_curtin.py, marked gpu).
#include <cuda_runtime.h>

#include <cmath>
#include <stdexcept>
#include <string>

#include "hea_fast/maresca_curtin.h"
#include "maresca_curtin_api.h"
#include "runtime_api.h"

namespace hea_fast::cuda {
namespace {

constexpr int kThreads = 256;
inline unsigned grid_for(int64_t n) { return static_cast<unsigned>((n + kThreads - 1) / kThreads); }

struct GridParams {  // by value: 5 x 64 doubles = 2.5 KiB, within the kernel-parameter limit
  double V[kMaxGridElements], C11[kMaxGridElements], C12[kMaxGridElements], C44[kMaxGridElements];
  double T[kMaxGridTemperatures];
  int nT, model;
  double calpha, kbl, taylor;  // calpha = α^{1/3}, hoisted out of the per-thread work
};

__global__ void tau0_deb_kernel(const double* frac, int64_t n, int64_t E, const double* V, const double* C11,
                                const double* C12, const double* C44, const double* mu_o, const double* nu_o,
                                double alpha, double* tau0, double* deb) {
  int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  if (i >= n) return;
  double v, d, mu, nu;
  mc::alloy(mc::DenseFractions{E, frac + i * E}, V, C11, C12, C44, v, d, mu, nu);
  if (mu_o) mu = mu_o[i];
  if (nu_o) nu = nu_o[i];
  mc::tau0_deb(v, d, mu, nu, alpha, tau0[i], deb[i]);
}

__global__ void sigma_kernel(const double* tau0, const double* deb, const double* T, int64_t n, int model, double kbl,
                             double taylor, double* out) {
  int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  if (i >= n) return;
  out[i] = taylor * mc::tau_T(tau0[i], deb[i], T[i], kbl, model);
}

__global__ void grid_sigma_kernel(LatticeView v, int64_t rank_begin, int64_t count, GridParams p, double* out) {
  int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  if (i >= count) return;
  int32_t u[lattice::kMaxK];
  double c[lattice::kMaxK];
  const lattice::Block* b = d_unrank(v, rank_begin + i, u);
  lattice::unit_fractions(*b, u, c);
  double Vbar, delta, mu, nu, tau0, deb;
  mc::alloy(mc::SparseFractions{b->k, b->elem, c}, p.V, p.C11, p.C12, p.C44, Vbar, delta, mu, nu);
  mc::tau0_deb_ca(Vbar, delta, mu, nu, p.calpha, tau0, deb);
  double* o = out + i * p.nT;
  for (int t = 0; t < p.nT; ++t) o[t] = p.taylor * mc::tau_T(tau0, deb, p.T[t], p.kbl, p.model);
}

}  // namespace

void mc_tau0_deb(const double* frac, int64_t n, int64_t E, const double* V, const double* C11, const double* C12,
                 const double* C44, const double* mu, const double* nu, double* tau0, double* deb, void* stream) {
  if (n <= 0) return;
  mc::Constants k;
  tau0_deb_kernel<<<grid_for(n), kThreads, 0, static_cast<cudaStream_t>(stream)>>>(frac, n, E, V, C11, C12, C44, mu, nu,
                                                                                   k.alpha, tau0, deb);
  check_last_error("mc_tau0_deb");
}

void mc_sigma(const double* tau0, const double* deb, const double* T, int64_t n, int model, double* out, void* stream) {
  if (n <= 0) return;
  mc::Constants k;
  const double kbl = k.kB * std::log(k.eps0 / k.eps);
  sigma_kernel<<<grid_for(n), kThreads, 0, static_cast<cudaStream_t>(stream)>>>(tau0, deb, T, n, model, kbl, k.taylor,
                                                                                out);
  check_last_error("mc_sigma");
}

void mc_grid_sigma(const DeviceLattice& d, int64_t rank_begin, int64_t rank_end, const double* V, const double* C11,
                   const double* C12, const double* C44, const double* T, int nT, int model, double* out,
                   void* stream) {
  const int64_t count = rank_end - rank_begin;
  if (count <= 0) return;
  const int E = d.view().E;
  if (E > kMaxGridElements || nT > kMaxGridTemperatures || nT < 1)
    throw std::invalid_argument("mc_grid_sigma on CUDA supports at most 64 elements and 1..64 temperatures");
  GridParams p{};
  for (int e = 0; e < E; ++e) {
    p.V[e] = V[e];
    p.C11[e] = C11[e];
    p.C12[e] = C12[e];
    p.C44[e] = C44[e];
  }
  for (int t = 0; t < nT; ++t) p.T[t] = T[t];
  mc::Constants k;
  p.nT = nT;
  p.model = model;
  p.calpha = std::cbrt(k.alpha);
  p.kbl = k.kB * std::log(k.eps0 / k.eps);
  p.taylor = k.taylor;
  grid_sigma_kernel<<<grid_for(count), kThreads, 0, static_cast<cudaStream_t>(stream)>>>(d.view(), rank_begin, count, p,
                                                                                         out);
  check_last_error("mc_grid_sigma");
}

}  // namespace hea_fast::cuda
