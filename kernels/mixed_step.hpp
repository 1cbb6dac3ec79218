// SPDX-License-Identifier: BSD-3-Clause
// Mixed precision: the dense step on bf16/fp16 weights and gradients with
// f32 state, f32 master weights with a 16-bit copy, AMP's unscale pass and
// the conversions, written once for every ISA. xsimd 8.1 has no 16-bit
// floats, so each ISA's loads, stores and random bits are intrinsics in
// half_lanes<Arch>; the arithmetic is the dense step's, with xsimd.
//
// bfloat16 rounding is integer arithmetic on the float bits but on
// avx512bf16, which has an instruction for it (VCVTNEPS2BF16, with a fix-up
// for the inputs it treats otherwise).
//
// Where an ISA lacks what a call needs, the call runs the scalar reference,
// which gives the same bits: SSE2 and AVX (no F16C; the integer conversions
// would gain nothing there), binary16 results on NEON64 when the caller's
// FPCR is not the default one (its conversion follows FPCR; the contract
// says nearest-even always), stochastic rounding to binary16 (reference
// only), and fma mode without hardware FMA.
#ifndef ADAGRAD_KERNELS_MIXED_STEP_HPP_
#define ADAGRAD_KERNELS_MIXED_STEP_HPP_

#include <cstddef>
#include <cstdint>
#include <type_traits>
#include <xsimd/xsimd.hpp>

#include "exact_ops.hpp"
#include "isa_namespace.h"
#include "prefetch.hpp"
#include "step_parts.hpp"
#include "step_constants.h"
#include "ukernels.h"

ADAGRAD_KERNEL_NAMESPACE_BEGIN
namespace detail {

constexpr int kF32 = ADAGRAD_DTYPE_F32;
constexpr int kBF16 = ADAGRAD_DTYPE_BF16;
constexpr int kF16 = ADAGRAD_DTYPE_F16;

// Per-ISA 16-bit lanes. `supported` false: every call runs the reference.
template <class Arch>
struct half_lanes {
  static constexpr bool supported = false;
  // Whether store_f16 rounds as the reference does in this call's
  // floating-point environment (else binary16 results run the reference).
  static bool f16_stores() { return false; }
};

#if XSIMD_WITH_AVX512F
// The AVX-512F lanes, for avx512f and the architectures built on it; keyed
// on Arch, as every helper of the per-ISA code.
template <class Arch>
struct avx512_half_lanes {
  using batch = xsimd::batch<float, Arch>;
  static constexpr bool supported = true;
  // F16C/AVX-512 conversions take the rounding mode from the instruction
  // (nearest even) and ignore DAZ/FTZ.
  static bool f16_stores() { return true; }

