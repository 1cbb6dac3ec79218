// SPDX-License-Identifier: BSD-3-Clause
// The data cache sizes of CPU 0, added to a benchmark run's JSON context
// (bench/report.py prints them in the host line and marks them on the plot):
//
//   l1d_cache_bytes, l2_cache_bytes, l3_cache_bytes   each level found
//   cache_sizes_from   where they came from: cpuinfo, sysfs or both
//   transparent_hugepage  the kernel's THP mode ("always [madvise] never")
//
// cpuinfo first (x86-64 builds that found it, ADAGRAD_BENCH_HAVE_CPUINFO);
// for a level it does not report (it reports none on some
// CPUs newer than the library, Zen 5 among them) the kernel's own view,
// /sys/devices/system/cpu/cpu0/cache/index*/{level,type,size}. A level
// neither knows is left out, and the report says unknown. Shared by the
// benchmark executables.
#ifndef ADAGRAD_BENCH_CACHE_CONTEXT_H_
#define ADAGRAD_BENCH_CACHE_CONTEXT_H_

#include <benchmark/benchmark.h>

#include <cstdint>
#include <fstream>
#include <string>

#if ADAGRAD_BENCH_HAVE_CPUINFO && (defined(__x86_64__) || defined(_M_X64))
#define ADAGRAD_BENCH_CACHES_FROM_CPUINFO 1
#include <cpuinfo.h>
#endif

namespace adagrad_bench {

// The size of the level's data (or unified) cache as sysfs gives it ("32K",
// "1024K", "32M"), in bytes; 0 when sysfs has no such cache.
inline std::uint64_t sysfs_cache_bytes(int level) {
  for (int index = 0; index < 16; ++index) {
    const std::string dir =
        "/sys/devices/system/cpu/cpu0/cache/index" + std::to_string(index) + "/";
    int found_level = 0;
    std::string type, size;
    std::ifstream level_file(dir + "level"), type_file(dir + "type"), size_file(dir + "size");
    if (!(level_file >> found_level) || !(type_file >> type) || !(size_file >> size)) continue;
    if (found_level != level || type == "Instruction" || size.empty()) continue;
    std::uint64_t bytes = 0;
    std::size_t digits = 0;
    while (digits < size.size() && size[digits] >= '0' && size[digits] <= '9') {
      bytes = bytes * 10 + static_cast<std::uint64_t>(size[digits++] - '0');
    }
    const std::string unit = size.substr(digits);
    if (unit == "K") return bytes << 10;
    if (unit == "M") return bytes << 20;
    if (unit == "G") return bytes << 30;
    if (unit.empty()) return bytes;
  }
  return 0;
}

inline void add_cache_context() {
  const char* names[] = {"l1d_cache_bytes", "l2_cache_bytes", "l3_cache_bytes"};
  std::uint64_t from_cpuinfo[3] = {0, 0, 0};
#if ADAGRAD_BENCH_CACHES_FROM_CPUINFO
  if (cpuinfo_initialize()) {
    const struct cpuinfo_cache* caches[] = {cpuinfo_get_l1d_cache(0), cpuinfo_get_l2_cache(0),
                                            cpuinfo_get_l3_cache(0)};
    for (int level = 0; level < 3; ++level) {
      if (caches[level] != nullptr) from_cpuinfo[level] = caches[level]->size;
    }
  }
#endif
  bool used_cpuinfo = false, used_sysfs = false;
  for (int level = 0; level < 3; ++level) {
    std::uint64_t bytes = from_cpuinfo[level];
    used_cpuinfo |= bytes != 0;
    if (bytes == 0) {
      bytes = sysfs_cache_bytes(level + 1);
      used_sysfs |= bytes != 0;
    }
    if (bytes != 0) benchmark::AddCustomContext(names[level], std::to_string(bytes));
  }
  if (used_cpuinfo || used_sysfs) {
    benchmark::AddCustomContext("cache_sizes_from", used_cpuinfo && used_sysfs ? "cpuinfo, sysfs"
                                                    : used_cpuinfo             ? "cpuinfo"
                                                                               : "sysfs");
  }
  // The kernel's transparent-huge-page mode (bench/harness.h asks for huge
  // pages for buffers of 2 MiB and more; "never" means it got none).
  std::ifstream thp("/sys/kernel/mm/transparent_hugepage/enabled");
  std::string mode;
  if (std::getline(thp, mode)) benchmark::AddCustomContext("transparent_hugepage", mode);
}

}  // namespace adagrad_bench

#endif  // ADAGRAD_BENCH_CACHE_CONTEXT_H_
