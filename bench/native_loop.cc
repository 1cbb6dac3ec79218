// SPDX-License-Identifier: BSD-3-Clause
// The seed notebook's update (weight decay 0) in plain C++: what a user who
// does not call the library compiles with `-O3 -march=native
// -fno-math-errno`. bench/CMakeLists.txt gives this file exactly those flags
// and GCC's default contraction (-ffp-contract=fast), replacing the
// project's -ffp-contract=off, because that is what such a user gets: the
// compiler may fuse G + g * g, so this loop is not bitwise the reference. It
// is the speed to beat (bench/dispatch_bench.cc, native_loop/ rows).
#include "native_loop.h"

#include <cmath>

namespace adagrad_bench {

// The flags bench/CMakeLists.txt gave this file (ADAGRAD_BENCH_NATIVE_LOOP_ARCH:
// -march=native, or the compiler's default target in a bundle).
const char* const kNativeLoopFlags = ADAGRAD_BENCH_NATIVE_LOOP_FLAGS;

void native_seed_loop_f32(float* w, const float* g, float* G, std::size_t n, float lr, float eps) {
  for (std::size_t i = 0; i < n; ++i) {
    G[i] += g[i] * g[i];
    w[i] -= lr * g[i] / (std::sqrt(G[i]) + eps);
  }
}

void native_seed_loop_f64(double* w, const double* g, double* G, std::size_t n, double lr,
                          double eps) {
  for (std::size_t i = 0; i < n; ++i) {
    G[i] += g[i] * g[i];
    w[i] -= lr * g[i] / (std::sqrt(G[i]) + eps);
  }
}

}  // namespace adagrad_bench
