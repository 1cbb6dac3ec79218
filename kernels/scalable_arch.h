// SPDX-License-Identifier: BSD-3-Clause
// The architecture types of the ISA list's entries that xsimd 8.1 does not
// have (include/adagrad/isa_list.h): for the code outside the kernels that
// asks an entry's architecture what it asks an xsimd one (its vector width,
// alignment(), in bytes; src/dispatch_rules.cpp, tests/simd_isas.h). An SVE
// vector's width is the CPU's (and the thread's: Linux lets a thread choose a
// shorter one), so it is read at run time.
//
// Baseline code: the one SVE instruction here (RDVL) runs only on a CPU whose
// HWCAP says it has SVE. The kernels themselves are in kernels/sve/.
#ifndef ADAGRAD_KERNELS_SCALABLE_ARCH_H_
#define ADAGRAD_KERNELS_SCALABLE_ARCH_H_

#include <cstddef>
#include <cstdint>
#include <type_traits>

#if defined(__aarch64__) && defined(__linux__)
#include <sys/auxv.h>
#endif

namespace adagrad {
namespace kernels {

struct sve_arch {
  // The vector length in bytes (16 to 256), 0 without SVE.
  static std::size_t alignment() {
#if defined(__aarch64__) && defined(__linux__) && defined(HWCAP_SVE)
    if ((getauxval(AT_HWCAP) & HWCAP_SVE) == 0) return 0;
    std::uint64_t bytes = 0;
    // RDVL by its mnemonic, whatever -march this file is compiled with.
    __asm__ volatile(".arch_extension sve\n\trdvl %0, #1" : "=r"(bytes));
    return static_cast<std::size_t>(bytes);
#else
    return 0;
#endif
  }
};

// Whether an architecture's vector length is the CPU's choice (SVE) rather
// than fixed by the ISA (every xsimd architecture).
template <class Arch>
struct is_scalable_arch : std::false_type {};
template <>
struct is_scalable_arch<sve_arch> : std::true_type {};

}  // namespace kernels
}  // namespace adagrad

#endif  // ADAGRAD_KERNELS_SCALABLE_ARCH_H_
