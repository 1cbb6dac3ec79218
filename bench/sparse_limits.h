// SPDX-License-Identifier: BSD-3-Clause
// The streaming kernels the sparse benchmark (bench/sparse_step_bench.cc)
// measures its memory roofline with, at each ISA's width
// (bench/sparse_limits.hpp; the scalar ones one element at a time, for
// a CPU without a SIMD ISA of this library). Together with the dense roofline of
// bench/limits.h they move, sequentially, exactly the bytes a sparse step
// moves, with the same mix of reads and writes:
//
//  - per-element state: the dense roofline (read w, g, G; write w, G) over the
//    unique rows, and read_stream over the gradient rows of the repeated
//    occurrences;
//  - row-wise state: rowwise_roofline (read w, g; write w) over the unique
//    rows, update_stream (read and write one float) over their accumulators,
//    and read_stream over the gradient rows of the repeated occurrences.
//
// The gather limit touches the step's own rows in the step's own order, one
// row at a time (row_update: w += g, G += g * g; row_update_rowwise: w += g),
// with no software prefetch, as the step's driver: what this CPU gives a
// kernel with trivial arithmetic on the same scattered rows.
//
// Any n is allowed (a scalar tail follows the vector loop).
#ifndef ADAGRAD_BENCH_SPARSE_LIMITS_H_
#define ADAGRAD_BENCH_SPARSE_LIMITS_H_

#include <cstddef>

namespace adagrad_bench {

struct sparse_limit_kernels {
  // Reads x[0 .. n) and returns their sum (so that nothing is optimized away).
  float (*read_stream)(std::size_t n, const float* x);
  // x[i] = x[i] + 1: one read and one write per element.
  void (*update_stream)(std::size_t n, float* x);
  // w[i] = w[i] + g[i]: two reads and one write per element.
  void (*rowwise_roofline)(std::size_t n, float* w, const float* g);
  // One row, no prefetch: w[i] = w[i] + g[i], G[i] = G[i] + g[i] * g[i].
  void (*row_update)(std::size_t n, float* w, const float* g, float* G);
  // One row, no prefetch: w[i] = w[i] + g[i].
  void (*row_update_rowwise)(std::size_t n, float* w, const float* g);
};

#define ADAGRAD_BENCH_DECLARE_SPARSE_LIMITS(name)                                 \
  float read_stream_f32__##name(std::size_t n, const float* x);                   \
  void update_stream_f32__##name(std::size_t n, float* x);                        \
  void rowwise_roofline_f32__##name(std::size_t n, float* w, const float* g);     \
  void row_update_f32__##name(std::size_t n, float* w, const float* g, float* G); \
  void row_update_rowwise_f32__##name(std::size_t n, float* w, const float* g);
ADAGRAD_BENCH_DECLARE_SPARSE_LIMITS(scalar)
#define ADAGRAD_ISA(ENUM, name, arch, features) ADAGRAD_BENCH_DECLARE_SPARSE_LIMITS(name)
#include "isa_list.inc"
#undef ADAGRAD_ISA
#undef ADAGRAD_BENCH_DECLARE_SPARSE_LIMITS

}  // namespace adagrad_bench

#endif  // ADAGRAD_BENCH_SPARSE_LIMITS_H_
