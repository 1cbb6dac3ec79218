// SPDX-License-Identifier: BSD-3-Clause
// Row-wise AdaGrad (one accumulator per row), written once for every ISA as
// an xsimd functor. The per-ISA translation units that CMake generates
// (kernels/kernel_list.h) include this header, each compiled with its ISA's
// flags alone, and instantiate it; no other translation unit does.
//
// The row's sum of squares follows the canonical order of
// include/adagrad/adagrad.h: sixteen partial sums, lane k taking elements
// j = k (mod 16). A batch of W lanes holds W of them, so 16 / W accumulators
// cover one block of 16 elements, each lane always adding the same residue
// class in increasing j, exactly as the reference does. A whole row whose
// length is a multiple of 16 folds its accumulators in registers by the
// reference's tree (fold_register) and hands the sum to the reference's
// adagrad_f32_rowwise_rate_of_sum; any other row (and a chunk of a row, the
// reduce ukernel) stores its partials to memory in lane order and lets the
// reference fold them (adagrad_f32_rowwise_rate).
#ifndef ADAGRAD_KERNELS_ROWWISE_STEP_HPP_
#define ADAGRAD_KERNELS_ROWWISE_STEP_HPP_

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
  // One whole row's sum of squares, added (as a mean) to *state; returns the
  // row's rate.
  template <class Arch>
  float rate(Arch, std::size_t dim, const float* w, const float* g, float* state,
             const step_constants<float>& c) const;
};

