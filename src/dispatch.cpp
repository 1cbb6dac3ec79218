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
  return kIsaTable[(resolve_dispatch_state() >> kDenseShift) & kIndexMask].f32(n, w, g, G, c);
}

adagrad_status resolve_then_step_f64(std::size_t n, double* w, const double* g, double* G,
                                     kernels::step_constants<double> c) {
  return kIsaTable[(resolve_dispatch_state() >> kDenseShift) & kIndexMask].f64(n, w, g, G, c);
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
    // Only the dense steps (adagrad_step, adagrad_step_f64, their threaded
    // and multi-tensor forms) go through step_kernels() and so can meet this
    // entry; every other entry point takes dense_kernels() or wide_kernels(),
    // which resolve first.
    {ADAGRAD_ISA_SCALAR, "unresolved", &resolve_then_step_f32, &resolve_then_step_f64, nullptr,
     nullptr, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr},
};

namespace {

// The real ISAs; the resolver entry is the one after them.
constexpr unsigned kTableSize = sizeof(kIsaTable) / sizeof(kIsaTable[0]) - 1;
constexpr unsigned kResolverIndex = kTableSize;
static_assert(kTableSize <= 16, "the resolved state packs one usable bit per table entry");
static_assert(kResolverIndex <= kIndexMask, "the resolved state packs two table indices");
// Before resolution both indices are the resolver's.
constexpr std::uint32_t kUnresolvedState =
    (kResolverIndex << kWideShift) | (kResolverIndex << kDenseShift);

}  // namespace

std::atomic<std::uint32_t> g_dispatch_state{kUnresolvedState};
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

// Whether the dense element-wise steps may take isa. They do one correctly
// rounded square root and one division per element, so in cache the divider
// bounds them, and on x86 a 512-bit vector buys the divider nothing: it
// divides and takes square roots of one no faster per element than of a
// 256-bit one, while 512-bit code can cost clock speed. On this project's
// AVX-512 machine (bench/run) the avx2 ISA ran the dense f32 step 8% faster
// in cache than avx512f and avx512bf16, the f64 step 8-19%, the proximal and
// dual-averaging steps 5-9%, and all of them at the same speed past the
// caches. So these steps take the widest ISA of at most 256 bits, as GCC and
// Clang prefer 256-bit vectors when they tune for AVX-512 cores. Every other
// step keeps the widest ISA: on a table in memory at dim 128 the per-element
// table steps ran 5-18% and the row-wise ones 25-38% faster on avx512bf16
// than on avx2 there (wider loads keep more of a scattered row in flight),
// and the 16-bit steps gain AVX-512's conversions. The results are the same
// bits on every ISA either way.
bool dense_isa_ok(unsigned index) {
  const adagrad_isa isa = kIsaTable[index].isa;
  return isa != ADAGRAD_ISA_AVX512F && isa != ADAGRAD_ISA_AVX512BF16;
}

std::uint32_t compute_state() {
  std::uint32_t usable_mask = 0;
  unsigned wide = 0;
  unsigned dense = 0;
  for (unsigned i = 0; i < kTableSize; ++i) {
    if (cpu_can_run(i)) {
      usable_mask |= 1u << i;
      wide = i;  // entries are in order of preference
      if (dense_isa_ok(i)) dense = i;
    }
  }
  // ADAGRAD_ISA forces every dispatched step when it names a usable ISA;
  // anything else is ignored, and adagrad_active_isa() and
  // adagrad_active_wide_isa() report what really runs.
  if (const char* forced = std::getenv("ADAGRAD_ISA")) {
    for (unsigned i = 0; i < kTableSize; ++i) {
      if ((usable_mask >> i & 1u) && std::strcmp(forced, kIsaTable[i].name) == 0) {
        wide = i;
        dense = i;
      }
    }
  }
  return kDispatchResolved | (dense << kDenseShift) | (wide << kWideShift) | usable_mask;
}

}  // namespace

// All racing first callers compute the same value, so a plain store is
// enough: no lock, and after the first call one acquire load.
std::uint32_t resolve_dispatch_state() {
  const std::uint32_t s = compute_state();
  g_step_kernels.store(&kIsaTable[(s >> kDenseShift) & kIndexMask], std::memory_order_release);
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

adagrad_isa adagrad_active_isa(void) { return adagrad::detail::dense_kernels().isa; }

adagrad_isa adagrad_active_wide_isa(void) { return adagrad::detail::wide_kernels().isa; }

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
