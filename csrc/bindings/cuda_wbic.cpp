// CUDA bindings for the batched WBIC Gibbs sampler (csrc/cuda/wbic_api.h). Compiled by the host
// compiler: no cuda_runtime.h here. Validation mirrors core_wbic.cpp; the GIL is released around
// the GPU work, which reads only the NumPy buffers kept alive by this frame.
#include <sstream>

#include "bind_util.h"
#include "wbic_api.h"
#include "wbic_args.h"

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
        const auto opt = hea_fast::bind::wbic_options(X, y, idx, prior_var, fit_intercept, beta, n_iter, burn_in,
                                                      n_chains, target_stderr, max_iter, seed, prune_above);
        const int64_t n = X.shape(0), p = X.shape(1), S = idx.shape(0), kmax = idx.shape(1);
        if (kmax > hea_fast::cuda::kWbicMaxK)
          throw py::value_error("subsets: the CUDA kernel supports at most " +
                                std::to_string(hea_fast::cuda::kWbicMaxK) + " columns per subset, got " +
                                std::to_string(kmax));
        std::vector<hea_fast::WBICSubsetResult> res(S);
        {
          py::gil_scoped_release nogil;
          hea_fast::cuda::wbic_subsets(X.data(), n, p, y.data(), idx.data(), S, kmax, opt, res.data(),
                                       reinterpret_cast<void*>(stream), 0);
        }
        return hea_fast::bind::wbic_result_dict(res);
      },
      py::arg("X"), py::arg("y"), py::arg("subsets"), py::kw_only(), py::arg("prior_var") = 10.0,
      py::arg("fit_intercept") = true, py::arg("beta"), py::arg("n_iter") = 1000, py::arg("burn_in") = 50,
      py::arg("n_chains") = 4, py::arg("target_stderr") = 0.0, py::arg("max_iter") = 20000,
      py::arg("seed") = 0, py::arg("prune_above") = 0.0, py::arg("stream") = 0,
      "Batched tempered PG-Gibbs WBIC on the GPU (one block per subset and chain); same outputs as "
      "_core.wbic_subsets, statistically (different RNG streams).");
}
