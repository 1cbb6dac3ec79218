// SPDX-License-Identifier: BSD-3-Clause
// The composite-objective steps (proximal AdaGrad, AdaGrad dual averaging)
// for SVE: kernels/composite_step.hpp's loops with the ACLE intrinsics, at
// any vector length, the tail under a partial predicate (see
// kernels/sve/dense_step.hpp). The order of operations is the reference's
// (kernels/adagrad_scalar.cpp), operation for operation.
#ifndef ADAGRAD_KERNELS_SVE_COMPOSITE_STEP_HPP_
#define ADAGRAD_KERNELS_SVE_COMPOSITE_STEP_HPP_

#include <cstddef>
#include <type_traits>

#include "isa_namespace.h"
#include "prefetch.hpp"
#include "step_constants.h"
#include "sve/sve_ops.hpp"
#include "ukernels.h"

ADAGRAD_KERNEL_NAMESPACE_BEGIN
namespace detail {

// copysign(max(|v| - threshold, 0), v), as the reference's shrink: on the
// sign bit alone, so a NaN stays NaN (NaN < 0 is false) with its payload.
template <class T>
inline typename sve<T>::vec sve_shrink(svbool_t pg, typename sve<T>::vec v,
                                       typename sve<T>::vec threshold) {
  using ops = sve<T>;
  const typename ops::vec zero = ops::dup(T(0));
  typename ops::vec m = svsub_x(pg, svabs_x(pg, v), threshold);
  m = svsel(svcmplt(pg, m, zero), zero, m);
  const typename ops::bits sign = ops::dup_bits(ops::kSign);
  return ops::from_bits(
      svorr_x(pg, svbic_x(pg, ops::as_bits(m), sign), svand_x(pg, ops::as_bits(v), sign)));
}

template <class T, bool Fma, bool L1, bool L2>
void sve_proximal_loop(std::size_t n, T* w, const T* g, T* G, const composite_constants<T>& c) {
  using ops = sve<T>;
  using vec = typename ops::vec;
  const step_constants<T>& s = c.step;
  const vec lr = ops::dup(s.lr), eps = ops::dup(s.eps), weight_decay = ops::dup(s.weight_decay);
  const vec l1 = ops::dup(c.l1), l2 = ops::dup(c.l2), one = ops::dup(T(1));
  for_each_vector<T, T>(n, [&](std::size_t i, svbool_t pg, bool prefetch) {
    if (prefetch) {
      prefetch_ahead(sve_tag{}, g + i, false);
      prefetch_ahead(sve_tag{}, w + i, true);
      prefetch_ahead(sve_tag{}, G + i, true);
    }
    const vec weight = svld1(pg, w + i);
    // Loop-invariant switches: perfectly predicted; the loop is bound by
    // memory or the divider.
    const vec grad = modified_gradient<Fma>(pg, svld1(pg, g + i), weight, weight_decay,
                                            s.maximize, s.apply_weight_decay);
    const vec sum_sq = accumulated<Fma>(pg, svld1(pg, G + i), grad);
    const vec rate = svdiv_x(pg, lr, denominator(pg, sum_sq, eps, s.eps_inside));
    vec u = svsub_x(pg, weight, svmul_x(pg, rate, grad));
    if constexpr (L1) u = sve_shrink<T>(pg, u, svmul_x(pg, rate, l1));
    if constexpr (L2) u = svdiv_x(pg, u, svadd_x(pg, one, svmul_x(pg, rate, l2)));
    svst1(pg, G + i, sum_sq);
    svst1(pg, w + i, u);
  });
}

template <class T, bool Fma, bool L1>
void sve_da_loop(std::size_t n, T* w, const T* g, T* z, T* G, const composite_constants<T>& c) {
  using ops = sve<T>;
  using vec = typename ops::vec;
  const step_constants<T>& s = c.step;
  const vec eps = ops::dup(s.eps), weight_decay = ops::dup(s.weight_decay);
  const vec da_l1 = ops::dup(c.da_l1), da_l2 = ops::dup(c.da_l2), neg_lr = ops::dup(c.neg_lr);
  // w is read only for weight decay (it is written whatever its contents).
  const bool reads_w = s.apply_weight_decay;
  for_each_vector<T, T>(n, [&](std::size_t i, svbool_t pg, bool prefetch) {
    if (prefetch) {
      prefetch_ahead(sve_tag{}, g + i, false);
      prefetch_ahead(sve_tag{}, z + i, true);
      prefetch_ahead(sve_tag{}, G + i, true);
      prefetch_ahead(sve_tag{}, w + i, true);
    }
    const vec weight = reads_w ? svld1(pg, w + i) : ops::dup(T(0));
    const vec grad = modified_gradient<Fma>(pg, svld1(pg, g + i), weight, weight_decay,
                                            s.maximize, s.apply_weight_decay);
    const vec sum = svadd_x(pg, svld1(pg, z + i), grad);
    const vec sum_sq = accumulated<Fma>(pg, svld1(pg, G + i), grad);
    const vec denom = denominator(pg, sum_sq, eps, s.eps_inside);
    vec u = sum;
    if constexpr (L1) u = sve_shrink<T>(pg, u, da_l1);
    const vec weight_new = svdiv_x(pg, svmul_x(pg, neg_lr, u), svadd_x(pg, da_l2, denom));
    svst1(pg, z + i, sum);
    svst1(pg, G + i, sum_sq);
    svst1(pg, w + i, weight_new);
  });
}

template <class T>
void sve_proximal(std::size_t n, T* w, const T* g, T* G, const composite_constants<T>& c) {
  with_switches(
      [&](auto fma, auto l1, auto l2) {
        sve_proximal_loop<T, decltype(fma)::value, decltype(l1)::value, decltype(l2)::value>(
            n, w, g, G, c);
      },
      c.step.fma, c.has_l1, c.has_l2);
}

template <class T>
void sve_dual_averaging(std::size_t n, T* w, const T* g, T* z, T* G,
                        const composite_constants<T>& c) {
  with_switches(
      [&](auto fma, auto l1) {
        sve_da_loop<T, decltype(fma)::value, decltype(l1)::value>(n, w, g, z, G, c);
      },
      c.step.fma, c.has_l1);
}

}  // namespace detail
ADAGRAD_KERNEL_NAMESPACE_END