  static batch load_bf16(const std::uint16_t* p) {
    const __m512i wide =
        _mm512_cvtepu16_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
    return _mm512_castsi512_ps(_mm512_slli_epi32(wide, 16));
  }
  static batch load_f16(const std::uint16_t* p) {
    return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
  }
  // The 32-bit results (each < 2^16) narrowed and stored.
  static void store_u16(std::uint16_t* p, __m512i v) {
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(p), _mm512_cvtepi32_epi16(v));
  }
  static __m512i quiet_nan_bf16(__m512i u) {
    return _mm512_or_si512(_mm512_srli_epi32(u, 16), _mm512_set1_epi32(0x40));
  }
  static __mmask16 is_nan(__m512i u) {
    return _mm512_cmpgt_epu32_mask(_mm512_and_si512(u, _mm512_set1_epi32(0x7fffffff)),
                                   _mm512_set1_epi32(0x7f800000));
  }
  // half::f32_to_bf16 of the float bits u, in integer lanes (each < 2^16).
  static __m512i bf16_nearest_even(__m512i u) {
    const __m512i odd = _mm512_and_si512(_mm512_srli_epi32(u, 16), _mm512_set1_epi32(1));
    const __m512i rounded = _mm512_srli_epi32(
        _mm512_add_epi32(u, _mm512_add_epi32(odd, _mm512_set1_epi32(0x7fff))), 16);
    return _mm512_mask_blend_epi32(is_nan(u), rounded, quiet_nan_bf16(u));
  }
  static void store_bf16(std::uint16_t* p, const batch& x) {
    store_u16(p, bf16_nearest_even(_mm512_castps_si512(x)));
  }
  static void store_bf16_stochastic(std::uint16_t* p, const batch& x, __m512i random) {
    const __m512i u = _mm512_castps_si512(x);
    const __m512i rounded =
        _mm512_srli_epi32(_mm512_add_epi32(u, _mm512_srli_epi32(random, 16)), 16);
    store_u16(p, _mm512_mask_blend_epi32(is_nan(u), rounded, quiet_nan_bf16(u)));
  }
  static void store_f16(std::uint16_t* p, const batch& x) {
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(p),
                        _mm512_cvtps_ph(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
  }
  static __m512i mix32(__m512i x) {
    x = _mm512_xor_si512(x, _mm512_srli_epi32(x, 16));
    x = _mm512_mullo_epi32(x, _mm512_set1_epi32(static_cast<int>(0x85ebca6bu)));
    x = _mm512_xor_si512(x, _mm512_srli_epi32(x, 13));
    x = _mm512_mullo_epi32(x, _mm512_set1_epi32(static_cast<int>(0xc2b2ae35u)));
    return _mm512_xor_si512(x, _mm512_srli_epi32(x, 16));
  }
  // half::random_bits(key, first + lane) for the 16 lanes.
  static __m512i random_bits(std::uint32_t key, std::uint32_t first) {
    const __m512i k = _mm512_set1_epi32(static_cast<int>(key));
    const __m512i index =
        _mm512_add_epi32(_mm512_set1_epi32(static_cast<int>(first)),
                         _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15));
    return mix32(_mm512_add_epi32(mix32(_mm512_xor_si512(index, k)), k));
  }
  static bool any_not_finite(const batch& x) {
    const __m512i exponent =
        _mm512_and_si512(_mm512_castps_si512(x), _mm512_set1_epi32(0x7f800000));
    return _mm512_cmpeq_epi32_mask(exponent, _mm512_set1_epi32(0x7f800000)) != 0;
  }
};

template <>
struct half_lanes<xsimd::avx512f> : avx512_half_lanes<xsimd::avx512f> {};
#endif

#if XSIMD_WITH_AVX512BW && defined(__AVX512BF16__)
// AVX-512 BF16 (the avx512bf16 ISA, on xsimd's avx512bw): float to bfloat16
// with VCVTNEPS2BF16, everything else as avx512f (bfloat16 to float is a
// shift; stochastic rounding adds its random bits in integer lanes).
template <>
struct half_lanes<xsimd::avx512bw> : avx512_half_lanes<xsimd::avx512bw> {
  // VCVTNEPS2BF16 rounds to nearest even, whatever MXCSR says, as the
  // reference does; but it reads a subnormal input as zero (Intel SDM), so
  // those lanes take the integer path, merged in only when a vector has
  // one. So do NaN lanes: the SDM quiets them as the reference does, and one
  // more compare keeps the result from resting on that.
  static void store_bf16(std::uint16_t* p, const batch& x) {
    // GCC 12's __m256bh holds shorts, later compilers' __bf16: a vector cast
    // of the same 32 bytes either way.
    __m256i result = (__m256i)_mm512_cvtneps_pbh(x);
    const __m512i u = _mm512_castps_si512(x);
    const __m512i magnitude = _mm512_and_si512(u, _mm512_set1_epi32(0x7fffffff));
    // 0 < magnitude < 2^23, as one unsigned compare: magnitude - 1 < 2^23 - 1.
    const __mmask16 subnormal = _mm512_cmplt_epu32_mask(
        _mm512_sub_epi32(magnitude, _mm512_set1_epi32(1)), _mm512_set1_epi32(0x007fffff));
    const __mmask16 nan = _mm512_cmpgt_epu32_mask(magnitude, _mm512_set1_epi32(0x7f800000));
    const __mmask16 fix_up = _kor_mask16(subnormal, nan);
    if (fix_up != 0) result = _mm512_mask_cvtepi32_epi16(result, fix_up, bf16_nearest_even(u));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(p), result);
  }
};
#endif

