// The compute ceiling of the dense step: a loop that does only what no exact
// AdaGrad step can avoid, one correctly rounded square root and one division
// per element (out[i] = in[i] / sqrt(in[i])), at each ISA's width, on data
// that stays in L1. Its same-run time per element is the floor under the
// step's time at cache-resident sizes, and its scalar-to-ISA ratio the
// largest speedup over scalar that any exact kernel can show on this CPU.
#ifndef ADAGRAD_BENCH_SQRT_DIV_CEILING_H_
#define ADAGRAD_BENCH_SQRT_DIV_CEILING_H_

#include <cstddef>

namespace adagrad_bench {

using f32_ceiling_fn = void (*)(std::size_t n, const float* in, float* out);
using f64_ceiling_fn = void (*)(std::size_t n, const double* in, double* out);

void sqrt_div_ceiling_f32__scalar(std::size_t n, const float* in, float* out);
void sqrt_div_ceiling_f64__scalar(std::size_t n, const double* in, double* out);
#define ADAGRAD_ISA(ENUM, name, arch, usable)                                    \
  void sqrt_div_ceiling_f32__##name(std::size_t n, const float* in, float* out); \
  void sqrt_div_ceiling_f64__##name(std::size_t n, const double* in, double* out);
#include "isa_list.inc"
#undef ADAGRAD_ISA

}  // namespace adagrad_bench

#endif  // ADAGRAD_BENCH_SQRT_DIV_CEILING_H_
