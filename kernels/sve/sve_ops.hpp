// SPDX-License-Identifier: BSD-3-Clause
// What the SVE kernel units (kernels/sve/*_step.hpp) share: the element
// type's vector, predicate and load/store functions, the predicated loop,
// and the IEEE operations of the documented order. xsimd 8.1 has no SVE,
// so these kernels are written with the ACLE intrinsics (arm_sve.h), vector
// length agnostic: one binary runs at 128 to 2048 bits.
//
// Exactness: every SVE operation used here is one correctly rounded IEEE
// operation (FADD, FSUB, FMUL, FDIV, FSQRT; FMLA only in fma mode, where the
// reference calls std::fma), lane by lane, in the operand order of the
// reference (kernels/adagrad_scalar.cpp), which decides a NaN result's
// payload. The tail is the same loop body under a partial predicate
// (WHILELT), so it rounds as the full vectors do and touches nothing past n:
// inactive lanes are neither loaded (they read as zero) nor stored, and the
// operations that could raise an exception on them (division, square root)
// are predicated.
//
// Everything is in the ISA's namespace (kernels/isa_namespace.h) and is
// compiled with -march=...+sve only in the per-ISA translation units.
#ifndef ADAGRAD_KERNELS_SVE_SVE_OPS_HPP_
#define ADAGRAD_KERNELS_SVE_SVE_OPS_HPP_

#include <arm_sve.h>

#include <cstddef>
#include <cstdint>

#include "isa_namespace.h"
#include "prefetch.hpp"
#include "scalable_arch.h"
#include "step_constants.h"

ADAGRAD_KERNEL_NAMESPACE_BEGIN
namespace detail {

// The tag the shared helpers (prefetch_ahead) are keyed on in this ISA.
struct sve_tag {};

template <class T>
struct sve;

template <>
struct sve<float> {
  using vec = svfloat32_t;
  using bits = svuint32_t;
  static std::size_t lanes() { return svcntw(); }
  static svbool_t all() { return svptrue_b32(); }
  static svbool_t first(std::size_t i, std::size_t n) {
    return svwhilelt_b32(static_cast<std::uint64_t>(i), static_cast<std::uint64_t>(n));
  }
  static vec dup(float x) { return svdup_f32(x); }
  static bits dup_bits(std::uint32_t x) { return svdup_u32(x); }
  static bits as_bits(vec x) { return svreinterpret_u32(x); }
  static vec from_bits(bits x) { return svreinterpret_f32(x); }
  static constexpr std::uint32_t kSign = 0x80000000u;
};

template <>
struct sve<double> {
  using vec = svfloat64_t;
  using bits = svuint64_t;
  static std::size_t lanes() { return svcntd(); }
  static svbool_t all() { return svptrue_b64(); }
  static svbool_t first(std::size_t i, std::size_t n) {
    return svwhilelt_b64(static_cast<std::uint64_t>(i), static_cast<std::uint64_t>(n));
  }
  static vec dup(double x) { return svdup_f64(x); }
  static bits dup_bits(std::uint64_t x) { return svdup_u64(x); }
  static bits as_bits(vec x) { return svreinterpret_u64(x); }
  static vec from_bits(bits x) { return svreinterpret_f64(x); }
  static constexpr std::uint64_t kSign = 0x8000000000000000ull;
};

// body(i, predicate, prefetch) for every vector of [0, n): whole vectors
// under an all-true predicate, then the tail, if any, under WHILELT. Each
// call's prefetch says whether the lines 4 KiB ahead of it are still this
// call's (kernels/prefetch.hpp) for the stream of the narrowest elements,
// Narrowest.
template <class T, class Narrowest, class Body>
inline void for_each_vector(std::size_t n, Body&& body) {
  const std::size_t lanes = sve<T>::lanes();
  const svbool_t all = sve<T>::all();
  const std::size_t vector_end = n - n % lanes;
  const std::size_t prefetch_end = prefetch_limit<Narrowest>(vector_end, lanes);
  std::size_t i = 0;
  for (; i < prefetch_end; i += lanes) body(i, all, true);
  for (; i < vector_end; i += lanes) body(i, all, false);
  if (i < n) body(i, sve<T>::first(i, n), false);
}

// g', step 1 of the documented order: -g if maximize, then + weight_decay *
// w (fma mode: fused, as std::fma(weight_decay, w, g)). The reference's
// twin is modified_gradient in kernels/adagrad_scalar.cpp.
template <bool Fma, class V, class Maximize, class WeightDecay>
inline V modified_gradient(svbool_t pg, V grad, V weight, V weight_decay, Maximize maximize,
                           WeightDecay apply_weight_decay) {
  if (maximize) grad = svneg_x(pg, grad);
  if (apply_weight_decay) {
    if constexpr (Fma) {
      grad = svmla_x(pg, grad, weight_decay, weight);  // grad + wd * w, one rounding
    } else {
      grad = svadd_x(pg, grad, svmul_x(pg, weight_decay, weight));
    }
  }
  return grad;
}

// G + g' * g' (fma mode: std::fma(g', g', G)).
template <bool Fma, class V>
inline V accumulated(svbool_t pg, V sum_sq, V grad) {
  if constexpr (Fma) {
    return svmla_x(pg, sum_sq, grad, grad);
  } else {
    return svadd_x(pg, sum_sq, svmul_x(pg, grad, grad));
  }
}

// sqrt(G) + eps, or sqrt(G + eps).
template <class V, class EpsInside>
inline V denominator(svbool_t pg, V sum_sq, V eps, EpsInside eps_inside) {
  return eps_inside ? svsqrt_x(pg, svadd_x(pg, sum_sq, eps)) : svadd_x(pg, svsqrt_x(pg, sum_sq), eps);
}

// The step's run-time switches as std::bool_constant: visit(b0, b1, ...).
template <class Visitor>
inline void with_switches(Visitor&& visit) {
  visit();
}
template <class Visitor, class... Rest>
inline void with_switches(Visitor&& visit, bool first, Rest... rest) {
  if (first) {
    with_switches([&](auto... tail) { visit(std::true_type{}, tail...); }, rest...);
  } else {
    with_switches([&](auto... tail) { visit(std::false_type{}, tail...); }, rest...);
  }
}

}  // namespace detail
ADAGRAD_KERNEL_NAMESPACE_END

#endif  // ADAGRAD_KERNELS_SVE_SVE_OPS_HPP_