#if XSIMD_WITH_FMA3_AVX2 && defined(__F16C__)
template <>
struct half_lanes<xsimd::fma3<xsimd::avx2>> {
  using batch = xsimd::batch<float, xsimd::fma3<xsimd::avx2>>;
  static constexpr bool supported = true;
  // F16C/AVX-512 conversions take the rounding mode from the instruction
  // (nearest even) and ignore DAZ/FTZ.
  static bool f16_stores() { return true; }

  static batch load_bf16(const std::uint16_t* p) {
    const __m256i wide =
        _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
    return _mm256_castsi256_ps(_mm256_slli_epi32(wide, 16));
  }
  static batch load_f16(const std::uint16_t* p) {
    return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
  }
  static void store_u16(std::uint16_t* p, __m256i v) {
    // packus interleaves the 128-bit halves; the permute puts them in order.
    const __m256i packed = _mm256_permute4x64_epi64(_mm256_packus_epi32(v, v), 0x08);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(p), _mm256_castsi256_si128(packed));
  }
  static __m256i quiet_nan_bf16(__m256i u) {
    return _mm256_or_si256(_mm256_srli_epi32(u, 16), _mm256_set1_epi32(0x40));
  }
  static __m256i is_nan(__m256i u) {
    // |u| <= 0x7fffffff, so a signed comparison is exact.
    return _mm256_cmpgt_epi32(_mm256_and_si256(u, _mm256_set1_epi32(0x7fffffff)),
                              _mm256_set1_epi32(0x7f800000));
  }
  static void store_bf16(std::uint16_t* p, const batch& x) {
    const __m256i u = _mm256_castps_si256(x);
    const __m256i odd = _mm256_and_si256(_mm256_srli_epi32(u, 16), _mm256_set1_epi32(1));
    const __m256i rounded = _mm256_srli_epi32(
        _mm256_add_epi32(u, _mm256_add_epi32(odd, _mm256_set1_epi32(0x7fff))), 16);
    store_u16(p, _mm256_blendv_epi8(rounded, quiet_nan_bf16(u), is_nan(u)));
  }
  static void store_bf16_stochastic(std::uint16_t* p, const batch& x, __m256i random) {
    const __m256i u = _mm256_castps_si256(x);
    const __m256i rounded =
        _mm256_srli_epi32(_mm256_add_epi32(u, _mm256_srli_epi32(random, 16)), 16);
    store_u16(p, _mm256_blendv_epi8(rounded, quiet_nan_bf16(u), is_nan(u)));
  }
  static void store_f16(std::uint16_t* p, const batch& x) {
    _mm_storeu_si128(reinterpret_cast<__m128i*>(p),
                     _mm256_cvtps_ph(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
  }
  static __m256i mix32(__m256i x) {
    x = _mm256_xor_si256(x, _mm256_srli_epi32(x, 16));
    x = _mm256_mullo_epi32(x, _mm256_set1_epi32(static_cast<int>(0x85ebca6bu)));
    x = _mm256_xor_si256(x, _mm256_srli_epi32(x, 13));
    x = _mm256_mullo_epi32(x, _mm256_set1_epi32(static_cast<int>(0xc2b2ae35u)));
    return _mm256_xor_si256(x, _mm256_srli_epi32(x, 16));
  }
  static __m256i random_bits(std::uint32_t key, std::uint32_t first) {
    const __m256i k = _mm256_set1_epi32(static_cast<int>(key));
    const __m256i index = _mm256_add_epi32(_mm256_set1_epi32(static_cast<int>(first)),
                                           _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
    return mix32(_mm256_add_epi32(mix32(_mm256_xor_si256(index, k)), k));
  }
  static bool any_not_finite(const batch& x) {
    const __m256i exponent =
        _mm256_and_si256(_mm256_castps_si256(x), _mm256_set1_epi32(0x7f800000));
    return _mm256_movemask_epi8(_mm256_cmpeq_epi32(exponent, _mm256_set1_epi32(0x7f800000))) != 0;
  }
};
#endif

#if XSIMD_WITH_NEON64
template <>
struct half_lanes<xsimd::neon64> {
  using batch = xsimd::batch<float, xsimd::neon64>;
  static constexpr bool supported = true;
  // NEON's float-to-half conversion (FCVTN) follows FPCR: its rounding mode,
  // FZ (flushes subnormal float inputs), DN (default NaN) and AHP (the
  // alternative half-precision format). With all of them clear, as a thread
  // starts, it gives the reference's bits for every float (NaNs quieted,
  // payload truncated, as the reference does); in any other environment the
  // reference runs. One read of FPCR per call.
  static bool f16_stores() {
    std::uint64_t fpcr;
    __asm__ volatile("mrs %0, fpcr" : "=r"(fpcr));
    constexpr std::uint64_t kAhpDnFzRmode = (1u << 26) | (1u << 25) | (1u << 24) | (3u << 22);
    return (fpcr & kAhpDnFzRmode) == 0;
  }

  static batch load_bf16(const std::uint16_t* p) {
    return vreinterpretq_f32_u32(vshll_n_u16(vld1_u16(p), 16));
  }
  static batch load_f16(const std::uint16_t* p) {
    return vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(p)));
  }
  static uint32x4_t is_nan(uint32x4_t u) {
    return vcgtq_u32(vandq_u32(u, vdupq_n_u32(0x7fffffffu)), vdupq_n_u32(0x7f800000u));
  }
  static void store_narrowed(std::uint16_t* p, uint32x4_t rounded_shifted_in, uint32x4_t u) {
    // rounded_shifted_in: the value whose upper half is the result.
    const uint32x4_t nan = vorrq_u32(vshrq_n_u32(u, 16), vdupq_n_u32(0x40));
    const uint32x4_t result = vbslq_u32(is_nan(u), nan, vshrq_n_u32(rounded_shifted_in, 16));
    vst1_u16(p, vmovn_u32(result));
  }
  static void store_bf16(std::uint16_t* p, const batch& x) {
    const uint32x4_t u = vreinterpretq_u32_f32(x);
    const uint32x4_t odd = vandq_u32(vshrq_n_u32(u, 16), vdupq_n_u32(1));
    store_narrowed(p, vaddq_u32(u, vaddq_u32(odd, vdupq_n_u32(0x7fff))), u);
  }
  static void store_bf16_stochastic(std::uint16_t* p, const batch& x, uint32x4_t random) {
    const uint32x4_t u = vreinterpretq_u32_f32(x);
    store_narrowed(p, vaddq_u32(u, vshrq_n_u32(random, 16)), u);
  }
  // Only where f16_stores() holds.
  static void store_f16(std::uint16_t* p, const batch& x) {
    vst1_u16(p, vreinterpret_u16_f16(vcvt_f16_f32(x)));
  }
  static uint32x4_t mix32(uint32x4_t x) {
    x = veorq_u32(x, vshrq_n_u32(x, 16));
    x = vmulq_u32(x, vdupq_n_u32(0x85ebca6bu));
    x = veorq_u32(x, vshrq_n_u32(x, 13));
    x = vmulq_u32(x, vdupq_n_u32(0xc2b2ae35u));
    return veorq_u32(x, vshrq_n_u32(x, 16));
  }
  static uint32x4_t random_bits(std::uint32_t key, std::uint32_t first) {
    static const std::uint32_t lanes[4] = {0, 1, 2, 3};
    const uint32x4_t k = vdupq_n_u32(key);
    const uint32x4_t index = vaddq_u32(vdupq_n_u32(first), vld1q_u32(lanes));
    return mix32(vaddq_u32(mix32(veorq_u32(index, k)), k));
  }
  static bool any_not_finite(const batch& x) {
    const uint32x4_t exponent = vandq_u32(vreinterpretq_u32_f32(x), vdupq_n_u32(0x7f800000u));
    return vmaxvq_u32(vceqq_u32(exponent, vdupq_n_u32(0x7f800000u))) != 0;
  }
};
#endif

