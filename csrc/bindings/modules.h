// The registration function of every binding file, one per kernel family: bind_<name>(m) in
// core_<name>.cpp adds the family's CPU functions to the _core module (module_core.cpp);
// bind_cuda_<name>(m) in cuda_<name>.cpp adds its CUDA functions to the optional _cuda module
// (module_cuda.cpp). Families without a CUDA binding: parse (strings live in Python objects),
// probit (its row function runs inside the CUDA screening kernel), polyagamma (its sampler runs
// inside the CUDA WBIC kernel), ssvae_head (on a GPU the torch model is the fast path) and
// phase_ensemble. Global names, like PYBIND11_MODULE's: inside namespace hea_fast, a binding's
// local helper named like a kernel (descriptors, wbic_subsets) would be shadowed.
#pragma once
#include <pybind11/pybind11.h>

void bind_descriptors(pybind11::module_& m);
void bind_lattice(pybind11::module_& m);
void bind_maresca_curtin(pybind11::module_& m);
void bind_masked_l0(pybind11::module_& m);
void bind_parse(pybind11::module_& m);
void bind_phase_ensemble(pybind11::module_& m);
void bind_polyagamma(pybind11::module_& m);
void bind_probit(pybind11::module_& m);
void bind_pseudoimage(pybind11::module_& m);
void bind_screen(pybind11::module_& m);
void bind_ssvae_head(pybind11::module_& m);
void bind_wbic(pybind11::module_& m);

void bind_cuda_descriptors(pybind11::module_& m);
void bind_cuda_lattice(pybind11::module_& m);
void bind_cuda_maresca_curtin(pybind11::module_& m);
void bind_cuda_masked_l0(pybind11::module_& m);
void bind_cuda_pseudoimage(pybind11::module_& m);
void bind_cuda_screen(pybind11::module_& m);
void bind_cuda_wbic(pybind11::module_& m);
