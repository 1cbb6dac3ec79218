// SPDX-License-Identifier: BSD-3-Clause
// The limits of the scalar reference: one element at a time (compiled with
// -fno-tree-vectorize, as kernels/adagrad_scalar.cpp is).
#include <cmath>

#include "limits.h"

namespace adagrad_bench {
namespace {

template <class T>
void scalar_roofline(std::size_t n, T* w, const T* g, T* G) {
  for (std::size_t i = 0; i < n; ++i) {
    w[i] = w[i] + g[i];
    G[i] = G[i] + g[i];
  }
}

template <class T>
void scalar_ceiling(std::size_t n, const T* in, T* out) {
  for (std::size_t i = 0; i < n; ++i) out[i] = in[i] / std::sqrt(in[i]);
}

}  // namespace

void roofline_f32__scalar(std::size_t n, float* w, const float* g, float* G) {
  scalar_roofline(n, w, g, G);
}
void roofline_f64__scalar(std::size_t n, double* w, const double* g, double* G) {
  scalar_roofline(n, w, g, G);
}
void ceiling_f32__scalar(std::size_t n, const float* in, float* out) { scalar_ceiling(n, in, out); }
void ceiling_f64__scalar(std::size_t n, const double* in, double* out) {
  scalar_ceiling(n, in, out);
}

}  // namespace adagrad_bench
