// SPDX-License-Identifier: BSD-3-Clause
// The 16-bit float formats, one value at a time, in integer arithmetic only:
// the reference every vector conversion is checked against (exhaustively),
// and what the scalar mixed-precision kernels use. Integer arithmetic makes
// them independent of the caller's rounding mode and FTZ/DAZ, as the
// hardware conversions the vector kernels use are (they take their rounding
// from an immediate, not from MXCSR).
//
// Included by the reference translation unit and by tests only; per-ISA code
// has its own vector versions.
#ifndef ADAGRAD_KERNELS_HALF_REFERENCE_H_
#define ADAGRAD_KERNELS_HALF_REFERENCE_H_

#include <cstdint>
#include <cstring>

#include "isa_namespace.h"

ADAGRAD_KERNEL_NAMESPACE_BEGIN
namespace half {

inline std::uint32_t bits_of(float x) {
  std::uint32_t u;
  std::memcpy(&u, &x, sizeof u);
  return u;
}

inline float float_of(std::uint32_t u) {
  float x;
  std::memcpy(&x, &u, sizeof x);
  return x;
}

// bfloat16 is the upper half of a float: widening is exact.
inline float bf16_to_f32(std::uint16_t h) { return float_of(static_cast<std::uint32_t>(h) << 16); }

// Round to nearest, ties to even. A NaN keeps its sign and upper payload and
// becomes quiet; overflow gives infinity; subnormals are kept.
inline std::uint16_t f32_to_bf16(float x) {
  std::uint32_t u = bits_of(x);
  if ((u & 0x7fffffffu) > 0x7f800000u) return static_cast<std::uint16_t>((u >> 16) | 0x0040u);
  u += 0x7fffu + ((u >> 16) & 1u);
  return static_cast<std::uint16_t>(u >> 16);
}

// Stochastic rounding: up with probability (x - truncated) / ulp, from 16
// random bits; NaN as above; infinities stay.
inline std::uint16_t f32_to_bf16_stochastic(float x, std::uint32_t random) {
  const std::uint32_t u = bits_of(x);
  if ((u & 0x7fffffffu) > 0x7f800000u) return static_cast<std::uint16_t>((u >> 16) | 0x0040u);
  return static_cast<std::uint16_t>((u + (random >> 16)) >> 16);
}

// IEEE binary16 to float: exact; a NaN comes out quiet with its payload (as
// IEEE conversion, F16C and NEON give it; bfloat16 widening, a plain shift,
// keeps a signalling NaN signalling).
inline float f16_to_f32(std::uint16_t h) {
  const std::uint32_t sign = static_cast<std::uint32_t>(h & 0x8000u) << 16;
  const std::uint32_t exponent = (h >> 10) & 0x1fu;
  std::uint32_t mantissa = h & 0x3ffu;
  if (exponent == 0x1f) {
    const std::uint32_t quiet = mantissa != 0 ? 0x00400000u : 0;
    return float_of(sign | 0x7f800000u | quiet | (mantissa << 13));
  }
  if (exponent != 0) return float_of(sign | ((exponent + 112) << 23) | (mantissa << 13));
  if (mantissa == 0) return float_of(sign);
  // Subnormal: normalise.
  std::uint32_t e = 113;
  while ((mantissa & 0x400u) == 0) {
    mantissa <<= 1;
    --e;
  }
  return float_of(sign | (e << 23) | ((mantissa & 0x3ffu) << 13));
}

// Round to nearest, ties to even, with subnormal results, overflow to
// infinity, NaN quiet with its upper payload.
inline std::uint16_t f32_to_f16(float x) {
  const std::uint32_t u = bits_of(x);
  const auto sign = static_cast<std::uint16_t>((u >> 16) & 0x8000u);
  const std::uint32_t a = u & 0x7fffffffu;
  if (a > 0x7f800000u) return static_cast<std::uint16_t>(sign | 0x7e00u | ((a >> 13) & 0x3ffu));
  if (a >= 0x477ff000u) return static_cast<std::uint16_t>(sign | 0x7c00u);  // >= 65520: inf
  if (a >= 0x38800000u) {  // normal binary16: rebias the exponent, round 13 bits away
    std::uint32_t v = a - 0x38000000u;
    v += 0xfffu + ((v >> 13) & 1u);
    return static_cast<std::uint16_t>(sign | (v >> 13));
  }
  if (a <= 0x33000000u) return sign;  // at most 2^-25: rounds to zero (2^-25 ties to even)
  // Subnormal binary16: value = m * 2^(e - 150) = k * 2^-24 + remainder.
  const std::uint32_t e = a >> 23;
  const std::uint32_t m = (a & 0x7fffffu) | 0x800000u;
  const std::uint32_t shift = 126 - e;  // 14 .. 24
  std::uint32_t k = m >> shift;
  const std::uint32_t remainder = m & ((1u << shift) - 1);
  const std::uint32_t half_ulp = 1u << (shift - 1);
  if (remainder > half_ulp || (remainder == half_ulp && (k & 1u))) ++k;
  return static_cast<std::uint16_t>(sign | k);
}

// Stochastic rounding to binary16: up (away from zero) with probability
// (|x| - truncated) / ulp, from the random bits; NaN as f32_to_f16.
inline std::uint16_t f32_to_f16_stochastic(float x, std::uint32_t random) {
  const std::uint32_t u = bits_of(x);
  const auto sign = static_cast<std::uint16_t>((u >> 16) & 0x8000u);
  const std::uint32_t a = u & 0x7fffffffu;
  if (a > 0x7f800000u) return static_cast<std::uint16_t>(sign | 0x7e00u | ((a >> 13) & 0x3ffu));
  if (a >= 0x47800000u) return static_cast<std::uint16_t>(sign | 0x7c00u);  // >= 2^16: inf
  if (a >= 0x38800000u) {
    // 13 random bits added below the kept ones, then truncate; a carry
    // moves to the next binade, and past 65504 to infinity.
    const std::uint32_t v = (a - 0x38000000u + (random >> 19)) >> 13;
    return static_cast<std::uint16_t>(sign | (v >= 0x7c00u ? 0x7c00u : v));
  }
  // Below the normal range the spacing is 2^-24: |x| = k * 2^-24 + r with
  // r in [0, 2^-24); round up with probability r / 2^-24.
  const std::uint32_t e = a >> 23;
  const std::uint32_t m = e != 0 ? (a & 0x7fffffu) | 0x800000u : a;  // float subnormals too
  const std::uint32_t shift = (e != 0 ? 126 - e : 125);  // |x| = m * 2^-(shift + 24)
  const std::uint64_t k = shift < 32 ? m >> shift : 0;
  const std::uint64_t remainder = shift < 32 ? m & ((1u << shift) - 1) : m;
  // P(up) = remainder / 2^shift, compared with 32 random bits.
  // (remainder < 2^24, so remainder << 32 fits; shifts of 64 or more give 0.)
  const std::uint64_t threshold =
      shift <= 32 ? remainder << (32 - shift) : (shift < 64 ? (remainder << 32) >> shift : 0);
  const std::uint64_t up = static_cast<std::uint64_t>(random) < threshold ? 1 : 0;
  return static_cast<std::uint16_t>(sign | static_cast<std::uint16_t>(k + up));
}

// The stochastic rounding's random bits for element `index` of a call with
// key `key` (kernels::mixed_constants::key_for(index >> 32)): a bijective
// 32-bit mix of the index's low half, keyed. The vector kernels compute the
// same function lane by lane.
inline std::uint32_t mix32(std::uint32_t x) {
  x ^= x >> 16;
  x *= 0x85ebca6bu;
  x ^= x >> 13;
  x *= 0xc2b2ae35u;
  x ^= x >> 16;
  return x;
}

inline std::uint64_t mix64(std::uint64_t x) {
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ull;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebull;
  x ^= x >> 31;
  return x;
}

// The key of the 2^32 elements whose index has upper half `upper`, for a
// step keyed by (seed, step).
inline std::uint32_t segment_key(std::uint64_t seed, std::uint64_t step, std::uint64_t upper) {
  return static_cast<std::uint32_t>(
      mix64(mix64(seed ^ 0x9e3779b97f4a7c15ull) ^ mix64(step + 0x632be59bd9b4e019ull) ^
            (upper * 0xd6e8feb86659fd93ull)));
}

inline std::uint32_t random_bits(std::uint32_t key, std::uint32_t index_low) {
  return mix32(mix32(index_low ^ key) + key);
}

}  // namespace half
ADAGRAD_KERNEL_NAMESPACE_END

#endif  // ADAGRAD_KERNELS_HALF_REFERENCE_H_
