// CUDA bindings for the "wbic" kernels (placeholder until the kernel lands).
#include "bind_util.h"
namespace py = pybind11;
void bind_cuda_wbic(py::module_& m) { (void)m; }
