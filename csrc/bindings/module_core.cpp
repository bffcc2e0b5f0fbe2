// The _core extension module: each topic registers its functions from its own binding file
// (csrc/bindings/core_<topic>.cpp), so pybind11 translation units stay small and independent.
#include <pybind11/pybind11.h>
#include <thread>
namespace py = pybind11;
static int hea_fast_hw_threads() { unsigned h = std::thread::hardware_concurrency(); return h ? int(h) : 1; }
void bind_parse(py::module_& m);
void bind_descriptors(py::module_& m);
void bind_wbic(py::module_& m);
void bind_yield(py::module_& m);
void bind_lattice(py::module_& m);
void bind_pseudoimage(py::module_& m);
void bind_masked_l0(py::module_& m);
void bind_probit(py::module_& m);
void bind_screen(py::module_& m);

PYBIND11_MODULE(_core, m) {
  m.doc() = "hea_fast compiled CPU core";
#ifdef HEA_FAST_VERSION
  m.attr("__version__") = HEA_FAST_VERSION;
#endif
  m.def("hardware_threads", [] { return hea_fast_hw_threads(); }, "Number of hardware threads the kernels use by default.");
  bind_parse(m);
  bind_descriptors(m);
  bind_wbic(m);
  bind_yield(m);
  bind_lattice(m);
  bind_pseudoimage(m);
  bind_masked_l0(m);
  bind_probit(m);
  bind_screen(m);
}
