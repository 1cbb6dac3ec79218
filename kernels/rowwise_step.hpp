// Row-wise AdaGrad (one accumulator per row), written once for every ISA as
// an xsimd functor. Each kernels/adagrad_f32_rowwise_<isa>.cpp includes this
// header, compiled with that ISA's flags alone, and instantiates it; no other
// translation unit does.
//
// The row's sum of squares follows the canonical order of
// include/adagrad/adagrad.h: sixteen partial sums, lane k taking elements
// j = k (mod 16). A batch of W lanes holds W of them, so 16 / W accumulators
// cover one block of 16 elements, each lane always adding the same residue
// class in increasing j, exactly as the reference does. The partials are
// then stored to memory in lane order and finished by the reference
// (adagrad_f32_rowwise_rate): one copy of the tree for every ISA.
#ifndef ADAGRAD_KERNELS_ROWWISE_STEP_HPP_
#define ADAGRAD_KERNELS_ROWWISE_STEP_HPP_

#include <cstddef>
#include <type_traits>
#include <xsimd/xsimd.hpp>

#include "exact_ops.hpp"
#include "prefetch.hpp"
#include "step_constants.h"
#include "ukernels.h"

namespace adagrad {
namespace kernels {

struct rowwise_step {
  template <class Arch>
  void reduce(Arch, std::size_t n, const float* w, const float* g, float* partial,
              const step_constants<float>& c) const;
  template <class Arch>
  void update(Arch, std::size_t n, float* w, const float* g, float rate,
              const step_constants<float>& c) const;
  template <class Arch>
  void rows(Arch, std::size_t rows, std::size_t dim, float* w, const float* g, float* state,
            const step_constants<float>& c) const;
};

namespace detail {

// g' in the documented order: maximize, then weight decay.
template <class Arch, bool Maximize, bool WeightDecay, bool Fma>
inline xsimd::batch<float, Arch> rowwise_gradient(const xsimd::batch<float, Arch>& g,
                                                  const float* w,
                                                  const xsimd::batch<float, Arch>& weight_decay) {
  using batch = xsimd::batch<float, Arch>;
  batch grad = g;
  if constexpr (Maximize) grad = exact_neg(grad);
  if constexpr (WeightDecay) {
    const batch weight = batch::load_unaligned(w);
    if constexpr (Fma) {
      grad = exact_fma(weight_decay, weight, grad);
    } else {
      grad = grad + weight_decay * weight;
    }
  }
  return grad;
}

template <class Arch, bool Maximize, bool WeightDecay, bool Fma>
void rowwise_reduce_loop(std::size_t n, const float* w, const float* g, float* partial,
                         const step_constants<float>& c) {
  using batch = xsimd::batch<float, Arch>;
  constexpr std::size_t width = batch::size;
  static_assert(kRowwiseLanes % width == 0, "a block of 16 lanes is whole batches");
  constexpr std::size_t accumulators = kRowwiseLanes / width;
  const batch weight_decay(c.weight_decay);
  batch sum[accumulators];
  for (std::size_t a = 0; a < accumulators; ++a)
    sum[a] = batch::load_unaligned(partial + a * width);
  const std::size_t block_end = n - n % kRowwiseLanes;
  for (std::size_t i = 0; i < block_end; i += kRowwiseLanes) {
    for (std::size_t a = 0; a < accumulators; ++a) {
      const std::size_t j = i + a * width;
      const batch grad = rowwise_gradient<Arch, Maximize, WeightDecay, Fma>(
          batch::load_unaligned(g + j), w + j, weight_decay);
      if constexpr (Fma) {
        sum[a] = exact_fma(grad, grad, sum[a]);
      } else {
        sum[a] = sum[a] + grad * grad;
      }
    }
  }
  for (std::size_t a = 0; a < accumulators; ++a) sum[a].store_unaligned(partial + a * width);
  // The last partial block via the reference: it starts at lane 0 again.
  if (block_end != n) {
    adagrad_f32_rowwise_reduce_ukernel__scalar(n - block_end, w + block_end, g + block_end, partial,
                                               c);
  }
}

template <class Arch, bool Maximize, bool WeightDecay, bool Fma>
void rowwise_update_loop(std::size_t n, float* w, const float* g, float rate,
                         const step_constants<float>& c) {
  using batch = xsimd::batch<float, Arch>;
  constexpr std::size_t width = batch::size;
  const batch weight_decay(c.weight_decay);
  const batch step(rate);
  const std::size_t vector_end = n - n % width;
  for (std::size_t i = 0; i < vector_end; i += width) {
    // g' reads the old weights, as the reduction did.
    const batch grad = rowwise_gradient<Arch, Maximize, WeightDecay, Fma>(
        batch::load_unaligned(g + i), w + i, weight_decay);
    (batch::load_unaligned(w + i) - step * grad).store_unaligned(w + i);
  }
  if (vector_end != n) {
    adagrad_f32_rowwise_update_ukernel__scalar(n - vector_end, w + vector_end, g + vector_end, rate,
                                               c);
  }
}

// The switches as template arguments, so the loops carry no branches.
template <class Visitor>
void rowwise_variant(const step_constants<float>& c, Visitor&& visit) {
  const int variant = (c.maximize ? 2 : 0) | (c.apply_weight_decay ? 1 : 0);
  switch (variant) {
    case 0: return visit(std::integral_constant<int, 0>{});
    case 1: return visit(std::integral_constant<int, 1>{});
    case 2: return visit(std::integral_constant<int, 2>{});
    default: return visit(std::integral_constant<int, 3>{});
  }
}

}  // namespace detail

template <class Arch>
void rowwise_step::reduce(Arch, std::size_t n, const float* w, const float* g, float* partial,
                          const step_constants<float>& c) const {
  // fma mode runs in the vector loop only where the ISA fuses in hardware;
  // elsewhere the reference (std::fma) gives the same bits.
  auto run = [&](auto fma) {
    detail::rowwise_variant(c, [&](auto v) {
      constexpr int variant = decltype(v)::value;
      detail::rowwise_reduce_loop<Arch, (variant & 2) != 0, (variant & 1) != 0,
                                  decltype(fma)::value>(n, w, g, partial, c);
    });
  };
  if (!c.fma) return run(std::false_type{});
  if constexpr (detail::has_exact_fma<Arch>::value) {
    run(std::true_type{});
  } else {
    adagrad_f32_rowwise_reduce_ukernel__scalar(n, w, g, partial, c);
  }
}

template <class Arch>
void rowwise_step::update(Arch, std::size_t n, float* w, const float* g, float rate,
                          const step_constants<float>& c) const {
  auto run = [&](auto fma) {
    detail::rowwise_variant(c, [&](auto v) {
      constexpr int variant = decltype(v)::value;
      detail::rowwise_update_loop<Arch, (variant & 2) != 0, (variant & 1) != 0,
                                  decltype(fma)::value>(n, w, g, rate, c);
    });
  };
  if (!c.fma) return run(std::false_type{});
  if constexpr (detail::has_exact_fma<Arch>::value) {
    run(std::true_type{});
  } else {
    adagrad_f32_rowwise_update_ukernel__scalar(n, w, g, rate, c);
  }
}

template <class Arch>
void rowwise_step::rows(Arch, std::size_t rows, std::size_t dim, float* w, const float* g,
                        float* state, const step_constants<float>& c) const {
  // Two passes over each row (sum of squares, then update): a row of an
  // embedding table is a few KiB and is still in L1 for the second pass.
  // The rows are contiguous, so the lines 4 KiB ahead in w and g are asked
  // for as each row starts, as the dense step streams (never past the block).
  constexpr std::size_t ahead = detail::kPrefetchBytes / sizeof(float);
  constexpr std::size_t line = 64 / sizeof(float);
  const std::size_t total = rows * dim;
  for (std::size_t r = 0; r < rows; ++r) {
    const std::size_t first = r * dim;
    for (std::size_t j = 0; j < dim && first + j + ahead < total; j += line) {
      detail::prefetch_ahead(Arch{}, w + j, true);
      detail::prefetch_ahead(Arch{}, g + j, false);
    }
    alignas(64) float partial[kRowwiseLanes] = {};
    reduce(Arch{}, dim, w, g, partial, c);
    const float rate = adagrad_f32_rowwise_rate(partial, dim, state + r, c);
    update(Arch{}, dim, w, g, rate, c);
    w += dim;
    g += dim;
  }
}

}  // namespace kernels
}  // namespace adagrad

