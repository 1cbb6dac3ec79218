// SPDX-License-Identifier: BSD-3-Clause
// The data cache sizes of CPU 0, added to a benchmark run's JSON context
// (bench/report.py prints them in the host line and marks them on the plot):
//
//   l1d_cache_bytes, l2_cache_bytes, l3_cache_bytes   each level found
//   cache_sizes_from   where they came from: cpuinfo, sysfs, cpuid, joined
//   transparent_hugepage  the kernel's THP mode ("always [madvise] never")
//
// cpuinfo first (x86-64 builds that found it, ADAGRAD_BENCH_HAVE_CPUINFO);
// for a level it does not report (it reports none on some
// CPUs newer than the library, Zen 5 among them) the kernel's own view,
// /sys/devices/system/cpu/cpu0/cache/index*/{level,type,size}; then, on
// x86-64, the CPU's own answer (cpuid_cache_bytes below: some VMs, such as
// the Zen 5 VM of 2026-12-08, expose neither a cache the library knows nor
// a cache directory in sysfs). A level none knows is left out, and the
// report says unknown. Shared by the benchmark executables.
#ifndef ADAGRAD_BENCH_CACHE_CONTEXT_H_
#define ADAGRAD_BENCH_CACHE_CONTEXT_H_

#include <benchmark/benchmark.h>

#include <cstdint>
#include <fstream>
#include <string>
#include <utility>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define ADAGRAD_BENCH_CACHES_FROM_CPUID 1
#include <cpuid.h>
#endif

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

#if ADAGRAD_BENCH_CACHES_FROM_CPUID
// The level's data (or unified) cache as CPUID describes it, in bytes; 0
// when it does not. First the deterministic cache leaf (4 on Intel,
// 0x8000001D on AMD with topology extensions; the same layout), then AMD's
// legacy leaves: 0x80000005 ECX[31:24] the L1d in KiB, 0x80000006 ECX[31:16]
// the L2 in KiB and EDX[31:18] the L3 in 512 KiB units. The L3 is what the
// CPU (or the hypervisor) reports, which on a many-chiplet part may be more
// than one core's share.
inline std::uint64_t cpuid_cache_bytes(int level) {
  unsigned a = 0, b = 0, c = 0, d = 0;
  if (!__get_cpuid(0, &a, &b, &c, &d)) return 0;
  const bool amd = b == 0x68747541u;  // "Auth(enticAMD)"
  const unsigned max_basic = a;
  __get_cpuid(0x80000000u, &a, &b, &c, &d);
  const unsigned max_extended = a;
  const unsigned leaf = amd ? 0x8000001Du : 4u;
  if (amd ? max_extended >= leaf : max_basic >= leaf) {
    for (unsigned index = 0; index < 16; ++index) {
      __cpuid_count(leaf, index, a, b, c, d);
      const unsigned type = a & 0x1f;  // 0 none, 1 data, 2 instruction, 3 unified
      if (type == 0) break;
      if (type == 2 || static_cast<int>((a >> 5) & 7) != level) continue;
      const std::uint64_t ways = (b >> 22) + 1, partitions = ((b >> 12) & 0x3ff) + 1,
                          line = (b & 0xfff) + 1, sets = std::uint64_t{c} + 1;
      return ways * partitions * line * sets;
    }
  }
  if (!amd) return 0;
  if (level == 1 && max_extended >= 0x80000005u) {
    __cpuid(0x80000005u, a, b, c, d);
    return std::uint64_t{c >> 24} << 10;
  }
  if (level >= 2 && max_extended >= 0x80000006u) {
    __cpuid(0x80000006u, a, b, c, d);
    return level == 2 ? std::uint64_t{c >> 16} << 10 : std::uint64_t{d >> 18} << 19;
  }
  return 0;
}
#endif

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
  bool used_cpuinfo = false, used_sysfs = false, used_cpuid = false;
  for (int level = 0; level < 3; ++level) {
    std::uint64_t bytes = from_cpuinfo[level];
    used_cpuinfo |= bytes != 0;
    if (bytes == 0) {
      bytes = sysfs_cache_bytes(level + 1);
      used_sysfs |= bytes != 0;
    }
#if ADAGRAD_BENCH_CACHES_FROM_CPUID
    if (bytes == 0) {
      bytes = cpuid_cache_bytes(level + 1);
      used_cpuid |= bytes != 0;
    }
#endif
    if (bytes != 0) benchmark::AddCustomContext(names[level], std::to_string(bytes));
  }
  std::string from;
  for (const auto& [used, name] : {std::pair<bool, const char*>{used_cpuinfo, "cpuinfo"},
                                   {used_sysfs, "sysfs"},
                                   {used_cpuid, "cpuid"}}) {
    if (used) from += (from.empty() ? "" : ", ") + std::string(name);
  }
  if (!from.empty()) benchmark::AddCustomContext("cache_sizes_from", from);
  // The kernel's transparent-huge-page mode (bench/harness.h asks for huge
  // pages for buffers of 2 MiB and more; "never" means it got none).
  std::ifstream thp("/sys/kernel/mm/transparent_hugepage/enabled");
  std::string mode;
  if (std::getline(thp, mode)) benchmark::AddCustomContext("transparent_hugepage", mode);
}

}  // namespace adagrad_bench

#endif  // ADAGRAD_BENCH_CACHE_CONTEXT_H_
