// Fused smoothed-l0 masked weights (Bi-RPT, Chen et al. "cross-quality few-shot transfer" for
// yield strength; the gate follows Louizos et al. 2018 / the authors' MaskedConv2d):
//
//   g_eps(m)  = m^2 / (m^2 + eps)                      (dimensionless gate in [0, 1))
//   g'_eps(m) = 2 m eps / (m^2 + eps)^2
//   W         = theta * g(m_s) * g(m_t)                (elementwise; m_t optional)
//
// Backward, given G = dL/dW:
//   dL/dtheta = G * g(m_s) * g(m_t)
//   dL/dm_s   = G * theta * g'(m_s) * g(m_t)
//   dL/dm_t   = G * theta * g(m_s) * g'(m_t)
//
// Proximal step of the l1 penalty gamma*|m| with step size lr (lam = lr*gamma):
//   m <- sign(m) * max(|m| - lam, 0)                   (soft threshold, in place)
//
// Plain C++17 over contiguous arrays; one pass over memory for each of forward / backward so the
// gates are never materialised. Every index is independent, so results do not depend on threads.
#pragma once
#include <cstdint>

#include "hea_fast/hd.h"

namespace hea_fast::masked_l0 {

// The gate g_eps(m) of one mask entry (host and device).
template <class T>
HEA_HD T gate_of(T m, T eps) {
  const T m2 = m * m;
  return m2 / (m2 + eps);
}

// w[i] = theta[i] * g(ms[i]) * g(mt[i]). ms or mt may be nullptr (that gate is then 1).
template <class T>
void masked_weight_forward(const T* theta, const T* ms, const T* mt, T eps, T* w, int64_t n, int threads);

// Any of grad_theta / grad_ms / grad_mt may be nullptr (not computed). grad_ms requires ms,
// grad_mt requires mt.
template <class T>
void masked_weight_backward(const T* grad_w, const T* theta, const T* ms, const T* mt, T eps, T* grad_theta, T* grad_ms,
                            T* grad_mt, int64_t n, int threads);

// In-place soft threshold m <- sign(m) max(|m| - lam, 0), NaN kept NaN; returns the number of exact
// zeros after the update (the sparsity count used for reporting).
template <class T>
int64_t prox_soft_threshold(T* m, int64_t n, T lam, int threads);

// Gate values g(m) (for sparsity reports): out[i] = g(m[i]).
template <class T>
void gate(const T* m, T eps, T* out, int64_t n, int threads);

}  // namespace hea_fast::masked_l0
