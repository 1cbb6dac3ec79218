// The ceiling loop, written once for every ISA with the library's exact
// operations; included only by bench/sqrt_div_ceiling_<isa>.cpp.
#ifndef ADAGRAD_BENCH_SQRT_DIV_CEILING_HPP_
#define ADAGRAD_BENCH_SQRT_DIV_CEILING_HPP_

#include <cstddef>
#include <xsimd/xsimd.hpp>

#include "exact_ops.hpp"
#include "sqrt_div_ceiling.h"

namespace adagrad_bench {

// n must be a multiple of the widest vector (the benchmark uses 1024).
template <class Arch, class T>
void sqrt_div_ceiling(std::size_t n, const T* in, T* out) {
  using batch = xsimd::batch<T, Arch>;
  namespace exact = adagrad::kernels::detail;
  for (std::size_t i = 0; i < n; i += batch::size) {
    const batch x = batch::load_unaligned(in + i);
    exact::exact_div(x, exact::exact_sqrt(x)).store_unaligned(out + i);
  }
}

}  // namespace adagrad_bench

#define ADAGRAD_DEFINE_SQRT_DIV_CEILING(name)                                       \
  namespace adagrad_bench {                                                         \
  void sqrt_div_ceiling_f32__##name(std::size_t n, const float* in, float* out) {   \
    sqrt_div_ceiling<xsimd::name>(n, in, out);                                      \
  }                                                                                 \
  void sqrt_div_ceiling_f64__##name(std::size_t n, const double* in, double* out) { \
    sqrt_div_ceiling<xsimd::name>(n, in, out);                                      \
  }                                                                                 \
  }

#endif  // ADAGRAD_BENCH_SQRT_DIV_CEILING_HPP_
