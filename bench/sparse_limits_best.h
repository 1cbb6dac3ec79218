// SPDX-License-Identifier: BSD-3-Clause
// The sparse limit kernels (bench/sparse_limits.h) of the best ISA this CPU
// runs, for the code outside the per-ISA translation units that times them:
// bench/embedding_bag_bench.cc's stream and gather limits and
// bench/row_limit.cc's row limit for the Python benchmarks.
#ifndef ADAGRAD_BENCH_SPARSE_LIMITS_BEST_H_
#define ADAGRAD_BENCH_SPARSE_LIMITS_BEST_H_

#include <cstddef>
#include <type_traits>

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

// How a gather limit asks for the rows ahead of the one it updates; each
// limit sweeps the form with the distance and keeps the fastest, so that
// no way of asking that a step could use is left out of its bound:
//  - into_l1: each whole row `distance` rows ahead into L1 (locality 3);
//  - into_l2: the same into L2 only (locality 2: prefetcht1 on x86), which
//    on some CPUs holds none of L1's few miss buffers (the library's sparse
//    and fused steps ask so, src/sparse_sort.h, kPrefetchOccurrences);
//  - l2_then_l1: into L2 `distance` ahead, then into L1 kNearRows ahead;
//  - l2_bursts: into L2, in bursts: once fewer than `distance` rows ahead
//    have been asked for, kBurstRows more as well, back to back, so that
//    their page walks overlap (the fused embedding-bag step asks so,
//    src/embedding_bag.cpp, kBagPrefetchBurst).
enum class prefetch_form { into_l1, into_l2, l2_then_l1, l2_bursts };
constexpr std::size_t kNearRows = 2;
constexpr std::size_t kBurstRows = 16;

// The form's name in benchmark names and reports.
inline const char* prefetch_form_name(prefetch_form form) {
  switch (form) {
    case prefetch_form::into_l1: return "prefetch";
    case prefetch_form::into_l2: return "prefetch_l2";
    case prefetch_form::l2_then_l1: return "prefetch_l2_l1";
    case prefetch_form::l2_bursts: return "prefetch_l2_bursts";
  }
  return "?";
}

// Asks for every line of [p, p + bytes) with write intent into the level
// Locality names (__builtin_prefetch's third argument).
// always_inline, here, in prefetch_ahead and in the callers' ask: a function
// that only prefetches looks pure to GCC 12's IPA pure-const pass, which
// then deletes its calls (src/sparse_sort.h, prefetch_span, has the story).
// A first version of the swept forms built without a single prefetch in the
// gather and row limits, so every setting timed the hardware prefetchers
// alone; bench/CMakeLists.txt now checks their objects after each build
// (tests/check_prefetch_codegen.cmake).
template <int Locality>
__attribute__((always_inline)) inline void prefetch_for_write(const float* p, std::size_t bytes) {
  const char* first = reinterpret_cast<const char*>(p);
  for (std::size_t b = 0; b < bytes; b += 64) __builtin_prefetch(first + b, 1, Locality);
  __builtin_prefetch(first + bytes - 1, 1, Locality);
}

// Before the update of place u of count (u = 0, 1, ... in turn): asks, in
// the given form, for the rows of the places ahead: ask(place,
// std::integral_constant<int, L>) asks for that place's rows with locality
// L. *asked is the bursts' cursor (the next place not asked for; 0 before
// place 0). distance 0: nothing (the hardware prefetchers alone).
template <class Ask>
__attribute__((always_inline)) inline void prefetch_ahead(prefetch_form form,
                                                          std::size_t distance, std::size_t u,
                                                          std::size_t count, std::size_t* asked,
                                                          const Ask& ask) {
  if (distance == 0) return;
  if (form == prefetch_form::l2_bursts) {
    std::size_t end = count - u > distance ? u + distance : count;
    if (*asked < end) end = count - end > kBurstRows ? end + kBurstRows : count;
    for (; *asked < end; ++*asked) ask(*asked, std::integral_constant<int, 2>{});
    return;
  }
  if (u + distance < count) {
    if (form == prefetch_form::into_l1) {
      ask(u + distance, std::integral_constant<int, 3>{});
    } else {
      ask(u + distance, std::integral_constant<int, 2>{});
    }
  }
  if (form == prefetch_form::l2_then_l1 && distance > kNearRows && u + kNearRows < count) {
    ask(u + kNearRows, std::integral_constant<int, 3>{});
  }
}

}  // namespace adagrad_bench

#endif  // ADAGRAD_BENCH_SPARSE_LIMITS_BEST_H_
