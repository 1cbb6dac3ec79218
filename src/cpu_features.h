// SPDX-License-Identifier: BSD-3-Clause
// The CPU features the ISA list names (include/adagrad/isa_list.h), detected
// without allocating, printing or reading files: CPUID and XGETBV on x86-64,
// the kernel's hardware capabilities (getauxval) on AArch64.
#ifndef ADAGRAD_SRC_CPU_FEATURES_H_
#define ADAGRAD_SRC_CPU_FEATURES_H_

#include <cstddef>
#include <cstdint>

namespace adagrad {
namespace detail {

// Every feature name the list may use, one bit each (the bit is the
// position here). A feature the list names must be here (list_features()
// fails to compile otherwise) and be detected by detect_cpu_features().
constexpr const char* kCpuFeatureNames[] = {
    "sse2", "avx", "avx2", "fma", "f16c", "avx512f", "avx512cd", "avx512dq", "avx512bw", "avx512bf16",
    "sve", "sve2", "bf16",
};
constexpr std::size_t kCpuFeatureCount = sizeof(kCpuFeatureNames) / sizeof(kCpuFeatureNames[0]);
static_assert(kCpuFeatureCount < 32, "one bit per feature in a 32-bit mask, and one bit more");

// The bit list_features() sets for a name kCpuFeatureNames does not have.
constexpr std::uint32_t kUnknownCpuFeature = std::uint32_t{1} << 31;

constexpr bool same_name(const char* text, std::size_t length, const char* name) {
  std::size_t i = 0;
  for (; i < length; ++i) {
    if (name[i] != text[i]) return false;
  }
  return name[i] == '\0';
}

constexpr bool is_name_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
}

// The mask of a feature list as the ISA list writes it, "(avx2, fma, f16c)"
// or "()", with kUnknownCpuFeature set for a name that kCpuFeatureNames does
// not have (its users check that at compile time).
constexpr std::uint32_t list_features(const char* list) {
  std::uint32_t mask = 0;
  for (std::size_t i = 0; list[i] != '\0';) {
    if (!is_name_char(list[i])) {
      ++i;
      continue;
    }
    std::size_t length = 0;
    while (is_name_char(list[i + length])) ++length;
    std::size_t feature = 0;
    while (feature < kCpuFeatureCount && !same_name(list + i, length, kCpuFeatureNames[feature])) {
      ++feature;
    }
    mask |= feature == kCpuFeatureCount ? kUnknownCpuFeature : std::uint32_t{1} << feature;
    i += length;
  }
  return mask;
}

// The features this CPU has and the OS has enabled (for AVX and AVX-512,
// the register state XCR0 says the OS saves; on AArch64 the HWCAP bits the
// kernel sets only for what it supports). Pure: reads CPUID and XCR0, or the
// auxiliary vector, only, so it may run at any time, from any thread.
std::uint32_t detect_cpu_features();

}  // namespace detail
}  // namespace adagrad

#endif  // ADAGRAD_SRC_CPU_FEATURES_H_
