// CUDA bindings for the "yield" kernels (placeholder until the kernel lands).
#include "bind_util.h"
namespace py = pybind11;
void bind_cuda_yield(py::module_& m) { (void)m; }
