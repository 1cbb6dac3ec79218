/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The one list of SIMD instruction sets adagrad builds kernels for, of every
 * CPU architecture. Everything about an ISA comes from its line here: the
 * public enumerator (adagrad.h), its name (adagrad_isa_name, ADAGRAD_ISA),
 * the compiler flags of its kernels and the CPU features dispatch checks
 * before running them (both from the feature list, so the two cannot
 * disagree), the xsimd architecture its kernels are instantiated for, the
 * per-ISA translation units CMake generates (one per kernel unit of
 * kernels/kernel_list.inc), the tests' and benchmarks' parameter lists.
 * CMake reads this file too (cmake/AdagradIsa.cmake): keep each entry on one
 * line.
 *
 * ADAGRAD_ISA_ENTRY(ENUM, value, name, cpu, features, xsimd_arch)
 *   ENUM        the enumerator is ADAGRAD_ISA_<ENUM>
 *   value       its numeric value: stable, never reused
 *   name        lowercase, as adagrad_isa_name() and ADAGRAD_ISA spell it
 *   cpu         the CPU architecture: x86_64 or aarch64
 *   features    the CPU features its kernels may use, in parentheses: GCC's
 *               names (x86-64: -m<feature> each; aarch64: +<feature> on
 *               -march), detected at run time by src/cpu_features.cpp;
 *               () for an architecture's baseline
 *   xsimd_arch  the xsimd architecture type of its kernels; for an ISA
 *               xsimd 8.1 does not have (SVE), a type of its own
 *               (kernels/scalable_arch.h) instead, and then its kernels are
 *               its own headers kernels/<name>/<unit>_step.hpp, written with
 *               its intrinsics (cmake/AdagradIsa.cmake)
 *
 * Within an architecture, entries are in order of preference: the last one
 * the CPU can run is the widest, which dispatch takes for a kernel family
 * unless the CPU table or a measurement says another runs it faster
 * (src/dispatch_rules.cpp). An ISA whose features include fused
 * multiply-add (kernels/exact_ops.hpp, has_exact_fma) runs fma mode in its
 * vector loop; the others run the scalar reference for it. Add an ISA only
 * when a benchmark shows it pays.
 */
/* clang-format off */
ADAGRAD_ISA_ENTRY(SSE2, 1, sse2, x86_64, (sse2), xsimd::sse2)
ADAGRAD_ISA_ENTRY(AVX, 2, avx, x86_64, (avx), xsimd::avx)
/* AVX2 with FMA3 and F16C: the 256-bit path of fma mode (in plain mode it is AVX's) and of binary16 (every CPU with AVX2 and FMA3 has F16C). */
ADAGRAD_ISA_ENTRY(AVX2, 5, avx2, x86_64, (avx2, fma, f16c), xsimd::fma3<xsimd::avx2>)
ADAGRAD_ISA_ENTRY(AVX512F, 3, avx512f, x86_64, (avx512f), xsimd::avx512f)
/* AVX-512 BF16 converts float to bfloat16 with VCVTNEPS2BF16. Its kernels are xsimd's avx512bw, whose headers also take AVX512CD and AVX512DQ. */
ADAGRAD_ISA_ENTRY(AVX512BF16, 6, avx512bf16, x86_64, (avx512f, avx512cd, avx512dq, avx512bw, avx512bf16), xsimd::avx512bw)
/* Advanced SIMD (NEON) is part of the AArch64 baseline. */
ADAGRAD_ISA_ENTRY(NEON64, 4, neon64, aarch64, (), xsimd::neon64)
/* SVE at whatever vector length the CPU has (128 to 2048 bits), with the ACLE intrinsics (kernels/sve/). Dispatch prefers it only where its vectors are wider than NEON's (src/dispatch_rules.cpp). No sve2 entry: SVE2 adds nothing these float kernels use, and the bf16 conversion (BFCVT) is FEAT_BF16, not SVE2; add one when a benchmark shows it pays. */
ADAGRAD_ISA_ENTRY(SVE, 7, sve, aarch64, (sve), adagrad::kernels::sve_arch)
/* clang-format on */