template <class Arch, int Type>
inline xsimd::batch<float, Arch> load_as_float(const void* p, std::size_t i) {
  using lanes = half_lanes<Arch>;
  if constexpr (Type == kF32) {
    return xsimd::batch<float, Arch>::load_unaligned(static_cast<const float*>(p) + i);
  } else if constexpr (Type == kBF16) {
    return lanes::load_bf16(static_cast<const std::uint16_t*>(p) + i);
  } else {
    return lanes::load_f16(static_cast<const std::uint16_t*>(p) + i);
  }
}

template <class Arch, int Type, bool Stochastic>
inline void store_half(void* p, std::size_t i, const xsimd::batch<float, Arch>& x,
                       std::uint32_t key, std::uint32_t first) {
  using lanes = half_lanes<Arch>;
  auto* out = static_cast<std::uint16_t*>(p) + i;
  if constexpr (Type == kBF16) {
    if constexpr (Stochastic) {
      lanes::store_bf16_stochastic(out, x, lanes::random_bits(key, first));
    } else {
      lanes::store_bf16(out, x);
    }
  } else {
    static_assert(!Stochastic, "binary16 stochastic rounding runs the reference");
    lanes::store_f16(out, x);
  }
}

template <class Arch, int WType, int GType, int CopyType, bool Stochastic, bool Fma>
void mixed_loop(std::size_t n, void* w, const void* g, float* G, void* copy,
                std::uint32_t first_low, const mixed_constants& c) {
  using batch = xsimd::batch<float, Arch>;
  constexpr std::size_t width = batch::size;
  const step_constants<float>& s = c.step;
  const batch lr(s.lr), eps(s.eps), weight_decay(s.weight_decay), scale(c.grad_scale);
  const std::size_t vector_end = n - n % width;
  auto body = [&](std::size_t i, auto prefetch) {
    if constexpr (decltype(prefetch)::value) {
      // 4 KiB ahead in every stream, as the dense step (kernels/prefetch.hpp).
      prefetch_ahead(Arch{}, static_cast<const char*>(g) + i * (GType == kF32 ? 4 : 2), false);
      prefetch_ahead(Arch{}, static_cast<const char*>(w) + i * (WType == kF32 ? 4 : 2), true);
      prefetch_ahead(Arch{}, G + i, true);
      if constexpr (WType == kF32 && CopyType != kF32) {
        prefetch_ahead(Arch{}, static_cast<const std::uint16_t*>(copy) + i, true);
      }
    }
    // Loop-invariant switches: perfectly predicted; the loop is bound by
    // memory or the divider.
    batch grad = load_as_float<Arch, GType>(g, i);
    if (c.unscale) grad = exact_div(grad, scale);
    batch weight = load_as_float<Arch, WType>(w, i);
    batch sum_sq = batch::load_unaligned(G + i);
    grad = modified_gradient<Fma>(grad, weight, weight_decay, s.maximize, s.apply_weight_decay);
    sum_sq = accumulated<Fma>(sum_sq, grad);
    const batch denom = s.eps_inside ? exact_sqrt(sum_sq + eps) : exact_sqrt(sum_sq) + eps;
    weight = weight - exact_div(lr * grad, denom);
    sum_sq.store_unaligned(G + i);
    const auto lane0 = first_low + static_cast<std::uint32_t>(i);
    if constexpr (WType == kF32) {
      weight.store_unaligned(static_cast<float*>(w) + i);
      if constexpr (CopyType != kF32) {
        store_half<Arch, CopyType, Stochastic>(copy, i, weight, c.key, lane0);
      }
    } else {
      store_half<Arch, WType, Stochastic>(w, i, weight, c.key, lane0);
    }
  };
  // Never past the end of the 16-bit streams (2048 elements ahead).
  stream_vectors<std::uint16_t, width>(vector_end, body);
  if (vector_end != n) {
    // Tail via the reference: the same bits, nothing touched past n.
    void* w_tail = WType == kF32 ? static_cast<void*>(static_cast<float*>(w) + vector_end)
                                 : static_cast<void*>(static_cast<std::uint16_t*>(w) + vector_end);
    const void* g_tail =
        GType == kF32 ? static_cast<const void*>(static_cast<const float*>(g) + vector_end)
                      : static_cast<const void*>(static_cast<const std::uint16_t*>(g) + vector_end);
    void* copy_tail = CopyType == kF32 ? copy : static_cast<std::uint16_t*>(copy) + vector_end;
    adagrad_mixed_ukernel__scalar(n - vector_end, w_tail, g_tail, G + vector_end, copy_tail,
                                  first_low + static_cast<std::uint32_t>(vector_end), &c);
  }
}

