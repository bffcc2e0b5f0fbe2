// Small dense linear algebra for the tempered Pólya-Gamma Gibbs samplers of WBIC
// (csrc/cpu/wbic_cpu.cpp and its CUDA mirror csrc/cuda/wbic_cuda.cu): the Cholesky factorisation
// P = L Lᵀ of a symmetric positive definite d × d matrix (Golub & Van Loan, Matrix Computations,
// 4th ed., Alg. 4.2.1, the row-oriented "Cholesky–Crout" order), forward and back substitution,
// and tr(H P⁻¹) by d pairs of solves. Dimensionless; matrices are row-major with leading
// dimension `ld` (ld = d on the CPU, the fixed width of the shared-memory arrays on the GPU).
// Plain loops in a fixed order, no allocation, no exceptions: host and device run the same
// arithmetic in the same order.
#pragma once

#include <cmath>

#include "hea_fast/hd.h"

namespace hea_fast::linalg {

// In place: the lower triangle of M (d × d, leading dimension ld) becomes L with M = L Lᵀ; the
// strict upper triangle is not read or written. Returns false (M partly overwritten) when M is
// not positive definite to rounding.
HEA_HD bool cholesky(double* M, int d, int ld) {
  for (int j = 0; j < d; ++j) {
    double s = M[j * ld + j];
    for (int k = 0; k < j; ++k) s -= M[j * ld + k] * M[j * ld + k];
    if (!(s > 0)) return false;
    const double ljj = sqrt(s);
    M[j * ld + j] = ljj;
    for (int i = j + 1; i < d; ++i) {
      double t = M[i * ld + j];
      for (int k = 0; k < j; ++k) t -= M[i * ld + k] * M[j * ld + k];
      M[i * ld + j] = t / ljj;
    }
  }
  return true;
}

// Solves L x = b in place (x holds b on entry); L from `cholesky`.
HEA_HD void solve_lower(const double* L, int d, int ld, double* x) {
  for (int i = 0; i < d; ++i) {
    double s = x[i];
    for (int k = 0; k < i; ++k) s -= L[i * ld + k] * x[k];
    x[i] = s / L[i * ld + i];
  }
}

// Solves Lᵀ x = b in place (x holds b on entry); with e ~ N(0, I), Lᵀ⁻¹ e ~ N(0, P⁻¹).
HEA_HD void solve_upper_t(const double* L, int d, int ld, double* x) {
  for (int i = d - 1; i >= 0; --i) {
    double s = x[i];
    for (int k = i + 1; k < d; ++k) s -= L[k * ld + i] * x[k];
    x[i] = s / L[i * ld + i];
  }
}

// Solves P x = b in place with P = L Lᵀ.
HEA_HD void solve_chol(const double* L, int d, int ld, double* x) {
  solve_lower(L, d, ld, x);
  solve_upper_t(L, d, ld, x);
}

// tr(H P⁻¹) for H (d × d, leading dimension ldh) and P = L Lᵀ, column j of P⁻¹ by two triangular
// solves at a time. col: scratch of d doubles.
HEA_HD double trace_solve(const double* H, int ldh, const double* L, int d, int ld, double* col) {
  double tr = 0.0;
  for (int j = 0; j < d; ++j) {
    for (int k = 0; k < d; ++k) col[k] = k == j ? 1.0 : 0.0;
    solve_chol(L, d, ld, col);
    for (int k = 0; k < d; ++k) tr += H[j * ldh + k] * col[k];
  }
  return tr;
}

// The second-order Taylor increment (x − x0)ᵀ (g + H (x − x0) / 2) of a function with gradient g
// and Hessian H (leading dimension ldh) at x0: the quadratic q of the WBIC control variate.
HEA_HD double taylor_quadratic(const double* H, int ldh, const double* g, const double* x0, const double* x, int d) {
  double q = 0.0;
  for (int k = 0; k < d; ++k) {
    double hx = 0.0;
    for (int j = 0; j < d; ++j) hx += H[k * ldh + j] * (x[j] - x0[j]);
    q += (x[k] - x0[k]) * (g[k] + 0.5 * hx);
  }
  return q;
}

}  // namespace hea_fast::linalg
