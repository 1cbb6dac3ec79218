// SPDX-License-Identifier: BSD-3-Clause
// The composite-objective steps (proximal AdaGrad and AdaGrad dual
// averaging), written once for every ISA as an xsimd functor. The per-ISA
// translation units that CMake generates (kernels/kernel_list.h) include
// this header, each compiled with its ISA's flags alone, and instantiate it;
// no other translation unit does.
// The order of operations is the reference's (kernels/adagrad_scalar.cpp) and
// the header's, operation for operation.
#ifndef ADAGRAD_KERNELS_COMPOSITE_STEP_HPP_
#define ADAGRAD_KERNELS_COMPOSITE_STEP_HPP_

#include <cstddef>
#include <type_traits>
#include <xsimd/xsimd.hpp>

#include "exact_ops.hpp"
#include "isa_namespace.h"
#include "prefetch.hpp"
#include "step_parts.hpp"
#include "step_constants.h"
#include "ukernels.h"

ADAGRAD_KERNEL_NAMESPACE_BEGIN

struct composite_step {
  template <class Arch, class T>
  void proximal(Arch, std::size_t n, T* w, const T* g, T* G, const composite_constants<T>& c) const;
  template <class Arch, class T>
  void dual_averaging(Arch, std::size_t n, T* w, const T* g, T* z, T* G,
                      const composite_constants<T>& c) const;
};

namespace detail {

// The tails go to the reference. Keyed on Arch, although they do not use it,
// so that an out-of-line copy cannot stand in for another ISA's.
template <class Arch>
inline void composite_tail(Arch, std::size_t n, float* w, const float* g, float* G,
                           const composite_constants<float>& c) {
  adagrad_f32_proximal_ukernel__scalar(n, w, g, G, &c);
}
template <class Arch>
inline void composite_tail(Arch, std::size_t n, double* w, const double* g, double* G,
                           const composite_constants<double>& c) {
  adagrad_f64_proximal_ukernel__scalar(n, w, g, G, &c);
}
template <class Arch>
inline void composite_tail(Arch, std::size_t n, float* w, const float* g, float* z, float* G,
                           const composite_constants<float>& c) {
  adagrad_f32_da_ukernel__scalar(n, w, g, z, G, &c);
}
template <class Arch>
inline void composite_tail(Arch, std::size_t n, double* w, const double* g, double* z, double* G,
                           const composite_constants<double>& c) {
  adagrad_f64_da_ukernel__scalar(n, w, g, z, G, &c);
}

// The per-call constants as batches, and the steps every composite update
// shares: g' (maximize, weight decay), G + g' * g', and the denominator.
template <class Arch, class T, bool Fma>
struct composite_lanes {
  using batch = xsimd::batch<T, Arch>;
  const step_constants<T>& s;
  batch lr, eps, weight_decay, l1, l2, da_l1, da_l2, neg_lr, zero, one;

  explicit composite_lanes(const composite_constants<T>& c)
      : s(c.step),
        lr(c.step.lr),
        eps(c.step.eps),
        weight_decay(c.step.weight_decay),
        l1(c.l1),
        l2(c.l2),
        da_l1(c.da_l1),
        da_l2(c.da_l2),
        neg_lr(c.neg_lr),
        zero(T(0)),
        one(T(1)) {}

