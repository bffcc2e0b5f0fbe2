// CUDA bindings for the "masked_l0" kernels (placeholder until the kernel lands).
#include "bind_util.h"
namespace py = pybind11;
void bind_cuda_masked_l0(py::module_& m) { (void)m; }
