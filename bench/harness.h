// SPDX-License-Identifier: BSD-3-Clause
// What every benchmark of bench/ does the same way, so that a row times the
// kernel and nothing else (issue 19: rows 10-30x too slow, with a small
// spread, from page faults taken inside the timed loop):
//
//   page_array<T>(n)   a buffer on its own 4 KiB pages (2 MiB transparent
//                      huge pages from 2 MiB on), every page written before
//                      it is returned, outputs included
//   timed_loop(state, step)  one untimed call of the step, then the timed
//                      iterations
//
// bench/report.py checks the outcome: each row at n >= 2^22 is timed again
// alone in a fresh process (bench/run), and a row whose two measurements
// differ by more than 25% is listed as suspect.
#ifndef ADAGRAD_BENCH_HARNESS_H_
#define ADAGRAD_BENCH_HARNESS_H_

#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <initializer_list>
#include <memory>
#include <new>

#if defined(__linux__)
#include <sys/mman.h>
#endif

#include "adagrad/adagrad.h"

namespace adagrad_bench {

struct FreeDeleter {
  void operator()(void* p) const { std::free(p); }
};

template <class T>
using buffer = std::unique_ptr<T[], FreeDeleter>;

// Every buffer starts on its own 4 KiB page, as large tensors from an
// allocator do, so the buffers' relative placement (which decides whether
// loads collide with in-flight stores in the low 12 address bits, "4K
// aliasing") is the same in every run rather than whatever malloc returned.
constexpr std::size_t kBufferAlignment = 4096;
constexpr std::size_t kHugePage = std::size_t{2} << 20;

// n elements of T (at least one page), every byte written (zero). The first
// write to a page faults, and in a virtual machine a fault costs more than
// the kernel spends on the page: a buffer that only the kernel writes (an
// output, a workspace) would otherwise be faulted in inside the timed loop,
// which a training loop, stepping the same tensors again and again, never
// pays. The memset is what faults them in; callers fill inputs afterwards.
template <class T>
buffer<T> page_array(std::size_t n) {
  const std::size_t page = kBufferAlignment;
  std::size_t bytes = (std::max<std::size_t>(n, 1) * sizeof(T) + page - 1) / page * page;
  // Buffers of 2 MiB and more on transparent huge pages, asked for before
  // the first touch (the memset below), as NumPy asks for its large arrays:
  // on 4 KiB pages the physical placement of every page changes from one
  // process to the next, and with it the cache sets and DRAM banks a buffer
  // maps to, so the same row run alone in two processes differed by up to
  // 1.46x (bench/run's re-timing pass). Where THP is off this is a no-op.
  const bool huge = bytes >= kHugePage;
  if (huge) bytes = (bytes + kHugePage - 1) / kHugePage * kHugePage;
  void* p = std::aligned_alloc(huge ? kHugePage : page, bytes);
  if (p == nullptr) throw std::bad_alloc();
#if defined(__linux__)
  if (huge) madvise(p, bytes, MADV_HUGEPAGE);
#endif
  std::memset(p, 0, bytes);
  return buffer<T>(static_cast<T*>(p));
}

// Deterministic values in [low, high) (a 64-bit LCG), ordinary ranges only:
// no subnormals, which would time the CPU's microcode assists.
template <class T>
void fill(T* values, std::size_t n, std::uint64_t seed, double low, double high) {
  std::uint64_t state = seed;
  for (std::size_t i = 0; i < n; ++i) {
    state = state * 6364136223846793005ull + 1442695040888963407ull;
    const double unit = static_cast<double>(state >> 11) * 0x1.0p-53;
    values[i] = static_cast<T>(low + (high - low) * unit);
  }
}

// Runs step() once untimed, then once per timed iteration; step returns an
// adagrad_status (ADAGRAD_OK for the limit kernels). The untimed call takes
// what only a first call pays (a cold TLB, lazily mapped library pages, a
// new thread pool's first wake-up): at n = 2^24 a repetition runs only a few
// iterations, too few to amortize it. A failing step ends the benchmark
// with the status as its error.
template <class Step>
void timed_loop(benchmark::State& state, Step&& step) {
  adagrad_status status = step();
  if (status != ADAGRAD_OK) {
    state.SkipWithError(adagrad_status_string(status));
    return;
  }
  for (auto _ : state) {
    status = step();
    if (status != ADAGRAD_OK) {
      state.SkipWithError(adagrad_status_string(status));
      break;
    }
    benchmark::ClobberMemory();
  }
}

// Counter huge_pages: the share of the buffers' bytes on transparent huge
// pages as /proc/self/smaps reports them after the timed loop (what the row
// got, not what page_array asked for), for rows whose buffers are 2 MiB or
// more. bench/report.py prints it beside a suspect row: a row that got huge
// pages alone and 4 KiB pages in the complete run (or the reverse) measured
// the page walks, not the kernel.
template <class T>
void count_huge_pages(benchmark::State& state, std::initializer_list<const T*> buffers,
                      std::size_t n) {
  const std::size_t bytes = n * sizeof(T);
  if (bytes < kHugePage) return;
  std::size_t huge_total = 0;
  for (const T* p : buffers) {
    std::size_t huge = 0;
    if (adagrad_table_huge_page_bytes(p, bytes, &huge) != ADAGRAD_OK) return;
    huge_total += huge;
  }
  state.counters["huge_pages"] =
      static_cast<double>(huge_total) / static_cast<double>(bytes * buffers.size());
}

}  // namespace adagrad_bench

#endif  // ADAGRAD_BENCH_HARNESS_H_
