// SPDX-License-Identifier: BSD-3-Clause
// Every one of the 2^32 float bit patterns as the gradient (w and G fixed) and
// as the accumulator (w and g fixed), through every ISA this CPU has, in
// plain and fma mode, against the scalar reference; and a large random sample
// of double bit patterns. Compared bit for bit (NaN equals NaN). And every
// float converted to bfloat16 and binary16 by every ISA.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "adagrad/adagrad.h"
#include "guarded_buffer.h"
#include "half_reference.h"
#include "simd_isas.h"

namespace adagrad_test {
namespace {

// Patterns per call: 256 KiB per float array, so that the copies and
// comparisons around each step stay in L2 instead of streaming from memory,
// which took a large part of a sweep (the profile is in the commit that set
// this; the rest is mostly the scalar reference, one sqrtss and one divss
// per element).
constexpr std::size_t kChunk = std::size_t{1} << 16;

// Every pattern by default. ADAGRAD_EXHAUSTIVE_STRIDE=s (odd) sweeps the
// patterns k * s for k < 2^32 / s instead: the AArch64 suite runs under
// qemu, where a full sweep takes hours, with an odd stride (every sign,
// exponent and low mantissa bit still varies); the full sweep there is
// `cmake -DADAGRAD_CROSS_EXHAUSTIVE_STRIDE=1 build/tests-aarch64` and
// `ctest -R exhaustive` (about an hour).
std::uint32_t pattern_stride() {
  const char* text = std::getenv("ADAGRAD_EXHAUSTIVE_STRIDE");
  if (text == nullptr || *text == '\0') return 1;
  const unsigned long stride = std::strtoul(text, nullptr, 10);
  if (stride == 0 || stride % 2 == 0 || stride > 0xFFFFu) {
    ADD_FAILURE() << "ADAGRAD_EXHAUSTIVE_STRIDE must be odd, 1 to 65535: " << text;
    return 0;  // the caller stops
  }
  return static_cast<std::uint32_t>(stride);
}

// ADAGRAD_EXHAUSTIVE_OFFSET=o (less than the stride) moves a strided sweep
// to the patterns k * s + o: the SVE entries under qemu (tests/CMakeLists.txt)
// sweep one share each, stride 5 * 31 and offsets 31 * r, so that the five
// vector lengths together sweep the patterns k * 31 once.
std::uint32_t pattern_offset(std::uint32_t stride) {
  const char* text = std::getenv("ADAGRAD_EXHAUSTIVE_OFFSET");
  if (text == nullptr || *text == '\0') return 0;
  const unsigned long offset = std::strtoul(text, nullptr, 10);
  if (offset >= stride) {
    ADD_FAILURE() << "ADAGRAD_EXHAUSTIVE_OFFSET must be less than the stride: " << text;
    return 0;
  }
  return static_cast<std::uint32_t>(offset);
}

// The number of patterns a sweep with this stride and offset visits:
// k * stride + offset for every k with k * stride + offset < 2^32.
std::uint64_t pattern_count(std::uint32_t stride, std::uint32_t offset = 0) {
  return ((std::uint64_t{1} << 32) - offset + stride - 1) / stride;
}

// Whether the sweeps compare isa: every usable ISA, or only the one
// ADAGRAD_EXHAUSTIVE_ISA names (the SVE entries at each vector length under
// qemu, where the other ISAs' sweeps would repeat the plain entries').
bool compared_isa(adagrad_isa isa) {
  if (!adagrad_isa_supported(isa)) return false;
  const char* only = std::getenv("ADAGRAD_EXHAUSTIVE_ISA");
  return only == nullptr || *only == '\0' || std::strcmp(only, adagrad_isa_name(isa)) == 0;
}

template <class T>
adagrad_status step_on(adagrad_isa isa, T* w, const T* g, T* G, std::size_t n,
                       const adagrad_params& p) {
  if constexpr (sizeof(T) == 4) {
    return adagrad_step_isa(isa, w, g, G, n, &p);
  } else {
    return adagrad_step_f64_isa(isa, w, g, G, n, &p);
  }
}

// Runs one chunk on the reference and on every usable ISA; returns the number
// of elements compared per ISA, or stops the test at the first difference.
template <class T>
void compare_chunk(const std::vector<T>& w0, const std::vector<T>& g, const std::vector<T>& G0,
                   const adagrad_params& p, std::size_t* compared) {
  const std::size_t n = g.size();
  std::vector<T> w_ref = w0, G_ref = G0;
  ASSERT_EQ(ADAGRAD_OK, step_on(ADAGRAD_ISA_SCALAR, w_ref.data(), g.data(), G_ref.data(), n, p));
  std::vector<T> w(n), G(n);
  for (adagrad_isa isa : kSimdIsas) {
    if (!compared_isa(isa)) continue;
    w = w0;
    G = G0;
    ASSERT_EQ(ADAGRAD_OK, step_on(isa, w.data(), g.data(), G.data(), n, p));
    // Byte comparison first (fast); element by element only where it fails,
    // to let NaNs with other payloads pass.
    if (std::memcmp(w.data(), w_ref.data(), n * sizeof(T)) != 0 ||
        std::memcmp(G.data(), G_ref.data(), n * sizeof(T)) != 0) {
      for (std::size_t i = 0; i < n; ++i) {
        ASSERT_TRUE(same_value(w[i], w_ref[i]) && same_value(G[i], G_ref[i]))
            << adagrad_isa_name(isa) << " g=" << hex(g[i]) << " w0=" << hex(w0[i])
            << " G0=" << hex(G0[i]) << ": w " << hex(w[i]) << " vs " << hex(w_ref[i]) << ", G "
            << hex(G[i]) << " vs " << hex(G_ref[i]) << " (fma=" << p.fma << ")";
      }
    }
    *compared += n;
  }
}

enum class Swept { kGradient, kAccumulator };

void sweep_all_floats(Swept swept, bool fma) {
  adagrad_params p = adagrad_params_default();
  p.lr = 0.1;
  p.weight_decay = 0.1;
  p.fma = fma ? 1 : 0;
  std::vector<float> w(kChunk, 0.5f), g(kChunk, 0.75f), G(kChunk, 1.25f);
  std::vector<float>& patterns = swept == Swept::kGradient ? g : G;
  std::size_t compared = 0;
  const std::uint32_t stride = pattern_stride();
  if (stride == 0) return;
  const std::uint32_t offset = pattern_offset(stride);
  if (testing::Test::HasFailure()) return;
  const std::uint64_t count = pattern_count(stride, offset);
  for (std::uint64_t base = 0; base < count; base += kChunk) {
    const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(kChunk, count - base));
    patterns.resize(n);
    w.resize(n);
    (swept == Swept::kGradient ? G : g).resize(n);
    for (std::size_t i = 0; i < n; ++i) {
      patterns[i] = from_bits<float>(static_cast<std::uint32_t>((base + i) * stride + offset));
    }
    compare_chunk(w, g, G, p, &compared);
    if (testing::Test::HasFatalFailure()) return;
  }
  testing::Test::RecordProperty("patterns_compared_over_all_isas", std::to_string(compared));
  std::printf("%s sweep, fma=%d, stride %u, offset %u: %zu bit patterns compared over all ISAs\n",
              swept == Swept::kGradient ? "gradient" : "accumulator", fma ? 1 : 0,
              static_cast<unsigned>(stride), static_cast<unsigned>(offset), compared);
}

TEST(Exhaustive, EveryFloatAsGradient) { sweep_all_floats(Swept::kGradient, false); }
TEST(Exhaustive, EveryFloatAsGradientFma) { sweep_all_floats(Swept::kGradient, true); }
TEST(Exhaustive, EveryFloatAsAccumulator) { sweep_all_floats(Swept::kAccumulator, false); }
TEST(Exhaustive, EveryFloatAsAccumulatorFma) { sweep_all_floats(Swept::kAccumulator, true); }

// Every float bit pattern converted to bfloat16 and to binary16 (nearest
// even) by every ISA, against the integer reference of half_reference.h, bit
// for bit (NaNs included: the conversions define their payload).
TEST(Exhaustive, EveryFloatToHalf) {
  namespace half = adagrad::kernels::half;
  std::vector<float> in(kChunk);
  std::vector<std::uint16_t> want(kChunk), got(kChunk);
  std::size_t compared = 0;
  const std::uint32_t stride = pattern_stride();
  if (stride == 0) return;
  const std::uint32_t offset = pattern_offset(stride);
  if (HasFailure()) return;
  const std::uint64_t count = pattern_count(stride, offset);
  for (adagrad_dtype type : {ADAGRAD_DTYPE_BF16, ADAGRAD_DTYPE_F16}) {
    // Per ISA, so that the output shows which ones ran the whole sweep.
    std::size_t compared_on[sizeof kSimdIsas / sizeof kSimdIsas[0]] = {};
    for (std::uint64_t start = 0; start < count; start += kChunk) {
      const std::size_t n =
          static_cast<std::size_t>(std::min<std::uint64_t>(kChunk, count - start));
      for (std::size_t i = 0; i < n; ++i) {
        in[i] = half::float_of(static_cast<std::uint32_t>((start + i) * stride + offset));
        want[i] = type == ADAGRAD_DTYPE_BF16 ? half::f32_to_bf16(in[i]) : half::f32_to_f16(in[i]);
      }
      for (std::size_t k = 0; k < sizeof kSimdIsas / sizeof kSimdIsas[0]; ++k) {
        const adagrad_isa isa = kSimdIsas[k];
        if (!compared_isa(isa)) continue;
        ASSERT_EQ(ADAGRAD_OK, adagrad_convert_to_half_isa(isa, in.data(), got.data(), n, type));
        if (std::memcmp(got.data(), want.data(), n * 2) != 0) {
          for (std::size_t i = 0; i < n; ++i) {
            ASSERT_EQ(want[i], got[i]) << adagrad_isa_name(isa) << " type " << type << " input "
                                       << hex(in[i]);
          }
        }
        compared += n;
        compared_on[k] += n;
      }
    }
    for (std::size_t k = 0; k < sizeof kSimdIsas / sizeof kSimdIsas[0]; ++k) {
      std::printf("%s to %s: %zu patterns equal to the reference\n", adagrad_isa_name(kSimdIsas[k]),
                  type == ADAGRAD_DTYPE_BF16 ? "bf16" : "f16", compared_on[k]);
    }
  }
  std::printf(
      "float-to-half conversions compared: %zu (%llu per ISA and type, stride %u, offset %u)\n",
      compared, static_cast<unsigned long long>(count), static_cast<unsigned>(stride),
      static_cast<unsigned>(offset));
}

// 2^26 random double bit patterns in each of w, g and G at once.
TEST(Exhaustive, RandomDoubles) {
  std::vector<double> w(kChunk), g(kChunk), G(kChunk);
  std::size_t compared = 0;
  // 2^26 patterns; a strided run (under qemu) takes 1 / stride of them, and
  // each share (an offset) its own.
  const std::uint32_t stride = pattern_stride();
  if (stride == 0) return;
  const std::uint32_t offset = pattern_offset(stride);
  if (HasFailure()) return;
  std::mt19937_64 rng(1 + offset);
  const int chunks =
      std::max(1, static_cast<int>((std::size_t{1} << 26) / kChunk) / static_cast<int>(stride));
  for (int chunk = 0; chunk < chunks; ++chunk) {
    for (std::size_t i = 0; i < kChunk; ++i) {
      w[i] = from_bits<double>(rng());
      g[i] = from_bits<double>(rng());
      G[i] = from_bits<double>(rng());
    }
    adagrad_params p = adagrad_params_default();
    p.weight_decay = chunk % 2 ? 0.1 : 0.0;
    p.fma = chunk % 4 >= 2;
    compare_chunk(w, g, G, p, &compared);
    if (HasFatalFailure()) return;
  }
  std::printf("random doubles: %zu compared over all ISAs\n", compared);
}

}  // namespace
}  // namespace adagrad_test
