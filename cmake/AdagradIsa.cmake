# SPDX-License-Identifier: BSD-3-Clause
# The ISAs of kernels/isa_list.inc for the target architecture, each with the
# flags its translation units alone are compiled with. Keep the two in step:
# an ISA listed there without an object here fails to link.
if(CMAKE_SYSTEM_PROCESSOR MATCHES "^(x86_64|AMD64|amd64)$")
  set(ADAGRAD_ISAS sse2 avx avx2 avx512f avx512bf16)
  set(ADAGRAD_ISA_FLAGS_sse2 -msse2)
  set(ADAGRAD_ISA_FLAGS_avx -mavx)
  # FMA3 is for fma mode's explicit fused multiply-adds only: -ffp-contract=off
  # keeps the compiler from fusing anything else. F16C converts binary16.
  set(ADAGRAD_ISA_FLAGS_avx2 -mavx2 -mfma -mf16c)
  set(ADAGRAD_ISA_FLAGS_avx512f -mavx512f)
  # xsimd's avx512bw architecture, whose headers also use AVX512CD and
  # AVX512DQ, and BF16 for VCVTNEPS2BF16.
  set(ADAGRAD_ISA_FLAGS_avx512bf16 -mavx512f -mavx512cd -mavx512dq -mavx512bw -mavx512bf16)
  # Its symbols name that xsimd architecture rather than the ISA
  # (tests/check_isa_hygiene.cmake accepts either).
  set(ADAGRAD_ISA_XSIMD_ARCH_avx512bf16 avx512bw)
  if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU" AND CMAKE_CXX_COMPILER_VERSION VERSION_LESS 13)
    # GCC 12's own _mm512_sqrt_ps/_pd use _mm512_undefined_ps(), which it then
    # reports as maybe-uninitialized (GCC bug 105593, fixed in GCC 13).
    list(APPEND ADAGRAD_ISA_FLAGS_avx512f -Wno-maybe-uninitialized)
    list(APPEND ADAGRAD_ISA_FLAGS_avx512bf16 -Wno-maybe-uninitialized)
  endif()
elseif(CMAKE_SYSTEM_PROCESSOR MATCHES "^(aarch64|arm64|ARM64)$")
  set(ADAGRAD_ISAS neon64)
  set(ADAGRAD_ISA_FLAGS_neon64 "")  # Advanced SIMD is part of the AArch64 baseline
else()
  set(ADAGRAD_ISAS "")
endif()

# An object library of sources compiled for one ISA: its flags, xsimd, and
# position-independent code so it can go into the shared library.
function(adagrad_isa_object_library name isa)
  add_library(${name} OBJECT ${ARGN})
  target_compile_options(${name} PRIVATE ${ADAGRAD_ISA_FLAGS_${isa}})
  target_link_libraries(${name} PRIVATE xsimd)
  set_target_properties(${name} PROPERTIES POSITION_INDEPENDENT_CODE ON)
endfunction()