// Body of the sve translation unit of the composite unit: its four ukernels.
#define ADAGRAD_DEFINE_COMPOSITE_UKERNELS(name, arch)                                              \
  namespace adagrad {                                                                              \
  namespace kernels {                                                                              \
  void adagrad_f32_proximal_ukernel__##name(std::size_t n, float* w, const float* g, float* G,     \
                                            const composite_constants<float>* c) {                 \
    detail::sve_proximal(n, w, g, G, *c);                                                          \
  }                                                                                                \
  void adagrad_f64_proximal_ukernel__##name(std::size_t n, double* w, const double* g, double* G,  \
                                            const composite_constants<double>* c) {                \
    detail::sve_proximal(n, w, g, G, *c);                                                          \
  }                                                                                                \
  void adagrad_f32_da_ukernel__##name(std::size_t n, float* w, const float* g, float* z, float* G, \
                                      const composite_constants<float>* c) {                       \
    detail::sve_dual_averaging(n, w, g, z, G, *c);                                                 \
  }                                                                                                \
  void adagrad_f64_da_ukernel__##name(std::size_t n, double* w, const double* g, double* z,        \
                                      double* G, const composite_constants<double>* c) {           \
    detail::sve_dual_averaging(n, w, g, z, G, *c);                                                 \
  }                                                                                                \
  }                                                                                                \
  }

#endif  // ADAGRAD_KERNELS_SVE_COMPOSITE_STEP_HPP_
