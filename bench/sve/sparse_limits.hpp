// SPDX-License-Identifier: BSD-3-Clause
// The sparse benchmark's streaming kernels of bench/sparse_limits.hpp for
// SVE, with the ACLE intrinsics at any vector length; included only by the
// sve translation unit bench/CMakeLists.txt generates.
#ifndef ADAGRAD_BENCH_SVE_SPARSE_LIMITS_HPP_
#define ADAGRAD_BENCH_SVE_SPARSE_LIMITS_HPP_

#include <cstddef>

#include "sparse_limits.h"
#include "sve/sve_ops.hpp"

namespace adagrad_bench {
inline namespace ADAGRAD_KERNEL_NAMESPACE {

namespace kd = adagrad::kernels::detail;

// Four independent accumulators, so that the loop waits on memory, not on
// the latency of one chain of additions. (The order of the sum does not
// matter here: it only keeps the loads from being optimised away.)
inline float read_stream(std::size_t n, const float* x) {
  const std::size_t W = svcntw();
  const svbool_t all = svptrue_b32();
  svfloat32_t a0 = svdup_f32(0.0f), a1 = a0, a2 = a0, a3 = a0;
  std::size_t i = 0;
  for (; i + 4 * W <= n; i += 4 * W) {
    kd::prefetch_ahead(kd::sve_tag{}, x + i, false);
    kd::prefetch_ahead(kd::sve_tag{}, x + i + W, false);
    kd::prefetch_ahead(kd::sve_tag{}, x + i + 2 * W, false);
    kd::prefetch_ahead(kd::sve_tag{}, x + i + 3 * W, false);
    a0 = svadd_x(all, a0, svld1(all, x + i));
    a1 = svadd_x(all, a1, svld1(all, x + i + W));
    a2 = svadd_x(all, a2, svld1(all, x + i + 2 * W));
    a3 = svadd_x(all, a3, svld1(all, x + i + 3 * W));
  }
  for (; i < n; i += W) {
    const svbool_t pg = svwhilelt_b32(static_cast<std::uint64_t>(i), static_cast<std::uint64_t>(n));
    a0 = svadd_m(pg, a0, svld1(pg, x + i));
  }
  return svaddv(all, svadd_x(all, svadd_x(all, a0, a1), svadd_x(all, a2, a3)));
}

inline void update_stream(std::size_t n, float* x) {
  kd::for_each_vector<float, float>(n, [&](std::size_t i, svbool_t pg, bool) {
    kd::prefetch_ahead(kd::sve_tag{}, x + i, true);
    svst1(pg, x + i, svadd_x(pg, svld1(pg, x + i), 1.0f));
  });
}

inline void rowwise_roofline(std::size_t n, float* w, const float* g) {
  kd::for_each_vector<float, float>(n, [&](std::size_t i, svbool_t pg, bool) {
    kd::prefetch_ahead(kd::sve_tag{}, g + i, false);
    kd::prefetch_ahead(kd::sve_tag{}, w + i, true);
    svst1(pg, w + i, svadd_x(pg, svld1(pg, w + i), svld1(pg, g + i)));
  });
}

inline void row_update(std::size_t n, float* w, const float* g, float* G) {
  kd::for_each_vector<float, float>(n, [&](std::size_t i, svbool_t pg, bool) {
    const svfloat32_t grad = svld1(pg, g + i);
    svst1(pg, w + i, svadd_x(pg, svld1(pg, w + i), grad));
    svst1(pg, G + i, svadd_x(pg, svld1(pg, G + i), svmul_x(pg, grad, grad)));
  });
}

inline void row_update_rowwise(std::size_t n, float* w, const float* g) {
  kd::for_each_vector<float, float>(n, [&](std::size_t i, svbool_t pg, bool) {
    svst1(pg, w + i, svadd_x(pg, svld1(pg, w + i), svld1(pg, g + i)));
  });
}

}  // namespace ADAGRAD_KERNEL_NAMESPACE
}  // namespace adagrad_bench

#define ADAGRAD_BENCH_DEFINE_SPARSE_LIMITS(name, arch)                                       \
  namespace adagrad_bench {                                                                  \
  float read_stream_f32__##name(std::size_t n, const float* x) { return read_stream(n, x); } \
  void update_stream_f32__##name(std::size_t n, float* x) { update_stream(n, x); }           \
  void rowwise_roofline_f32__##name(std::size_t n, float* w, const float* g) {               \
    rowwise_roofline(n, w, g);                                                               \
  }                                                                                          \
  void row_update_f32__##name(std::size_t n, float* w, const float* g, float* G) {           \
    row_update(n, w, g, G);                                                                  \
  }                                                                                          \
  void row_update_rowwise_f32__##name(std::size_t n, float* w, const float* g) {             \
    row_update_rowwise(n, w, g);                                                             \
  }                                                                                          \
  }

#endif  // ADAGRAD_BENCH_SVE_SPARSE_LIMITS_HPP_
