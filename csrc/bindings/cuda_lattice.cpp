// CUDA bindings for the "lattice" kernels (placeholder until the kernel lands).
#include "bind_util.h"
namespace py = pybind11;
void bind_cuda_lattice(py::module_& m) { (void)m; }
