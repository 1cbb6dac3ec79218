// SPDX-License-Identifier: BSD-3-Clause
// The sum of a run of gradient rows (kernels/ukernels.h, f32_sum_rows),
// written once for every xsimd ISA: the sparse steps add a row's duplicate
// gradients, the embedding-bag steps the bags' output gradients of a row's
// occurrences, before the row's update.
//
// Each element's sum is added in the reference's order (row 0, then row 1,
// ...), so the bits are the reference's whatever the blocking; what the
// vector kernel changes is where the partial sums live. The callers summed
// into a buffer, row by row, at the baseline ISA: every row cost a load and
// a store of the whole sum. Here a tile of up to kSumTileBatches vectors (a
// dim-128 row in AVX-512 registers) stays in registers while every row of
// the run is added to it, and is stored once. The fused step's Zipf rows of
// bench/embedding_bag_bench.cc (embedding_bag/fused/...) show it; the A/B is
// in docs/benchmarking.md.
#ifndef ADAGRAD_KERNELS_SUM_ROWS_STEP_HPP_
#define ADAGRAD_KERNELS_SUM_ROWS_STEP_HPP_

#include <cstddef>
#include <xsimd/xsimd.hpp>

#include "isa_namespace.h"
#include "ukernels.h"

ADAGRAD_KERNEL_NAMESPACE_BEGIN
namespace detail {

// Vectors summed at once: 8 leaves registers for the loads on every ISA
// (16 vector registers on SSE and AVX, 32 on AVX-512 and NEON).
constexpr std::size_t kSumTileBatches = 8;

// out[at .. at + Batches * W) of the sum (the ukernel's contract).
template <class Arch, bool Scaled, std::size_t Batches>
inline void sum_rows_tile(std::size_t at, std::size_t count, const float* const* rows,
                          std::size_t column, const float* scales, float* out, bool accumulate) {
  using batch = xsimd::batch<float, Arch>;
  constexpr std::size_t width = batch::size;
  auto term = [&](std::size_t r, std::size_t b) {
    const batch x = batch::load_unaligned(rows[r] + column + at + b * width);
    return Scaled ? batch(scales[r]) * x : x;
  };
  batch sum[Batches];
  std::size_t r = 0;
  for (std::size_t b = 0; b < Batches; ++b) {
    sum[b] = accumulate ? batch::load_unaligned(out + at + b * width) : term(0, b);
  }
  if (!accumulate) r = 1;
  for (; r < count; ++r) {
    for (std::size_t b = 0; b < Batches; ++b) sum[b] = sum[b] + term(r, b);
  }
  for (std::size_t b = 0; b < Batches; ++b) sum[b].store_unaligned(out + at + b * width);
}

template <class Arch, bool Scaled>
void sum_rows_loop(std::size_t n, std::size_t count, const float* const* rows, std::size_t column,
                   const float* scales, float* out, bool accumulate) {
  constexpr std::size_t width = xsimd::batch<float, Arch>::size;
  constexpr std::size_t tile = kSumTileBatches * width;
  std::size_t at = 0;
  for (; n - at >= tile; at += tile) {
    sum_rows_tile<Arch, Scaled, kSumTileBatches>(at, count, rows, column, scales, out,
                                                 accumulate);
  }
  for (; n - at >= width; at += width) {
    sum_rows_tile<Arch, Scaled, 1>(at, count, rows, column, scales, out, accumulate);
  }
  // The last n % W elements by the reference: the same additions.
  if (at != n) {
    adagrad_f32_sum_rows_ukernel__scalar(n - at, count, rows, column + at, scales, out + at,
                                         accumulate);
  }
}

}  // namespace detail
ADAGRAD_KERNEL_NAMESPACE_END

// Body of a per-ISA translation unit: adagrad_f32_sum_rows_ukernel__<isa>.
#define ADAGRAD_DEFINE_SUM_ROWS_UKERNELS(name, arch)                                         \
  namespace adagrad {                                                                        \
  namespace kernels {                                                                        \
  void adagrad_f32_sum_rows_ukernel__##name(std::size_t n, std::size_t count,                \
                                            const float* const* rows, std::size_t column,    \
                                            const float* scales, float* out,                 \
                                            bool accumulate) {                               \
    if (scales != nullptr) {                                                                 \
      detail::sum_rows_loop<arch, true>(n, count, rows, column, scales, out, accumulate);    \
    } else {                                                                                 \
      detail::sum_rows_loop<arch, false>(n, count, rows, column, scales, out, accumulate);   \
    }                                                                                        \
  }                                                                                          \
  }                                                                                          \
  }

#endif  // ADAGRAD_KERNELS_SUM_ROWS_STEP_HPP_
