// SPDX-License-Identifier: BSD-3-Clause
// Mixed precision for SVE: the dense step on bf16/fp16 weights and
// gradients with f32 state, f32 master weights with a 16-bit copy, AMP's
// unscale pass and the conversions, at any vector length; kernels/
// mixed_step.hpp's loops with the ACLE intrinsics, the tails under a partial
// predicate. 16-bit values travel in 32-bit lanes: LD1H/ST1H with 32-bit
// elements (svld1uh_u32, svst1h_u32) widen and narrow them on the way.
//
// - bfloat16 to float: a shift (exact). Float to bfloat16: the reference's
//   integer rounding (half::f32_to_bf16, f32_to_bf16_stochastic) lane by
//   lane, which needs nothing beyond SVE and follows no FPCR. (BFCVT, of
//   FEAT_BF16, would save a few integer operations per vector in loops bound
//   by the divider or by memory, but follows FPCR as FCVT does; not used.)
// - binary16: FCVT, which follows FPCR (rounding mode, FZ, DN, AHP) as
//   NEON's does: the vector conversion runs only when those bits are clear
//   (f16_stores), the reference otherwise; stochastic rounding to binary16
//   runs the reference, as on every ISA.
#ifndef ADAGRAD_KERNELS_SVE_MIXED_STEP_HPP_
#define ADAGRAD_KERNELS_SVE_MIXED_STEP_HPP_

#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "isa_namespace.h"
#include "prefetch.hpp"
#include "step_constants.h"
#include "sve/sve_ops.hpp"
#include "ukernels.h"

