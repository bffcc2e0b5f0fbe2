// Validation of the mixture-predictive model arrays shared by the mixture_probit and
// screen_mixture_topk bindings: shapes, finiteness and column indices, with errors naming the
// offending argument and value. The returned struct points into the arrays (keep them alive).
#pragma once
#include <string>

#include "bind_util.h"
#include "hea_fast/probit.h"

namespace hea_fast::bind {

struct ProbitArrays {
  carray<double> mean, scale;
  carray<int64_t> cl;
  carray<double> anchors;
  carray<int64_t> sub;
  carray<double> mu, cov;
};

// d: number of descriptor columns the model reads.
inline hea_fast::probit::MixturePredictive mixture_predictive(const ProbitArrays& a, int64_t d) {
  check_shape(a.mean, "mean", {d});
  check_shape(a.scale, "scale", {d});
  check_shape(a.cl, "cl", {-1});
  check_shape(a.sub, "sub", {-1});
  check_shape(a.mu, "mu", {-1, a.sub.shape(0) + 1});
  const int64_t K = a.mu.shape(0), q = a.sub.shape(0) + 1;
  if (K < 1) throw py::value_error("mu: at least one cluster is needed");
  check_shape(a.cov, "cov", {K, q, q});
  if (K > 1) check_shape(a.anchors, "anchors", {K, a.cl.shape(0)});
  check_finite(a.mean.data(), d, "mean");
  check_finite(a.mu.data(), a.mu.size(), "mu");
  check_finite(a.cov.data(), a.cov.size(), "cov");
  if (K > 1) check_finite(a.anchors.data(), a.anchors.size(), "anchors");
  for (int64_t j = 0; j < d; ++j)
    if (!(a.scale.data()[j] > 0) || !std::isfinite(a.scale.data()[j]))
      throw py::value_error("scale[" + std::to_string(j) + "] = " + std::to_string(a.scale.data()[j]) +
                            " must be positive and finite");
  for (int64_t j = 0; j < a.cl.shape(0); ++j)
    if (a.cl.data()[j] < 0 || a.cl.data()[j] >= d)
      throw py::value_error("cl[" + std::to_string(j) + "] = " + std::to_string(a.cl.data()[j]) +
                            " is not a column of X (d = " + std::to_string(d) + ")");
  for (int64_t j = 0; j < a.sub.shape(0); ++j)
    if (a.sub.data()[j] < 0 || a.sub.data()[j] >= d)
      throw py::value_error("sub[" + std::to_string(j) + "] = " + std::to_string(a.sub.data()[j]) +
                            " is not a column of X (d = " + std::to_string(d) + ")");
  return {d,
          a.mean.data(),
          a.scale.data(),
          K,
          a.cl.shape(0),
          a.cl.data(),
          a.anchors.data(),
          a.sub.shape(0),
          a.sub.data(),
          a.mu.data(),
          a.cov.data()};
}

}  // namespace hea_fast::bind
