// Bindings for the "parse" kernels (placeholder until the kernel lands).
#include "bind_util.h"
namespace py = pybind11;
void bind_parse(py::module_& m) { (void)m; }
