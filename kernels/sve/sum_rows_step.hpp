// SPDX-License-Identifier: BSD-3-Clause
// The sum of a run of gradient rows (kernels/ukernels.h, f32_sum_rows) for
// SVE, at any vector length: kernels/sum_rows_step.hpp's tiles with the ACLE
// intrinsics. Each element is added in the reference's order; a tile of
// four vectors stays in registers over the run's rows. The
// tile's last vectors run under WHILELT predicates, so the tail needs no
// second loop: inactive lanes are neither loaded (they read as zero) nor
// stored.
#ifndef ADAGRAD_KERNELS_SVE_SUM_ROWS_STEP_HPP_
#define ADAGRAD_KERNELS_SVE_SUM_ROWS_STEP_HPP_

#include <cstddef>

#include "isa_namespace.h"
#include "sve/sve_ops.hpp"
#include "ukernels.h"

ADAGRAD_KERNEL_NAMESPACE_BEGIN
namespace detail {

// Vectors summed at once (a dim-128 row at 128 to 512 bits in one to four
// tiles), with registers to spare for the loads: SVE has 32. Sizeless SVE
// types cannot form arrays, so the four are named.
template <bool Scaled>
void sve_sum_rows(std::size_t n, std::size_t count, const float* const* rows, std::size_t column,
                  const float* scales, float* out, bool accumulate) {
  using ops = sve<float>;
  const std::size_t lanes = ops::lanes();
  for (std::size_t at = 0; at < n; at += 4 * lanes) {
    const svbool_t p0 = ops::first(at, n);
    const svbool_t p1 = ops::first(at + lanes, n);
    const svbool_t p2 = ops::first(at + 2 * lanes, n);
    const svbool_t p3 = ops::first(at + 3 * lanes, n);
    auto term = [&](std::size_t r, svbool_t pg, std::size_t v) {
      const svfloat32_t x = svld1(pg, rows[r] + column + at + v * lanes);
      return Scaled ? svmul_x(pg, ops::dup(scales[r]), x) : x;
    };
    svfloat32_t s0;
    svfloat32_t s1;
    svfloat32_t s2;
    svfloat32_t s3;
    std::size_t r = 0;
    if (accumulate) {
      s0 = svld1(p0, out + at);
      s1 = svld1(p1, out + at + lanes);
      s2 = svld1(p2, out + at + 2 * lanes);
      s3 = svld1(p3, out + at + 3 * lanes);
    } else {
      s0 = term(0, p0, 0);
      s1 = term(0, p1, 1);
      s2 = term(0, p2, 2);
      s3 = term(0, p3, 3);
      r = 1;
    }
    for (; r < count; ++r) {
      s0 = svadd_x(p0, s0, term(r, p0, 0));
      s1 = svadd_x(p1, s1, term(r, p1, 1));
      s2 = svadd_x(p2, s2, term(r, p2, 2));
      s3 = svadd_x(p3, s3, term(r, p3, 3));
    }
    svst1(p0, out + at, s0);
    svst1(p1, out + at + lanes, s1);
    svst1(p2, out + at + 2 * lanes, s2);
    svst1(p3, out + at + 3 * lanes, s3);
  }
}

}  // namespace detail
ADAGRAD_KERNEL_NAMESPACE_END

// Body of the sve translation unit of the sum_rows unit: arch is unused.
#define ADAGRAD_DEFINE_SUM_ROWS_UKERNELS(name, arch)                                         \
  namespace adagrad {                                                                        \
  namespace kernels {                                                                        \
  void adagrad_f32_sum_rows_ukernel__##name(std::size_t n, std::size_t count,                \
                                            const float* const* rows, std::size_t column,    \
                                            const float* scales, float* out,                 \
                                            bool accumulate) {                               \
    if (scales != nullptr) {                                                                 \
      detail::sve_sum_rows<true>(n, count, rows, column, scales, out, accumulate);           \
    } else {                                                                                 \
      detail::sve_sum_rows<false>(n, count, rows, column, scales, out, accumulate);          \
    }                                                                                        \
  }                                                                                          \
  }                                                                                          \
  }

#endif  // ADAGRAD_KERNELS_SVE_SUM_ROWS_STEP_HPP_
