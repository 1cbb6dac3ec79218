// SPDX-License-Identifier: BSD-3-Clause
// The limit kernels, written once for every ISA with the library's exact
// operations; included only by the per-ISA translation units bench/CMakeLists.txt
// generates (cmake/AdagradIsa.cmake), each compiled with its ISA's flags alone.
#ifndef ADAGRAD_BENCH_LIMITS_HPP_
#define ADAGRAD_BENCH_LIMITS_HPP_

#include <cstddef>
#include <xsimd/xsimd.hpp>

#include "exact_ops.hpp"
#include "limits.h"
#include "prefetch.hpp"

namespace adagrad_bench {

// Same loads and stores as the step, and the same prefetching, with trivial
// arithmetic. n is a multiple of the widest vector in the benchmark (256 and
// up).
template <class Arch, class T>
void roofline(std::size_t n, T* w, const T* g, T* G) {
  using batch = xsimd::batch<T, Arch>;
  namespace kd = adagrad::kernels::detail;
  for (std::size_t i = 0; i < n; i += batch::size) {
    kd::prefetch_ahead(Arch{}, g + i, false);
    kd::prefetch_ahead(Arch{}, w + i, true);
    kd::prefetch_ahead(Arch{}, G + i, true);
    const batch grad = batch::load_unaligned(g + i);
    (batch::load_unaligned(w + i) + grad).store_unaligned(w + i);
    (batch::load_unaligned(G + i) + grad).store_unaligned(G + i);
  }
}

template <class Arch, class T>
void ceiling(std::size_t n, const T* in, T* out) {
  using batch = xsimd::batch<T, Arch>;
  namespace exact = adagrad::kernels::detail;
  for (std::size_t i = 0; i < n; i += batch::size) {
    const batch x = batch::load_unaligned(in + i);
    exact::exact_div(x, exact::exact_sqrt(x)).store_unaligned(out + i);
  }
}

}  // namespace adagrad_bench

#define ADAGRAD_BENCH_DEFINE_LIMITS(name, arch)                                     \
  namespace adagrad_bench {                                                         \
  void roofline_f32__##name(std::size_t n, float* w, const float* g, float* G) {    \
    roofline<arch>(n, w, g, G);                                                     \
  }                                                                                 \
  void roofline_f64__##name(std::size_t n, double* w, const double* g, double* G) { \
    roofline<arch>(n, w, g, G);                                                     \
  }                                                                                 \
  void ceiling_f32__##name(std::size_t n, const float* in, float* out) {            \
    ceiling<arch>(n, in, out);                                                      \
  }                                                                                 \
  void ceiling_f64__##name(std::size_t n, const double* in, double* out) {          \
    ceiling<arch>(n, in, out);                                                      \
  }                                                                                 \
  }

#endif  // ADAGRAD_BENCH_LIMITS_HPP_