  // g' with loop-invariant switches: the branches are predicted perfectly,
  // and the loops are bound by memory or by the divider, not by them.
  batch gradient(const batch& grad, const batch& weight) const {
    return modified_gradient<Fma>(grad, weight, weight_decay, s.maximize, s.apply_weight_decay);
  }
  batch accumulate(const batch& sum_sq, const batch& grad) const {
    return accumulated<Fma>(sum_sq, grad);
  }
  batch denominator(const batch& sum_sq) const {
    return s.eps_inside ? exact_sqrt(sum_sq + eps) : exact_sqrt(sum_sq) + eps;
  }
  // copysign(max(|v| - threshold, 0), v); NaN stays NaN (NaN < 0 is false).
  static batch shrink(const batch& v, const batch& threshold, const batch& zero) {
    batch m = exact_abs(v) - threshold;
    m = xsimd::select(m < zero, zero, m);
    return exact_copysign(m, v);
  }
};

template <class Arch, class T, bool Fma, bool L1, bool L2>
void proximal_loop(std::size_t n, T* w, const T* g, T* G, const composite_constants<T>& c) {
  using lanes_t = composite_lanes<Arch, T, Fma>;
  using batch = typename lanes_t::batch;
  const lanes_t k(c);
  constexpr std::size_t width = batch::size;
  const std::size_t vector_end = n - n % width;
  auto body = [&](std::size_t i, auto prefetch) {
    if constexpr (decltype(prefetch)::value) {
      prefetch_ahead(Arch{}, g + i, false);
      prefetch_ahead(Arch{}, w + i, true);
      prefetch_ahead(Arch{}, G + i, true);
    }
    const batch weight = batch::load_unaligned(w + i);
    const batch grad = k.gradient(batch::load_unaligned(g + i), weight);
    const batch sum_sq = k.accumulate(batch::load_unaligned(G + i), grad);
    const batch rate = exact_div(k.lr, k.denominator(sum_sq));
    batch u = weight - rate * grad;
    if constexpr (L1) u = lanes_t::shrink(u, rate * k.l1, k.zero);
    if constexpr (L2) u = exact_div(u, k.one + rate * k.l2);
    sum_sq.store_unaligned(G + i);
    u.store_unaligned(w + i);
  };
  stream_vectors<T, width>(vector_end, body);
  // Tail via the reference: keeps rounding identical and reads nothing past n.
  if (vector_end != n)
    composite_tail(Arch{}, n - vector_end, w + vector_end, g + vector_end, G + vector_end, c);
}

template <class Arch, class T, bool Fma, bool L1>
void da_loop(std::size_t n, T* w, const T* g, T* z, T* G, const composite_constants<T>& c) {
  using lanes_t = composite_lanes<Arch, T, Fma>;
  using batch = typename lanes_t::batch;
  const lanes_t k(c);
  constexpr std::size_t width = batch::size;
  const std::size_t vector_end = n - n % width;
  // w is read only for weight decay.
  const bool reads_w = c.step.apply_weight_decay;
  auto body = [&](std::size_t i, auto prefetch) {
    if constexpr (decltype(prefetch)::value) {
      prefetch_ahead(Arch{}, g + i, false);
      prefetch_ahead(Arch{}, z + i, true);
      prefetch_ahead(Arch{}, G + i, true);
      prefetch_ahead(Arch{}, w + i, true);
    }
    const batch weight = reads_w ? batch::load_unaligned(w + i) : k.zero;
    const batch grad = k.gradient(batch::load_unaligned(g + i), weight);
    const batch sum = batch::load_unaligned(z + i) + grad;
    const batch sum_sq = k.accumulate(batch::load_unaligned(G + i), grad);
    const batch denom = k.denominator(sum_sq);
    batch u = sum;
    if constexpr (L1) u = lanes_t::shrink(u, k.da_l1, k.zero);
    const batch weight_new = exact_div(k.neg_lr * u, k.da_l2 + denom);
    sum.store_unaligned(z + i);
    sum_sq.store_unaligned(G + i);
    weight_new.store_unaligned(w + i);
  };
  stream_vectors<T, width>(vector_end, body);
  if (vector_end != n)
    composite_tail(Arch{}, n - vector_end, w + vector_end, g + vector_end, z + vector_end,
                   G + vector_end, c);
}

}  // namespace detail

template <class Arch, class T>
void composite_step::proximal(Arch, std::size_t n, T* w, const T* g, T* G,
                              const composite_constants<T>& c) const {
  detail::with_fma_mode<Arch>(
      c.step.fma,
      [&](auto fma) {
        detail::with_switches(
            [&](auto l1, auto l2) {
              detail::proximal_loop<Arch, T, decltype(fma)::value, decltype(l1)::value,
                                    decltype(l2)::value>(n, w, g, G, c);
            },
            c.has_l1, c.has_l2);
      },
      [&] { detail::composite_tail(Arch{}, n, w, g, G, c); });
}

template <class Arch, class T>
void composite_step::dual_averaging(Arch, std::size_t n, T* w, const T* g, T* z, T* G,
                                    const composite_constants<T>& c) const {
  detail::with_fma_mode<Arch>(
      c.step.fma,
      [&](auto fma) {
        detail::with_switches(
            [&](auto l1) {
              detail::da_loop<Arch, T, decltype(fma)::value, decltype(l1)::value>(n, w, g, z, G,
                                                                                 c);
            },
            c.has_l1);
      },
      [&] { detail::composite_tail(Arch{}, n, w, g, z, G, c); });
}

ADAGRAD_KERNEL_NAMESPACE_END

// Body of a per-ISA translation unit: the four composite ukernels of one ISA.
#define ADAGRAD_DEFINE_COMPOSITE_UKERNELS(name, arch)                                              \
  namespace adagrad {                                                                              \
  namespace kernels {                                                                              \
  void adagrad_f32_proximal_ukernel__##name(std::size_t n, float* w, const float* g, float* G,     \
                                            const composite_constants<float>* c) {                 \
    composite_step{}.proximal(arch{}, n, w, g, G, *c);                                             \
  }                                                                                                \
  void adagrad_f64_proximal_ukernel__##name(std::size_t n, double* w, const double* g, double* G,  \
                                            const composite_constants<double>* c) {                \
    composite_step{}.proximal(arch{}, n, w, g, G, *c);                                             \
  }                                                                                                \
  void adagrad_f32_da_ukernel__##name(std::size_t n, float* w, const float* g, float* z, float* G, \
                                      const composite_constants<float>* c) {                       \
    composite_step{}.dual_averaging(arch{}, n, w, g, z, G, *c);                                    \
  }                                                                                                \
  void adagrad_f64_da_ukernel__##name(std::size_t n, double* w, const double* g, double* z,        \
                                      double* G, const composite_constants<double>* c) {           \
    composite_step{}.dual_averaging(arch{}, n, w, g, z, G, *c);                                    \
  }                                                                                                \
  }                                                                                                \
  }

#endif  // ADAGRAD_KERNELS_COMPOSITE_STEP_HPP_
