// CUDA bindings for the "descriptors" kernels (placeholder until the kernel lands).
#include "bind_util.h"
namespace py = pybind11;
void bind_cuda_descriptors(py::module_& m) { (void)m; }
