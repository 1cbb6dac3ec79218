// SPDX-License-Identifier: BSD-3-Clause
#include "dispatch.h"

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>

#include "cpu_features.h"
#include "dispatch_rules.h"

namespace adagrad {
namespace detail {

namespace {

// The ukernels of the last table entry, which the dense steps' pointers
// point at until the first step: they resolve, then run the step on the ISA
// chosen. So the entry points need no "resolved yet?" test of their own, and
// later calls never come here again (the step's constants say whether it
// runs in fma mode, which has a pointer of its own).
adagrad_status resolve_then_step_f32(std::size_t n, float* w, const float* g, float* G,
                                     kernels::step_constants<float> c) {
  resolve_dispatch_state();
  return dense_step_kernels(g, c.fma).f32(n, w, g, G, c);
}

adagrad_status resolve_then_step_f64(std::size_t n, double* w, const double* g, double* G,
                                     kernels::step_constants<double> c) {
  resolve_dispatch_state();
  return dense_step_kernels(g, c.fma).f64(n, w, g, G, c);
}

}  // namespace

// The dispatch state's resolver entry (see kIsaTable): only the dense-step
// columns are set.
constexpr isa_kernels resolver_entry() {
  isa_kernels entry{};
  entry.isa = ADAGRAD_ISA_SCALAR;
  entry.name = "unresolved";
  entry.f32 = &resolve_then_step_f32;
  entry.f64 = &resolve_then_step_f64;
  return entry;
}

#define ADAGRAD_KERNEL_CELL(member, symbol, function_type, isa) &kernels::symbol##__##isa,
const isa_kernels kIsaTable[] = {
    {ADAGRAD_ISA_SCALAR, "scalar", ADAGRAD_FOR_EACH_KERNEL(ADAGRAD_KERNEL_CELL, scalar)},
#define ADAGRAD_ISA(ENUM, name, arch, features) \
  {ADAGRAD_ISA_##ENUM, #name, ADAGRAD_FOR_EACH_KERNEL(ADAGRAD_KERNEL_CELL, name)},
#include "isa_list.inc"
#undef ADAGRAD_ISA
    // Only the dense steps (adagrad_step, adagrad_step_f64, their threaded
    // and multi-tensor forms) go through dense_step_kernels() and so
    // can meet this entry; every other step takes family_kernels(), which
    // resolves first.
    resolver_entry(),
};
#undef ADAGRAD_KERNEL_CELL

namespace {

// The real ISAs; the resolver entry is the one after them.
constexpr unsigned kTableSize = sizeof(kIsaTable) / sizeof(kIsaTable[0]) - 1;
constexpr unsigned kResolverIndex = kTableSize;
static_assert(kTableSize <= 16, "the resolved state packs one usable bit per table entry");
static_assert(kResolverIndex <= kIndexMask, "the resolved state packs table indices in 4 bits");

constexpr std::uint64_t unresolved_state() {
  std::uint64_t state = 0;
  for (unsigned f = 0; f < ADAGRAD_FAMILY_COUNT; ++f) {
    state |= std::uint64_t{kResolverIndex} << family_index_shift(static_cast<adagrad_family>(f));
  }
  return state;
}

}  // namespace

std::atomic<std::uint64_t> g_dispatch_state{unresolved_state()};
std::atomic<const isa_kernels*> g_dense_f32_kernels{&kIsaTable[kResolverIndex]};
std::atomic<const isa_kernels*> g_dense_f64_kernels{&kIsaTable[kResolverIndex]};
std::atomic<const isa_kernels*> g_fma_kernels{&kIsaTable[kResolverIndex]};

namespace {

// What resolution found besides the state: written once before the state is
// published (release), read after it is seen resolved (acquire).
std::atomic<std::uint64_t> g_calibration_ns{0};
std::atomic<const char*> g_cpu_name{"unknown"};

// The features each table entry needs, from the ISA list; the scalar
// reference needs none.
constexpr std::uint32_t kRequiredFeatures[] = {
    0,
#define ADAGRAD_ISA(ENUM, name, arch, features) list_features(#features),
#include "isa_list.inc"
#undef ADAGRAD_ISA
};

constexpr bool every_feature_known() {
  for (std::uint32_t required : kRequiredFeatures) {
    if (required & kUnknownCpuFeature) return false;
  }
  return true;
}
// The list's values are ADAGRAD_ISA_COUNT - 1 distinct numbers in
// [1, ADAGRAD_ISA_COUNT): the enum is dense, as the header promises.
constexpr bool isa_values_dense() {
  unsigned long long seen = 1;  // the scalar reference's 0
#define ADAGRAD_ISA_ENTRY(ENUM, value, name, cpu, features, arch) \
  if ((value) >= ADAGRAD_ISA_COUNT || (seen >> (value) & 1)) return false; \
  seen |= 1ull << (value);
#include "adagrad/isa_list.h"
#undef ADAGRAD_ISA_ENTRY
  return seen == (1ull << ADAGRAD_ISA_COUNT) - 1;
}
static_assert(isa_values_dense(), "include/adagrad/isa_list.h: values must be 1, 2, ... distinct");

static_assert(every_feature_known(),
              "include/adagrad/isa_list.h names a feature src/cpu_features.h does not know");

// ADAGRAD_DISPATCH: how families the environment does not force are chosen.
enum class dispatch_method { automatic, table_only, calibrate_all };

dispatch_method method_from_environment() {
  const char* method = std::getenv("ADAGRAD_DISPATCH");
  if (method != nullptr && std::strcmp(method, "table") == 0) return dispatch_method::table_only;
  if (method != nullptr && std::strcmp(method, "calibrate") == 0) {
    return dispatch_method::calibrate_all;
  }
  return dispatch_method::automatic;
}

// Whether ADAGRAD_ISA names a usable table entry (the scalar reference,
// index 0, included), and which.
bool forced_index(std::uint32_t usable_mask, unsigned* index) {
  const char* forced = std::getenv("ADAGRAD_ISA");
  if (forced == nullptr) return false;
  for (unsigned i = 0; i < kTableSize; ++i) {
    if ((usable_mask >> i & 1u) && std::strcmp(forced, kIsaTable[i].name) == 0) {
      *index = i;
      return true;
    }
  }
  return false;
}

// The widest usable entry (entries are in order of preference), at most
// max_bytes wide, and of a fixed vector length if asked.
unsigned widest(std::uint32_t usable_mask, unsigned max_bytes, bool fixed_only = false) {
  unsigned best = 0;
  for (unsigned i = 1; i < kTableSize; ++i) {
    if ((usable_mask >> i & 1u) && vector_bytes(i) <= max_bytes &&
        !(fixed_only && scalable_vector(i))) {
      best = i;
    }
  }
  return best;
}

// Times every usable SIMD entry on family and returns the fastest; among
// those within 2% of the fastest, the widest, so that noise between two
// equally fast ISAs settles on the generic rule's choice.
unsigned fastest(adagrad_family family, std::uint32_t usable_mask) {
  std::uint64_t times[16] = {};
  std::uint64_t best_time = UINT64_MAX;
  prepare_family_buffers(family);
  for (unsigned i = 1; i < kTableSize; ++i) {
    if (!(usable_mask >> i & 1u)) continue;
    times[i] = time_family_kernel(family, kIsaTable[i]);
    if (times[i] < best_time) best_time = times[i];
  }
  unsigned best = 0;
  for (unsigned i = 1; i < kTableSize; ++i) {
    if ((usable_mask >> i & 1u) && times[i] * 100 <= best_time * 102) best = i;
  }
  return best;
}

unsigned simd_count(std::uint32_t usable_mask) {
  unsigned count = 0;
  for (unsigned i = 1; i < kTableSize; ++i) count += usable_mask >> i & 1u;
  return count;
}

std::uint64_t compute_state() {
  const std::uint32_t cpu_features = detect_cpu_features();
  std::uint32_t usable_mask = 0;
  for (unsigned i = 0; i < kTableSize; ++i) {
    if ((kRequiredFeatures[i] & ~cpu_features) == 0) usable_mask |= 1u << i;
  }
  const cpu_rule* rule = match_cpu_rule();
  if (rule != nullptr) g_cpu_name.store(rule->name, std::memory_order_relaxed);
  const dispatch_method method = method_from_environment();
  unsigned forced = 0;
  const bool is_forced = forced_index(usable_mask, &forced);
  const unsigned widest_index = widest(usable_mask, ~0u);

  std::uint64_t state = kDispatchResolved | usable_mask;
  std::uint64_t calibration_ns = 0;
  for (unsigned f = 0; f < ADAGRAD_FAMILY_COUNT; ++f) {
    const auto family = static_cast<adagrad_family>(f);
    unsigned index = widest_index;
    adagrad_dispatch_source source = ADAGRAD_DISPATCH_WIDEST;
    const family_rule table = rule != nullptr ? rule->families[f] : family_rule::measure;
    if (is_forced) {
      index = forced;
      source = ADAGRAD_DISPATCH_FORCED;
    } else if (table != family_rule::measure && method != dispatch_method::calibrate_all) {
      index = table == family_rule::widest_256     ? widest(usable_mask, 32)
              : table == family_rule::widest_fixed ? widest(usable_mask, ~0u, true)
                                                   : widest_index;
      source = ADAGRAD_DISPATCH_TABLE;
    } else if (method != dispatch_method::table_only && simd_count(usable_mask) > 1) {
      const auto start = std::chrono::steady_clock::now();
      index = fastest(family, usable_mask);
      calibration_ns +=
          static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                         std::chrono::steady_clock::now() - start)
                                         .count());
      source = ADAGRAD_DISPATCH_MEASURED;
    }
    state |= std::uint64_t{index} << family_index_shift(family);
    state |= std::uint64_t{static_cast<unsigned>(source)} << family_source_shift(family);
  }
  g_calibration_ns.store(calibration_ns, std::memory_order_relaxed);
  return state;
}

std::uint64_t compute_and_publish_state() {
  const std::uint64_t s = compute_state();
  g_dense_f32_kernels.store(
      &kIsaTable[(s >> family_index_shift(ADAGRAD_FAMILY_DENSE_F32)) & kIndexMask],
      std::memory_order_release);
  g_dense_f64_kernels.store(
      &kIsaTable[(s >> family_index_shift(ADAGRAD_FAMILY_DENSE_F64)) & kIndexMask],
      std::memory_order_release);
  g_fma_kernels.store(&kIsaTable[(s >> family_index_shift(ADAGRAD_FAMILY_FMA)) & kIndexMask],
                      std::memory_order_release);
  g_dispatch_state.store(s, std::memory_order_release);
  return s;
}

}  // namespace

// Once, whoever calls first: measuring makes two resolutions differ, so
// racing first callers wait for one (a function-local static: the
// compiler's thread-safe once-guard, no allocation) rather than each
// computing its own.
std::uint64_t resolve_dispatch_state() {
  static const std::uint64_t resolved = compute_and_publish_state();
  return resolved;
}

const isa_kernels* usable_kernels(const adagrad_isa& isa) {
  const int wanted = enum_int(isa);
  const std::uint64_t s = dispatch_state();
  for (unsigned i = 0; i < kTableSize; ++i) {
    if (static_cast<int>(kIsaTable[i].isa) == wanted)
      return (s >> i & 1u) ? &kIsaTable[i] : nullptr;
  }
  return nullptr;
}

}  // namespace detail
}  // namespace adagrad

