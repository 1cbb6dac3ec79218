// The compute ceiling of the scalar reference: one element at a time
// (compiled with -fno-tree-vectorize, as kernels/adagrad_scalar.cpp is).
#include <cmath>

#include "sqrt_div_ceiling.h"

namespace adagrad_bench {
namespace {

template <class T>
void scalar_ceiling(std::size_t n, const T* in, T* out) {
  for (std::size_t i = 0; i < n; ++i) out[i] = in[i] / std::sqrt(in[i]);
}

}  // namespace

void sqrt_div_ceiling_f32__scalar(std::size_t n, const float* in, float* out) {
  scalar_ceiling(n, in, out);
}
void sqrt_div_ceiling_f64__scalar(std::size_t n, const double* in, double* out) {
  scalar_ceiling(n, in, out);
}

}  // namespace adagrad_bench
