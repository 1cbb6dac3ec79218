// SPDX-License-Identifier: BSD-3-Clause
// The fused dense AdaGrad step, written once for every ISA as an xsimd
// functor. The per-ISA translation units that CMake generates
// (kernels/kernel_list.h) include this header, each compiled with its ISA's
// flags alone, and instantiate the functor for its architecture; no other
// translation unit instantiates it.
#ifndef ADAGRAD_KERNELS_DENSE_STEP_HPP_
#define ADAGRAD_KERNELS_DENSE_STEP_HPP_

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

struct dense_step {
  // One pass: accumulate, square root and update, in the documented order.
  template <class Arch, class T>
  void operator()(Arch, std::size_t n, T* w, const T* g, T* G, const step_constants<T>& c) const;
};

namespace detail {

// The tail goes to the scalar reference. Templated on Arch although it does
// not use it: should the compiler emit it out of line, the symbol is then
// keyed on the ISA and cannot stand in for another ISA's copy.
template <class Arch>
inline void reference_tail(Arch, std::size_t n, float* w, const float* g, float* G,
                           const step_constants<float>& c) {
  adagrad_f32_ukernel__scalar(n, w, g, G, c);
}
template <class Arch>
inline void reference_tail(Arch, std::size_t n, double* w, const double* g, double* G,
                           const step_constants<double>& c) {
  adagrad_f64_ukernel__scalar(n, w, g, G, c);
}

// The loop, specialised on the five switches (with_switches,
// with_fma_mode) so the body carries no branches. Unaligned loads and
// stores: callers need only element alignment (xsimd 8.1's plain load/store
// demand vector alignment and would fault).
template <class Arch, class T, bool Maximize, bool WeightDecay, bool EpsInside, bool Torch,
          bool Fma>
void dense_step_loop(std::size_t n, T* w, const T* g, T* G, const step_constants<T>& c) {
  using batch = xsimd::batch<T, Arch>;
  constexpr std::size_t width = batch::size;
  const batch lr(c.lr);
  const batch eps(c.eps);
  const batch weight_decay(c.weight_decay);
  const batch neg_lr(-c.lr);
  const std::size_t vector_end = n - n % width;
  auto body = [&](std::size_t i, auto prefetch) {
    if constexpr (decltype(prefetch)::value) {
      prefetch_ahead(Arch{}, g + i, false);
      prefetch_ahead(Arch{}, w + i, true);
      prefetch_ahead(Arch{}, G + i, true);
    }
    batch grad = batch::load_unaligned(g + i);
    batch weight = batch::load_unaligned(w + i);
    batch sum_sq = batch::load_unaligned(G + i);
    grad = modified_gradient<Fma>(grad, weight, weight_decay, std::bool_constant<Maximize>{},
                                  std::bool_constant<WeightDecay>{});
    // torch's sparse order squares and adds apart, also in fma mode.
    sum_sq = accumulated < Fma && !Torch > (sum_sq, grad);
    const batch denom = EpsInside ? exact_sqrt(sum_sq + eps) : exact_sqrt(sum_sq) + eps;
    if constexpr (Torch) {
      // add_(g / d, alpha=-lr): w + (-lr) * q, fused in fma mode.
      const batch quotient = exact_div(grad, denom);
      if constexpr (Fma) {
        weight = exact_fma(neg_lr, quotient, weight);
      } else {
        weight = weight + neg_lr * quotient;
      }
    } else {
      weight = weight - exact_div(lr * grad, denom);
    }
    sum_sq.store_unaligned(G + i);
    weight.store_unaligned(w + i);
  };
  stream_vectors<T, width>(vector_end, body);
  // Tail via the reference: keeps rounding identical and reads nothing past n.
  if (vector_end != n) {
    reference_tail(Arch{}, n - vector_end, w + vector_end, g + vector_end, G + vector_end, c);
  }
}

}  // namespace detail

template <class Arch, class T>
void dense_step::operator()(Arch, std::size_t n, T* w, const T* g, T* G,
                            const step_constants<T>& c) const {
  detail::with_fma_mode<Arch>(
      c.fma,
      [&](auto fma) {
        detail::with_switches(
            [&](auto maximize, auto weight_decay, auto eps_inside, auto torch) {
              detail::dense_step_loop<Arch, T, decltype(maximize)::value,
                                      decltype(weight_decay)::value, decltype(eps_inside)::value,
                                      decltype(torch)::value, decltype(fma)::value>(n, w, g, G, c);
            },
            c.maximize, c.apply_weight_decay, c.eps_inside, c.torch_order);
      },
      [&] { detail::reference_tail(Arch{}, n, w, g, G, c); });
}

ADAGRAD_KERNEL_NAMESPACE_END

// Body of a per-ISA translation unit (kernels/kernel_list.h): the dense
// ukernels adagrad_f32_ukernel__<isa> and adagrad_f64_ukernel__<isa>.
#define ADAGRAD_DEFINE_DENSE_UKERNELS(name, arch)                                            \
  namespace adagrad {                                                                       \
  namespace kernels {                                                                       \
  adagrad_status adagrad_f32_ukernel__##name(std::size_t n, float* w, const float* g,       \
                                             float* G, step_constants<float> c) {          \
    dense_step{}(arch{}, n, w, g, G, c);                                                    \
    return ADAGRAD_OK;                                                                      \
  }                                                                                         \
  adagrad_status adagrad_f64_ukernel__##name(std::size_t n, double* w, const double* g,     \
                                             double* G, step_constants<double> c) {        \
    dense_step{}(arch{}, n, w, g, G, c);                                                    \
    return ADAGRAD_OK;                                                                      \
  }                                                                                         \
  }                                                                                         \
  }

#endif  // ADAGRAD_KERNELS_DENSE_STEP_HPP_
