// The scalar reference dense step: the test oracle, the fallback and the tail
// handler of every vector kernel. Compiled with the baseline flags and
// -fno-tree-vectorize, so it really is one element at a time.
#include <cmath>
#include <cstddef>

#include "ukernels.h"

namespace adagrad {
namespace kernels {
namespace {

// The seed notebook's order, one IEEE operation at a time. -ffp-contract=off
// (set for the whole build) keeps the compiler from fusing g*g + G or
// weight_decay*w + g into an FMA, which would round once instead of twice.
template <class T>
void reference_dense_step(std::size_t n, T* w, const T* g, T* G, const step_constants<T>& c) {
  for (std::size_t i = 0; i < n; ++i) {
    T grad = g[i];
    if (c.maximize) grad = -grad;
    if (c.apply_weight_decay) {
      grad = c.fma ? std::fma(c.weight_decay, w[i], grad) : grad + c.weight_decay * w[i];
    }
    const T sum_sq = c.fma ? std::fma(grad, grad, G[i]) : G[i] + grad * grad;
    const T denom = c.eps_inside ? std::sqrt(sum_sq + c.eps) : std::sqrt(sum_sq) + c.eps;
    w[i] = w[i] - (c.lr * grad) / denom;
    G[i] = sum_sq;
  }
}

}  // namespace

adagrad_status adagrad_f32_ukernel__scalar(std::size_t n, float* w, const float* g, float* G,
                                           step_constants<float> c) {
  reference_dense_step(n, w, g, G, c);
  return ADAGRAD_OK;
}

adagrad_status adagrad_f64_ukernel__scalar(std::size_t n, double* w, const double* g, double* G,
                                           step_constants<double> c) {
  reference_dense_step(n, w, g, G, c);
  return ADAGRAD_OK;
}

}  // namespace kernels
}  // namespace adagrad
