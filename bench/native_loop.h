// SPDX-License-Identifier: BSD-3-Clause
// The seed notebook's loop as a user would write it in C++ instead of calling
// the library: bench/native_loop.cc, compiled with kNativeLoopFlags.
#ifndef ADAGRAD_BENCH_NATIVE_LOOP_H_
#define ADAGRAD_BENCH_NATIVE_LOOP_H_

#include <cstddef>

namespace adagrad_bench {

extern const char* const kNativeLoopFlags;

void native_seed_loop_f32(float* w, const float* g, float* G, std::size_t n, float lr, float eps);
void native_seed_loop_f64(double* w, const double* g, double* G, std::size_t n, double lr,
                          double eps);

}  // namespace adagrad_bench

#endif  // ADAGRAD_BENCH_NATIVE_LOOP_H_
