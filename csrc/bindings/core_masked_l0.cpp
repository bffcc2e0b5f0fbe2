// Bindings for the fused smoothed-l0 masked-weight kernels (hea_fast/masked_l0.h).
// Arrays cross without copies (torch CPU tensors arrive as t.numpy()), so the bindings demand
// C-contiguous float32/float64 arrays of one dtype instead of force-casting: a silent cast would
// break the in-place proximal update and hide a copy in the training loop.
#include <sstream>

#include "bind_util.h"
#include "hea_fast/masked_l0.h"
#include "modules.h"

namespace ml0 = hea_fast::masked_l0;

namespace {

enum class DT { f32, f64 };

// The dtype of a C-contiguous float32/float64 array (ValueError otherwise).
DT float_arg(const py::array& a, const char* name) {
  DT dt;
  if (a.dtype().is(py::dtype::of<float>()))
    dt = DT::f32;
  else if (a.dtype().is(py::dtype::of<double>()))
    dt = DT::f64;
  else
    throw py::value_error(std::string(name) + ": dtype must be float32 or float64, got " +
                          py::str(a.dtype()).cast<std::string>());
  if (!(a.flags() & py::array::c_style)) throw py::value_error(std::string(name) + ": array must be C-contiguous");
  return dt;
}

// Calls f(T{}) with T the C++ type of dt: one generic body serves float32 and float64.
template <class F>
decltype(auto) with_dtype(DT dt, F&& f) {
  return dt == DT::f32 ? f(float{}) : f(double{});
}

// Validates one optional operand against the reference (theta): same dtype, same number of
// elements, contiguous. Returns nullptr for None.
const void* opt_ptr(const py::object& o, const char* name, DT dt, py::ssize_t n) {
  if (o.is_none()) return nullptr;
  py::array a = o.cast<py::array>();
  if (float_arg(a, name) != dt) throw py::value_error(std::string(name) + ": dtype differs from theta's");
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

// A fresh array of ref's shape (the outputs are shaped like the weights).
template <class T>
py::array_t<T> like(const py::array& ref) {
  return py::array_t<T>(std::vector<py::ssize_t>(ref.shape(), ref.shape() + ref.ndim()));
}

py::array forward(py::array theta, py::object ms, py::object mt, double eps, py::object threads) {
  const DT dt = float_arg(theta, "theta");
  check_eps(eps);
  const void* s = opt_ptr(ms, "m_s", dt, theta.size());
  const void* t = opt_ptr(mt, "m_t", dt, theta.size());
  const int thr = hb::threads_arg(threads);
  return with_dtype(dt, [&](auto zero) -> py::array {
    using T = decltype(zero);
    auto w = like<T>(theta);
    T* wp = w.mutable_data();
    const auto* tp = static_cast<const T*>(theta.data());
    const int64_t n = theta.size();
    hb::without_gil([&] {
      ml0::masked_weight_forward<T>(tp, static_cast<const T*>(s), static_cast<const T*>(t), static_cast<T>(eps), wp, n,
                                    thr);
    });
    return std::move(w);
  });
}

py::tuple backward(py::array grad_w, py::array theta, py::object ms, py::object mt, double eps, bool need_theta,
                   bool need_ms, bool need_mt, py::object threads) {
  const DT dt = float_arg(theta, "theta");
  check_eps(eps);
  opt_ptr(grad_w, "grad_w", dt, theta.size());
  const void* s = opt_ptr(ms, "m_s", dt, theta.size());
  const void* t = opt_ptr(mt, "m_t", dt, theta.size());
  if (need_ms && !s) throw py::value_error("need_ms=True but m_s is None");
  if (need_mt && !t) throw py::value_error("need_mt=True but m_t is None");
  const int thr = hb::threads_arg(threads);
  return with_dtype(dt, [&](auto zero) {
    using T = decltype(zero);
    py::object grads[3] = {py::none(), py::none(), py::none()};
    T* ptrs[3] = {nullptr, nullptr, nullptr};
    const bool need[3] = {need_theta, need_ms, need_mt};
    for (int g = 0; g < 3; ++g)
      if (need[g]) {
        auto a = like<T>(theta);
        ptrs[g] = a.mutable_data();
        grads[g] = std::move(a);
      }
    const auto* gp = static_cast<const T*>(grad_w.data());
    const auto* tp = static_cast<const T*>(theta.data());
    const int64_t n = theta.size();
    hb::without_gil([&] {
      ml0::masked_weight_backward<T>(gp, tp, static_cast<const T*>(s), static_cast<const T*>(t), static_cast<T>(eps),
                                     ptrs[0], ptrs[1], ptrs[2], n, thr);
    });
    return py::make_tuple(grads[0], grads[1], grads[2]);
  });
}

int64_t prox(py::array mask, double lam, py::object threads) {
  const DT dt = float_arg(mask, "mask");
  if (!mask.writeable()) throw py::value_error("mask: array is read-only (update is in place)");
  if (!(lam >= 0) || !std::isfinite(lam))
    throw py::value_error("lam must be finite and >= 0, got " + std::to_string(lam));
  const int thr = hb::threads_arg(threads);
  const int64_t n = mask.size();
  void* p = mask.mutable_data();
  return with_dtype(dt, [&](auto zero) {
    using T = decltype(zero);
    return hb::without_gil(
        [&] { return ml0::prox_soft_threshold<T>(static_cast<T*>(p), n, static_cast<T>(lam), thr); });
  });
}

py::array gate(py::array mask, double eps, py::object threads) {
  const DT dt = float_arg(mask, "mask");
  check_eps(eps);
  const int thr = hb::threads_arg(threads);
  const int64_t n = mask.size();
  return with_dtype(dt, [&](auto zero) -> py::array {
    using T = decltype(zero);
    auto out = like<T>(mask);
    T* o = out.mutable_data();
    const auto* p = static_cast<const T*>(mask.data());
    hb::without_gil([&] { ml0::gate<T>(p, static_cast<T>(eps), o, n, thr); });
    return std::move(out);
  });
}

}  // namespace

void bind_masked_l0(py::module_& m) {
  m.def("masked_weight_forward", &forward, py::arg("theta"), py::arg("m_s"), py::arg("m_t"), py::arg("eps"),
        py::arg("threads") = py::none(),
        "Effective weight theta*g(m_s)*g(m_t), g(m)=m^2/(m^2+eps); m_s/m_t may be None.");
  m.def("masked_weight_backward", &backward, py::arg("grad_w"), py::arg("theta"), py::arg("m_s"), py::arg("m_t"),
        py::arg("eps"), py::arg("need_theta") = true, py::arg("need_ms") = true, py::arg("need_mt") = true,
        py::arg("threads") = py::none(),
        "Gradients (theta, m_s, m_t) of the masked weight given grad_w = dL/dW; None where not asked.");
  m.def("prox_soft_threshold", &prox, py::arg("mask"), py::arg("lam"), py::arg("threads") = py::none(),
        "In-place soft threshold mask <- sign(mask) max(|mask| - lam, 0); returns the zero count.");
  m.def("l0_gate", &gate, py::arg("mask"), py::arg("eps"), py::arg("threads") = py::none(),
        "Gate values g(m) = m^2/(m^2+eps).");
}
