#include "dispatch.h"

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <cstring>

#if defined(__x86_64__) || defined(_M_X64)
#include <cpuinfo.h>
#endif

namespace adagrad {
namespace detail {

namespace {

// The ukernels of the last table entry, which the state points at until the
// first step: they resolve the ISA, then run the step on the one chosen. So
// the entry points need no "resolved yet?" test of their own, and later calls
// never come here again.
adagrad_status resolve_then_step_f32(std::size_t n, float* w, const float* g, float* G,
                                     kernels::step_constants<float> c) {
  return kIsaTable[(resolve_dispatch_state() >> 16) & 0xffu].f32(n, w, g, G, c);
}

adagrad_status resolve_then_step_f64(std::size_t n, double* w, const double* g, double* G,
                                     kernels::step_constants<double> c) {
  return kIsaTable[(resolve_dispatch_state() >> 16) & 0xffu].f64(n, w, g, G, c);
}

}  // namespace

const isa_kernels kIsaTable[] = {
    {ADAGRAD_ISA_SCALAR, "scalar", &kernels::adagrad_f32_ukernel__scalar,
     &kernels::adagrad_f64_ukernel__scalar, &kernels::adagrad_f32_rowwise_reduce_ukernel__scalar,
     &kernels::adagrad_f32_rowwise_update_ukernel__scalar,
     &kernels::adagrad_f32_rowwise_rows_ukernel__scalar,
     &kernels::adagrad_f32_proximal_ukernel__scalar, &kernels::adagrad_f64_proximal_ukernel__scalar,
     &kernels::adagrad_f32_da_ukernel__scalar, &kernels::adagrad_f64_da_ukernel__scalar,
     &kernels::adagrad_mixed_ukernel__scalar, &kernels::adagrad_unscale_ukernel__scalar,
     &kernels::adagrad_to_half_ukernel__scalar, &kernels::adagrad_from_half_ukernel__scalar},
#define ADAGRAD_ISA(ENUM, name, arch, usable)            \
  {ADAGRAD_ISA_##ENUM,                                   \
   #name,                                                \
   &kernels::adagrad_f32_ukernel__##name,                \
   &kernels::adagrad_f64_ukernel__##name,                \
   &kernels::adagrad_f32_rowwise_reduce_ukernel__##name, \
   &kernels::adagrad_f32_rowwise_update_ukernel__##name, \
   &kernels::adagrad_f32_rowwise_rows_ukernel__##name,   \
   &kernels::adagrad_f32_proximal_ukernel__##name,       \
   &kernels::adagrad_f64_proximal_ukernel__##name,       \
   &kernels::adagrad_f32_da_ukernel__##name,             \
   &kernels::adagrad_f64_da_ukernel__##name,                                                    \
   &kernels::adagrad_mixed_ukernel__##name,                                                     \
   &kernels::adagrad_unscale_ukernel__##name,                                                   \
   &kernels::adagrad_to_half_ukernel__##name,                                                   \
   &kernels::adagrad_from_half_ukernel__##name},
#include "isa_list.inc"
#undef ADAGRAD_ISA
    // Only the dense steps (adagrad_step, adagrad_step_f64) go through
    // step_kernels() and so can meet this entry; every other entry point
    // takes active_kernels(), which resolves first.
    {ADAGRAD_ISA_SCALAR, "unresolved", &resolve_then_step_f32, &resolve_then_step_f64, nullptr,
     nullptr, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr},
};

namespace {

// The real ISAs; the resolver entry is the one after them.
constexpr unsigned kTableSize = sizeof(kIsaTable) / sizeof(kIsaTable[0]) - 1;
constexpr unsigned kResolverIndex = kTableSize;
static_assert(kTableSize <= 16, "the resolved state packs one usable bit per table entry");

}  // namespace

std::atomic<std::uint32_t> g_dispatch_state{kResolverIndex << 16};
std::atomic<const isa_kernels*> g_step_kernels{&kIsaTable[kResolverIndex]};

namespace {

bool cpu_can_run(unsigned index) {
  if (index == 0) return true;
#if defined(__x86_64__) || defined(_M_X64)
  // cpuinfo_initialize is idempotent and thread-safe (pthread_once). When it
  // fails every cpuinfo_has_* is false and only the baseline remains.
  if (!cpuinfo_initialize()) return kIsaTable[index].isa == ADAGRAD_ISA_SSE2;
#endif
  unsigned i = 1;
#define ADAGRAD_ISA(ENUM, name, arch, usable) \
  if (index == i++) return (usable);
#include "isa_list.inc"
#undef ADAGRAD_ISA
  return false;
}

std::uint32_t compute_state() {
  std::uint32_t usable_mask = 0;
  unsigned active = 0;
  for (unsigned i = 0; i < kTableSize; ++i) {
    if (cpu_can_run(i)) {
      usable_mask |= 1u << i;
      active = i;  // entries are in order of preference
    }
  }
  // ADAGRAD_ISA forces the default path when it names a usable ISA; anything
  // else is ignored, and adagrad_active_isa() reports what really runs.
  if (const char* forced = std::getenv("ADAGRAD_ISA")) {
    for (unsigned i = 0; i < kTableSize; ++i) {
      if ((usable_mask >> i & 1u) && std::strcmp(forced, kIsaTable[i].name) == 0) active = i;
    }
  }
  return kDispatchResolved | (active << 16) | usable_mask;
}

}  // namespace

// All racing first callers compute the same value, so a plain store is
// enough: no lock, and after the first call one acquire load.
std::uint32_t resolve_dispatch_state() {
  const std::uint32_t s = compute_state();
  g_step_kernels.store(&kIsaTable[(s >> 16) & 0xffu], std::memory_order_release);
  g_dispatch_state.store(s, std::memory_order_release);
  return s;
}

const isa_kernels* usable_kernels(const adagrad_isa& isa) {
  const int wanted = enum_int(isa);
  const std::uint32_t s = dispatch_state();
  for (unsigned i = 0; i < kTableSize; ++i) {
    if (static_cast<int>(kIsaTable[i].isa) == wanted) return (s >> i & 1u) ? &kIsaTable[i] : nullptr;
  }
  return nullptr;
}

}  // namespace detail
}  // namespace adagrad

extern "C" {

adagrad_isa adagrad_active_isa(void) { return adagrad::detail::active_kernels().isa; }

int adagrad_isa_supported(adagrad_isa isa) {
  return adagrad::detail::usable_kernels(isa) != nullptr;
}

const char* adagrad_isa_name(adagrad_isa isa) {
  switch (adagrad::detail::enum_int(isa)) {
    case ADAGRAD_ISA_SCALAR: return "scalar";
    case ADAGRAD_ISA_SSE2: return "sse2";
    case ADAGRAD_ISA_AVX: return "avx";
    case ADAGRAD_ISA_AVX512F: return "avx512f";
    case ADAGRAD_ISA_NEON64: return "neon64";
    case ADAGRAD_ISA_AVX2: return "avx2";
    case ADAGRAD_ISA_AVX512BF16: return "avx512bf16";
  }
  return "unknown";
}

}  // extern "C"
