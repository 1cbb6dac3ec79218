// SPDX-License-Identifier: BSD-3-Clause
// The table of CPU models: which ISA runs each kernel family fastest, where
// that is known. Every ISA gives the same bits, so a row here only ever
// changes the time a step takes, never its result.
//
// What decides it, per family:
//  - dense f32, dense f64, fma mode, composite: in cache one correctly
//    rounded square root and one division per element bound these steps
//    (bench/dense_step_bench.cc, ceiling/ rows), so what counts is whether
//    the divider takes a 512-bit vector in the time of a 256-bit one.
//  - sparse, row-wise: scattered rows in memory; wider loads keep more of a
//    row in flight.
//  - mixed: AVX-512's conversions and masked tails.
// A family a row marks `measure` is timed at resolution
// (src/dispatch_calibrate.cpp); so is every family of a CPU not listed.
//
// AArch64 has no table of models, one rule by the SVE vector length instead
// (match_cpu_rule), for every family:
//  - SVE wider than 128 bits (Graviton 3 and A64FX: 256 and 512; the
//    architecture allows up to 2048): sve. Each vector does 2 to 16 times
//    the lanes of NEON's per instruction, and the step is bound by the
//    divider (in cache) or by memory (beyond it), neither of which gets
//    slower per element with wider vectors.
//  - SVE of 128 bits (Graviton 4, Grace, Neoverse N2/V2): neon64. The same
//    lanes per instruction; SVE adds the predicate work of its loops and
//    gains only its predicated tails, at most 3 elements per call, and on
//    these cores the NEON and SVE forms of the same operation issue to the
//    same pipelines (Arm's Neoverse V2 and N2 software optimization guides).
//  - no SVE: neon64, the only SIMD ISA.
// No SVE hardware was available to this project: the rule rests on the
// reasoning above, not on a measurement, and is the one to revisit with
// bench/run on such a machine (ADAGRAD_DISPATCH=calibrate measures instead;
// ADAGRAD_ISA=sve forces SVE at any length). Tests check the rule under
// qemu at 128 to 2048 bits (tests/CMakeLists.txt, sve_dispatch_*).
#include "dispatch_rules.h"

#include <cstring>
#include <xsimd/xsimd.hpp>

#include "scalable_arch.h"

#if defined(__x86_64__) || defined(_M_X64)
#include <cpuid.h>
#endif

