// CUDA binding for the screening score kernel (csrc/cuda/screen_api.h). Device buffers cross as
// integer addresses (bind_util.h); hea_fast.screen uploads the element data and the model once per (space, scorer),
// validates them on the host first (core.screen_mixture_scores takes the same arrays) and keeps
// the tensors alive.
#include <cstdint>
#include <string>

#include "bind_util.h"
#include "modules.h"
#include "screen_api.h"

using hb::dev_ptr;

void bind_cuda_screen(py::module_& m) {
  m.def(
      "screen_mixture_scores",
      [](const hea_fast::cuda::DeviceLattice& d, int64_t start, int64_t count, uintptr_t props, uintptr_t pair,
         double gas_constant, double log_offset, uintptr_t columns, int64_t n_columns, uintptr_t mean, uintptr_t scale,
         int64_t K, int64_t n_cl, uintptr_t cl, uintptr_t anchors, int64_t n_sub, uintptr_t sub, uintptr_t mu,
         uintptr_t cov, uintptr_t a2, uintptr_t out, uintptr_t stream) {
        hb::check_rank_count(start, count, d.host().size());
        if (n_columns < 1 || n_columns > hea_fast::probit::kMaxRowD)
          throw py::value_error("n_columns must be in [1, 16], got " + std::to_string(n_columns));
        if (K < 1 || n_cl < 0 || n_sub < 0 || n_sub > n_columns)
          throw py::value_error("inconsistent model sizes K=" + std::to_string(K) + ", n_cl=" + std::to_string(n_cl) +
                                ", n_sub=" + std::to_string(n_sub));
        if (count > 0 && (!props || !pair || !columns || !mean || !scale || !mu || !cov || !a2 || !out ||
                          (K > 1 && (!cl || !anchors)) || (n_sub > 0 && !sub)))
          throw py::value_error("null device pointer");
        hea_fast::screen::MixtureScreen s{
            dev_ptr<const double>(props), dev_ptr<const double>(pair),
            hea_fast::descriptors::Params{gas_constant, log_offset}, dev_ptr<const int>(columns),
            hea_fast::probit::MixturePredictive{n_columns, dev_ptr<const double>(mean), dev_ptr<const double>(scale), K,
                                                n_cl, dev_ptr<const int64_t>(cl), dev_ptr<const double>(anchors), n_sub,
                                                dev_ptr<const int64_t>(sub), dev_ptr<const double>(mu),
                                                dev_ptr<const double>(cov)}};
        hb::without_gil([&] {
          hea_fast::cuda::screen_mixture_scores(d, start, count, s, dev_ptr<const double>(a2), dev_ptr<double>(out),
                                                hb::stream_arg(stream));
        });
      },
      py::arg("lattice"), py::arg("start"), py::arg("count"), py::arg("props"), py::arg("pair"),
      py::arg("gas_constant"), py::arg("log_offset"), py::arg("columns"), py::arg("n_columns"), py::arg("mean"),
      py::arg("scale"), py::arg("K"), py::arg("n_cl"), py::arg("cl"), py::arg("anchors"), py::arg("n_sub"),
      py::arg("sub"), py::arg("mu"), py::arg("cov"), py::arg("a2"), py::arg("out"), py::arg("stream"),
      "P(single phase) of every rank in [start, start + count) of a DeviceLattice -> out (count float64, device); "
      "the CUDA form of core.screen_mixture_scores (device pointers, int32 columns, int64 cl/sub).");
}
