// SPDX-License-Identifier: BSD-3-Clause
// The dense AdaGrad step for SVE: kernels/dense_step.hpp's loop with the
// ACLE intrinsics (kernels/sve/sve_ops.hpp), at any vector length. The tail
// is the last vector under a partial predicate rather than the scalar
// reference: the same operations lane by lane, so the same bits, without a
// second loop of up to 63 scalar elements (2048-bit vectors of float).
// fma mode runs here too: SVE always has FMLA.
#ifndef ADAGRAD_KERNELS_SVE_DENSE_STEP_HPP_
#define ADAGRAD_KERNELS_SVE_DENSE_STEP_HPP_

#include <cstddef>
#include <type_traits>

#include "isa_namespace.h"
#include "prefetch.hpp"
#include "step_constants.h"
#include "sve/sve_ops.hpp"
#include "ukernels.h"

ADAGRAD_KERNEL_NAMESPACE_BEGIN
namespace detail {

template <class T, bool Maximize, bool WeightDecay, bool EpsInside, bool Torch, bool Fma>
void sve_dense_loop(std::size_t n, T* w, const T* g, T* G, const step_constants<T>& c) {
  using ops = sve<T>;
  using vec = typename ops::vec;
  const vec lr = ops::dup(c.lr);
  const vec neg_lr = ops::dup(-c.lr);
  const vec eps = ops::dup(c.eps);
  const vec weight_decay = ops::dup(c.weight_decay);
  for_each_vector<T, T>(n, [&](std::size_t i, svbool_t pg, bool prefetch) {
    if (prefetch) {
      prefetch_ahead(sve_tag{}, g + i, false);
      prefetch_ahead(sve_tag{}, w + i, true);
      prefetch_ahead(sve_tag{}, G + i, true);
    }
    vec grad = svld1(pg, g + i);
    vec weight = svld1(pg, w + i);
    vec sum_sq = svld1(pg, G + i);
    grad = modified_gradient<Fma>(pg, grad, weight, weight_decay, std::bool_constant<Maximize>{},
                                  std::bool_constant<WeightDecay>{});
    // torch's sparse order (step_constants::torch_order) squares and adds
    // apart, also in fma mode.
    sum_sq = accumulated<Fma && !Torch>(pg, sum_sq, grad);
    const vec denom = denominator(pg, sum_sq, eps, std::bool_constant<EpsInside>{});
    if constexpr (Torch) {
      // add_(g / d, alpha=-lr): w + (-lr) * q, fused (FMLA) in fma mode.
      const vec quotient = svdiv_x(pg, grad, denom);
      weight = Fma ? svmla_x(pg, weight, neg_lr, quotient)
                   : svadd_x(pg, weight, svmul_x(pg, neg_lr, quotient));
    } else {
      weight = svsub_x(pg, weight, svdiv_x(pg, svmul_x(pg, lr, grad), denom));
    }
    svst1(pg, G + i, sum_sq);
    svst1(pg, w + i, weight);
  });
}

template <class T>
void sve_dense_step(std::size_t n, T* w, const T* g, T* G, const step_constants<T>& c) {
  with_switches(
      [&](auto maximize, auto weight_decay, auto eps_inside, auto torch, auto fma) {
        sve_dense_loop<T, decltype(maximize)::value, decltype(weight_decay)::value,
                       decltype(eps_inside)::value, decltype(torch)::value,
                       decltype(fma)::value>(n, w, g, G, c);
      },
      c.maximize, c.apply_weight_decay, c.eps_inside, c.torch_order, c.fma);
}

}  // namespace detail
ADAGRAD_KERNEL_NAMESPACE_END

// Body of the sve translation unit of the dense unit (kernels/kernel_list.h):
// adagrad_f32_ukernel__sve and adagrad_f64_ukernel__sve. arch is the list's
// adagrad::kernels::sve_arch, unused: the code is SVE's alone.
#define ADAGRAD_DEFINE_DENSE_UKERNELS(name, arch)                                        \
  namespace adagrad {                                                                   \
  namespace kernels {                                                                   \
  adagrad_status adagrad_f32_ukernel__##name(std::size_t n, float* w, const float* g,   \
                                             float* G, step_constants<float> c) {      \
    detail::sve_dense_step(n, w, g, G, c);                                              \
    return ADAGRAD_OK;                                                                  \
  }                                                                                     \
  adagrad_status adagrad_f64_ukernel__##name(std::size_t n, double* w, const double* g, \
                                             double* G, step_constants<double> c) {    \
    detail::sve_dense_step(n, w, g, G, c);                                              \
    return ADAGRAD_OK;                                                                  \
  }                                                                                     \
  }                                                                                     \
  }

#endif  // ADAGRAD_KERNELS_SVE_DENSE_STEP_HPP_
