// SPDX-License-Identifier: BSD-3-Clause
// The fused dense AdaGrad step, written once for every ISA as an xsimd
// functor. Each kernels/adagrad_<dtype>_<isa>.cpp includes this header,
// compiled with that ISA's flags alone, and instantiates the functor for its
// architecture; no other translation unit instantiates it.
#ifndef ADAGRAD_KERNELS_DENSE_STEP_HPP_
#define ADAGRAD_KERNELS_DENSE_STEP_HPP_

#include <cstddef>
#include <type_traits>
#include <xsimd/xsimd.hpp>

#include "exact_ops.hpp"
#include "prefetch.hpp"
#include "step_constants.h"
#include "ukernels.h"

namespace adagrad {
namespace kernels {

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

// The loop, specialised on the four switches so the body carries no
// branches. Unaligned loads and stores: callers need only element alignment
// (xsimd 8.1's plain load/store demand vector alignment and would fault).
template <class Arch, class T, bool Maximize, bool WeightDecay, bool EpsInside, bool Fma>
void dense_step_loop(std::size_t n, T* w, const T* g, T* G, const step_constants<T>& c) {
  using batch = xsimd::batch<T, Arch>;
  constexpr std::size_t width = batch::size;
  const batch lr(c.lr);
  const batch eps(c.eps);
  const batch weight_decay(c.weight_decay);
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
    if constexpr (Maximize) grad = exact_neg(grad);
    if constexpr (Fma) {
      if constexpr (WeightDecay) grad = exact_fma(weight_decay, weight, grad);
      sum_sq = exact_fma(grad, grad, sum_sq);
    } else {
      if constexpr (WeightDecay) grad = grad + weight_decay * weight;
      sum_sq = sum_sq + grad * grad;
    }
    const batch denom = EpsInside ? exact_sqrt(sum_sq + eps) : exact_sqrt(sum_sq) + eps;
    weight = weight - exact_div(lr * grad, denom);
    sum_sq.store_unaligned(G + i);
    weight.store_unaligned(w + i);
  };
  // Prefetch only what this call will read: past the end it would pull in
  // lines nobody asked for, which costs a short row of an embedding table
  // (the sparse steps call this per row) more memory traffic than it moves.
  const std::size_t prefetch_end = prefetch_limit<T>(vector_end, width);
  std::size_t i = 0;
  for (; i < prefetch_end; i += width) body(i, std::true_type{});
  for (; i < vector_end; i += width) body(i, std::false_type{});
  // Tail via the reference: keeps rounding identical and reads nothing past n.
  if (vector_end != n) {
    reference_tail(Arch{}, n - vector_end, w + vector_end, g + vector_end, G + vector_end, c);
  }
}

template <class Arch, class T, bool Fma>
void dense_step_variant(std::size_t n, T* w, const T* g, T* G, const step_constants<T>& c) {
  const int variant =
      (c.maximize ? 4 : 0) | (c.apply_weight_decay ? 2 : 0) | (c.eps_inside ? 1 : 0);
  switch (variant) {
    case 0: return dense_step_loop<Arch, T, false, false, false, Fma>(n, w, g, G, c);
    case 1: return dense_step_loop<Arch, T, false, false, true, Fma>(n, w, g, G, c);
    case 2: return dense_step_loop<Arch, T, false, true, false, Fma>(n, w, g, G, c);
    case 3: return dense_step_loop<Arch, T, false, true, true, Fma>(n, w, g, G, c);
    case 4: return dense_step_loop<Arch, T, true, false, false, Fma>(n, w, g, G, c);
    case 5: return dense_step_loop<Arch, T, true, false, true, Fma>(n, w, g, G, c);
    case 6: return dense_step_loop<Arch, T, true, true, false, Fma>(n, w, g, G, c);
    default: return dense_step_loop<Arch, T, true, true, true, Fma>(n, w, g, G, c);
  }
}

}  // namespace detail

template <class Arch, class T>
void dense_step::operator()(Arch, std::size_t n, T* w, const T* g, T* G,
                            const step_constants<T>& c) const {
  if (!c.fma) return detail::dense_step_variant<Arch, T, false>(n, w, g, G, c);
  // fma mode: in the vector loop where the ISA fuses in hardware, else all
  // of it in the reference (std::fma), which gives the same bits.
  if constexpr (detail::has_exact_fma<Arch>::value) {
    return detail::dense_step_variant<Arch, T, true>(n, w, g, G, c);
  } else {
    detail::reference_tail(Arch{}, n, w, g, G, c);
  }
}

// Instantiated only in the per-ISA translation units.
#define ADAGRAD_ISA(ENUM, name, arch, usable)                                               \
  extern template void dense_step::operator()<arch, float>(                                 \
      arch, std::size_t, float*, const float*, float*, const step_constants<float>&) const; \
  extern template void dense_step::operator()<arch, double>(                                \
      arch, std::size_t, double*, const double*, double*, const step_constants<double>&) const;
#include "isa_list.inc"
#undef ADAGRAD_ISA

}  // namespace kernels
}  // namespace adagrad

// Body of a per-ISA translation unit: instantiates the functor for one
// (ISA, element type) and defines the ukernel adagrad_<dtype>_ukernel__<isa>.
#define ADAGRAD_DEFINE_DENSE_UKERNEL(name, arch, dtype, T)                                \
  namespace adagrad {                                                                     \
  namespace kernels {                                                                     \
  template void dense_step::operator()<arch, T>(arch, std::size_t, T*, const T*, T*,      \
                                                const step_constants<T>&) const;          \
  adagrad_status adagrad_##dtype##_ukernel__##name(std::size_t n, T* w, const T* g, T* G, \
                                                   step_constants<T> c) {                 \
    dense_step{}(arch{}, n, w, g, G, c);                                                  \
    return ADAGRAD_OK;                                                                    \
  }                                                                                       \
  }                                                                                       \
  }

#endif  // ADAGRAD_KERNELS_DENSE_STEP_HPP_
