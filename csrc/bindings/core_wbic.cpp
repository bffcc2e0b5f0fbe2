// Bindings for the "wbic" kernels (placeholder until the kernel lands).
#include "bind_util.h"
namespace py = pybind11;
void bind_wbic(py::module_& m) { (void)m; }
