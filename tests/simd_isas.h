// SPDX-License-Identifier: BSD-3-Clause
// The SIMD ISAs this library was built with, in order of preference, from
// the one ISA list (include/adagrad/isa_list.h): the tests' parameter list.
#ifndef ADAGRAD_TESTS_SIMD_ISAS_H_
#define ADAGRAD_TESTS_SIMD_ISAS_H_

#include <xsimd/xsimd.hpp>

#include "adagrad/adagrad.h"
#include "scalable_arch.h"

namespace adagrad_test {

inline constexpr adagrad_isa kSimdIsas[] = {
#define ADAGRAD_ISA(ENUM, name, arch, features) ADAGRAD_ISA_##ENUM,
#include "isa_list.inc"
#undef ADAGRAD_ISA
};

// The vector width in bytes of a SIMD ISA of this build, from its xsimd
// architecture (SVE's: this CPU's, kernels/scalable_arch.h); 0 for any other
// value.
inline unsigned simd_isa_vector_bytes(adagrad_isa isa) {
#define ADAGRAD_ISA(ENUM, name, arch, features) \
  if (isa == ADAGRAD_ISA_##ENUM) return static_cast<unsigned>(arch::alignment());
#include "isa_list.inc"
#undef ADAGRAD_ISA
  return 0;
}

// Whether a SIMD ISA of this build has a vector length the CPU chooses (SVE).
inline bool simd_isa_scalable(adagrad_isa isa) {
#define ADAGRAD_ISA(ENUM, name, arch, features) \
  if (isa == ADAGRAD_ISA_##ENUM) return adagrad::kernels::is_scalable_arch<arch>::value;
#include "isa_list.inc"
#undef ADAGRAD_ISA
  return false;
}

// The ISA the dispatched entry points of family run on; a value no ISA has
// when the query fails, so that a test comparing with it fails too.
inline adagrad_isa dispatched_isa(adagrad_family family) {
  adagrad_isa isa = ADAGRAD_ISA_SCALAR;
  if (adagrad_dispatch_query(family, &isa, nullptr) != ADAGRAD_OK)
    return static_cast<adagrad_isa>(-1);
  return isa;
}

}  // namespace adagrad_test

#endif  // ADAGRAD_TESTS_SIMD_ISAS_H_
