// SPDX-License-Identifier: BSD-3-Clause
// Software prefetch for the streaming loops (the dense step, and the
// benchmarks' memory roofline, which must stream at least as well).
#ifndef ADAGRAD_KERNELS_PREFETCH_HPP_
#define ADAGRAD_KERNELS_PREFETCH_HPP_

#include <cstddef>
#include <cstdint>

#include "isa_namespace.h"

ADAGRAD_KERNEL_NAMESPACE_BEGIN
namespace detail {

// How far ahead of the loop the next lines of w, g and G are requested. Past
// the last level of cache the step, unlike a plain copy, keeps its reorder
// window busy with square roots and divisions and issues its loads late;
// asking for the data 4 KiB early brings it to the memory roofline (the
// efficiency column of the dense_step rows at 2^24 in
// bench/dense_step_bench.cc; without it the step stayed about a tenth below
// the roofline). Inside the caches it costs
// nothing: the loop then waits on the divider, not on issue slots.
constexpr std::size_t kPrefetchBytes = 4096;

// Templated on Arch so an out-of-line copy would be keyed on the ISA. The
// address is formed as an integer: it may lie past the end of the buffer,
// which a prefetch may touch (it never faults) but a pointer may not.
template <class Arch, class T>
inline void prefetch_ahead(Arch, const T* p, bool for_write) {
  const auto ahead =
      reinterpret_cast<const void*>(reinterpret_cast<std::uintptr_t>(p) + kPrefetchBytes);
  if (for_write) {
    __builtin_prefetch(ahead, 1);
  } else {
    __builtin_prefetch(ahead, 0);
  }
}

// Where a loop over [0, vector_end) in steps of width must stop prefetching
// so that it never asks for a line past its own data: kPrefetchBytes before
// the end, rounded down to a whole step.
template <class T>
constexpr std::size_t prefetch_limit(std::size_t vector_end, std::size_t width) {
  constexpr std::size_t ahead = kPrefetchBytes / sizeof(T);
  return vector_end > ahead ? (vector_end - ahead) - (vector_end - ahead) % width : 0;
}

}  // namespace detail
ADAGRAD_KERNEL_NAMESPACE_END

#endif  // ADAGRAD_KERNELS_PREFETCH_HPP_