// Whether this ISA's lanes can run the call (else the reference runs it).
template <class Arch>
inline bool mixed_vectorizable(Arch, const mixed_constants& c) {
  using lanes = half_lanes<Arch>;
  if constexpr (!lanes::supported) {
    return false;
  } else {
    const int result_type = c.w_type == kF32 ? c.copy_type : c.w_type;
    if (result_type == kF16 && (c.stochastic || !lanes::f16_stores())) return false;
    if (c.step.fma && !has_exact_fma<Arch>::value) return false;
    return true;
  }
}

// fma mode without a hardware fma never gets here (mixed_vectorizable).
template <class Arch, int WType, int GType, int CopyType, bool Stochastic>
void mixed_fma(std::size_t n, void* w, const void* g, float* G, void* copy,
               std::uint32_t first_low, const mixed_constants& c) {
  with_fma_mode<Arch>(
      c.step.fma,
      [&](auto fma) {
        mixed_loop<Arch, WType, GType, CopyType, Stochastic, decltype(fma)::value>(
            n, w, g, G, copy, first_low, c);
      },
      [] {});
}

template <class Arch, int WType, int GType, int CopyType>
void mixed_rounding(std::size_t n, void* w, const void* g, float* G, void* copy,
                    std::uint32_t first_low, const mixed_constants& c) {
  constexpr int result_type = WType == kF32 ? CopyType : WType;
  if constexpr (result_type == kBF16) {
    if (c.stochastic) {
      return mixed_fma<Arch, WType, GType, CopyType, true>(n, w, g, G, copy, first_low, c);
    }
  }
  mixed_fma<Arch, WType, GType, CopyType, false>(n, w, g, G, copy, first_low, c);
}

