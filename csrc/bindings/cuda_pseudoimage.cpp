// CUDA bindings for the "pseudoimage" kernels (placeholder until the kernel lands).
#include "bind_util.h"
namespace py = pybind11;
void bind_cuda_pseudoimage(py::module_& m) { (void)m; }
