// SPDX-License-Identifier: BSD-3-Clause
// What every vector step shares: the modified gradient g', and the one way
// a kernel turns the run-time switches of its constants into compile-time
// ones (so that a loop specialised on them carries no branch).
#ifndef ADAGRAD_KERNELS_STEP_PARTS_HPP_
#define ADAGRAD_KERNELS_STEP_PARTS_HPP_

#include <cstddef>
#include <type_traits>
#include <utility>
#include <xsimd/xsimd.hpp>

#include "exact_ops.hpp"
#include "isa_namespace.h"
#include "prefetch.hpp"

ADAGRAD_KERNEL_NAMESPACE_BEGIN
namespace detail {

// Calls visit with one std::bool_constant per switch, in order, holding the
// switch's value: visit(std::true_type{}, std::false_type{}) for
// with_switches(visit, true, false). Every combination is instantiated, so
// only the switches a loop would otherwise test per element belong here.
template <class Visitor>
inline decltype(auto) with_switches(Visitor&& visit) {
  return visit();
}
template <class Visitor, class... Rest>
inline decltype(auto) with_switches(Visitor&& visit, bool first, Rest... rest) {
  if (first) {
    return with_switches([&](auto... tail) { return visit(std::true_type{}, tail...); }, rest...);
  }
  return with_switches([&](auto... tail) { return visit(std::false_type{}, tail...); }, rest...);
}

// fma mode as a compile-time switch: run(std::bool_constant<fma>{}) where
// the ISA has a fused multiply-add in hardware (has_exact_fma) or fma is
// off; fma mode on any other ISA runs reference() instead, the scalar
// reference, whose std::fma gives the same bits. exact_fma is therefore
// never instantiated for an ISA without it.
template <class Arch, class Run, class Reference>
inline decltype(auto) with_fma_mode(bool fma, Run&& run, Reference&& reference) {
  if (!fma) return run(std::false_type{});
  if constexpr (has_exact_fma<Arch>::value) {
    return run(std::true_type{});
  } else {
    return reference();
  }
}

// g', step 1 of the order include/adagrad/adagrad.h documents: the gradient
// negated if maximize, then weight_decay * weight added (fma mode: fused,
// one rounding). maximize and apply_weight_decay are bools (a
// loop-invariant branch) or std::bool_constant (none). The scalar
// reference's twin is modified_gradient in kernels/adagrad_scalar.cpp.
template <bool Fma, class Arch, class T, class Maximize, class WeightDecay>
inline xsimd::batch<T, Arch> modified_gradient(xsimd::batch<T, Arch> grad,
                                               const xsimd::batch<T, Arch>& weight,
                                               const xsimd::batch<T, Arch>& weight_decay,
                                               Maximize maximize, WeightDecay apply_weight_decay) {
  if (maximize) grad = exact_neg(grad);
  if (apply_weight_decay) {
    if constexpr (Fma) {
      grad = exact_fma(weight_decay, weight, grad);
    } else {
      grad = grad + weight_decay * weight;
    }
  }
  return grad;
}

// The vector loop of a streaming step over [0, vector_end) in steps of
// Width: body(i, std::true_type{}) (prefetch 4 KiB ahead) while those lines
// of the stream with the narrowest elements (Narrowest) are still this
// call's, then body(i, std::false_type{}). Prefetching past the call's own
// data would pull in lines nobody asked for, which costs a short row of an
// embedding table (the sparse steps call the dense step per row) more
// memory traffic than it moves.
template <class Narrowest, std::size_t Width, class Body>
inline void stream_vectors(std::size_t vector_end, Body&& body) {
  const std::size_t prefetch_end = prefetch_limit<Narrowest>(vector_end, Width);
  std::size_t i = 0;
  for (; i < prefetch_end; i += Width) body(i, std::true_type{});
  for (; i < vector_end; i += Width) body(i, std::false_type{});
}

// G + g' * g' (fma mode: fused).
template <bool Fma, class Arch, class T>
inline xsimd::batch<T, Arch> accumulated(const xsimd::batch<T, Arch>& sum_sq,
                                         const xsimd::batch<T, Arch>& grad) {
  if constexpr (Fma) {
    return exact_fma(grad, grad, sum_sq);
  } else {
    return sum_sq + grad * grad;
  }
}

}  // namespace detail
ADAGRAD_KERNEL_NAMESPACE_END

#endif  // ADAGRAD_KERNELS_STEP_PARTS_HPP_
