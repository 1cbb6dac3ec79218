// SPDX-License-Identifier: BSD-3-Clause
// The two physical limits of the dense step, as kernels of their own at each
// ISA's width (bench/limits.hpp), timed in the same run as the step:
//
//  - memory roofline: a STREAM-like loop with exactly the step's traffic
//    (read w, g, G; write w, G: 20 bytes per f32 element, 40 per f64) and
//    two additions per element, which no CPU is slowed down by;
//  - compute ceiling: only what no exact AdaGrad step can avoid, one
//    correctly rounded square root and one division per element
//    (out = in / sqrt(in)), run on data that stays in L1.
//
// The slower of the two at a given n is the best time any exact kernel can
// reach there; bench/report.py divides it by the step's time (efficiency).
#ifndef ADAGRAD_BENCH_LIMITS_H_
#define ADAGRAD_BENCH_LIMITS_H_

#include <cstddef>

namespace adagrad_bench {

template <class T>
struct limit_kernels {
  void (*roofline)(std::size_t n, T* w, const T* g, T* G);
  void (*ceiling)(std::size_t n, const T* in, T* out);
};

#define ADAGRAD_BENCH_DECLARE_LIMITS(name)                                         \
  void roofline_f32__##name(std::size_t n, float* w, const float* g, float* G);    \
  void roofline_f64__##name(std::size_t n, double* w, const double* g, double* G); \
  void ceiling_f32__##name(std::size_t n, const float* in, float* out);            \
  void ceiling_f64__##name(std::size_t n, const double* in, double* out);
ADAGRAD_BENCH_DECLARE_LIMITS(scalar)
#define ADAGRAD_ISA(ENUM, name, arch, features) ADAGRAD_BENCH_DECLARE_LIMITS(name)
#include "isa_list.inc"
#undef ADAGRAD_ISA
#undef ADAGRAD_BENCH_DECLARE_LIMITS

}  // namespace adagrad_bench

#endif  // ADAGRAD_BENCH_LIMITS_H_
