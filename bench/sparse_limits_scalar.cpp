// SPDX-License-Identifier: BSD-3-Clause
// The sparse benchmark's streaming kernels one element at a time (compiled
// with -fno-tree-vectorize, as bench/limits_scalar.cpp is): the roofline of a
// CPU this library has no SIMD ISA for.
#include "sparse_limits.h"

namespace adagrad_bench {

float read_stream_f32__scalar(std::size_t n, const float* x) {
  float sum = 0.0f;
  for (std::size_t i = 0; i < n; ++i) sum = sum + x[i];
  return sum;
}

void update_stream_f32__scalar(std::size_t n, float* x) {
  for (std::size_t i = 0; i < n; ++i) x[i] = x[i] + 1.0f;
}

void rowwise_roofline_f32__scalar(std::size_t n, float* w, const float* g) {
  for (std::size_t i = 0; i < n; ++i) w[i] = w[i] + g[i];
}

void row_update_f32__scalar(std::size_t n, float* w, const float* g, float* G) {
  for (std::size_t i = 0; i < n; ++i) {
    w[i] = w[i] + g[i];
    G[i] = G[i] + g[i] * g[i];
  }
}

void row_update_rowwise_f32__scalar(std::size_t n, float* w, const float* g) {
  for (std::size_t i = 0; i < n; ++i) w[i] = w[i] + g[i];
}

}  // namespace adagrad_bench
