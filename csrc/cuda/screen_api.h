// CUDA-free declaration of the screening score kernel (screen_cuda.cu); safe for g++.
#pragma once
#include <cstdint>

#include "hea_fast/screen.h"
#include "lattice_api.h"

namespace hea_fast::cuda {

// P(single phase) of ranks [start, start + count) of the uploaded lattice, one thread per rank, by
// the same row functions as the host reference `screen::mixture_scores` (screen.h). Every pointer
// in `s` (element data, columns, model arrays) and `a2` (K squared anchor norms) and `out` (count)
// are device pointers, validated by the caller. Asynchronous on `stream`.
void screen_mixture_scores(const DeviceLattice& d, int64_t start, int64_t count, const screen::MixtureScreen& s,
                           const double* a2, double* out, void* stream);

}  // namespace hea_fast::cuda
