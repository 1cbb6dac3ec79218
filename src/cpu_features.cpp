// SPDX-License-Identifier: BSD-3-Clause
// CPU feature detection for dispatch. Done here rather than by cpuinfo,
// whose initialization allocates, reads /proc and /sys and prints to stderr
// when it cannot, none of which a step may do (include/adagrad/adagrad.h);
// the few CPUID bits dispatch needs do not call for it. On AArch64 the same
// holds for cpuinfo_has_arm_sve and friends: the kernel's HWCAP bits, which
// getauxval reads from the process's auxiliary vector (no file, no
// allocation), say the same and also that the kernel saves the SVE state.
#include "cpu_features.h"

#if defined(__x86_64__) || defined(_M_X64)
#include <cpuid.h>
#elif defined(__aarch64__) && defined(__linux__)
#include <sys/auxv.h>
#endif

namespace adagrad {
namespace detail {

#if defined(__x86_64__) || defined(_M_X64)

namespace {

// The bits of the features detected here, checked against kCpuFeatureNames
// at compile time.
constexpr std::uint32_t kSse2 = list_features("sse2");
constexpr std::uint32_t kAvx = list_features("avx");
constexpr std::uint32_t kFma = list_features("fma");
constexpr std::uint32_t kF16c = list_features("f16c");
constexpr std::uint32_t kAvx2 = list_features("avx2");
constexpr std::uint32_t kAvx512f = list_features("avx512f");
constexpr std::uint32_t kAvx512dq = list_features("avx512dq");
constexpr std::uint32_t kAvx512cd = list_features("avx512cd");
constexpr std::uint32_t kAvx512bw = list_features("avx512bw");
constexpr std::uint32_t kAvx512bf16 = list_features("avx512bf16");
static_assert(((kSse2 | kAvx | kFma | kF16c | kAvx2 | kAvx512f | kAvx512dq | kAvx512cd | kAvx512bw |
                kAvx512bf16) &
               kUnknownCpuFeature) == 0,
              "every feature detected here is in kCpuFeatureNames");

bool bit(unsigned reg, unsigned index) { return (reg >> index & 1u) != 0; }

// XCR0, the register state the OS saves on a context switch. XGETBV by its
// mnemonic: the assembler knows it whatever the -m flags of this file.
std::uint64_t read_xcr0() {
  unsigned low = 0, high = 0;
  __asm__ volatile("xgetbv" : "=a"(low), "=d"(high) : "c"(0));
  return (std::uint64_t{high} << 32) | low;
}

}  // namespace

std::uint32_t detect_cpu_features() {
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
  if (__get_cpuid(1, &eax, &ebx, &ecx, &edx) == 0) return 0;
  std::uint32_t features = 0;
  if (bit(edx, 26)) features |= kSse2;
  // The OS must save the YMM state (XCR0 bits 1 and 2) for any AVX
  // instruction, and the opmask and ZMM state (bits 5 to 7) for AVX-512;
  // XGETBV itself exists only when OSXSAVE says so.
  const std::uint64_t xcr0 = bit(ecx, 27) ? read_xcr0() : 0;
  const bool ymm_state = (xcr0 & 0x6) == 0x6;
  const bool zmm_state = ymm_state && (xcr0 & 0xe0) == 0xe0;
  if (ymm_state) {
    if (bit(ecx, 28)) features |= kAvx;
    if (bit(ecx, 12)) features |= kFma;
    if (bit(ecx, 29)) features |= kF16c;
  }
  unsigned max_leaf = __get_cpuid_max(0, nullptr);
  if (max_leaf < 7) return features;
  __cpuid_count(7, 0, eax, ebx, ecx, edx);
  const unsigned max_subleaf = eax;
  if (ymm_state && bit(ebx, 5)) features |= kAvx2;
  if (zmm_state) {
    if (bit(ebx, 16)) features |= kAvx512f;
    if (bit(ebx, 17)) features |= kAvx512dq;
    if (bit(ebx, 28)) features |= kAvx512cd;
    if (bit(ebx, 30)) features |= kAvx512bw;
    if (max_subleaf >= 1) {
      __cpuid_count(7, 1, eax, ebx, ecx, edx);
      if (bit(eax, 5)) features |= kAvx512bf16;
    }
  }
  return features;
}

#elif defined(__aarch64__) && defined(__linux__)

namespace {

constexpr std::uint32_t kSve = list_features("sve");
constexpr std::uint32_t kSve2 = list_features("sve2");
constexpr std::uint32_t kBf16 = list_features("bf16");
static_assert(((kSve | kSve2 | kBf16) & kUnknownCpuFeature) == 0,
              "every feature detected here is in kCpuFeatureNames");

// The bits of <asm/hwcap.h> (Linux 4.11 and 5.10), should the C library's
// headers predate them.
constexpr unsigned long kHwcapSve = 1ul << 22;
constexpr unsigned long kHwcap2Sve2 = 1ul << 1;
constexpr unsigned long kHwcap2SveBf16 = 1ul << 12;
constexpr unsigned long kHwcap2Bf16 = 1ul << 14;

}  // namespace

std::uint32_t detect_cpu_features() {
  const unsigned long hwcap = getauxval(AT_HWCAP);
  const unsigned long hwcap2 = getauxval(AT_HWCAP2);
  std::uint32_t features = 0;
  const bool sve = (hwcap & kHwcapSve) != 0;
  if (sve) features |= kSve;
  if (sve && (hwcap2 & kHwcap2Sve2) != 0) features |= kSve2;
  // GCC's +bf16 lets the compiler use the BFloat16 instructions of Advanced
  // SIMD and, with +sve, of SVE: both must be there.
  if ((hwcap2 & kHwcap2Bf16) != 0 && (!sve || (hwcap2 & kHwcap2SveBf16) != 0)) features |= kBf16;
  return features;
}

#else

std::uint32_t detect_cpu_features() { return 0; }

#endif

}  // namespace detail
}  // namespace adagrad