// Body of a per-ISA translation unit: instantiates the functor for one ISA
// and defines its three ukernels adagrad_f32_rowwise_*_ukernel__<isa>.
#define ADAGRAD_DEFINE_ROWWISE_UKERNELS(name, arch)                                              \
  namespace adagrad {                                                                            \
  namespace kernels {                                                                            \
  void adagrad_f32_rowwise_reduce_ukernel__##name(std::size_t n, const float* w, const float* g, \
                                                  float* partial, step_constants<float> c) {     \
    rowwise_step{}.reduce(arch{}, n, w, g, partial, c);                                          \
  }                                                                                              \
  void adagrad_f32_rowwise_update_ukernel__##name(std::size_t n, float* w, const float* g,       \
                                                  float rate, step_constants<float> c) {         \
    rowwise_step{}.update(arch{}, n, w, g, rate, c);                                             \
  }                                                                                              \
  void adagrad_f32_rowwise_rows_ukernel__##name(std::size_t rows, std::size_t dim, float* w,     \
                                                const float* g, float* state,                    \
                                                step_constants<float> c) {                       \
    rowwise_step{}.rows(arch{}, rows, dim, w, g, state, c);                                      \
  }                                                                                              \
  }                                                                                              \
  }

#endif  // ADAGRAD_KERNELS_ROWWISE_STEP_HPP_
