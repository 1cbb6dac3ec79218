// The cache sizes cpuinfo reports, added to a benchmark run's JSON context
// (bench/report.py prints them and marks them on the plot). Shared by the
// benchmark executables.
#ifndef ADAGRAD_BENCH_CACHE_CONTEXT_H_
#define ADAGRAD_BENCH_CACHE_CONTEXT_H_

#include <benchmark/benchmark.h>

#include <string>

#if defined(__x86_64__) || defined(_M_X64)
#include <cpuinfo.h>
#endif

namespace adagrad_bench {

inline void add_cache_context() {
#if defined(__x86_64__) || defined(_M_X64)
  if (!cpuinfo_initialize()) return;
  const struct cpuinfo_cache* caches[] = {cpuinfo_get_l1d_cache(0), cpuinfo_get_l2_cache(0),
                                          cpuinfo_get_l3_cache(0)};
  const char* names[] = {"cpuinfo_l1d_bytes", "cpuinfo_l2_bytes", "cpuinfo_l3_bytes"};
  for (int level = 0; level < 3; ++level) {
    if (caches[level] != nullptr) {
      benchmark::AddCustomContext(names[level], std::to_string(caches[level]->size));
    }
  }
#endif
}

}  // namespace adagrad_bench

#endif  // ADAGRAD_BENCH_CACHE_CONTEXT_H_
