// SPDX-License-Identifier: BSD-3-Clause
// The limit kernels of bench/limits.hpp for SVE, which xsimd 8.1 lacks
// (cmake/AdagradIsa.cmake: an ISA without an xsimd architecture supplies its
// own units), with the ACLE intrinsics at any vector length; included only by
// the sve translation unit bench/CMakeLists.txt generates.
#ifndef ADAGRAD_BENCH_SVE_LIMITS_HPP_
#define ADAGRAD_BENCH_SVE_LIMITS_HPP_

#include <cstddef>

#include "limits.h"
#include "sve/sve_ops.hpp"

namespace adagrad_bench {
// Keyed on the ISA, as the kernels' helpers are (kernels/isa_namespace.h).
inline namespace ADAGRAD_KERNEL_NAMESPACE {

namespace kd = adagrad::kernels::detail;

// Same loads and stores as the step, and the same prefetching, with trivial
// arithmetic.
template <class T>
void roofline(std::size_t n, T* w, const T* g, T* G) {
  kd::for_each_vector<T, T>(n, [&](std::size_t i, svbool_t pg, bool) {
    kd::prefetch_ahead(kd::sve_tag{}, g + i, false);
    kd::prefetch_ahead(kd::sve_tag{}, w + i, true);
    kd::prefetch_ahead(kd::sve_tag{}, G + i, true);
    const auto grad = svld1(pg, g + i);
    svst1(pg, w + i, svadd_x(pg, svld1(pg, w + i), grad));
    svst1(pg, G + i, svadd_x(pg, svld1(pg, G + i), grad));
  });
}

// One correctly rounded square root and one division per element.
template <class T>
void ceiling(std::size_t n, const T* in, T* out) {
  kd::for_each_vector<T, T>(n, [&](std::size_t i, svbool_t pg, bool) {
    const auto x = svld1(pg, in + i);
    svst1(pg, out + i, svdiv_x(pg, x, svsqrt_x(pg, x)));
  });
}

}  // namespace ADAGRAD_KERNEL_NAMESPACE
}  // namespace adagrad_bench

#define ADAGRAD_BENCH_DEFINE_LIMITS(name, arch)                                     \
  namespace adagrad_bench {                                                         \
  void roofline_f32__##name(std::size_t n, float* w, const float* g, float* G) {    \
    roofline(n, w, g, G);                                                           \
  }                                                                                 \
  void roofline_f64__##name(std::size_t n, double* w, const double* g, double* G) { \
    roofline(n, w, g, G);                                                           \
  }                                                                                 \
  void ceiling_f32__##name(std::size_t n, const float* in, float* out) {            \
    ceiling(n, in, out);                                                            \
  }                                                                                 \
  void ceiling_f64__##name(std::size_t n, const double* in, double* out) {          \
    ceiling(n, in, out);                                                            \
  }                                                                                 \
  }

#endif  // ADAGRAD_BENCH_SVE_LIMITS_HPP_
