// SPDX-License-Identifier: BSD-3-Clause
// Mixed precision: 16-bit weights and gradients with f32 state, f32 master
// weights with a 16-bit copy, stochastic rounding, AMP unscaling and the
// conversions.
//
//  - HalfReference: the integer reference conversions on worked values and
//    on every 16-bit pattern (round trips).
//  - MixedTest (every ISA): conversions of every 16-bit pattern and of
//    sweeps of floats; the steps in every mode bit for bit against the
//    scalar path over lengths, misalignments, switches and special values;
//    unscaling.
//  - MixedSemantics: the scalar path is the dense f32 step on the widened
//    values, rounded; stochastic rounding is unbiased and reproducible
//    across thread counts; found_inf skips the step.
//  - MixedContract: statuses, nothing written on error.
// Every f32 bit pattern through every ISA's conversions is in
// exhaustive_test.cc.
#include <gtest/gtest.h>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <iterator>
#include <limits>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "adagrad/adagrad.h"
#include "adagrad/adagrad.hpp"
#include "dense_step_tester.h"
#include "enums_as_int.h"
#include "guarded_buffer.h"
#include "half_reference.h"
#include "simd_isas.h"

namespace adagrad_test {
namespace {

namespace half = adagrad::kernels::half;

std::uint16_t to_half(float x, adagrad_dtype type) {
  return type == ADAGRAD_DTYPE_BF16 ? half::f32_to_bf16(x) : half::f32_to_f16(x);
}
float from_half(std::uint16_t h, adagrad_dtype type) {
  return type == ADAGRAD_DTYPE_BF16 ? half::bf16_to_f32(h) : half::f16_to_f32(h);
}

TEST(HalfReference, WorkedValues) {
  EXPECT_EQ(0x3f80, half::f32_to_bf16(1.0f));
  EXPECT_EQ(0x8000, half::f32_to_bf16(-0.0f));
  EXPECT_EQ(0x3f80, half::f32_to_bf16(half::float_of(0x3f808000u)));  // tie to even (down)
  EXPECT_EQ(0x3f82, half::f32_to_bf16(half::float_of(0x3f818000u)));  // tie to even (up)
  EXPECT_EQ(0x7f80, half::f32_to_bf16(std::numeric_limits<float>::max()));  // overflow
  EXPECT_EQ(0x0001, half::f32_to_bf16(half::float_of(0x00010000u)));  // subnormal kept
  EXPECT_EQ(0x7fc0, half::f32_to_bf16(half::float_of(0x7f800001u)));  // NaN made quiet
  EXPECT_EQ(0xffc1, half::f32_to_bf16(half::float_of(0xffc1ffffu)));  // NaN payload truncated
  EXPECT_EQ(0x3c00, half::f32_to_f16(1.0f));
  EXPECT_EQ(0x7bff, half::f32_to_f16(65504.0f));
  EXPECT_EQ(0x7bff, half::f32_to_f16(65519.996f));
  EXPECT_EQ(0x7c00, half::f32_to_f16(65520.0f));  // ties to even: up to infinity
  EXPECT_EQ(0x0001, half::f32_to_f16(std::ldexp(1.0f, -24)));  // smallest subnormal
  EXPECT_EQ(0x0000, half::f32_to_f16(std::ldexp(1.0f, -25)));  // tie to even: zero
  EXPECT_EQ(0x0001, half::f32_to_f16(std::ldexp(3.0f, -26)));  // 0.75 ulp: up
  EXPECT_EQ(0x0400, half::f32_to_f16(std::ldexp(1.0f, -14)));  // smallest normal
  EXPECT_EQ(0x03ff, half::f32_to_f16(std::ldexp(1023.0f, -24)));  // largest subnormal
  EXPECT_EQ(0x8000, half::f32_to_f16(-std::numeric_limits<float>::denorm_min()));
  EXPECT_EQ(0x7e00, half::f32_to_f16(std::numeric_limits<float>::quiet_NaN()));
  EXPECT_EQ(0x7e00, half::f32_to_f16(half::float_of(0x7f800001u)));  // signalling: quiet
  EXPECT_EQ(1.0f, half::f16_to_f32(0x3c00));
  EXPECT_EQ(std::ldexp(1.0f, -24), half::f16_to_f32(0x0001));
  EXPECT_EQ(65504.0f, half::f16_to_f32(0x7bff));
}

// Widening every 16-bit pattern and rounding back gives the pattern again
// (NaNs come back quiet); widening agrees with plain arithmetic.
TEST(HalfReference, EveryPatternRoundTrips) {
  for (adagrad_dtype type : {ADAGRAD_DTYPE_BF16, ADAGRAD_DTYPE_F16}) {
    for (std::uint32_t h = 0; h < 0x10000; ++h) {
      const auto bits = static_cast<std::uint16_t>(h);
      const float x = from_half(bits, type);
      const bool nan = type == ADAGRAD_DTYPE_BF16 ? (h & 0x7fff) > 0x7f80 : (h & 0x7fff) > 0x7c00;
      ASSERT_EQ(nan, std::isnan(x)) << h;
      const std::uint16_t quiet = type == ADAGRAD_DTYPE_BF16 ? 0x0040 : 0x0200;
      ASSERT_EQ(nan ? (bits | quiet) : bits, to_half(x, type)) << std::hex << h;
      if (type == ADAGRAD_DTYPE_F16 && !nan && (h & 0x7c00) != 0x7c00) {
        // value = (-1)^s * 2^(e - 15) * (1 + m / 1024), or 2^-14 * m / 1024
        const int e = (h >> 10) & 0x1f;
        const int m = h & 0x3ff;
        const double magnitude = e == 0 ? std::ldexp(m, -24) : std::ldexp(1024 + m, e - 25);
        ASSERT_EQ((h & 0x8000) ? -magnitude : magnitude, static_cast<double>(x)) << h;
      }
    }
  }
}

class MixedTest : public ::testing::TestWithParam<adagrad_isa> {
 protected:
  void SetUp() override {
    if (!adagrad_isa_supported(GetParam())) {
      GTEST_SKIP() << adagrad_isa_name(GetParam()) << " is not usable on this CPU";
    }
  }
};

TEST_P(MixedTest, WidensEveryPattern) {
  std::vector<std::uint16_t> all(0x10000);
  for (std::uint32_t h = 0; h < 0x10000; ++h) all[h] = static_cast<std::uint16_t>(h);
  for (adagrad_dtype type : {ADAGRAD_DTYPE_BF16, ADAGRAD_DTYPE_F16}) {
    std::vector<float> got(all.size()), want(all.size());
    ASSERT_EQ(ADAGRAD_OK,
              adagrad_convert_from_half_isa(GetParam(), all.data(), got.data(), all.size(), type));
    for (std::size_t h = 0; h < all.size(); ++h) want[h] = from_half(all[h], type);
    ASSERT_EQ(0, std::memcmp(got.data(), want.data(), got.size() * sizeof(float))) << type;
  }
}

// The rounding conversions on the special values and a dense sweep of
// exponents (all 2^32 patterns: exhaustive_test.cc), at every length.
TEST_P(MixedTest, RoundsLikeTheReference) {
  std::vector<float> in;
  for (float x : special_values<float>()) in.push_back(x);
  std::mt19937_64 rng(3);
  for (int i = 0; i < 100000; ++i) in.push_back(half::float_of(static_cast<std::uint32_t>(rng())));
  for (adagrad_dtype type : {ADAGRAD_DTYPE_BF16, ADAGRAD_DTYPE_F16}) {
    for (std::size_t n : {std::size_t{0}, std::size_t{1}, std::size_t{7}, std::size_t{17},
                          std::size_t{33}, in.size()}) {
      std::vector<std::uint16_t> got(n + 1, 0xabcd);
      ASSERT_EQ(ADAGRAD_OK, adagrad_convert_to_half_isa(GetParam(), in.data(), got.data(), n, type));
      for (std::size_t i = 0; i < n; ++i) {
        ASSERT_EQ(to_half(in[i], type), got[i]) << "type " << type << " input " << hex(in[i]);
      }
      ASSERT_EQ(0xabcd, got[n]) << "wrote past n";
    }
  }
}

struct MixedCase {
  adagrad_dtype w_type;  // F32: the master step
  adagrad_dtype g_type;
  adagrad_dtype copy_type;  // master only; F32: no copy
  adagrad_rounding rounding;
};

std::vector<MixedCase> mixed_cases() {
  std::vector<MixedCase> cases;
  const adagrad_dtype types[] = {ADAGRAD_DTYPE_F32, ADAGRAD_DTYPE_BF16, ADAGRAD_DTYPE_F16};
  for (adagrad_dtype w : types) {
    for (adagrad_dtype g : types) {
      for (adagrad_dtype copy : types) {
        if (w != ADAGRAD_DTYPE_F32 && copy != ADAGRAD_DTYPE_F32) continue;
        for (adagrad_rounding r : {ADAGRAD_ROUND_NEAREST_EVEN, ADAGRAD_ROUND_STOCHASTIC}) {
          cases.push_back({w, g, copy, r});
        }
      }
    }
  }
  return cases;
}

std::size_t bytes_of(adagrad_dtype type) { return type == ADAGRAD_DTYPE_F32 ? 4 : 2; }

// A guarded buffer of 16-bit words at a chosen misalignment (in half-words)
// from a 64-byte boundary, also seen as floats (two words each).
class Region : public GuardedBuffer<std::uint16_t> {
 public:
  using GuardedBuffer<std::uint16_t>::GuardedBuffer;
  float* floats() { return reinterpret_cast<float*>(data()); }
  const float* floats() const { return reinterpret_cast<const float*>(data()); }
};

// The buffers of one mixed call, filled from a seed.
struct MixedBuffers {
  MixedBuffers(const MixedCase& c, std::size_t n, std::size_t misalign, std::uint64_t seed)
      : w(n * bytes_of(c.w_type) / 2, aligned_misalign(c.w_type, misalign)),
        g(n * bytes_of(c.g_type) / 2, aligned_misalign(c.g_type, misalign + 1)),
        copy(c.w_type == ADAGRAD_DTYPE_F32 && c.copy_type != ADAGRAD_DTYPE_F32 ? n : 0,
             (misalign + 2) % 4),
        G(2 * n, aligned_misalign(ADAGRAD_DTYPE_F32, misalign + 3)) {
    std::mt19937_64 rng(seed);
    const std::vector<float> specials = special_values<float>();
    std::uniform_real_distribution<double> value(-2.0, 2.0), state(0.0, 3.0);
    for (std::size_t i = 0; i < n; ++i) {
      const bool special = seed % 3 == 0 && i % 4 == 1;
      const float wv = special ? specials[i % specials.size()] : static_cast<float>(value(rng));
      const float gv = special ? specials[(i / 4) % specials.size()]
                               : static_cast<float>(value(rng) * 0.1);
      put(w.data(), i, c.w_type, wv);
      put(g.data(), i, c.g_type, gv);
      G.floats()[i] = special && i % 8 == 1 ? std::fabs(specials[i % specials.size()])
                                            : static_cast<float>(state(rng));
    }
  }
  // Misalignment in half-words, kept to whole floats for float buffers.
  static std::size_t aligned_misalign(adagrad_dtype type, std::size_t m) {
    return type == ADAGRAD_DTYPE_F32 ? 2 * (m % 2) : m % 4;
  }
  static void put(std::uint16_t* base, std::size_t i, adagrad_dtype type, float x) {
    if (type == ADAGRAD_DTYPE_F32) {
      std::memcpy(reinterpret_cast<char*>(base) + 4 * i, &x, 4);
    } else {
      base[i] = to_half(x, type);
    }
  }
  Region w, g, copy, G;
};

adagrad_status run_mixed(adagrad_isa isa, const MixedCase& c, MixedBuffers& b, std::size_t n,
                         const adagrad_params& p, const adagrad_mixed_options& o,
                         adagrad_pool* pool) {
  if (c.w_type == ADAGRAD_DTYPE_F32) {
    return adagrad_step_master_isa(isa, b.w.floats(), b.g.data(), c.g_type, b.G.floats(),
                                   c.copy_type == ADAGRAD_DTYPE_F32 ? nullptr : b.copy.data(),
                                   c.copy_type, n, &p, &o, pool);
  }
  return adagrad_step_mixed_isa(isa, b.w.data(), c.w_type, b.g.data(), c.g_type, b.G.floats(),
                                n, &p, &o, pool);
}

// Element i of a buffer of `type`, as a float.
float element(const std::uint16_t* base, std::size_t i, adagrad_dtype type) {
  if (type == ADAGRAD_DTYPE_F32) {
    float x;
    std::memcpy(&x, reinterpret_cast<const char*>(base) + 4 * i, 4);
    return x;
  }
  return from_half(base[i], type);
}

// Bit for bit, except that any NaN equals any NaN (see same_value: which
// payload survives may depend on operand order), then the guards.
void expect_same_buffers(const MixedBuffers& got, const MixedBuffers& want, const MixedCase& c,
                         std::size_t n, const std::string& where) {
  for (std::size_t i = 0; i < n; ++i) {
    const float gG = got.G.floats()[i], wG = want.G.floats()[i];
    ASSERT_TRUE(same_value(gG, wG)) << "G[" << i << "] " << hex(gG) << " vs " << hex(wG) << where;
    const float gw = element(got.w.data(), i, c.w_type), ww = element(want.w.data(), i, c.w_type);
    ASSERT_TRUE(same_value(gw, ww) && (std::isnan(gw) || c.w_type == ADAGRAD_DTYPE_F32 ||
                                       got.w[i] == want.w[i]))
        << "w[" << i << "] " << hex(gw) << " vs " << hex(ww) << where;
    if (got.copy.size() != 0) {
      const float gc = from_half(got.copy[i], c.copy_type);
      ASSERT_TRUE(std::isnan(gc) ? std::isnan(from_half(want.copy[i], c.copy_type))
                                 : got.copy[i] == want.copy[i])
          << "copy[" << i << "] " << got.copy[i] << " vs " << want.copy[i] << where;
    }
  }
  for (const Region* buffer : {&got.w, &got.g, &got.copy, &got.G}) {
    std::ptrdiff_t at = 0;
    ASSERT_TRUE(buffer->guards_intact(&at)) << "guard word " << at << " changed" << where;
  }
}

TEST_P(MixedTest, EveryModeMatchesTheScalarPath) {
  const std::size_t lengths[] = {0, 1, 3, 8, 15, 16, 17, 31, 33, 64, 100, 1031};
  std::uint64_t seed = 0;
  for (const MixedCase& c : mixed_cases()) {
    for (int bits = 0; bits < 16; ++bits) {
      adagrad_params p = adagrad_params_default();
      p.lr = 0.05;
      p.maximize = bits & 1;
      p.weight_decay = (bits & 2) ? 0.01 : 0.0;
      p.eps_mode = (bits & 4) ? ADAGRAD_EPS_INSIDE_SQRT : ADAGRAD_EPS_OUTSIDE_SQRT;
      p.fma = (bits & 8) ? 1 : 0;
      p.step = 7;
      adagrad_mixed_options o = adagrad_mixed_options_default();
      o.rounding = c.rounding;
      o.seed = 42 + static_cast<std::uint64_t>(bits);
      o.grad_scale = (bits & 1) ? 1024.0 : 1.0;
      for (std::size_t n : lengths) {
        ++seed;
        MixedBuffers got(c, n, n % 4, seed), want(c, n, n % 4, seed);
        ASSERT_EQ(ADAGRAD_OK, run_mixed(GetParam(), c, got, n, p, o, nullptr));
        ASSERT_EQ(ADAGRAD_OK, run_mixed(ADAGRAD_ISA_SCALAR, c, want, n, p, o, nullptr));
        const std::string where = std::string(" on ") + adagrad_isa_name(GetParam()) + ", w " +
                                  std::to_string(c.w_type) + " g " + std::to_string(c.g_type) +
                                  " copy " + std::to_string(c.copy_type) + " rounding " +
                                  std::to_string(c.rounding) + " switches " +
                                  std::to_string(bits) + " n " + std::to_string(n);
        expect_same_buffers(got, want, c, n, where);
        if (HasFatalFailure()) return;
      }
    }
  }
}

TEST_P(MixedTest, UnscaleMatchesTheScalarPath) {
  for (adagrad_dtype type : {ADAGRAD_DTYPE_F32, ADAGRAD_DTYPE_BF16, ADAGRAD_DTYPE_F16}) {
    for (std::size_t n : {std::size_t{5}, std::size_t{64}, std::size_t{1001}}) {
      for (std::size_t bad : {std::size_t{0}, n - 1, n}) {  // n: no bad value
        MixedCase c{type, type, ADAGRAD_DTYPE_F32, ADAGRAD_ROUND_NEAREST_EVEN};
        MixedBuffers got(c, n, 1, n + bad), want(c, n, 1, n + bad);
        if (bad < n) {
          MixedBuffers::put(got.w.data(), bad, type, std::numeric_limits<float>::infinity());
          MixedBuffers::put(want.w.data(), bad, type, std::numeric_limits<float>::infinity());
        }
        float found_got = 0.0f, found_want = 0.0f;
        ASSERT_EQ(ADAGRAD_OK, adagrad_unscale_check_isa(GetParam(), got.w.data(), type, n,
                                                        1.0 / 3.0, &found_got));
        ASSERT_EQ(ADAGRAD_OK, adagrad_unscale_check_isa(ADAGRAD_ISA_SCALAR, want.w.data(), type,
                                                        n, 1.0 / 3.0, &found_want));
        EXPECT_EQ(bad < n ? 1.0f : 0.0f, found_got) << "type " << type << " n " << n;
        EXPECT_EQ(found_want, found_got);
        expect_same_buffers(got, want, c, n, " unscale");
      }
    }
  }
}

std::vector<adagrad_isa> scalar_and_simd_isas() {
  std::vector<adagrad_isa> isas{ADAGRAD_ISA_SCALAR};
  isas.insert(isas.end(), std::begin(kSimdIsas), std::end(kSimdIsas));
  return isas;
}

INSTANTIATE_TEST_SUITE_P(EveryIsa, MixedTest, ::testing::ValuesIn(scalar_and_simd_isas()),
                         [](const ::testing::TestParamInfo<adagrad_isa>& info) {
                           return std::string(adagrad_isa_name(info.param));
                         });

// ---- Semantics -----------------------------------------------------------

// The 16-bit step is the f32 dense step on the widened values (gradients
// divided by grad_scale first), rounded to the weight type.
TEST(MixedSemantics, IsTheFloatStepOnWidenedValuesRounded) {
  const std::size_t n = 777;
  std::mt19937_64 rng(9);
  std::uniform_real_distribution<double> value(-2.0, 2.0);
  for (adagrad_dtype type : {ADAGRAD_DTYPE_BF16, ADAGRAD_DTYPE_F16}) {
    std::vector<std::uint16_t> w(n), g(n);
    std::vector<float> G(n), wf(n), gf(n), Gf(n);
    for (std::size_t i = 0; i < n; ++i) {
      w[i] = to_half(static_cast<float>(value(rng)), type);
      g[i] = to_half(static_cast<float>(value(rng)), type);
      G[i] = static_cast<float>(value(rng) + 2.0);
      wf[i] = from_half(w[i], type);
      gf[i] = from_half(g[i], type) / 8.0f;
      Gf[i] = G[i];
    }
    adagrad_params p = adagrad_params_default();
    p.lr = 0.1;
    p.weight_decay = 0.01;
    adagrad_mixed_options o = adagrad_mixed_options_default();
    o.grad_scale = 8.0;
    ASSERT_EQ(ADAGRAD_OK, adagrad_step_mixed(w.data(), type, g.data(), type, G.data(), n, &p, &o,
                                             nullptr));
    ASSERT_EQ(ADAGRAD_OK, adagrad_step_isa(ADAGRAD_ISA_SCALAR, wf.data(), gf.data(), Gf.data(), n,
                                           &p));
    for (std::size_t i = 0; i < n; ++i) {
      ASSERT_EQ(to_bits(Gf[i]), to_bits(G[i])) << i;
      ASSERT_EQ(to_half(wf[i], type), w[i]) << i;
    }
  }
}

// Stochastic rounding depends on (seed, step, index) only: the same bits for
// every thread count, different bits for another seed or step.
TEST(MixedSemantics, StochasticRoundingIsReproducible) {
  const std::size_t n = 300000;  // enough to be split across a pool
  MixedCase c{ADAGRAD_DTYPE_BF16, ADAGRAD_DTYPE_F32, ADAGRAD_DTYPE_F32, ADAGRAD_ROUND_STOCHASTIC};
  adagrad_params p = adagrad_params_default();
  adagrad_mixed_options o = adagrad_mixed_options_default();
  o.rounding = ADAGRAD_ROUND_STOCHASTIC;
  o.seed = 1234;
  MixedBuffers one(c, n, 0, 5);
  const adagrad_isa mixed_isa = dispatched_isa(ADAGRAD_FAMILY_MIXED);
  ASSERT_EQ(ADAGRAD_OK, run_mixed(mixed_isa, c, one, n, p, o, nullptr));
  for (std::size_t threads = 2; threads <= 4; ++threads) {
    const adagrad::thread_pool pool(threads);
    ASSERT_NE(nullptr, pool.get());
    MixedBuffers many(c, n, 0, 5);
    ASSERT_EQ(ADAGRAD_OK, run_mixed(mixed_isa, c, many, n, p, o, pool.get()));
    expect_same_buffers(many, one, c, n, " threads " + std::to_string(threads));
  }
  // Every ISA gives the same bits as well.
  for (adagrad_isa isa : scalar_and_simd_isas()) {
    if (!adagrad_isa_supported(isa)) continue;
    MixedBuffers other(c, n, 0, 5);
    ASSERT_EQ(ADAGRAD_OK, run_mixed(isa, c, other, n, p, o, nullptr));
    expect_same_buffers(other, one, c, n, std::string(" on ") + adagrad_isa_name(isa));
  }
  MixedBuffers other_seed(c, n, 0, 5), other_step(c, n, 0, 5);
  adagrad_mixed_options o2 = o;
  o2.seed = 1235;
  ASSERT_EQ(ADAGRAD_OK, run_mixed(mixed_isa, c, other_seed, n, p, o2, nullptr));
  adagrad_params p2 = p;
  p2.step = 2;
  ASSERT_EQ(ADAGRAD_OK, run_mixed(mixed_isa, c, other_step, n, p2, o, nullptr));
  std::size_t differ_seed = 0, differ_step = 0;
  for (std::size_t i = 0; i < n; ++i) {
    differ_seed += other_seed.w[i] != one.w[i];
    differ_step += other_step.w[i] != one.w[i];
  }
  EXPECT_GT(differ_seed, n / 10);
  EXPECT_GT(differ_step, n / 10);
}

// Unbiased: for values between two neighbouring 16-bit numbers, the mean
// of many stochastic roundings (one per element index) is the value, within
// 5 standard errors of a Bernoulli mean (deterministic: fixed seed).
TEST(MixedSemantics, StochasticRoundingIsUnbiased) {
  const std::size_t n = 1 << 16;
  for (adagrad_dtype type : {ADAGRAD_DTYPE_BF16, ADAGRAD_DTYPE_F16}) {
    // A normal value, a binary16-subnormal one (f16), and a tie.
    const float lows[] = {1.0f, 3.0e-6f, 100.0f};
    for (float low_value : lows) {
      const std::uint16_t low = to_half(low_value, type);
      const float a = from_half(low, type);
      const float b = from_half(static_cast<std::uint16_t>(low + 1), type);
      for (double fraction : {0.1, 0.5, 0.77}) {
        const float x = static_cast<float>(a + (b - a) * fraction);
        const double exact = static_cast<double>(x);
        // The master step with lr 0 leaves w = x and writes the rounded copy.
        std::vector<float> w(n, x), g(n, 0.0f), G(n, 1.0f);
        std::vector<std::uint16_t> copy(n);
        adagrad_params p = adagrad_params_default();
        p.lr = 0.0;
        adagrad_mixed_options o = adagrad_mixed_options_default();
        o.rounding = ADAGRAD_ROUND_STOCHASTIC;
        o.seed = 99;
        ASSERT_EQ(ADAGRAD_OK, adagrad_step_master(w.data(), g.data(), ADAGRAD_DTYPE_F32, G.data(),
                                                  copy.data(), type, n, &p, &o, nullptr));
        double sum = 0;
        for (std::uint16_t h : copy) {
          const float r = from_half(h, type);
          ASSERT_TRUE(r == a || r == b) << "rounded outside the two neighbours";
          sum += static_cast<double>(r);
        }
        const double mean = sum / static_cast<double>(n);
        const double q = (exact - a) / (static_cast<double>(b) - a);
        const double standard_error =
            (static_cast<double>(b) - a) * std::sqrt(q * (1 - q) / static_cast<double>(n));
        EXPECT_LE(std::fabs(mean - exact), 5 * standard_error + 1e-12 * std::fabs(exact))
            << "type " << type << " x " << x << " mean " << mean;
      }
    }
  }
}

TEST(MixedSemantics, FoundInfSkipsTheStep) {
  std::vector<std::uint16_t> w(100, 0x3f80), g(100, 0x3f80);
  std::vector<float> G(100, 1.0f);
  adagrad_params p = adagrad_params_default();
  adagrad_mixed_options o = adagrad_mixed_options_default();
  const float found = 1.0f, clear = 0.0f;
  o.found_inf = &found;
  ASSERT_EQ(ADAGRAD_OK, adagrad_step_mixed(w.data(), ADAGRAD_DTYPE_BF16, g.data(),
                                           ADAGRAD_DTYPE_BF16, G.data(), 100, &p, &o, nullptr));
  EXPECT_EQ(0x3f80, w[7]);
  EXPECT_EQ(1.0f, G[7]);
  o.found_inf = &clear;
  ASSERT_EQ(ADAGRAD_OK, adagrad_step_mixed(w.data(), ADAGRAD_DTYPE_BF16, g.data(),
                                           ADAGRAD_DTYPE_BF16, G.data(), 100, &p, &o, nullptr));
  EXPECT_EQ(2.0f, G[7]);
  EXPECT_NE(0x3f80, w[7]);
}

TEST(MixedCxxWrappers, SameResultsAsTheCApi) {
  std::vector<std::uint16_t> w(40, 0x3f80), w2 = w, g(40, 0x3e80), copy(40), copy2(40);
  std::vector<float> G(40, 0.5f), G2 = G, m(40, 1.0f), m2 = m, Gm(40, 0.5f), Gm2 = Gm;
  adagrad_params p = adagrad_params_default();
  adagrad_mixed_options o = adagrad_mixed_options_default();
  o.rounding = ADAGRAD_ROUND_STOCHASTIC;
  o.seed = 5;
  ASSERT_EQ(ADAGRAD_OK, adagrad_step_mixed(w.data(), ADAGRAD_DTYPE_BF16, g.data(),
                                           ADAGRAD_DTYPE_BF16, G.data(), 40, &p, &o, nullptr));
  adagrad::mixed_options q;
  q.rounding = ADAGRAD_ROUND_STOCHASTIC;
  q.seed = 5;
  ASSERT_EQ(ADAGRAD_OK, adagrad::step_mixed(w2.data(), ADAGRAD_DTYPE_BF16, g.data(),
                                            ADAGRAD_DTYPE_BF16, G2.data(), 40, {}, q));
  EXPECT_EQ(w, w2);
  EXPECT_EQ(G, G2);
  ASSERT_EQ(ADAGRAD_OK, adagrad_step_master(m.data(), g.data(), ADAGRAD_DTYPE_BF16, Gm.data(),
                                            copy.data(), ADAGRAD_DTYPE_F16, 40, &p, &o, nullptr));
  ASSERT_EQ(ADAGRAD_OK, adagrad::step_master(m2.data(), g.data(), ADAGRAD_DTYPE_BF16, Gm2.data(),
                                             copy2.data(), ADAGRAD_DTYPE_F16, 40, {}, q));
  EXPECT_EQ(m, m2);
  EXPECT_EQ(copy, copy2);
}

// ---- Contract -----------------------------------------------------------

TEST(MixedContract, StatusesAndNothingWritten) {
  std::vector<std::uint16_t> arena(4096, 0x1234);
  const std::vector<std::uint16_t> before = arena;
  std::uint16_t* w = arena.data();
  std::uint16_t* g = arena.data() + 1024;
  auto* G = reinterpret_cast<float*>(arena.data() + 2048);
  std::uint16_t* copy = arena.data() + 3072;
  adagrad_params p = adagrad_params_default();
  adagrad_mixed_options o = adagrad_mixed_options_default();
  const auto bf16 = ADAGRAD_DTYPE_BF16;
  auto mixed = [&](void* wp, adagrad_dtype wt, const void* gp, adagrad_dtype gt, float* Gp,
                   std::size_t n) { return adagrad_step_mixed(wp, wt, gp, gt, Gp, n, &p, &o, nullptr); };
  EXPECT_EQ(ADAGRAD_ERROR_INVALID_PARAMS, mixed(w, ADAGRAD_DTYPE_F32, g, bf16, G, 100));
  EXPECT_EQ(ADAGRAD_ERROR_INVALID_PARAMS, mixed(w, static_cast<adagrad_dtype>(9), g, bf16, G, 100));
  EXPECT_EQ(ADAGRAD_ERROR_INVALID_PARAMS, mixed(w, bf16, g, static_cast<adagrad_dtype>(3), G, 100));
  for (double scale : {0.0, -1.0, std::nan(""), HUGE_VAL, 1e-50}) {
    o.grad_scale = scale;
    EXPECT_EQ(ADAGRAD_ERROR_INVALID_PARAMS, mixed(w, bf16, g, bf16, G, 100)) << scale;
  }
  o = adagrad_mixed_options_default();
  const int bogus = 5;
  std::memcpy(&o.rounding, &bogus, sizeof bogus);
  EXPECT_EQ(ADAGRAD_ERROR_INVALID_PARAMS, mixed(w, bf16, g, bf16, G, 100));
  o = adagrad_mixed_options_default();
  EXPECT_EQ(ADAGRAD_ERROR_NULL_POINTER, mixed(w, bf16, nullptr, bf16, G, 100));
  EXPECT_EQ(ADAGRAD_ERROR_MISALIGNED,
            mixed(reinterpret_cast<char*>(w) + 1, bf16, g, bf16, G, 100));
  EXPECT_EQ(ADAGRAD_ERROR_MISALIGNED, mixed(w, bf16, g + 1, ADAGRAD_DTYPE_F32, G, 100));
  EXPECT_EQ(ADAGRAD_ERROR_OVERLAP, mixed(w, bf16, w + 99, bf16, G, 100));
  EXPECT_EQ(ADAGRAD_ERROR_OVERLAP,
            mixed(w, bf16, g, ADAGRAD_DTYPE_F32, reinterpret_cast<float*>(g + 198), 100));
  EXPECT_EQ(ADAGRAD_ERROR_OVERLAP,
            adagrad_step_master(reinterpret_cast<float*>(w), g, bf16, G, w + 150, bf16, 100, &p,
                                &o, nullptr));
  EXPECT_EQ(ADAGRAD_ERROR_INVALID_PARAMS,
            adagrad_step_master(reinterpret_cast<float*>(w), g, bf16, G, copy, ADAGRAD_DTYPE_F32,
                                100, &p, &o, nullptr));
  EXPECT_EQ(ADAGRAD_ERROR_UNSUPPORTED_ISA,
            step_mixed_isa_as_int(50, w, bf16, g, bf16, G, 100, &p, &o));
  float found = 0.0f;
  EXPECT_EQ(ADAGRAD_ERROR_NULL_POINTER, adagrad_unscale_check(g, bf16, 100, 0.5, nullptr));
  EXPECT_EQ(ADAGRAD_ERROR_INVALID_PARAMS, adagrad_unscale_check(g, bf16, 100, -0.5, &found));
  EXPECT_EQ(ADAGRAD_ERROR_OVERLAP,
            adagrad_unscale_check(g, bf16, 100, 0.5, reinterpret_cast<float*>(g + 10)));
  EXPECT_EQ(ADAGRAD_ERROR_INVALID_PARAMS,
            adagrad_convert_to_half(G, copy, 10, ADAGRAD_DTYPE_F32));
  EXPECT_EQ(ADAGRAD_ERROR_OVERLAP,
            adagrad_convert_to_half(G, reinterpret_cast<std::uint16_t*>(G) + 3, 10, bf16));
  EXPECT_EQ(0, std::memcmp(arena.data(), before.data(), arena.size() * 2));
  EXPECT_EQ(0.0f, found);
  EXPECT_EQ(ADAGRAD_OK, mixed(nullptr, bf16, nullptr, bf16, nullptr, 0));
}

}  // namespace
}  // namespace adagrad_test
