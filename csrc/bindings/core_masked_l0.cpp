// Bindings for the fused smoothed-l0 masked-weight kernels (hea_fast/masked_l0.h).
// Arrays cross without copies (torch CPU tensors arrive as t.numpy()), so the bindings demand
// C-contiguous float32/float64 arrays of one dtype instead of force-casting: a silent cast would
// break the in-place proximal update and hide a copy in the training loop.
#include <sstream>

#include "bind_util.h"
#include "hea_fast/masked_l0.h"

namespace py = pybind11;
using namespace hea_fast;

namespace {

enum class DT { f32, f64 };

DT dtype_of(const py::array& a, const char* name) {
  if (a.dtype().is(py::dtype::of<float>())) return DT::f32;
  if (a.dtype().is(py::dtype::of<double>())) return DT::f64;
  throw py::value_error(std::string(name) + ": dtype must be float32 or float64, got " +
                        py::str(a.dtype()).cast<std::string>());
}

void check_contig(const py::array& a, const char* name) {
  if (!(a.flags() & py::array::c_style))
    throw py::value_error(std::string(name) + ": array must be C-contiguous");
}

// Validates one optional operand against the reference (theta): same dtype, same number of
// elements, contiguous. Returns nullptr for None.
const void* opt_ptr(const py::object& o, const char* name, DT dt, py::ssize_t n) {
  if (o.is_none()) return nullptr;
  py::array a = o.cast<py::array>();
  if (dtype_of(a, name) != dt)
    throw py::value_error(std::string(name) + ": dtype differs from theta's");
  check_contig(a, name);
  if (a.size() != n) {
    std::ostringstream os;
    os << name << ": has " << a.size() << " elements, theta has " << n;
    throw py::value_error(os.str());
  }
  return a.data();
}

double check_eps(double eps) {
  if (!(eps > 0) || !std::isfinite(eps))
    throw py::value_error("eps must be a finite positive number, got " + std::to_string(eps));
  return eps;
}

template <class T>
py::array_t<T> like(const py::array& ref) {
  std::vector<py::ssize_t> shape(ref.shape(), ref.shape() + ref.ndim());
  return py::array_t<T>(shape);
}

template <class T>
py::array fwd_impl(const py::array& theta, const void* ms, const void* mt, double eps, int thr) {
  auto w = like<T>(theta);
  T* wp = w.mutable_data();
  const T* tp = static_cast<const T*>(theta.data());
  int64_t n = theta.size();
  {
    py::gil_scoped_release release;  // pure kernel over buffers kept alive by the caller
    masked_l0::masked_weight_forward<T>(tp, static_cast<const T*>(ms), static_cast<const T*>(mt),
                                        static_cast<T>(eps), wp, n, thr);
  }
  return std::move(w);
}

template <class T>
py::tuple bwd_impl(const py::array& grad_w, const py::array& theta, const void* ms, const void* mt,
                   double eps, bool need_theta, bool need_ms, bool need_mt, int thr) {
  py::object gt = py::none(), gs = py::none(), gm = py::none();
  T *pt = nullptr, *ps = nullptr, *pm = nullptr;
  if (need_theta) { auto a = like<T>(theta); pt = a.mutable_data(); gt = a; }
  if (need_ms) { auto a = like<T>(theta); ps = a.mutable_data(); gs = a; }
  if (need_mt) { auto a = like<T>(theta); pm = a.mutable_data(); gm = a; }
  int64_t n = theta.size();
  {
    py::gil_scoped_release release;
    masked_l0::masked_weight_backward<T>(static_cast<const T*>(grad_w.data()),
                                         static_cast<const T*>(theta.data()),
                                         static_cast<const T*>(ms), static_cast<const T*>(mt),
                                         static_cast<T>(eps), pt, ps, pm, n, thr);
  }
  return py::make_tuple(gt, gs, gm);
}

}  // namespace

