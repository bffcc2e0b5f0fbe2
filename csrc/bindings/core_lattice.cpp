// Bindings for the simplex-lattice composition space (csrc/include/hea_fast/lattice.h).
// The Space object is immutable after construction, so every method may run with the GIL
// released and from several Python threads at once.
#include <stdexcept>

#include <pybind11/stl.h>

#include "bind_util.h"
#include "hea_fast/lattice.h"

namespace py = pybind11;
using hea_fast::lattice::Space;
using hea_fast::bind::carray;

namespace {

void check_range(const Space& s, int64_t start, int64_t count) {
  if (start < 0 || count < 0 || start > s.size() || count > s.size() - start)
    throw py::value_error("rank range [" + std::to_string(start) + ", " + std::to_string(start) + " + " +
                          std::to_string(count) + ") is outside the space of " + std::to_string(s.size()) +
                          " compositions");
}

void check_ranks(const Space& s, const int64_t* r, int64_t n) {
  for (int64_t i = 0; i < n; ++i)
    if (r[i] < 0 || r[i] >= s.size())
      throw py::value_error("rank " + std::to_string(r[i]) + " at index " + std::to_string(i) +
                            " is outside [0, " + std::to_string(s.size()) + ")");
}

}  // namespace

void bind_lattice(py::module_& m) {
  py::class_<Space, std::shared_ptr<Space>>(m, "LatticeSpace",
                                            "Simplex-lattice composition space (see hea_fast.lattice.CompositionSpace).")
      .def(py::init([](int n_palette, std::vector<std::pair<int, int>> parts, std::vector<double> lo,
                       std::vector<double> hi, std::vector<uint8_t> required, std::vector<uint8_t> forbidden) {
             std::vector<hea_fast::lattice::Part> ps;
             for (auto& p : parts) ps.push_back({p.first, p.second});
             try {
               py::gil_scoped_release nogil;  // subset enumeration can take a while for big palettes
               return std::make_shared<Space>(n_palette, ps, lo, hi, required, forbidden);
             } catch (const std::overflow_error& e) {
               throw py::value_error(e.what());
             } catch (const std::invalid_argument& e) {
               throw py::value_error(e.what());
             }
           }),
           py::arg("n_palette"), py::arg("parts"), py::arg("lo"), py::arg("hi"), py::arg("required"),
           py::arg("forbidden"))
      .def_property_readonly("size", &Space::size)
      .def_property_readonly("n_blocks", &Space::n_blocks)
      .def_property_readonly("max_k", &Space::max_k)
      .def_property_readonly("n_palette", &Space::n_palette)
      .def("block_table",
           [](const Space& s) {
             const int64_t nb = s.n_blocks();
             const int K = std::max(1, s.max_k());
             py::array_t<int32_t> part(nb), k(nb), N(nb);
             py::array_t<int64_t> off(nb + 1), cnt(nb);
             py::array_t<int32_t> elem({nb, static_cast<int64_t>(K)}), lo({nb, static_cast<int64_t>(K)}),
                 hi({nb, static_cast<int64_t>(K)});
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
             py::dict d;
             d["part"] = part;
             d["k"] = k;
             d["N"] = N;
             d["offset"] = off;
             d["count"] = cnt;
             d["elem"] = elem;
             d["lo_units"] = lo;
             d["hi_units"] = hi;
             return d;
           },
           "Per-system table: part, k, N, offset (n_blocks + 1), count, elem/lo_units/hi_units (n_blocks x max_k, -1/0 padded).")
      .def("fractions",
           [](const Space& s, int64_t start, int64_t count, py::object threads) {
             check_range(s, start, count);
             int t = hea_fast::bind::threads_arg(threads);
             py::array_t<double> out({count, static_cast<int64_t>(s.n_palette())});
             double* p = out.mutable_data();
             {
               py::gil_scoped_release nogil;
               s.fractions(start, count, p, t);
             }
             return out;
           },
           py::arg("start"), py::arg("count"), py::arg("threads") = py::none(),
           "Dense fractions (count x E) of ranks [start, start + count).")
      .def("fractions_at",
           [](const Space& s, carray<int64_t> ranks, py::object threads) {
             hea_fast::bind::check_shape(ranks, "ranks", {-1});
             int64_t n = ranks.shape(0);
             check_ranks(s, ranks.data(), n);
             int t = hea_fast::bind::threads_arg(threads);
             py::array_t<double> out({n, static_cast<int64_t>(s.n_palette())});
             double* p = out.mutable_data();
             const int64_t* r = ranks.data();
             {
               py::gil_scoped_release nogil;
               s.fractions_at(r, n, p, t);
             }
             return out;
           },
           py::arg("ranks"), py::arg("threads") = py::none(), "Dense fractions (n x E) of arbitrary ranks.")
      .def("sparse",
           [](const Space& s, int64_t start, int64_t count, py::object threads) {
             check_range(s, start, count);
             int t = hea_fast::bind::threads_arg(threads);
             const int64_t K = std::max(1, s.max_k());
             py::array_t<int32_t> elem({count, K});
             py::array_t<double> frac({count, K});
             int32_t* pe = elem.mutable_data();
             double* pf = frac.mutable_data();
             {
               py::gil_scoped_release nogil;
               s.sparse(start, count, pe, pf, t);
             }
             return py::make_tuple(elem, frac);
           },
           py::arg("start"), py::arg("count"), py::arg("threads") = py::none(),
           "(elem int32, frac float64), each (count x max_k), padded with -1 / 0.")
      .def("blocks_of",
           [](const Space& s, carray<int64_t> ranks, py::object threads) {
             hea_fast::bind::check_shape(ranks, "ranks", {-1});
             int64_t n = ranks.shape(0);
             check_ranks(s, ranks.data(), n);
             int t = hea_fast::bind::threads_arg(threads);
             py::array_t<int64_t> out(n);
             int64_t* p = out.mutable_data();
             const int64_t* r = ranks.data();
             {
               py::gil_scoped_release nogil;
               s.blocks_of(r, n, p, t);
             }
             return out;
           },
           py::arg("ranks"), py::arg("threads") = py::none(), "System (block) index of each rank.")
      .def("rank",
           [](const Space& s, carray<double> frac, py::object threads) {
             hea_fast::bind::check_shape(frac, "fractions", {-1, s.n_palette()});
             int64_t n = frac.shape(0);
             hea_fast::bind::check_finite(frac.data(), frac.size(), "fractions");
             int t = hea_fast::bind::threads_arg(threads);
             py::array_t<int64_t> out(n);
             int64_t* p = out.mutable_data();
             const double* f = frac.data();
             {
               py::gil_scoped_release nogil;
               s.rank(f, n, p, t);
             }
             return out;
           },
           py::arg("fractions"), py::arg("threads") = py::none(),
           "Rank of each dense fraction row (n x E); -1 where the row is not a point of the space.");

  m.def(
      "bounded_compositions",
      [](int k, int N, std::vector<int32_t> lo, std::vector<int32_t> hi) {
        if (static_cast<int>(lo.size()) != k || static_cast<int>(hi.size()) != k)
          throw py::value_error("lo and hi must have k entries");
        try {
          return hea_fast::lattice::bounded_compositions(k, N, lo.data(), hi.data());
        } catch (const std::overflow_error& e) {
          throw py::value_error(e.what());
        }
      },
      py::arg("k"), py::arg("N"), py::arg("lo"), py::arg("hi"),
      "Number of integer vectors (u_0..u_{k-1}) with lo_j <= u_j <= hi_j and sum N.");
}