namespace detail {

// g' (kernels/step_parts.hpp), reading w only when weight decay needs it.
template <class Arch, bool Maximize, bool WeightDecay, bool Fma>
inline xsimd::batch<float, Arch> rowwise_gradient(const xsimd::batch<float, Arch>& g,
                                                  const float* w,
                                                  const xsimd::batch<float, Arch>& weight_decay) {
  using batch = xsimd::batch<float, Arch>;
  const batch weight = WeightDecay ? batch::load_unaligned(w) : weight_decay;
  return modified_gradient<Fma>(g, weight, weight_decay, std::bool_constant<Maximize>{},
                                std::bool_constant<WeightDecay>{});
}

template <class Arch>
constexpr std::size_t rowwise_accumulators() {
  static_assert(kRowwiseLanes % xsimd::batch<float, Arch>::size == 0,
                "a block of 16 lanes is whole batches");
  return kRowwiseLanes / xsimd::batch<float, Arch>::size;
}

// Adds the blocks of 16 elements in [0, block_end) to the partial sums held
// in sum[0 .. 16 / W) (lane k of the sixteen in sum[k / W], lane k % W).
template <class Arch, bool Maximize, bool WeightDecay, bool Fma>
inline void rowwise_accumulate(std::size_t block_end, const float* w, const float* g,
                               const step_constants<float>& c, xsimd::batch<float, Arch>* sum) {
  using batch = xsimd::batch<float, Arch>;
  constexpr std::size_t width = batch::size;
  constexpr std::size_t accumulators = rowwise_accumulators<Arch>();
  const batch weight_decay(c.weight_decay);
  for (std::size_t i = 0; i < block_end; i += kRowwiseLanes) {
    for (std::size_t a = 0; a < accumulators; ++a) {
      const std::size_t j = i + a * width;
      const batch grad = rowwise_gradient<Arch, Maximize, WeightDecay, Fma>(
          batch::load_unaligned(g + j), w + j, weight_decay);
      sum[a] = accumulated<Fma>(sum[a], grad);
    }
  }
}

// Lane 0 of the reference's tree inside one register: its upper half added
// onto its lower half, lower lane first (partial[k] + partial[k + half], as
// the reference adds them: the same additions, so the same bits), down to
// one lane.
#if XSIMD_WITH_SSE2
inline float fold_register(__m128 x) {
  x = _mm_add_ps(x, _mm_movehl_ps(x, x));                        // k + 2
  return _mm_cvtss_f32(_mm_add_ss(x, _mm_shuffle_ps(x, x, 1)));  // k + 1
}
#endif
#if XSIMD_WITH_AVX
inline float fold_register(__m256 x) {
  return fold_register(_mm_add_ps(_mm256_castps256_ps128(x), _mm256_extractf128_ps(x, 1)));
}
#endif
#if XSIMD_WITH_AVX512F
// At full width: each step brings lanes k + half down to lane k by a
// shuffle and adds. The shuffles are the masked forms with every lane
// selected and x as the source of the (unselected) rest: the plain forms
// (and _mm512_extractf64x4_pd, _mm512_castps512_ps256) start from
// _mm512_undefined_ps, which GCC 12's -Wuninitialized flags in the
// sanitizer build.
inline float fold_register(__m512 x) {
  constexpr __mmask16 all = 0xffff;
  x = _mm512_add_ps(x, _mm512_mask_shuffle_f32x4(x, all, x, x, _MM_SHUFFLE(1, 0, 3, 2)));  // k + 8
  x = _mm512_add_ps(x, _mm512_mask_shuffle_f32x4(x, all, x, x, _MM_SHUFFLE(2, 3, 0, 1)));  // k + 4
  x = _mm512_add_ps(x, _mm512_mask_permute_ps(x, all, x, _MM_SHUFFLE(1, 0, 3, 2)));        // k + 2
  x = _mm512_add_ps(x, _mm512_mask_permute_ps(x, all, x, _MM_SHUFFLE(2, 3, 0, 1)));        // k + 1
  return _mm512_cvtss_f32(x);
}
#endif
#if XSIMD_WITH_NEON64
inline float fold_register(float32x4_t x) {
  const float32x2_t half = vadd_f32(vget_low_f32(x), vget_high_f32(x));
  return vget_lane_f32(half, 0) + vget_lane_f32(half, 1);
}
#endif

// The sum of squares of a row of whole blocks (n a multiple of 16), by the
// reference's tree: first across the accumulators (the tree's upper levels,
// as lane k + half sits in accumulator (k + half) / W), then inside one
// register. Nothing goes through memory. Storing the partials and reading
// them back one lane at a time made a sparse step's rows much slower, most
// likely because such a read of part of a wide store is not forwarded and
// waits until the earlier rows' stores, whose lines are still on their way
// from memory, have left the store buffer (this VM has no performance
// counters to confirm it). The row-wise sparse_step rows of
// bench/sparse_step_bench.cc show it; the A/B (about a quarter faster at
// 1M rows x 128) is in docs/benchmarking.md.
template <class Arch, bool Maximize, bool WeightDecay, bool Fma>
float rowwise_sum_in_registers(std::size_t n, const float* w, const float* g,
                               const step_constants<float>& c) {
  using batch = xsimd::batch<float, Arch>;
  constexpr std::size_t accumulators = rowwise_accumulators<Arch>();
  batch sum[accumulators];
  for (std::size_t a = 0; a < accumulators; ++a) sum[a] = batch(0.0f);
  rowwise_accumulate<Arch, Maximize, WeightDecay, Fma>(n, w, g, c, sum);
  for (std::size_t count = accumulators; count > 1; count /= 2) {
    for (std::size_t a = 0; a < count / 2; ++a) sum[a] = sum[a] + sum[a + count / 2];
  }
  const typename batch::register_type folded = sum[0];
  return fold_register(folded);
}

template <class Arch, bool Maximize, bool WeightDecay, bool Fma>
void rowwise_reduce_loop(std::size_t n, const float* w, const float* g, float* partial,
                         const step_constants<float>& c) {
  using batch = xsimd::batch<float, Arch>;
  constexpr std::size_t width = batch::size;
  constexpr std::size_t accumulators = rowwise_accumulators<Arch>();
  batch sum[accumulators];
  for (std::size_t a = 0; a < accumulators; ++a)
    sum[a] = batch::load_unaligned(partial + a * width);
  const std::size_t block_end = n - n % kRowwiseLanes;
  rowwise_accumulate<Arch, Maximize, WeightDecay, Fma>(block_end, w, g, c, sum);
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

// Calls loop(maximize, weight_decay, fma) with the step's switches as
// std::bool_constant (kernels/step_parts.hpp), or reference() for fma mode
// on an ISA without a hardware fma.
template <class Arch, class Loop, class Reference>
void rowwise_specialised(const step_constants<float>& c, Loop&& loop, Reference&& reference) {
  with_fma_mode<Arch>(
      c.fma,
      [&](auto fma) {
        with_switches([&](auto maximize, auto weight_decay) { loop(maximize, weight_decay, fma); },
                      c.maximize, c.apply_weight_decay);
      },
      reference);
}

}  // namespace detail

template <class Arch>
void rowwise_step::reduce(Arch, std::size_t n, const float* w, const float* g, float* partial,
                          const step_constants<float>& c) const {
  detail::rowwise_specialised<Arch>(
      c,
      [&](auto maximize, auto weight_decay, auto fma) {
        detail::rowwise_reduce_loop<Arch, decltype(maximize)::value, decltype(weight_decay)::value,
                                    decltype(fma)::value>(n, w, g, partial, c);
      },
      [&] { adagrad_f32_rowwise_reduce_ukernel__scalar(n, w, g, partial, c); });
}

template <class Arch>
void rowwise_step::update(Arch, std::size_t n, float* w, const float* g, float rate,
                          const step_constants<float>& c) const {
  detail::rowwise_specialised<Arch>(
      c,
      [&](auto maximize, auto weight_decay, auto fma) {
        detail::rowwise_update_loop<Arch, decltype(maximize)::value, decltype(weight_decay)::value,
                                    decltype(fma)::value>(n, w, g, rate, c);
      },
      [&] { adagrad_f32_rowwise_update_ukernel__scalar(n, w, g, rate, c); });
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
    update(Arch{}, dim, w, g, rate(Arch{}, dim, w, g, state + r, c), c);
    w += dim;
    g += dim;
  }
}

template <class Arch>
float rowwise_step::rate(Arch, std::size_t dim, const float* w, const float* g, float* state,
                         const step_constants<float>& c) const {
  // A partial last block (or fma mode without a hardware fma): the partials
  // through memory, the last block and the tree by the reference.
  auto through_memory = [&] {
    alignas(64) float partial[kRowwiseLanes] = {};
    reduce(Arch{}, dim, w, g, partial, c);
    return adagrad_f32_rowwise_rate(partial, dim, state, c);
  };
  if (dim % kRowwiseLanes != 0) return through_memory();
  float row_rate = 0.0f;
  detail::rowwise_specialised<Arch>(
      c,
      [&](auto maximize, auto weight_decay, auto fma) {
        row_rate = adagrad_f32_rowwise_rate_of_sum(
            detail::rowwise_sum_in_registers<Arch, decltype(maximize)::value,
                                             decltype(weight_decay)::value, decltype(fma)::value>(
                dim, w, g, c),
            dim, state, c);
      },
      [&] { row_rate = through_memory(); });
  return row_rate;
}

ADAGRAD_KERNEL_NAMESPACE_END

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