void bind_masked_l0(py::module_& m) {
  m.def(
      "masked_weight_forward",
      [](py::array theta, py::object ms, py::object mt, double eps, py::object threads) {
        DT dt = dtype_of(theta, "theta");
        check_contig(theta, "theta");
        check_eps(eps);
        const void* s = opt_ptr(ms, "m_s", dt, theta.size());
        const void* t = opt_ptr(mt, "m_t", dt, theta.size());
        int thr = bind::threads_arg(threads);
        return dt == DT::f32 ? fwd_impl<float>(theta, s, t, eps, thr)
                             : fwd_impl<double>(theta, s, t, eps, thr);
      },
      py::arg("theta"), py::arg("m_s"), py::arg("m_t"), py::arg("eps"),
      py::arg("threads") = py::none(),
      "Effective weight theta*g(m_s)*g(m_t), g(m)=m^2/(m^2+eps); m_s/m_t may be None.");

  m.def(
      "masked_weight_backward",
      [](py::array grad_w, py::array theta, py::object ms, py::object mt, double eps,
         bool need_theta, bool need_ms, bool need_mt, py::object threads) {
        DT dt = dtype_of(theta, "theta");
        check_contig(theta, "theta");
        check_eps(eps);
        opt_ptr(grad_w, "grad_w", dt, theta.size());
        const void* s = opt_ptr(ms, "m_s", dt, theta.size());
        const void* t = opt_ptr(mt, "m_t", dt, theta.size());
        if (need_ms && !s) throw py::value_error("need_ms=True but m_s is None");
        if (need_mt && !t) throw py::value_error("need_mt=True but m_t is None");
        int thr = bind::threads_arg(threads);
        return dt == DT::f32
                   ? bwd_impl<float>(grad_w, theta, s, t, eps, need_theta, need_ms, need_mt, thr)
                   : bwd_impl<double>(grad_w, theta, s, t, eps, need_theta, need_ms, need_mt, thr);
      },
      py::arg("grad_w"), py::arg("theta"), py::arg("m_s"), py::arg("m_t"), py::arg("eps"),
      py::arg("need_theta") = true, py::arg("need_ms") = true, py::arg("need_mt") = true,
      py::arg("threads") = py::none(),
      "Gradients (theta, m_s, m_t) of the masked weight given grad_w = dL/dW; None where not asked.");

  m.def(
      "prox_soft_threshold",
      [](py::array mask, double lam, py::object threads) {
        DT dt = dtype_of(mask, "mask");
        check_contig(mask, "mask");
        if (!mask.writeable()) throw py::value_error("mask: array is read-only (update is in place)");
        if (!(lam >= 0) || !std::isfinite(lam))
          throw py::value_error("lam must be finite and >= 0, got " + std::to_string(lam));
        int thr = bind::threads_arg(threads);
        int64_t n = mask.size();
        void* p = mask.mutable_data();
        int64_t z;
        {
          py::gil_scoped_release release;
          z = dt == DT::f32 ? masked_l0::prox_soft_threshold<float>(static_cast<float*>(p), n,
                                                                    static_cast<float>(lam), thr)
                            : masked_l0::prox_soft_threshold<double>(static_cast<double*>(p), n, lam,
                                                                     thr);
        }
        return z;
      },
      py::arg("mask"), py::arg("lam"), py::arg("threads") = py::none(),
      "In-place soft threshold mask <- sign(mask) max(|mask| - lam, 0); returns the zero count.");

  m.def(
      "l0_gate",
      [](py::array mask, double eps, py::object threads) {
        DT dt = dtype_of(mask, "mask");
        check_contig(mask, "mask");
        check_eps(eps);
        int thr = bind::threads_arg(threads);
        int64_t n = mask.size();
        if (dt == DT::f32) {
          auto out = like<float>(mask);
          float* o = out.mutable_data();
          const float* p = static_cast<const float*>(mask.data());
          {
            py::gil_scoped_release release;
            masked_l0::gate<float>(p, static_cast<float>(eps), o, n, thr);
          }
          return py::array(out);
        }
        auto out = like<double>(mask);
        double* o = out.mutable_data();
        const double* p = static_cast<const double*>(mask.data());
        {
          py::gil_scoped_release release;
          masked_l0::gate<double>(p, eps, o, n, thr);
        }
        return py::array(out);
      },
      py::arg("mask"), py::arg("eps"), py::arg("threads") = py::none(),
      "Gate values g(m) = m^2/(m^2+eps).");
}
