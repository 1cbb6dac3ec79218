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

struct isa_kernels {
  adagrad_isa isa;
  const char* name;
  kernels::f32_ukernel_fn f32;
  kernels::f64_ukernel_fn f64;
  kernels::f32_rowwise_reduce_fn rowwise_reduce;
  kernels::f32_rowwise_update_fn rowwise_update;
  kernels::f32_rowwise_rows_fn rowwise_rows;
  kernels::proximal_ukernel_fn<float> proximal_f32;
  kernels::proximal_ukernel_fn<double> proximal_f64;
  kernels::da_ukernel_fn<float> da_f32;
  kernels::da_ukernel_fn<double> da_f64;
  kernels::mixed_ukernel_fn mixed;
  kernels::unscale_ukernel_fn unscale;
  kernels::to_half_ukernel_fn to_half;
  kernels::from_half_ukernel_fn from_half;
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

// Index 0 is the scalar reference; then kernels/isa_list.inc in order of
// preference; last, a resolver entry whose ukernels resolve the ISA on the
// first step and then run it.
ADAGRAD_INTERNAL extern const isa_kernels kIsaTable[];

// Everything dispatch needs, packed in one word so that one atomic load
// answers every call: bit 31 says it is resolved, bits 0..15 which table
// entries are usable, bits 16..23 the index of the entry the wide steps run
// (the widest usable ISA, or the forced one), bits 24..30 the index of the
// entry the dense element-wise steps run (see dense_isa_ok in dispatch.cpp).
// Before resolution both indices are the resolver's.
constexpr std::uint32_t kDispatchResolved = 1u << 31;
constexpr unsigned kWideShift = 16;
constexpr unsigned kDenseShift = 24;
constexpr std::uint32_t kIndexMask = 0x7fu;
ADAGRAD_INTERNAL extern std::atomic<std::uint32_t> g_dispatch_state;

// Detects the CPU, reads ADAGRAD_ISA, stores and returns the state. Racing
// first callers compute the same value, so no lock is needed.
ADAGRAD_INTERNAL std::uint32_t resolve_dispatch_state();

// The state, resolved (for the queries that read the usable mask).
inline std::uint32_t dispatch_state() {
  const std::uint32_t state = g_dispatch_state.load(std::memory_order_acquire);
  return (state & kDispatchResolved) ? state : resolve_dispatch_state();
}

// The dense element-wise entry of kIsaTable, for adagrad_step and the
// threaded and multi-tensor dense steps: the resolver's until the state is
// resolved, then the dense one. A pointer of its own saves the dense step,
// whose per-call cost is measured at n = 16, the index arithmetic; racing
// resolvers store the same value.
ADAGRAD_INTERNAL extern std::atomic<const isa_kernels*> g_step_kernels;

// The kernels adagrad_step runs: one atomic load, no test; before the first
// step they are the resolver's, whose dense-step ukernels resolve and forward
// (its other entries are null: everything else uses dense_kernels() or
// wide_kernels()).
inline const isa_kernels& step_kernels() { return *g_step_kernels.load(std::memory_order_acquire); }

// The kernels of the dense element-wise steps (adagrad_step and its threaded
// and multi-tensor forms, the dense proximal and dual-averaging steps), which
// the divider bounds in cache: resolving first if needed.
inline const isa_kernels& dense_kernels() {
  return kIsaTable[(dispatch_state() >> kDenseShift) & kIndexMask];
}

// The kernels of every other dispatched step (embedding tables, row-wise
// state, 16-bit weights and conversions): resolving first if needed.
inline const isa_kernels& wide_kernels() {
  return kIsaTable[(dispatch_state() >> kWideShift) & kIndexMask];
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
