// Construction of a lattice space from the Python arguments, shared by _core.LatticeSpace
// (core_lattice.cpp) and _cuda.DeviceLattice (cuda_lattice.cpp): one set of checks, the C++
// exceptions of an invalid or too large space raised as ValueError.
#pragma once
#include <memory>
#include <stdexcept>
#include <utility>
#include <vector>

#include <pybind11/stl.h>

#include "bind_util.h"
#include "hea_fast/lattice.h"

namespace hea_fast::bind {

// parts: (k, N) pairs; lo/hi: per palette element fraction bounds; required/forbidden: 0/1 flags.
inline std::shared_ptr<lattice::Space> make_space(int n_palette, const std::vector<std::pair<int, int>>& parts,
                                                  const std::vector<double>& lo, const std::vector<double>& hi,
                                                  const std::vector<uint8_t>& required,
                                                  const std::vector<uint8_t>& forbidden) {
  std::vector<lattice::Part> ps;
  for (const auto& p : parts) ps.push_back({p.first, p.second});
  try {
    py::gil_scoped_release nogil;  // subset enumeration can take a while for big palettes
    return std::make_shared<lattice::Space>(n_palette, ps, lo, hi, required, forbidden);
  } catch (const std::overflow_error& e) {
    throw py::value_error(e.what());
  } catch (const std::invalid_argument& e) {
    throw py::value_error(e.what());
  }
}

}  // namespace hea_fast::bind
