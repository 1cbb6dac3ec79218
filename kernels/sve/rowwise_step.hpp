// SPDX-License-Identifier: BSD-3-Clause
// Row-wise AdaGrad (one accumulator per row) for SVE, at any vector length.
//
// The row's sum of squares keeps the canonical order of
// include/adagrad/adagrad.h whatever the vector length: sixteen partial
// sums, lane k taking elements j = k (mod 16) in increasing j, folded by the
// fixed tree (partial[k] + partial[k + half] for half = 8, 4, 2, 1). With L
// float lanes per vector:
//  - L = 4 (128 bits) or 8 (256 bits): 16 / L accumulators cover one block
//    of 16 elements, as the xsimd kernels do;
//  - L = 16 (512 bits): one accumulator, one block per vector;
//  - L > 16 (1024, 2048 bits): still one block per step, in the first 16
//    lanes (a WHILELT(0, 16) predicate). Taking two blocks per vector would
//    put elements j and j + 16 in two lanes, and adding those lanes at the
//    end is not the reference's order (it adds them in turn to one partial
//    sum). So the reduction uses 16 lanes of a wider vector; the update,
//    element-wise, uses all of them.
//  - any other L (an SVE vector length that is not a power of two, which
//    SVE allows and SVE2 does not): 16 is not whole vectors, and the
//    reduction runs the reference.
// A partial last block (a row whose length is not a multiple of 16) is
// accumulated under a WHILELT predicate with merging operations, its lanes
// again starting at lane 0, so every row folds in registers: by the same
// tree (svext brings lanes k + half down to lane k, added as partial[k] +
// partial[k + half]), and the sum goes to the reference's
// adagrad_f32_rowwise_rate_of_sum.
#ifndef ADAGRAD_KERNELS_SVE_ROWWISE_STEP_HPP_
#define ADAGRAD_KERNELS_SVE_ROWWISE_STEP_HPP_

#include <cstddef>
#include <type_traits>

#include "isa_namespace.h"
#include "prefetch.hpp"
#include "step_constants.h"
#include "sve/sve_ops.hpp"
#include "ukernels.h"