extern "C" {

adagrad_status adagrad_dispatch_query(adagrad_family family, adagrad_isa* isa,
                                      adagrad_dispatch_source* source) {
  const int f = adagrad::detail::enum_int(family);
  if (f < 0 || f >= ADAGRAD_FAMILY_COUNT) return ADAGRAD_ERROR_INVALID_PARAMS;
  if (isa == nullptr) return ADAGRAD_ERROR_NULL_POINTER;
  const auto known = static_cast<adagrad_family>(f);
  const std::uint64_t s = adagrad::detail::dispatch_state();
  *isa = adagrad::detail::kIsaTable[(s >> adagrad::detail::family_index_shift(known)) &
                                    adagrad::detail::kIndexMask]
             .isa;
  if (source != nullptr) {
    *source =
        static_cast<adagrad_dispatch_source>((s >> adagrad::detail::family_source_shift(known)) &
                                             ((1u << adagrad::detail::kFamilySourceBits) - 1));
  }
  return ADAGRAD_OK;
}

uint64_t adagrad_dispatch_calibration_ns(void) {
  adagrad::detail::dispatch_state();
  return adagrad::detail::g_calibration_ns.load(std::memory_order_relaxed);
}

const char* adagrad_dispatch_cpu(void) {
  adagrad::detail::dispatch_state();
  return adagrad::detail::g_cpu_name.load(std::memory_order_relaxed);
}

const char* adagrad_family_name(adagrad_family family) {
  switch (adagrad::detail::enum_int(family)) {
    case ADAGRAD_FAMILY_DENSE_F32: return "dense_f32";
    case ADAGRAD_FAMILY_DENSE_F64: return "dense_f64";
    case ADAGRAD_FAMILY_FMA: return "fma";
    case ADAGRAD_FAMILY_COMPOSITE: return "composite";
    case ADAGRAD_FAMILY_SPARSE: return "sparse";
    case ADAGRAD_FAMILY_ROWWISE: return "rowwise";
    case ADAGRAD_FAMILY_MIXED: return "mixed";
  }
  return "unknown";
}

const char* adagrad_dispatch_source_name(adagrad_dispatch_source source) {
  switch (adagrad::detail::enum_int(source)) {
    case ADAGRAD_DISPATCH_WIDEST: return "widest";
    case ADAGRAD_DISPATCH_TABLE: return "table";
    case ADAGRAD_DISPATCH_MEASURED: return "measured";
    case ADAGRAD_DISPATCH_FORCED: return "forced";
  }
  return "unknown";
}

adagrad_isa adagrad_active_isa(void) {
  return adagrad::detail::family_kernels(ADAGRAD_FAMILY_DENSE_F32).isa;
}

adagrad_isa adagrad_active_wide_isa(void) {
  return adagrad::detail::family_kernels(ADAGRAD_FAMILY_SPARSE).isa;
}

int adagrad_isa_supported(adagrad_isa isa) {
  return adagrad::detail::usable_kernels(isa) != nullptr;
}
const char* adagrad_isa_name(adagrad_isa isa) {
  switch (adagrad::detail::enum_int(isa)) {
    case ADAGRAD_ISA_SCALAR: return "scalar";
#define ADAGRAD_ISA_ENTRY(ENUM, value, name, cpu, features, arch) \
  case ADAGRAD_ISA_##ENUM:                                        \
    return #name;
#include "adagrad/isa_list.h"
#undef ADAGRAD_ISA_ENTRY
  }
  return "unknown";
}

}  // extern "C"