template <class Arch, int WType, int GType>
void mixed_copy(std::size_t n, void* w, const void* g, float* G, void* copy,
                std::uint32_t first_low, const mixed_constants& c) {
  if constexpr (WType == kF32) {
    switch (c.copy_type) {
      case kBF16: return mixed_rounding<Arch, WType, GType, kBF16>(n, w, g, G, copy, first_low, c);
      case kF16: return mixed_rounding<Arch, WType, GType, kF16>(n, w, g, G, copy, first_low, c);
      default: return mixed_rounding<Arch, WType, GType, kF32>(n, w, g, G, copy, first_low, c);
    }
  } else {
    mixed_rounding<Arch, WType, GType, kF32>(n, w, g, G, copy, first_low, c);
  }
}

template <class Arch, int WType>
void mixed_gradient(std::size_t n, void* w, const void* g, float* G, void* copy,
                    std::uint32_t first_low, const mixed_constants& c) {
  switch (c.g_type) {
    case kBF16: return mixed_copy<Arch, WType, kBF16>(n, w, g, G, copy, first_low, c);
    case kF16: return mixed_copy<Arch, WType, kF16>(n, w, g, G, copy, first_low, c);
    default: return mixed_copy<Arch, WType, kF32>(n, w, g, G, copy, first_low, c);
  }
}

}  // namespace detail

struct mixed_step {
  template <class Arch>
  void step(Arch, std::size_t n, void* w, const void* g, float* G, void* copy,
            std::uint32_t first_low, const mixed_constants& c) const {
    if constexpr (detail::half_lanes<Arch>::supported) {
      if (detail::mixed_vectorizable(Arch{}, c)) {
        switch (c.w_type) {
          case detail::kBF16:
            return detail::mixed_gradient<Arch, detail::kBF16>(n, w, g, G, copy, first_low, c);
          case detail::kF16:
            return detail::mixed_gradient<Arch, detail::kF16>(n, w, g, G, copy, first_low, c);
          default:
            return detail::mixed_gradient<Arch, detail::kF32>(n, w, g, G, copy, first_low, c);
        }
      }
    }
    adagrad_mixed_ukernel__scalar(n, w, g, G, copy, first_low, &c);
  }