ADAGRAD_KERNEL_NAMESPACE_BEGIN
namespace detail {

// The number of accumulators a block of 16 takes at this vector length (1,
// 2 or 4), 0 where 16 lanes are not whole vectors (the reference runs).
inline unsigned sve_rowwise_accumulators() {
  const std::size_t lanes = svcntw();
  if (lanes == 4) return 4;
  if (lanes == 8) return 2;
  return lanes % kRowwiseLanes == 0 ? 1 : 0;
}

// Adds g'_j * g'_j of the elements under pg (lane k: w[k], g[k]) to sum,
// lanes outside pg unchanged.
template <bool Maximize, bool WeightDecay, bool Fma>
inline void sve_rowwise_add(svbool_t pg, const float* w, const float* g, svfloat32_t weight_decay,
                            svfloat32_t& sum) {
  const svfloat32_t weight = WeightDecay ? svld1(pg, w) : weight_decay;
  const svfloat32_t grad =
      modified_gradient<Fma>(pg, svld1(pg, g), weight, weight_decay,
                             std::bool_constant<Maximize>{}, std::bool_constant<WeightDecay>{});
  if constexpr (Fma) {
    sum = svmla_m(pg, sum, grad, grad);
  } else {
    sum = svadd_m(pg, sum, svmul_x(pg, grad, grad));
  }
}

// Adds elements [0, n) to the sixteen partial sums held in s0 .. s{A-1}
// (lane k of the sixteen in s[k / (16 / A)], lane k % (16 / A)); the last
// block may be partial.
template <unsigned A, bool Maximize, bool WeightDecay, bool Fma>
inline void sve_rowwise_accumulate(std::size_t n, const float* w, const float* g,
                                   const step_constants<float>& c, svfloat32_t& s0,
                                   svfloat32_t& s1, svfloat32_t& s2, svfloat32_t& s3) {
  constexpr std::size_t per = kRowwiseLanes / A;  // elements of a block per accumulator
  const svfloat32_t weight_decay = svdup_f32(c.weight_decay);
  const svbool_t block = svwhilelt_b32(std::uint64_t{0}, std::uint64_t{per});
  std::size_t i = 0;
  for (; i + kRowwiseLanes <= n; i += kRowwiseLanes) {
    sve_rowwise_add<Maximize, WeightDecay, Fma>(block, w + i, g + i, weight_decay, s0);
    if constexpr (A >= 2) {
      sve_rowwise_add<Maximize, WeightDecay, Fma>(block, w + i + per, g + i + per, weight_decay, s1);
    }
    if constexpr (A == 4) {
      sve_rowwise_add<Maximize, WeightDecay, Fma>(block, w + i + 2 * per, g + i + 2 * per,
                                                  weight_decay, s2);
      sve_rowwise_add<Maximize, WeightDecay, Fma>(block, w + i + 3 * per, g + i + 3 * per,
                                                  weight_decay, s3);
    }
  }
  if (i == n) return;
  // The partial last block: lane k of the sixteen takes element i + k.
  auto part = [&](std::size_t a, svfloat32_t& sum) {
    const std::size_t first = i + a * per;
    if (first >= n) return;
    const svbool_t pg = svwhilelt_b32(static_cast<std::uint64_t>(first), static_cast<std::uint64_t>(n));
    sve_rowwise_add<Maximize, WeightDecay, Fma>(svand_z(block, block, pg), w + first, g + first,
                                                weight_decay, sum);
  };
  part(0, s0);
  if constexpr (A >= 2) part(1, s1);
  if constexpr (A == 4) {
    part(2, s2);
    part(3, s3);
  }
}

// Lane 0 of the reference's tree over the sixteen partial sums: the levels
// across accumulators first (lane k + half sits in accumulator (k + half) /
// (16 / A)), then inside one register.
template <unsigned A>
inline float sve_rowwise_fold(svfloat32_t s0, svfloat32_t s1, svfloat32_t s2, svfloat32_t s3) {
  const svbool_t all = svptrue_b32();
  if constexpr (A == 4) {
    s0 = svadd_x(all, s0, s2);  // k + 8
    s1 = svadd_x(all, s1, s3);
    s0 = svadd_x(all, s0, s1);  // k + 4
  } else if constexpr (A == 2) {
    s0 = svadd_x(all, s0, s1);  // k + 8
  } else {
    s0 = svadd_x(all, s0, svext(s0, s0, 8));  // k + 8
  }
  if constexpr (A <= 2) s0 = svadd_x(all, s0, svext(s0, s0, 4));  // k + 4
  s0 = svadd_x(all, s0, svext(s0, s0, 2));                        // k + 2
  s0 = svadd_x(all, s0, svext(s0, s0, 1));                        // k + 1
  // LASTA with no active lane reads lane 0.
  return svlasta(svpfalse_b(), s0);
}

template <unsigned A, bool Maximize, bool WeightDecay, bool Fma>
void sve_rowwise_reduce_loop(std::size_t n, const float* w, const float* g, float* partial,
                             const step_constants<float>& c) {
  constexpr std::size_t per = kRowwiseLanes / A;
  const svbool_t block = svwhilelt_b32(std::uint64_t{0}, std::uint64_t{per});
  svfloat32_t s0 = svld1(block, partial);
  svfloat32_t s1 = A >= 2 ? svld1(block, partial + per) : s0;
  svfloat32_t s2 = A == 4 ? svld1(block, partial + 2 * per) : s0;
  svfloat32_t s3 = A == 4 ? svld1(block, partial + 3 * per) : s0;
  sve_rowwise_accumulate<A, Maximize, WeightDecay, Fma>(n, w, g, c, s0, s1, s2, s3);
  svst1(block, partial, s0);
  if constexpr (A >= 2) svst1(block, partial + per, s1);
  if constexpr (A == 4) {
    svst1(block, partial + 2 * per, s2);
    svst1(block, partial + 3 * per, s3);
  }
}

template <unsigned A, bool Maximize, bool WeightDecay, bool Fma>
float sve_rowwise_sum(std::size_t n, const float* w, const float* g,
                      const step_constants<float>& c) {
  svfloat32_t s0 = svdup_f32(0.0f), s1 = s0, s2 = s0, s3 = s0;
  sve_rowwise_accumulate<A, Maximize, WeightDecay, Fma>(n, w, g, c, s0, s1, s2, s3);
  return sve_rowwise_fold<A>(s0, s1, s2, s3);
}

template <bool Maximize, bool WeightDecay, bool Fma>
void sve_rowwise_update_loop(std::size_t n, float* w, const float* g, float rate,
                             const step_constants<float>& c) {
  const svfloat32_t weight_decay = svdup_f32(c.weight_decay);
  const svfloat32_t step = svdup_f32(rate);
  for_each_vector<float, float>(n, [&](std::size_t i, svbool_t pg, bool) {
    // g' reads the old weights, as the reduction did.
    const svfloat32_t weight = svld1(pg, w + i);
    const svfloat32_t grad =
        modified_gradient<Fma>(pg, svld1(pg, g + i), weight, weight_decay,
                               std::bool_constant<Maximize>{}, std::bool_constant<WeightDecay>{});
    svst1(pg, w + i, svsub_x(pg, weight, svmul_x(pg, step, grad)));
  });
}

// loop(accumulators, maximize, weight_decay, fma), the switches as
// std::bool_constant and the accumulator count as std::integral_constant;
// reference() where the vector length has no SVE reduction.
template <class Loop, class Reference>
void sve_rowwise_specialised(const step_constants<float>& c, Loop&& loop, Reference&& reference) {
  const unsigned accumulators = sve_rowwise_accumulators();
  auto with_count = [&](auto count) {
    with_switches([&](auto maximize, auto weight_decay, auto fma) {
      loop(count, maximize, weight_decay, fma);
    }, c.maximize, c.apply_weight_decay, c.fma);
  };
  switch (accumulators) {
    case 4: return with_count(std::integral_constant<unsigned, 4>{});
    case 2: return with_count(std::integral_constant<unsigned, 2>{});
    case 1: return with_count(std::integral_constant<unsigned, 1>{});
    default: return reference();
  }
}

inline void sve_rowwise_reduce(std::size_t n, const float* w, const float* g, float* partial,
                               const step_constants<float>& c) {
  sve_rowwise_specialised(
      c,
      [&](auto count, auto maximize, auto weight_decay, auto fma) {
        sve_rowwise_reduce_loop<decltype(count)::value, decltype(maximize)::value,
                                decltype(weight_decay)::value, decltype(fma)::value>(n, w, g,
                                                                                     partial, c);
      },
      [&] { adagrad_f32_rowwise_reduce_ukernel__scalar(n, w, g, partial, c); });
}

inline void sve_rowwise_update(std::size_t n, float* w, const float* g, float rate,
                               const step_constants<float>& c) {
  with_switches(
      [&](auto maximize, auto weight_decay, auto fma) {
        sve_rowwise_update_loop<decltype(maximize)::value, decltype(weight_decay)::value,
                                decltype(fma)::value>(n, w, g, rate, c);
      },
      c.maximize, c.apply_weight_decay, c.fma);
}

// One whole row's rate: its sum of squares (in registers), added as a mean
// to *state.
inline float sve_rowwise_rate(std::size_t dim, const float* w, const float* g, float* state,
                              const step_constants<float>& c) {
  float row_rate = 0.0f;
  sve_rowwise_specialised(
      c,
      [&](auto count, auto maximize, auto weight_decay, auto fma) {
        row_rate = adagrad_f32_rowwise_rate_of_sum(
            sve_rowwise_sum<decltype(count)::value, decltype(maximize)::value,
                            decltype(weight_decay)::value, decltype(fma)::value>(dim, w, g, c),
            dim, state, c);
      },
      [&] {
        float partial[kRowwiseLanes] = {};
        adagrad_f32_rowwise_reduce_ukernel__scalar(dim, w, g, partial, c);
        row_rate = adagrad_f32_rowwise_rate(partial, dim, state, c);
      });
  return row_rate;
}

inline void sve_rowwise_rows(std::size_t rows, std::size_t dim, float* w, const float* g,
                             float* state, const step_constants<float>& c) {
  // Two passes over each row (sum of squares, then update), the lines 4 KiB
  // ahead in w and g asked for as each row starts (never past the block),
  // as kernels/rowwise_step.hpp does.
  constexpr std::size_t ahead = kPrefetchBytes / sizeof(float);
  constexpr std::size_t line = 64 / sizeof(float);
  const std::size_t total = rows * dim;
  for (std::size_t r = 0; r < rows; ++r) {
    const std::size_t first = r * dim;
    for (std::size_t j = 0; j < dim && first + j + ahead < total; j += line) {
      prefetch_ahead(sve_tag{}, w + j, true);
      prefetch_ahead(sve_tag{}, g + j, false);
    }
    sve_rowwise_update(dim, w, g, sve_rowwise_rate(dim, w, g, state + r, c), c);
    w += dim;
    g += dim;
  }
}

}  // namespace detail
ADAGRAD_KERNEL_NAMESPACE_END

// Body of the sve translation unit of the rowwise unit: its three ukernels.
#define ADAGRAD_DEFINE_ROWWISE_UKERNELS(name, arch)                                              \
  namespace adagrad {                                                                            \
  namespace kernels {                                                                            \
  void adagrad_f32_rowwise_reduce_ukernel__##name(std::size_t n, const float* w, const float* g, \
                                                  float* partial, step_constants<float> c) {     \
    detail::sve_rowwise_reduce(n, w, g, partial, c);                                             \
  }                                                                                              \
  void adagrad_f32_rowwise_update_ukernel__##name(std::size_t n, float* w, const float* g,       \
                                                  float rate, step_constants<float> c) {         \
    detail::sve_rowwise_update(n, w, g, rate, c);                                                \
  }                                                                                              \
  void adagrad_f32_rowwise_rows_ukernel__##name(std::size_t rows, std::size_t dim, float* w,     \
                                                const float* g, float* state,                    \
                                                step_constants<float> c) {                       \
    detail::sve_rowwise_rows(rows, dim, w, g, state, c);                                         \
  }                                                                                              \
  }                                                                                              \
  }

#endif  // ADAGRAD_KERNELS_SVE_ROWWISE_STEP_HPP_
