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

// Index 0 is the scalar reference; then kernels/isa_list.inc in order of
// preference.
constexpr isa_kernels kTable[] = {
    {ADAGRAD_ISA_SCALAR, "scalar", &kernels::adagrad_f32_ukernel__scalar,
     &kernels::adagrad_f64_ukernel__scalar},
#define ADAGRAD_ISA(ENUM, name, arch, usable)                        \
  {ADAGRAD_ISA_##ENUM, #name, &kernels::adagrad_f32_ukernel__##name, \
   &kernels::adagrad_f64_ukernel__##name},
#include "isa_list.inc"
#undef ADAGRAD_ISA
};
constexpr unsigned kTableSize = sizeof(kTable) / sizeof(kTable[0]);
static_assert(kTableSize <= 16, "the resolved state packs one usable bit per table entry");

// Everything dispatch needs, packed in one word so that one atomic load
// answers every call: bit 31 says it is resolved, bits 0..15 which table
// entries are usable, bits 16..23 the index of the active entry.
constexpr std::uint32_t kResolved = 1u << 31;
std::atomic<std::uint32_t> g_state{0};

bool cpu_can_run(unsigned index) {
  if (index == 0) return true;
#if defined(__x86_64__) || defined(_M_X64)
  // cpuinfo_initialize is idempotent and thread-safe (pthread_once). When it
  // fails every cpuinfo_has_* is false and only the baseline remains.
  if (!cpuinfo_initialize()) return kTable[index].isa == ADAGRAD_ISA_SSE2;
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
      if ((usable_mask >> i & 1u) && std::strcmp(forced, kTable[i].name) == 0) active = i;
    }
  }
  return kResolved | (active << 16) | usable_mask;
}

// All racing first callers compute the same value, so a plain store is
// enough: no lock, and after the first call one acquire load.
std::uint32_t state() {
  std::uint32_t s = g_state.load(std::memory_order_acquire);
  if (!(s & kResolved)) {
    s = compute_state();
    g_state.store(s, std::memory_order_release);
  }
  return s;
}

}  // namespace

const isa_kernels& active_kernels() { return kTable[(state() >> 16) & 0xffu]; }

const isa_kernels* usable_kernels(adagrad_isa isa) {
  const std::uint32_t s = state();
  for (unsigned i = 0; i < kTableSize; ++i) {
    if (kTable[i].isa == isa) return (s >> i & 1u) ? &kTable[i] : nullptr;
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
  switch (isa) {
    case ADAGRAD_ISA_SCALAR: return "scalar";
    case ADAGRAD_ISA_SSE2: return "sse2";
    case ADAGRAD_ISA_AVX: return "avx";
    case ADAGRAD_ISA_AVX512F: return "avx512f";
    case ADAGRAD_ISA_NEON64: return "neon64";
  }
  return "unknown";
}

}  // extern "C"