  template <class Arch>
  bool unscale(Arch, std::size_t n, void* g, int type, float inv_scale) const {
    using lanes = detail::half_lanes<Arch>;
    if constexpr (lanes::supported) {
      using batch = xsimd::batch<float, Arch>;
      constexpr std::size_t width = batch::size;
      if (type != detail::kF16 || lanes::f16_stores()) {
        const batch factor(inv_scale);
        const std::size_t vector_end = n - n % width;
        bool found = false;
        for (std::size_t i = 0; i < vector_end; i += width) {
          batch x;
          if (type == detail::kF32) {
            x = detail::load_as_float<Arch, detail::kF32>(g, i);
          } else if (type == detail::kBF16) {
            x = detail::load_as_float<Arch, detail::kBF16>(g, i);
          } else {
            x = detail::load_as_float<Arch, detail::kF16>(g, i);
          }
          found |= lanes::any_not_finite(x);
          const batch y = x * factor;
          if (type == detail::kF32) {
            y.store_unaligned(static_cast<float*>(g) + i);
          } else if (type == detail::kBF16) {
            lanes::store_bf16(static_cast<std::uint16_t*>(g) + i, y);
          } else {
            lanes::store_f16(static_cast<std::uint16_t*>(g) + i, y);
          }
        }
        void* tail = type == detail::kF32
                         ? static_cast<void*>(static_cast<float*>(g) + vector_end)
                         : static_cast<void*>(static_cast<std::uint16_t*>(g) + vector_end);
        found |= adagrad_unscale_ukernel__scalar(n - vector_end, tail, type, inv_scale);
        return found;
      }
    }
    return adagrad_unscale_ukernel__scalar(n, g, type, inv_scale);
  }

  template <class Arch>
  void to_half(Arch, std::size_t n, const float* in, std::uint16_t* out, int type) const {
    using lanes = detail::half_lanes<Arch>;
    if constexpr (lanes::supported) {
      using batch = xsimd::batch<float, Arch>;
      constexpr std::size_t width = batch::size;
      if (type == detail::kBF16 || lanes::f16_stores()) {
        const std::size_t vector_end = n - n % width;
        for (std::size_t i = 0; i < vector_end; i += width) {
          const batch x = batch::load_unaligned(in + i);
          if (type == detail::kBF16) {
            lanes::store_bf16(out + i, x);
          } else {
            lanes::store_f16(out + i, x);
          }
        }
        return adagrad_to_half_ukernel__scalar(n - vector_end, in + vector_end,
                                               out + vector_end, type);
      }
    }
    adagrad_to_half_ukernel__scalar(n, in, out, type);
  }

  template <class Arch>
  void from_half(Arch, std::size_t n, const std::uint16_t* in, float* out, int type) const {
    using lanes = detail::half_lanes<Arch>;
    if constexpr (lanes::supported) {
      using batch = xsimd::batch<float, Arch>;
      constexpr std::size_t width = batch::size;
      const std::size_t vector_end = n - n % width;
      for (std::size_t i = 0; i < vector_end; i += width) {
        const batch x = type == detail::kBF16 ? lanes::load_bf16(in + i) : lanes::load_f16(in + i);
        x.store_unaligned(out + i);
      }
      return adagrad_from_half_ukernel__scalar(n - vector_end, in + vector_end, out + vector_end,
                                               type);
    }
    adagrad_from_half_ukernel__scalar(n, in, out, type);
  }
};

ADAGRAD_KERNEL_NAMESPACE_END

#define ADAGRAD_DEFINE_MIXED_UKERNELS(name, arch)                                                 \
  namespace adagrad {                                                                             \
  namespace kernels {                                                                             \
  void adagrad_mixed_ukernel__##name(std::size_t n, void* w, const void* g, float* G, void* copy, \
                                     std::uint32_t first_low, const mixed_constants* c) {         \
    mixed_step{}.step(arch{}, n, w, g, G, copy, first_low, *c);                                   \
  }                                                                                               \
  bool adagrad_unscale_ukernel__##name(std::size_t n, void* g, int g_type, float inv_scale) {     \
    return mixed_step{}.unscale(arch{}, n, g, g_type, inv_scale);                                 \
  }                                                                                               \
  void adagrad_to_half_ukernel__##name(std::size_t n, const float* in, std::uint16_t* out,        \
                                       int type) {                                                \
    mixed_step{}.to_half(arch{}, n, in, out, type);                                               \
  }                                                                                               \
  void adagrad_from_half_ukernel__##name(std::size_t n, const std::uint16_t* in, float* out,      \
                                         int type) {                                              \
    mixed_step{}.from_half(arch{}, n, in, out, type);                                             \
  }                                                                                               \
  }                                                                                               \
  }

#endif  // ADAGRAD_KERNELS_MIXED_STEP_HPP_
