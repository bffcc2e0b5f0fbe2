// CUDA bindings for the batched WBIC Gibbs sampler (csrc/cuda/wbic_api.h). Compiled by the host
// compiler: no cuda_runtime.h here. Validation mirrors core_wbic.cpp; the GIL is released around
// the GPU work, which reads only the NumPy buffers kept alive by this frame.
#include <sstream>

#include "bind_util.h"
#include "wbic_api.h"

namespace py = pybind11;
using hea_fast::bind::carray;
using hea_fast::bind::check_finite;
using hea_fast::bind::check_shape;

void bind_cuda_wbic(py::module_& m) {
  m.def(
      "wbic_subsets",
      [](carray<double> X, carray<double> y, carray<int64_t> idx, double prior_var, bool fit_intercept,
         double beta, int64_t n_iter, int64_t burn_in, int64_t n_chains, double target_stderr,
         int64_t max_iter, uint64_t seed, double prune_above, uintptr_t stream) {
        check_shape(X, "X", {-1, -1});
        const int64_t n = X.shape(0), p = X.shape(1);
        check_shape(y, "y", {n});
        check_shape(idx, "subsets", {-1, -1});
        check_finite(X.data(), n * p, "X");
        for (int64_t i = 0; i < n; ++i)
          if (y.data()[i] != 0.0 && y.data()[i] != 1.0)
            throw py::value_error("y must contain only 0 and 1, got " + std::to_string(y.data()[i]) +
                                  " at index " + std::to_string(i));
        if (!(prior_var > 0) || !(beta > 0)) throw py::value_error("prior_var and beta must be positive");
        if (n_iter < 8 || burn_in < 0 || n_chains < 1 || max_iter < n_iter)
          throw py::value_error("need n_iter >= 8, burn_in >= 0, n_chains >= 1, max_iter >= n_iter");
        const int64_t S = idx.shape(0), kmax = idx.shape(1);
        if (kmax > hea_fast::cuda::kWbicMaxK)
          throw py::value_error("subsets: the CUDA kernel supports at most " +
                                std::to_string(hea_fast::cuda::kWbicMaxK) + " columns per subset, got " +
                                std::to_string(kmax));
        for (int64_t s = 0; s < S; ++s) {
          bool ended = false;
          int k = 0;
          for (int64_t j = 0; j < kmax; ++j) {
            const int64_t v = idx.data()[s * kmax + j];
            if (v < 0) { ended = true; continue; }
            if (ended || v >= p)
              throw py::value_error("subsets: row " + std::to_string(s) + " has invalid column index " +
                                    std::to_string(v));
            ++k;
          }
          if (k == 0 && !fit_intercept)
            throw py::value_error("subsets: row " + std::to_string(s) + " is empty and fit_intercept=False");
        }
        hea_fast::WBICOptions opt;
        opt.prior_var = prior_var;
        opt.beta = beta;
        opt.fit_intercept = fit_intercept;
        opt.n_iter = n_iter;
        opt.burn_in = burn_in;
        opt.n_chains = n_chains;
        opt.max_iter = max_iter;
        opt.target_stderr = target_stderr;
        opt.prune_above = prune_above;
        opt.seed = seed;
        std::vector<hea_fast::WBICSubsetResult> res(S);
        {
          py::gil_scoped_release nogil;
          hea_fast::cuda::wbic_subsets(X.data(), n, p, y.data(), idx.data(), S, kmax, opt, res.data(),
                                       reinterpret_cast<void*>(stream), 0);
        }
        py::array_t<double> w(S), se(S), rh(S), lap(S);
        py::array_t<int64_t> it(S);
        py::array_t<bool> pr(S);
        for (int64_t s = 0; s < S; ++s) {
          w.mutable_data()[s] = res[s].wbic;
          se.mutable_data()[s] = res[s].stderr;
          rh.mutable_data()[s] = res[s].rhat;
          lap.mutable_data()[s] = res[s].laplace;
          it.mutable_data()[s] = res[s].n_iter;
          pr.mutable_data()[s] = res[s].pruned != 0;
        }
        py::dict out;
        out["wbic"] = w;
        out["stderr"] = se;
        out["rhat"] = rh;
        out["laplace_wbic"] = lap;
        out["n_iter"] = it;
        out["pruned"] = pr;
        return out;
      },
      py::arg("X"), py::arg("y"), py::arg("subsets"), py::kw_only(), py::arg("prior_var") = 10.0,
      py::arg("fit_intercept") = true, py::arg("beta"), py::arg("n_iter") = 1000, py::arg("burn_in") = 50,
      py::arg("n_chains") = 4, py::arg("target_stderr") = 0.0, py::arg("max_iter") = 20000,
      py::arg("seed") = 0, py::arg("prune_above") = 0.0, py::arg("stream") = 0,
      "Batched tempered PG-Gibbs WBIC on the GPU (one block per subset and chain); same outputs as "
      "_core.wbic_subsets, statistically (different RNG streams).");
}
