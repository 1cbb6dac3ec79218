// SPDX-License-Identifier: BSD-3-Clause
// The sparse benchmark's streaming kernels (bench/sparse_limits.h), written
// once for every ISA; included only by the per-ISA translation units
// bench/CMakeLists.txt generates, each
// compiled with its ISA's flags alone. They prefetch as the dense roofline
// does (kernels/prefetch.hpp), so they stream at least as well as it.
#ifndef ADAGRAD_BENCH_SPARSE_LIMITS_HPP_
#define ADAGRAD_BENCH_SPARSE_LIMITS_HPP_

#include <cstddef>
#include <xsimd/xsimd.hpp>

#include "prefetch.hpp"
#include "sparse_limits.h"

namespace adagrad_bench {

// Four independent accumulators, so that the loop waits on memory, not on
// the latency of one chain of additions.
template <class Arch>
float read_stream(std::size_t n, const float* x) {
  using batch = xsimd::batch<float, Arch>;
  namespace kd = adagrad::kernels::detail;
  constexpr std::size_t W = batch::size;
  batch a0(0.0f), a1(0.0f), a2(0.0f), a3(0.0f);
  std::size_t i = 0;
  for (; i + 4 * W <= n; i += 4 * W) {
    kd::prefetch_ahead(Arch{}, x + i, false);
    kd::prefetch_ahead(Arch{}, x + i + W, false);
    kd::prefetch_ahead(Arch{}, x + i + 2 * W, false);
    kd::prefetch_ahead(Arch{}, x + i + 3 * W, false);
    a0 += batch::load_unaligned(x + i);
    a1 += batch::load_unaligned(x + i + W);
    a2 += batch::load_unaligned(x + i + 2 * W);
    a3 += batch::load_unaligned(x + i + 3 * W);
  }
  for (; i + W <= n; i += W) a0 += batch::load_unaligned(x + i);
  // Lanes summed one by one: xsimd 8.1's hadd for avx512f needs AVX512DQ.
  float lanes[W];
  ((a0 + a1) + (a2 + a3)).store_unaligned(lanes);
  float sum = 0.0f;
  for (std::size_t k = 0; k < W; ++k) sum = sum + lanes[k];
  for (; i < n; ++i) sum = sum + x[i];
  return sum;
}

template <class Arch>
void update_stream(std::size_t n, float* x) {
  using batch = xsimd::batch<float, Arch>;
  namespace kd = adagrad::kernels::detail;
  constexpr std::size_t W = batch::size;
  const batch one(1.0f);
  std::size_t i = 0;
  for (; i + W <= n; i += W) {
    kd::prefetch_ahead(Arch{}, x + i, true);
    (batch::load_unaligned(x + i) + one).store_unaligned(x + i);
  }
  for (; i < n; ++i) x[i] = x[i] + 1.0f;
}

template <class Arch>
void rowwise_roofline(std::size_t n, float* w, const float* g) {
  using batch = xsimd::batch<float, Arch>;
  namespace kd = adagrad::kernels::detail;
  constexpr std::size_t W = batch::size;
  std::size_t i = 0;
  for (; i + W <= n; i += W) {
    kd::prefetch_ahead(Arch{}, g + i, false);
    kd::prefetch_ahead(Arch{}, w + i, true);
    (batch::load_unaligned(w + i) + batch::load_unaligned(g + i)).store_unaligned(w + i);
  }
  for (; i < n; ++i) w[i] = w[i] + g[i];
}

template <class Arch>
void row_update(std::size_t n, float* w, const float* g, float* G) {
  using batch = xsimd::batch<float, Arch>;
  constexpr std::size_t W = batch::size;
  std::size_t i = 0;
  for (; i + W <= n; i += W) {
    const batch grad = batch::load_unaligned(g + i);
    (batch::load_unaligned(w + i) + grad).store_unaligned(w + i);
    (batch::load_unaligned(G + i) + grad * grad).store_unaligned(G + i);
  }
  for (; i < n; ++i) {
    w[i] = w[i] + g[i];
    G[i] = G[i] + g[i] * g[i];
  }
}

template <class Arch>
void row_update_rowwise(std::size_t n, float* w, const float* g) {
  using batch = xsimd::batch<float, Arch>;
  constexpr std::size_t W = batch::size;
  std::size_t i = 0;
  for (; i + W <= n; i += W) {
    (batch::load_unaligned(w + i) + batch::load_unaligned(g + i)).store_unaligned(w + i);
  }
  for (; i < n; ++i) w[i] = w[i] + g[i];
}

}  // namespace adagrad_bench

#define ADAGRAD_BENCH_DEFINE_SPARSE_LIMITS(name, arch)                                             \
  namespace adagrad_bench {                                                                        \
  float read_stream_f32__##name(std::size_t n, const float* x) { return read_stream<arch>(n, x); } \
  void update_stream_f32__##name(std::size_t n, float* x) { update_stream<arch>(n, x); }           \
  void rowwise_roofline_f32__##name(std::size_t n, float* w, const float* g) {                     \
    rowwise_roofline<arch>(n, w, g);                                                               \
  }                                                                                                \
  void row_update_f32__##name(std::size_t n, float* w, const float* g, float* G) {                 \
    row_update<arch>(n, w, g, G);                                                                  \
  }                                                                                                \
  void row_update_rowwise_f32__##name(std::size_t n, float* w, const float* g) {                   \
    row_update_rowwise<arch>(n, w, g);                                                             \
  }                                                                                                \
  }

#endif  // ADAGRAD_BENCH_SPARSE_LIMITS_HPP_