ADAGRAD_KERNEL_NAMESPACE_BEGIN
namespace detail {

constexpr int kSveF32 = ADAGRAD_DTYPE_F32;
constexpr int kSveBF16 = ADAGRAD_DTYPE_BF16;
constexpr int kSveF16 = ADAGRAD_DTYPE_F16;

// Whether FCVT to binary16 gives the reference's bits in this thread's
// floating-point environment: FPCR's AHP, DN, FZ and RMode all clear (see
// half_lanes<neon64>::f16_stores in kernels/mixed_step.hpp). One read per call.
inline bool sve_f16_stores() {
  std::uint64_t fpcr;
  __asm__ volatile("mrs %0, fpcr" : "=r"(fpcr));
  constexpr std::uint64_t kAhpDnFzRmode = (1u << 26) | (1u << 25) | (1u << 24) | (3u << 22);
  return (fpcr & kAhpDnFzRmode) == 0;
}

inline svfloat32_t sve_load_bf16(svbool_t pg, const std::uint16_t* p) {
  return svreinterpret_f32(svlsl_n_u32_x(pg, svld1uh_u32(pg, p), 16));
}
inline svfloat32_t sve_load_f16(svbool_t pg, const std::uint16_t* p) {
  // FCVT from binary16 reads the low half of each 32-bit lane.
  return svcvt_f32_f16_x(pg, svreinterpret_f16(svld1uh_u32(pg, p)));
}

template <int Type>
inline svfloat32_t sve_load_as_float(svbool_t pg, const void* p, std::size_t i) {
  if constexpr (Type == kSveF32) {
    return svld1(pg, static_cast<const float*>(p) + i);
  } else if constexpr (Type == kSveBF16) {
    return sve_load_bf16(pg, static_cast<const std::uint16_t*>(p) + i);
  } else {
    return sve_load_f16(pg, static_cast<const std::uint16_t*>(p) + i);
  }
}

// The bfloat16 of a NaN: quiet, sign and upper payload kept (bits >> 16 |
// 0x40); the other lanes' results are `rounded`, a value whose upper half is
// the result.
inline void sve_store_bf16_bits(svbool_t pg, std::uint16_t* p, svuint32_t rounded, svuint32_t u) {
  const svbool_t nan = svcmpgt(pg, svand_x(pg, u, 0x7fffffffu), 0x7f800000u);
  const svuint32_t nan_bits = svorr_x(pg, svlsr_n_u32_x(pg, u, 16), 0x40u);
  svst1h_u32(pg, p, svsel(nan, nan_bits, svlsr_n_u32_x(pg, rounded, 16)));
}

// half::f32_to_bf16: u + 0x7fff + ((u >> 16) & 1), upper half.
inline void sve_store_bf16(svbool_t pg, std::uint16_t* p, svfloat32_t x) {
  const svuint32_t u = svreinterpret_u32(x);
  const svuint32_t odd = svand_x(pg, svlsr_n_u32_x(pg, u, 16), 1u);
  sve_store_bf16_bits(pg, p, svadd_x(pg, u, svadd_x(pg, odd, 0x7fffu)), u);
}

// half::f32_to_bf16_stochastic: u + (random >> 16), upper half.
inline void sve_store_bf16_stochastic(svbool_t pg, std::uint16_t* p, svfloat32_t x,
                                      svuint32_t random) {
  const svuint32_t u = svreinterpret_u32(x);
  sve_store_bf16_bits(pg, p, svadd_x(pg, u, svlsr_n_u32_x(pg, random, 16)), u);
}

// Only where sve_f16_stores() holds: FCVT writes the low half of each lane.
inline void sve_store_f16(svbool_t pg, std::uint16_t* p, svfloat32_t x) {
  svst1h_u32(pg, p, svreinterpret_u32(svcvt_f16_f32_x(pg, x)));
}

inline svuint32_t sve_mix32(svbool_t pg, svuint32_t x) {
  x = sveor_x(pg, x, svlsr_n_u32_x(pg, x, 16));
  x = svmul_x(pg, x, 0x85ebca6bu);
  x = sveor_x(pg, x, svlsr_n_u32_x(pg, x, 13));
  x = svmul_x(pg, x, 0xc2b2ae35u);
  return sveor_x(pg, x, svlsr_n_u32_x(pg, x, 16));
}

// half::random_bits(key, first + lane) lane by lane.
inline svuint32_t sve_random_bits(svbool_t pg, std::uint32_t key, std::uint32_t first) {
  const svuint32_t k = svdup_u32(key);
  const svuint32_t index = svindex_u32(first, 1);
  return sve_mix32(pg, svadd_x(pg, sve_mix32(pg, sveor_x(pg, index, k)), k));
}

template <int Type, bool Stochastic>
inline void sve_store_half(svbool_t pg, void* p, std::size_t i, svfloat32_t x, std::uint32_t key,
                           std::uint32_t first) {
  auto* out = static_cast<std::uint16_t*>(p) + i;
  if constexpr (Type == kSveBF16) {
    if constexpr (Stochastic) {
      sve_store_bf16_stochastic(pg, out, x, sve_random_bits(pg, key, first));
    } else {
      sve_store_bf16(pg, out, x);
    }
  } else {
    static_assert(!Stochastic, "binary16 stochastic rounding runs the reference");
    sve_store_f16(pg, out, x);
  }
}

template <int WType, int GType, int CopyType, bool Stochastic, bool Fma>
void sve_mixed_loop(std::size_t n, void* w, const void* g, float* G, void* copy,
                    std::uint32_t first_low, const mixed_constants& c) {
  const step_constants<float>& s = c.step;
  const svfloat32_t lr = svdup_f32(s.lr), eps = svdup_f32(s.eps);
  const svfloat32_t weight_decay = svdup_f32(s.weight_decay), scale = svdup_f32(c.grad_scale);
  // Never prefetching past the end of the 16-bit streams (2048 elements ahead).
  for_each_vector<float, std::uint16_t>(n, [&](std::size_t i, svbool_t pg, bool prefetch) {
    if (prefetch) {
      prefetch_ahead(sve_tag{}, static_cast<const char*>(g) + i * (GType == kSveF32 ? 4 : 2),
                     false);
      prefetch_ahead(sve_tag{}, static_cast<const char*>(w) + i * (WType == kSveF32 ? 4 : 2),
                     true);
      prefetch_ahead(sve_tag{}, G + i, true);
      if constexpr (WType == kSveF32 && CopyType != kSveF32) {
        prefetch_ahead(sve_tag{}, static_cast<const std::uint16_t*>(copy) + i, true);
      }
    }
    svfloat32_t grad = sve_load_as_float<GType>(pg, g, i);
    if (c.unscale) grad = svdiv_x(pg, grad, scale);
    svfloat32_t weight = sve_load_as_float<WType>(pg, w, i);
    svfloat32_t sum_sq = svld1(pg, G + i);
    grad = modified_gradient<Fma>(pg, grad, weight, weight_decay, s.maximize,
                                  s.apply_weight_decay);
    sum_sq = accumulated<Fma>(pg, sum_sq, grad);
    const svfloat32_t denom = denominator(pg, sum_sq, eps, s.eps_inside);
    weight = svsub_x(pg, weight, svdiv_x(pg, svmul_x(pg, lr, grad), denom));
    svst1(pg, G + i, sum_sq);
    const auto lane0 = first_low + static_cast<std::uint32_t>(i);
    if constexpr (WType == kSveF32) {
      svst1(pg, static_cast<float*>(w) + i, weight);
      if constexpr (CopyType != kSveF32) {
        sve_store_half<CopyType, Stochastic>(pg, copy, i, weight, c.key, lane0);
      }
    } else {
      sve_store_half<WType, Stochastic>(pg, w, i, weight, c.key, lane0);
    }
  });
}

// The 16-bit result type of a call (the weights', or the copy's for master
// weights) with stochastic rounding only for bfloat16 (binary16's runs the
// reference: sve_mixed_vectorizable).
template <int WType, int GType, int CopyType>
void sve_mixed_rounding(std::size_t n, void* w, const void* g, float* G, void* copy,
                        std::uint32_t first_low, const mixed_constants& c) {
  constexpr int result_type = WType == kSveF32 ? CopyType : WType;
  with_switches(
      [&](auto stochastic, auto fma) {
        if constexpr (result_type == kSveBF16 || !decltype(stochastic)::value) {
          sve_mixed_loop<WType, GType, CopyType, decltype(stochastic)::value,
                         decltype(fma)::value>(n, w, g, G, copy, first_low, c);
        }
      },
      result_type == kSveBF16 && c.stochastic, c.step.fma);
}

template <int WType, int GType>
void sve_mixed_copy(std::size_t n, void* w, const void* g, float* G, void* copy,
                    std::uint32_t first_low, const mixed_constants& c) {
  if constexpr (WType == kSveF32) {
    switch (c.copy_type) {
      case kSveBF16:
        return sve_mixed_rounding<WType, GType, kSveBF16>(n, w, g, G, copy, first_low, c);
      case kSveF16:
        return sve_mixed_rounding<WType, GType, kSveF16>(n, w, g, G, copy, first_low, c);
      default: return sve_mixed_rounding<WType, GType, kSveF32>(n, w, g, G, copy, first_low, c);
    }
  } else {
    sve_mixed_rounding<WType, GType, kSveF32>(n, w, g, G, copy, first_low, c);
  }
}

template <int WType>
void sve_mixed_gradient(std::size_t n, void* w, const void* g, float* G, void* copy,
                        std::uint32_t first_low, const mixed_constants& c) {
  switch (c.g_type) {
    case kSveBF16: return sve_mixed_copy<WType, kSveBF16>(n, w, g, G, copy, first_low, c);
    case kSveF16: return sve_mixed_copy<WType, kSveF16>(n, w, g, G, copy, first_low, c);
    default: return sve_mixed_copy<WType, kSveF32>(n, w, g, G, copy, first_low, c);
  }
}

// Whether the vector loop can run the call (else the reference runs it):
// not for binary16 results rounded stochastically or under an FPCR that
// FCVT would follow.
inline bool sve_mixed_vectorizable(const mixed_constants& c) {
  const int result_type = c.w_type == kSveF32 ? c.copy_type : c.w_type;
  return !(result_type == kSveF16 && (c.stochastic || !sve_f16_stores()));
}

inline void sve_mixed_step(std::size_t n, void* w, const void* g, float* G, void* copy,
                           std::uint32_t first_low, const mixed_constants& c) {
  if (!sve_mixed_vectorizable(c)) return adagrad_mixed_ukernel__scalar(n, w, g, G, copy, first_low, &c);
  switch (c.w_type) {
    case kSveBF16: return sve_mixed_gradient<kSveBF16>(n, w, g, G, copy, first_low, c);
    case kSveF16: return sve_mixed_gradient<kSveF16>(n, w, g, G, copy, first_low, c);
    default: return sve_mixed_gradient<kSveF32>(n, w, g, G, copy, first_low, c);
  }
}

template <int Type>
bool sve_unscale_loop(std::size_t n, void* g, float inv_scale) {
  const svfloat32_t factor = svdup_f32(inv_scale);
  // Not finite: the exponent bits all ones, as the reference tests it.
  svbool_t not_finite = svpfalse_b();
  for_each_vector<float, std::uint16_t>(n, [&](std::size_t i, svbool_t pg, bool) {
    const svfloat32_t x = sve_load_as_float<Type>(pg, g, i);
    const svuint32_t exponent = svand_x(pg, svreinterpret_u32(x), 0x7f800000u);
    not_finite = svorr_z(svptrue_b32(), not_finite, svcmpeq(pg, exponent, 0x7f800000u));
    const svfloat32_t y = svmul_x(pg, x, factor);
    if constexpr (Type == kSveF32) {
      svst1(pg, static_cast<float*>(g) + i, y);
    } else if constexpr (Type == kSveBF16) {
      sve_store_bf16(pg, static_cast<std::uint16_t*>(g) + i, y);
    } else {
      sve_store_f16(pg, static_cast<std::uint16_t*>(g) + i, y);
    }
  });
  return svptest_any(svptrue_b32(), not_finite);
}

inline bool sve_unscale(std::size_t n, void* g, int type, float inv_scale) {
  switch (type) {
    case kSveF32: return sve_unscale_loop<kSveF32>(n, g, inv_scale);
    case kSveBF16: return sve_unscale_loop<kSveBF16>(n, g, inv_scale);
    default:
      if (!sve_f16_stores()) return adagrad_unscale_ukernel__scalar(n, g, type, inv_scale);
      return sve_unscale_loop<kSveF16>(n, g, inv_scale);
  }
}

inline void sve_to_half(std::size_t n, const float* in, std::uint16_t* out, int type) {
  if (type == kSveBF16) {
    for_each_vector<float, std::uint16_t>(n, [&](std::size_t i, svbool_t pg, bool) {
      sve_store_bf16(pg, out + i, svld1(pg, in + i));
    });
  } else if (sve_f16_stores()) {
    for_each_vector<float, std::uint16_t>(n, [&](std::size_t i, svbool_t pg, bool) {
      sve_store_f16(pg, out + i, svld1(pg, in + i));
    });
  } else {
    adagrad_to_half_ukernel__scalar(n, in, out, type);
  }
}

inline void sve_from_half(std::size_t n, const std::uint16_t* in, float* out, int type) {
  if (type == kSveBF16) {
    for_each_vector<float, std::uint16_t>(n, [&](std::size_t i, svbool_t pg, bool) {
      svst1(pg, out + i, sve_load_bf16(pg, in + i));
    });
  } else {
    for_each_vector<float, std::uint16_t>(n, [&](std::size_t i, svbool_t pg, bool) {
      svst1(pg, out + i, sve_load_f16(pg, in + i));
    });
  }
}

}  // namespace detail
ADAGRAD_KERNEL_NAMESPACE_END

