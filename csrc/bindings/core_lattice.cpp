// Bindings for the simplex-lattice composition space (csrc/include/hea_fast/lattice.h).
// The Space object is immutable after construction, so every method may run with the GIL
// released and from several Python threads at once.
#include <stdexcept>

#include "bind_util.h"
#include "hea_fast/lattice.h"
#include "lattice_args.h"
#include "modules.h"

using hb::carray;
using hea_fast::lattice::Space;

namespace {

// Validates a 1-D array of ranks of the space; returns its length.
int64_t ranks_arg(const Space& s, const carray<int64_t>& ranks) {
  hb::check_shape(ranks, "ranks", {-1});
  const int64_t n = ranks.shape(0);
  const int64_t* r = ranks.data();
  for (int64_t i = 0; i < n; ++i)
    if (r[i] < 0 || r[i] >= s.size())
      throw py::value_error("rank " + std::to_string(r[i]) + " at index " + std::to_string(i) + " is outside [0, " +
                            std::to_string(s.size()) + ")");
  return n;
}

py::dict block_table(const Space& s) {
  const int64_t nb = s.n_blocks(), K = std::max(1, s.max_k());
  py::array_t<int32_t> part(nb), k(nb), N(nb), elem({nb, K}), lo({nb, K}), hi({nb, K});
  py::array_t<int64_t> off(nb + 1), cnt(nb);
  auto pe = elem.mutable_unchecked<2>();
  auto pl = lo.mutable_unchecked<2>();
  auto ph = hi.mutable_unchecked<2>();
  for (int64_t b = 0; b < nb; ++b) {
    const auto& B = s.block(b);
    part.mutable_at(b) = B.part;
    k.mutable_at(b) = B.k;
    N.mutable_at(b) = B.N;
    off.mutable_at(b) = B.offset;
    cnt.mutable_at(b) = B.count;
    for (int j = 0; j < K; ++j) {
      pe(b, j) = j < B.k ? B.elem[j] : -1;
      pl(b, j) = j < B.k ? B.lo[j] : 0;
      ph(b, j) = j < B.k ? B.hi[j] : 0;
    }
  }
  off.mutable_at(nb) = s.size();
  return hb::dict_of({{"part", part},
                      {"k", k},
                      {"N", N},
                      {"offset", off},
                      {"count", cnt},
                      {"elem", elem},
                      {"lo_units", lo},
                      {"hi_units", hi}});
}

py::array_t<double> fractions(const Space& s, int64_t start, int64_t count, py::object threads) {
  hb::check_rank_count(start, count, s.size());
  const int t = hb::threads_arg(threads);
  return hb::fill_array<double>({count, s.n_palette()}, [&](double* out) { s.fractions(start, count, out, t); });
}

py::array_t<double> fractions_at(const Space& s, carray<int64_t> ranks, py::object threads) {
  const int64_t n = ranks_arg(s, ranks);
  const int t = hb::threads_arg(threads);
  const int64_t* r = ranks.data();
  return hb::fill_array<double>({n, s.n_palette()}, [&](double* out) { s.fractions_at(r, n, out, t); });
}

auto sparse(const Space& s, int64_t start, int64_t count, py::object threads) {
  hb::check_rank_count(start, count, s.size());
  const int t = hb::threads_arg(threads);
  const int64_t K = std::max(1, s.max_k());
  py::array_t<int32_t> elem({count, K});
  py::array_t<double> frac({count, K});
  int32_t* pe = elem.mutable_data();
  double* pf = frac.mutable_data();
  hb::without_gil([&] { s.sparse(start, count, pe, pf, t); });
  return py::make_tuple(elem, frac);
}

py::array_t<int64_t> blocks_of(const Space& s, carray<int64_t> ranks, py::object threads) {
  const int64_t n = ranks_arg(s, ranks);
  const int t = hb::threads_arg(threads);
  const int64_t* r = ranks.data();
  return hb::fill_array<int64_t>({n}, [&](int64_t* out) { s.blocks_of(r, n, out, t); });
}

py::array_t<int64_t> rank(const Space& s, carray<double> frac, py::object threads) {
  hb::check_shape(frac, "fractions", {-1, s.n_palette()});
  const int64_t n = frac.shape(0);
  hb::check_finite(frac.data(), frac.size(), "fractions");
  const int t = hb::threads_arg(threads);
  const double* f = frac.data();
  return hb::fill_array<int64_t>({n}, [&](int64_t* out) { s.rank(f, n, out, t); });
}

int64_t bounded_compositions(int k, int N, std::vector<int32_t> lo, std::vector<int32_t> hi) {
  if (static_cast<int>(lo.size()) != k || static_cast<int>(hi.size()) != k)
    throw py::value_error("lo and hi must have k entries");
  try {
    return hea_fast::lattice::bounded_compositions(k, N, lo.data(), hi.data());
  } catch (const std::overflow_error& e) {
    throw py::value_error(e.what());
  }
}

}  // namespace

void bind_lattice(py::module_& m) {
  py::class_<Space, std::shared_ptr<Space>>(
      m, "LatticeSpace", "Simplex-lattice composition space (see hea_fast.lattice.CompositionSpace).")
      .def(py::init(&hb::make_space), py::arg("n_palette"), py::arg("parts"), py::arg("lo"), py::arg("hi"),
           py::arg("required"), py::arg("forbidden"))
      .def_property_readonly("size", &Space::size)
      .def_property_readonly("n_blocks", &Space::n_blocks)
      .def_property_readonly("max_k", &Space::max_k)
      .def_property_readonly("n_palette", &Space::n_palette)
      .def("block_table", &block_table,
           "Per-system table: part, k, N, offset (n_blocks + 1), count, elem/lo_units/hi_units (n_blocks x max_k, "
           "-1/0 padded).")
      .def("fractions", &fractions, py::arg("start"), py::arg("count"), py::arg("threads") = py::none(),
           "Dense fractions (count x E) of ranks [start, start + count).")
      .def("fractions_at", &fractions_at, py::arg("ranks"), py::arg("threads") = py::none(),
           "Dense fractions (n x E) of arbitrary ranks.")
      .def("sparse", &sparse, py::arg("start"), py::arg("count"), py::arg("threads") = py::none(),
           "(elem int32, frac float64), each (count x max_k), padded with -1 / 0.")
      .def("blocks_of", &blocks_of, py::arg("ranks"), py::arg("threads") = py::none(),
           "System (block) index of each rank.")
      .def("rank", &rank, py::arg("fractions"), py::arg("threads") = py::none(),
           "Rank of each dense fraction row (n x E); -1 where the row is not a point of the space.");

  m.def("bounded_compositions", &bounded_compositions, py::arg("k"), py::arg("N"), py::arg("lo"), py::arg("hi"),
        "Number of integer vectors (u_0..u_{k-1}) with lo_j <= u_j <= hi_j and sum N.");
}
