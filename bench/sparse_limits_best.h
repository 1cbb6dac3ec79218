// SPDX-License-Identifier: BSD-3-Clause
// The sparse limit kernels (bench/sparse_limits.h) of the best ISA this CPU
// runs, for the code outside the per-ISA translation units that times them:
// bench/embedding_bag_bench.cc's stream and gather limits and
// bench/row_limit.cc's row limit for the Python benchmarks.
#ifndef ADAGRAD_BENCH_SPARSE_LIMITS_BEST_H_
#define ADAGRAD_BENCH_SPARSE_LIMITS_BEST_H_

#include <cstddef>

#include "adagrad/adagrad.h"
#include "sparse_limits.h"

namespace adagrad_bench {

struct sparse_limit_path {
  adagrad_isa isa;
  sparse_limit_kernels kernels;
};

// The list is in order of preference, as dispatch reads it: the last one
// this CPU supports is the best.
inline const sparse_limit_path& best_sparse_limits() {
  static const sparse_limit_path paths[] = {
      {ADAGRAD_ISA_SCALAR,
       {read_stream_f32__scalar, update_stream_f32__scalar, rowwise_roofline_f32__scalar,
        row_update_f32__scalar, row_update_rowwise_f32__scalar}},
#define ADAGRAD_ISA(ENUM, name, arch, features)                                            \
  {ADAGRAD_ISA_##ENUM,                                                                     \
   {read_stream_f32__##name, update_stream_f32__##name, rowwise_roofline_f32__##name,      \
    row_update_f32__##name, row_update_rowwise_f32__##name}},
#include "isa_list.inc"
#undef ADAGRAD_ISA
  };
  const sparse_limit_path* best = &paths[0];
  for (const sparse_limit_path& p : paths) {
    if (adagrad_isa_supported(p.isa)) best = &p;
  }
  return *best;
}

// Asks for every line of [p, p + bytes) with write intent: the gather
// limits' prefetch of a whole row `distance` rows ahead.
inline void prefetch_for_write(const float* p, std::size_t bytes) {
  const char* first = reinterpret_cast<const char*>(p);
  for (std::size_t b = 0; b < bytes; b += 64) __builtin_prefetch(first + b, 1, 3);
  __builtin_prefetch(first + bytes - 1, 1, 3);
}

}  // namespace adagrad_bench

#endif  // ADAGRAD_BENCH_SPARSE_LIMITS_BEST_H_
