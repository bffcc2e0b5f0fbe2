// CUDA bindings for the batched WBIC Gibbs sampler (csrc/cuda/wbic_api.h). Compiled by the host
// compiler: no cuda_runtime.h here. Validation and signature are those of core_wbic.cpp
// (wbic_args.h); the GIL is released around the GPU work, which reads only the NumPy buffers kept
// alive by this frame.
#include "bind_util.h"
#include "modules.h"
#include "wbic_api.h"
#include "wbic_args.h"

using hb::carray;

void bind_cuda_wbic(py::module_& m) {
  hb::def_wbic_subsets(
      m,
      [](carray<double> X, carray<double> y, carray<int64_t> idx, double prior_var, bool fit_intercept, double beta,
         int64_t n_iter, int64_t burn_in, int64_t n_chains, double target_stderr, int64_t max_iter, uint64_t seed,
         double prune_above, uintptr_t stream) {
        const auto opt = hb::wbic_options(X, y, idx, prior_var, fit_intercept, beta, n_iter, burn_in, n_chains,
                                          target_stderr, max_iter, seed, prune_above);
        const int64_t n = X.shape(0), p = X.shape(1), S = idx.shape(0), kmax = idx.shape(1);
        if (kmax > hea_fast::cuda::kWbicMaxK)
          throw py::value_error("subsets: the CUDA kernel supports at most " +
                                std::to_string(hea_fast::cuda::kWbicMaxK) + " columns per subset, got " +
                                std::to_string(kmax));
        std::vector<hea_fast::WBICSubsetResult> res(S);
        hb::without_gil([&] {
          hea_fast::cuda::wbic_subsets(X.data(), n, p, y.data(), idx.data(), S, kmax, opt, res.data(),
                                       hb::stream_arg(stream), 0);
        });
        return hb::wbic_result_dict(res);
      },
      py::arg("stream") = 0,
      "Batched tempered PG-Gibbs WBIC on the GPU (one block per subset and chain); same outputs as "
      "_core.wbic_subsets, statistically (different RNG streams).");
}
