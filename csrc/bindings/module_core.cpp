// The _core extension module: each kernel family registers its functions from its own binding file
// (csrc/bindings/core_<name>.cpp, see modules.h), so pybind11 translation units stay small and
// independent.
#include <pybind11/pybind11.h>

#include "hea_fast/parallel.h"
#include "modules.h"

PYBIND11_MODULE(_core, m) {
  m.doc() = "hea_fast compiled CPU core";
#ifdef HEA_FAST_VERSION
  m.attr("__version__") = HEA_FAST_VERSION;
#endif
  m.def(
      "hardware_threads", [] { return hea_fast::resolve_threads(0); },
      "Number of hardware threads the kernels use by default.");
  for (auto bind : {bind_parse, bind_descriptors, bind_polyagamma, bind_wbic, bind_maresca_curtin, bind_lattice,
                    bind_pseudoimage, bind_masked_l0, bind_probit, bind_screen, bind_ssvae_head, bind_phase_ensemble})
    bind(m);
}
