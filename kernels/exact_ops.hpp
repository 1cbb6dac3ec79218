// SPDX-License-Identifier: BSD-3-Clause
// The IEEE operations of the exact paths, for any xsimd architecture: each
// gives, lane by lane, exactly what the scalar C++ operator gives. Used by
// every vector kernel (and by the benchmarks' compute ceiling), so that a
// trap of xsimd 8.1 is handled in one place.
#ifndef ADAGRAD_KERNELS_EXACT_OPS_HPP_
#define ADAGRAD_KERNELS_EXACT_OPS_HPP_

#include <cstdint>
#include <cstring>
#include <type_traits>
#include <xsimd/xsimd.hpp>

#include "isa_namespace.h"

ADAGRAD_KERNEL_NAMESPACE_BEGIN
namespace detail {

// Correctly rounded square root and division. xsimd's versions are the
// hardware instructions on x86; on neon64, xsimd 8.1 approximates float sqrt
// and division by Newton-Raphson (up to 2 ulp off, sqrt(inf) = NaN), so the
// overloads below call the IEEE instructions directly.
template <class Arch, class T>
inline xsimd::batch<T, Arch> exact_sqrt(const xsimd::batch<T, Arch>& x) {
  return xsimd::sqrt(x);
}
template <class Arch, class T>
inline xsimd::batch<T, Arch> exact_div(const xsimd::batch<T, Arch>& x,
                                       const xsimd::batch<T, Arch>& y) {
  return x / y;
}
#if XSIMD_WITH_NEON64
inline xsimd::batch<float, xsimd::neon64> exact_sqrt(const xsimd::batch<float, xsimd::neon64>& x) {
  return vsqrtq_f32(x);
}
inline xsimd::batch<double, xsimd::neon64> exact_sqrt(
    const xsimd::batch<double, xsimd::neon64>& x) {
  return vsqrtq_f64(x);
}
inline xsimd::batch<float, xsimd::neon64> exact_div(const xsimd::batch<float, xsimd::neon64>& x,
                                                    const xsimd::batch<float, xsimd::neon64>& y) {
  return vdivq_f32(x, y);
}
inline xsimd::batch<double, xsimd::neon64> exact_div(const xsimd::batch<double, xsimd::neon64>& x,
                                                     const xsimd::batch<double, xsimd::neon64>& y) {
  return vdivq_f64(x, y);
}
#endif

// Negation as the scalar `-x` does it: flip the sign bit. xsimd 8.1's
// avx512f (and generic integer) neg computes 0 - x, which maps +0 to +0
// instead of -0 and keeps a NaN's sign.
template <class Arch, class T>
inline xsimd::batch<T, Arch> exact_neg(const xsimd::batch<T, Arch>& x) {
  return x ^ xsimd::batch<T, Arch>(T(-0.0));
}

// |x| and copysign(magnitude, sign) as std::fabs and std::copysign compute
// them: on the sign bit alone, so NaN payloads and signed zeros come through.
// Written with plain and/or against masks: xsimd 8.1's bitwise_andnot means
// ~a & b on x86 but a & ~b on NEON.
// Keyed on Arch like every helper of the per-ISA code (an out-of-line copy
// must not stand in for another ISA's).
template <class Arch, class T>
inline T magnitude_mask() {
  using bits = std::conditional_t<sizeof(T) == 4, std::uint32_t, std::uint64_t>;
  const bits mask = ~(bits{1} << (sizeof(T) * 8 - 1));
  T value;
  std::memcpy(&value, &mask, sizeof value);
  return value;
}
template <class Arch, class T>
inline xsimd::batch<T, Arch> exact_abs(const xsimd::batch<T, Arch>& x) {
  return x & xsimd::batch<T, Arch>(magnitude_mask<Arch, T>());
}
template <class Arch, class T>
inline xsimd::batch<T, Arch> exact_copysign(const xsimd::batch<T, Arch>& magnitude,
                                            const xsimd::batch<T, Arch>& sign) {
  return (magnitude & xsimd::batch<T, Arch>(magnitude_mask<Arch, T>())) |
         (sign & xsimd::batch<T, Arch>(T(-0.0)));
}

// Fused multiply-add x * y + z with one rounding, for fma mode, on the ISAs
// that have it in hardware (has_exact_fma). Written with intrinsics: xsimd
// 8.1 has no avx512f fma and falls back to its generic x * y + z, which
// rounds twice. Other ISAs never instantiate exact_fma: in fma mode they run
// the scalar reference, which calls std::fma.
template <class Arch, class = void>
struct has_exact_fma : std::false_type {};

#if XSIMD_WITH_AVX512F
// avx512f and every xsimd architecture built on it (avx512bw, the
// avx512bf16 ISA's): all have AVX-512F's fused multiply-add.
template <class Arch>
constexpr bool is_avx512_family = std::is_base_of<xsimd::avx512f, Arch>::value;
template <class Arch>
struct has_exact_fma<Arch, std::enable_if_t<is_avx512_family<Arch>>> : std::true_type {};
template <class Arch, std::enable_if_t<is_avx512_family<Arch>, int> = 0>
inline xsimd::batch<float, Arch> exact_fma(const xsimd::batch<float, Arch>& x,
                                           const xsimd::batch<float, Arch>& y,
                                           const xsimd::batch<float, Arch>& z) {
  return _mm512_fmadd_ps(x, y, z);
}
template <class Arch, std::enable_if_t<is_avx512_family<Arch>, int> = 0>
inline xsimd::batch<double, Arch> exact_fma(const xsimd::batch<double, Arch>& x,
                                            const xsimd::batch<double, Arch>& y,
                                            const xsimd::batch<double, Arch>& z) {
  return _mm512_fmadd_pd(x, y, z);
}
#endif

#if XSIMD_WITH_FMA3_AVX2
using avx2_fma = xsimd::fma3<xsimd::avx2>;
template <>
struct has_exact_fma<avx2_fma> : std::true_type {};
inline xsimd::batch<float, avx2_fma> exact_fma(const xsimd::batch<float, avx2_fma>& x,
                                               const xsimd::batch<float, avx2_fma>& y,
                                               const xsimd::batch<float, avx2_fma>& z) {
  return _mm256_fmadd_ps(x, y, z);
}
inline xsimd::batch<double, avx2_fma> exact_fma(const xsimd::batch<double, avx2_fma>& x,
                                                const xsimd::batch<double, avx2_fma>& y,
                                                const xsimd::batch<double, avx2_fma>& z) {
  return _mm256_fmadd_pd(x, y, z);
}
#endif

#if XSIMD_WITH_NEON64
template <>
struct has_exact_fma<xsimd::neon64> : std::true_type {};
inline xsimd::batch<float, xsimd::neon64> exact_fma(const xsimd::batch<float, xsimd::neon64>& x,
                                                    const xsimd::batch<float, xsimd::neon64>& y,
                                                    const xsimd::batch<float, xsimd::neon64>& z) {
  return vfmaq_f32(z, x, y);
}
inline xsimd::batch<double, xsimd::neon64> exact_fma(const xsimd::batch<double, xsimd::neon64>& x,
                                                     const xsimd::batch<double, xsimd::neon64>& y,
                                                     const xsimd::batch<double, xsimd::neon64>& z) {
  return vfmaq_f64(z, x, y);
}
#endif

}  // namespace detail
ADAGRAD_KERNEL_NAMESPACE_END

#endif  // ADAGRAD_KERNELS_EXACT_OPS_HPP_