namespace adagrad {
namespace detail {

namespace {

// The family order of adagrad_family: dense f32, dense f64, fma, composite,
// sparse, row-wise, mixed.
constexpr family_rule M = family_rule::measure;
constexpr family_rule W = family_rule::widest;
constexpr family_rule W256 = family_rule::widest_256;
#if defined(__aarch64__)
constexpr family_rule F = family_rule::widest_fixed;
#endif

#if defined(__x86_64__) || defined(_M_X64)

enum class vendor : std::uint8_t { amd, intel };

struct cpu_model_range {
  vendor maker;
  unsigned family;  // CPUID display family (base + extended)
  unsigned first_model, last_model;
  cpu_rule rule;
};

const cpu_model_range kCpuTable[] = {
    // AMD Zen 4 (family 19h: Genoa 10h-1Fh, Raphael and Phoenix 60h-7Fh,
    // Bergamo and Siena A0h-AFh; Zen 3 shares the family but has no AVX-512,
    // so its widest ISA is avx2 whatever the row says). AVX-512 runs on
    // 256-bit units, each 512-bit operation in two halves ("double-pumped",
    // AMD's Zen 4 software optimization guide), so the divider is no faster
    // per element at 512 bits and no slower; the clock does not drop for
    // AVX-512. This project's own measurements on Zen 4 VMs (bench/run,
    // dense_step rows at 4096) disagree from one machine to the next, avx2
    // ahead on one and avx512f on another, by up to a few percent either
    // way: the dense families are measured. The table steps ran faster on
    // avx512bf16 there in every run (sparse_step rows: per-element and
    // row-wise at dim 128, a table in memory).
    {vendor::amd, 0x19, 0x10, 0x1f, {"amd-zen4", {M, M, M, M, W, W, W}}},
    {vendor::amd, 0x19, 0x60, 0x7f, {"amd-zen4", {M, M, M, M, W, W, W}}},
    {vendor::amd, 0x19, 0xa0, 0xaf, {"amd-zen4", {M, M, M, M, W, W, W}}},
    // AMD Zen 5 with full-width 512-bit units (family 1Ah: Turin 00h-1Fh,
    // Granite Ridge 40h-4Fh). Its divider takes a 512-bit vector in the time
    // of a 256-bit one: on this project's Zen 5 development VM avx512f ran
    // the dense f32 step in 0.126 ns per element against avx2's 0.24 at
    // 4096 and 65536 elements (issue 16). The mobile Zen 5 parts (Strix
    // Point, Krackan) execute AVX-512 on 256-bit units and are not listed:
    // they are measured.
    {vendor::amd, 0x1a, 0x00, 0x1f, {"amd-zen5", {W, W, W, W, W, W, W}}},
    {vendor::amd, 0x1a, 0x40, 0x4f, {"amd-zen5", {W, W, W, W, W, W, W}}},
    // Intel cores with AVX-512 (family 6: Skylake-SP, Cascade Lake and
    // Cooper Lake 55h; Ice Lake server 6Ah, 6Ch and client 7Dh, 7Eh; Tiger
    // Lake 8Ch, 8Dh; Rocket Lake A7h; Sapphire Rapids 8Fh; Emerald Rapids
    // CFh; Granite Rapids ADh, AEh). One divider per core that takes a
    // 512-bit divide or square root as two 256-bit ones (uops.info, VDIVPS
    // and VSQRTPS on ZMM against YMM: twice the reciprocal throughput), and
    // 512-bit code can lower the core clock (Intel's optimization manual,
    // "frequency licenses"; the reason GCC and Clang prefer 256-bit vectors
    // when tuning for these cores). So the divider-bound families take
    // 256-bit vectors; the others the widest, for the reasons measured on
    // Zen 4 above. Not measured on Intel hardware by this project: a row to
    // revisit with bench/run on one.
    {vendor::intel, 0x6, 0x55, 0x55, {"intel-skylake-server", {W256, W256, W256, W256, W, W, W}}},
    {vendor::intel, 0x6, 0x6a, 0x6a, {"intel-icelake-server", {W256, W256, W256, W256, W, W, W}}},
    {vendor::intel, 0x6, 0x6c, 0x6c, {"intel-icelake-server", {W256, W256, W256, W256, W, W, W}}},
    {vendor::intel, 0x6, 0x7d, 0x7e, {"intel-icelake-client", {W256, W256, W256, W256, W, W, W}}},
    {vendor::intel, 0x6, 0x8c, 0x8d, {"intel-tigerlake", {W256, W256, W256, W256, W, W, W}}},
    {vendor::intel, 0x6, 0xa7, 0xa7, {"intel-rocketlake", {W256, W256, W256, W256, W, W, W}}},
    {vendor::intel, 0x6, 0x8f, 0x8f, {"intel-sapphirerapids", {W256, W256, W256, W256, W, W, W}}},
    {vendor::intel, 0x6, 0xcf, 0xcf, {"intel-emeraldrapids", {W256, W256, W256, W256, W, W, W}}},
    {vendor::intel, 0x6, 0xad, 0xae, {"intel-graniterapids", {W256, W256, W256, W256, W, W, W}}},
};

#endif

#if defined(__aarch64__)
// The SVE rule (see the top of this file): the name says which applies.
const cpu_rule kSveWide = {"arm-sve-wide", {W, W, W, W, W, W, W}};
const cpu_rule kSve128 = {"arm-sve-128", {F, F, F, F, F, F, F}};
#endif

}  // namespace

const cpu_rule* match_cpu_rule() {
#if defined(__aarch64__)
  const std::size_t sve_bytes = kernels::sve_arch::alignment();
  if (sve_bytes == 0) return nullptr;
  return sve_bytes > 16 ? &kSveWide : &kSve128;
#endif
#if defined(__x86_64__) || defined(_M_X64)
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
  if (__get_cpuid(0, &eax, &ebx, &ecx, &edx) == 0) return nullptr;
  char id[12];
  std::memcpy(id, &ebx, 4);
  std::memcpy(id + 4, &edx, 4);
  std::memcpy(id + 8, &ecx, 4);
  vendor maker;
  if (std::memcmp(id, "AuthenticAMD", 12) == 0) {
    maker = vendor::amd;
  } else if (std::memcmp(id, "GenuineIntel", 12) == 0) {
    maker = vendor::intel;
  } else {
    return nullptr;
  }
  if (__get_cpuid(1, &eax, &ebx, &ecx, &edx) == 0) return nullptr;
  // The display family and model (Intel SDM and AMD APM, CPUID leaf 1).
  const unsigned base_family = (eax >> 8) & 0xf;
  const unsigned family = base_family == 0xf ? base_family + ((eax >> 20) & 0xff) : base_family;
  unsigned model = (eax >> 4) & 0xf;
  if (base_family == 0x6 || base_family == 0xf) model |= ((eax >> 16) & 0xf) << 4;
  for (const cpu_model_range& row : kCpuTable) {
    if (row.maker == maker && row.family == family && model >= row.first_model &&
        model <= row.last_model) {
      return &row.rule;
    }
  }
#endif
  return nullptr;
}

unsigned vector_bytes(unsigned index) {
  unsigned i = 1;
#define ADAGRAD_ISA(ENUM, name, arch, features) \
  if (index == i++) return static_cast<unsigned>(arch::alignment());
#include "isa_list.inc"
#undef ADAGRAD_ISA
  return 0;
}

bool scalable_vector(unsigned index) {
  unsigned i = 1;
#define ADAGRAD_ISA(ENUM, name, arch, features) \
  if (index == i++) return kernels::is_scalable_arch<arch>::value;
#include "isa_list.inc"
#undef ADAGRAD_ISA
  return false;
}

}  // namespace detail
}  // namespace adagrad
