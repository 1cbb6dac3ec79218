// SPDX-License-Identifier: BSD-3-Clause
// Runtime ISA selection: the table of built kernels, what this CPU can run,
// and the once-resolved default.
#ifndef ADAGRAD_SRC_DISPATCH_H_
#define ADAGRAD_SRC_DISPATCH_H_

#include <atomic>
#include <cstdint>
#include <cstring>
#include <type_traits>

#include "adagrad/adagrad.h"
#include "ukernels.h"

// Internal symbols of the shared library: hidden, so that the entry points
// reach them directly rather than through the GOT (-fvisibility=hidden alone
// does not tell the compiler that about declarations).
#if defined(__GNUC__)
#define ADAGRAD_INTERNAL __attribute__((visibility("hidden")))
#else
#define ADAGRAD_INTERNAL
#endif

namespace adagrad {
namespace detail {

// A row of the dispatch table: an ISA and its kernels, one column per kernel
// of kernels/kernel_list.h.
struct isa_kernels {
  adagrad_isa isa;
  const char* name;
#define ADAGRAD_KERNEL_COLUMN(member, symbol, function_type, isa) kernels::function_type* member;
  ADAGRAD_FOR_EACH_KERNEL(ADAGRAD_KERNEL_COLUMN, unused)
#undef ADAGRAD_KERNEL_COLUMN
};

inline kernels::proximal_ukernel_fn<float> proximal_of(const isa_kernels& k, const float*) {
  return k.proximal_f32;
}
inline kernels::proximal_ukernel_fn<double> proximal_of(const isa_kernels& k, const double*) {
  return k.proximal_f64;
}
inline kernels::da_ukernel_fn<float> da_of(const isa_kernels& k, const float*) { return k.da_f32; }
inline kernels::da_ukernel_fn<double> da_of(const isa_kernels& k, const double*) {
  return k.da_f64;
}

inline kernels::f32_ukernel_fn ukernel_of(const isa_kernels& k, const float*) { return k.f32; }
inline kernels::f64_ukernel_fn ukernel_of(const isa_kernels& k, const double*) { return k.f64; }

// Index 0 is the scalar reference; then include/adagrad/isa_list.h in order of
// preference; last, a resolver entry whose dense-step ukernels resolve the
// dispatch state on the first step and then run the step.
ADAGRAD_INTERNAL extern const isa_kernels kIsaTable[];

// Everything dispatch needs, packed in one word so that one atomic load
// answers every call: bit 63 says it is resolved, bits 0..15 which table
// entries are usable, then per kernel family (adagrad_family) four bits of
// the table index it runs and two bits of how that was chosen
// (adagrad_dispatch_source). Before resolution every index is the
// resolver's.
constexpr std::uint64_t kDispatchResolved = std::uint64_t{1} << 63;
constexpr unsigned kFamilyIndexShift = 16;
constexpr unsigned kFamilyIndexBits = 4;
constexpr unsigned kFamilySourceShift = kFamilyIndexShift + kFamilyIndexBits * ADAGRAD_FAMILY_COUNT;
constexpr unsigned kFamilySourceBits = 2;
constexpr std::uint64_t kIndexMask = (1u << kFamilyIndexBits) - 1;
static_assert(kFamilySourceShift + kFamilySourceBits * ADAGRAD_FAMILY_COUNT <= 63,
              "the dispatch state packs every family in one word");
ADAGRAD_INTERNAL extern std::atomic<std::uint64_t> g_dispatch_state;

constexpr unsigned family_index_shift(adagrad_family family) {
  return kFamilyIndexShift + kFamilyIndexBits * static_cast<unsigned>(family);
}
constexpr unsigned family_source_shift(adagrad_family family) {
  return kFamilySourceShift + kFamilySourceBits * static_cast<unsigned>(family);
}

// Detects the CPU, reads ADAGRAD_ISA and ADAGRAD_DISPATCH, measures what is
// to be measured, stores and returns the state: once, whoever calls first
// (racing first callers wait for that one resolution).
ADAGRAD_INTERNAL std::uint64_t resolve_dispatch_state();

// The state, resolved.
inline std::uint64_t dispatch_state() {
  const std::uint64_t state = g_dispatch_state.load(std::memory_order_acquire);
  return (state & kDispatchResolved) ? state : resolve_dispatch_state();
}

// The kernels of a family, resolving first if needed.
inline const isa_kernels& family_kernels(adagrad_family family) {
  return kIsaTable[(dispatch_state() >> family_index_shift(family)) & kIndexMask];
}

// The entries the dense steps run (adagrad_step and adagrad_step_f64, their
// threaded and many-tensor forms): one atomic load, no test, no call. fma
// mode is a family of its own, with its own pointer. Before the first step
// all three are the resolver's, whose dense-step ukernels resolve and
// forward (its other entries are null: every other step goes through
// family_kernels(), which resolves first). Pointers of their own save the
// dense step, whose per-call cost is measured at n = 16 (call/ rows of
// bench/dense_step_bench.cc), the index arithmetic; and keeping the
// resolution out of line keeps the entry point free of saved registers.
ADAGRAD_INTERNAL extern std::atomic<const isa_kernels*> g_dense_f32_kernels;
ADAGRAD_INTERNAL extern std::atomic<const isa_kernels*> g_dense_f64_kernels;
ADAGRAD_INTERNAL extern std::atomic<const isa_kernels*> g_fma_kernels;

inline const isa_kernels& dense_step_kernels(const float*, bool fma) {
  return *(fma ? g_fma_kernels : g_dense_f32_kernels).load(std::memory_order_acquire);
}
inline const isa_kernels& dense_step_kernels(const double*, bool fma) {
  return *(fma ? g_fma_kernels : g_dense_f64_kernels).load(std::memory_order_acquire);
}

// The ukernel of the dense step of T.
template <class T>
inline auto dense_step_ukernel(bool fma) {
  return ukernel_of(dense_step_kernels(static_cast<const T*>(nullptr), fma),
                    static_cast<const T*>(nullptr));
}

// The integer a C caller stored in an enum parameter. A C caller may pass
// any int; in C++ loading an enum object whose value lies outside the
// enumerators' range is undefined, so the entry points never load their
// enum parameters as enums: they take them by reference and copy the bytes.
template <class Enum>
inline int enum_int(const Enum& e) {
  std::underlying_type_t<Enum> value;
  std::memcpy(&value, &e, sizeof value);
  return static_cast<int>(value);
}

// The kernels of isa, or nullptr when isa is unknown, not built into this
// library or not usable on this CPU. By reference: see enum_int.
const isa_kernels* usable_kernels(const adagrad_isa& isa);

}  // namespace detail
}  // namespace adagrad

#endif  // ADAGRAD_SRC_DISPATCH_H_