// Body of the sve translation unit of the mixed unit: its four ukernels.
#define ADAGRAD_DEFINE_MIXED_UKERNELS(name, arch)                                                 \
  namespace adagrad {                                                                             \
  namespace kernels {                                                                             \
  void adagrad_mixed_ukernel__##name(std::size_t n, void* w, const void* g, float* G, void* copy, \
                                     std::uint32_t first_low, const mixed_constants* c) {         \
    detail::sve_mixed_step(n, w, g, G, copy, first_low, *c);                                      \
  }                                                                                               \
  bool adagrad_unscale_ukernel__##name(std::size_t n, void* g, int g_type, float inv_scale) {     \
    return detail::sve_unscale(n, g, g_type, inv_scale);                                          \
  }                                                                                               \
  void adagrad_to_half_ukernel__##name(std::size_t n, const float* in, std::uint16_t* out,        \
                                       int type) {                                                \
    detail::sve_to_half(n, in, out, type);                                                        \
  }                                                                                               \
  void adagrad_from_half_ukernel__##name(std::size_t n, const std::uint16_t* in, float* out,      \
                                         int type) {                                              \
    detail::sve_from_half(n, in, out, type);                                                      \
  }                                                                                               \
  }                                                                                               \
  }

#endif  // ADAGRAD_KERNELS_SVE_MIXED_STEP_HPP_
