// SPDX-License-Identifier: BSD-3-Clause
// The floating-point environment: under each of the four rounding modes, and
// with flush-to-zero / denormals-are-zero set (x86), every path still equals
// the reference computed under the same environment; and no call changes the
// caller's environment.
#include <gtest/gtest.h>

#include <cfenv>
#include <cstdint>
#include <cstring>
#include <random>
#include <vector>

#if defined(__SSE2__)
#include <xmmintrin.h>
#endif

#include "adagrad/adagrad.h"
#include "dense_step_tester.h"
#include "simd_isas.h"

namespace adagrad_test {
namespace {

struct Environment {
  int rounding;
  bool flush_denormals;  // FTZ and DAZ
  const char* name;
};

// The control part of an environment (rounding, FTZ/DAZ, exception masks),
// without the sticky exception flags, which the arithmetic itself raises.
std::uint64_t control_state(const std::fenv_t& env) {
#if defined(__x86_64__) && defined(__GLIBC__)
  return (std::uint64_t{env.__control_word} << 32) | (env.__mxcsr & ~0x3fu);
#elif defined(__aarch64__) && defined(__GLIBC__)
  return env.__fpcr;
#else
  (void)env;
  return 0;
#endif
}

// Sets the environment for the lifetime of the object and restores it.
class ScopedEnvironment {
 public:
  explicit ScopedEnvironment(const Environment& e) {
    std::fegetenv(&saved_);
    std::fesetround(e.rounding);
#if defined(__SSE2__)
    if (e.flush_denormals) _mm_setcsr(_mm_getcsr() | 0x8040);  // FTZ | DAZ
#endif
  }
  ~ScopedEnvironment() { std::fesetenv(&saved_); }

 private:
  std::fenv_t saved_;
};

template <class T>
void all_paths_agree(const Environment& e) {
  SCOPED_TRACE(e.name);
  std::mt19937_64 rng(17);
  const std::size_t n = 1003;
  std::vector<T> w(n), g(n), G(n);
  // Ordinary values with subnormals and specials mixed in, so that FTZ/DAZ
  // and the rounding direction both matter.
  const std::vector<T> specials = special_values<T>();
  std::uniform_real_distribution<double> uniform(-2.0, 2.0);
  for (std::size_t i = 0; i < n; ++i) {
    w[i] = i % 7 == 0 ? specials[i % specials.size()] : static_cast<T>(uniform(rng));
    g[i] = i % 5 == 0 ? specials[(i / 5) % specials.size()] : static_cast<T>(uniform(rng) * 1e-20);
    G[i] = static_cast<T>(uniform(rng) * uniform(rng) * 1e-38);
  }
  for (int fma = 0; fma <= 1; ++fma) {
    adagrad_params p = adagrad_params_default();
    p.weight_decay = 0.1;
    p.fma = fma;
    std::vector<T> w_ref = w, G_ref = G;
    std::vector<std::vector<T>> w_isa, G_isa;
    std::fenv_t before, after;
    {
      ScopedEnvironment scoped(e);
      std::fegetenv(&before);
      ASSERT_EQ(ADAGRAD_OK,
                step_on(ADAGRAD_ISA_SCALAR, w_ref.data(), g.data(), G_ref.data(), n, p));
      for (adagrad_isa isa : kSimdIsas) {
        if (!adagrad_isa_supported(isa)) continue;
        w_isa.push_back(w);
        G_isa.push_back(G);
        ASSERT_EQ(ADAGRAD_OK,
                  step_on(isa, w_isa.back().data(), g.data(), G_isa.back().data(), n, p));
      }
      std::fegetenv(&after);
    }
    // The library leaves the control state as it found it.
    EXPECT_EQ(control_state(before), control_state(after));
    for (std::size_t k = 0; k < w_isa.size(); ++k) {
      for (std::size_t i = 0; i < n; ++i) {
        ASSERT_TRUE(same_value(w_isa[k][i], w_ref[i]) && same_value(G_isa[k][i], G_ref[i]))
            << "path " << k << " element " << i << " fma=" << fma << ": w " << hex(w_isa[k][i])
            << " vs " << hex(w_ref[i]);
      }
    }
  }
}

const Environment kEnvironments[] = {
    {FE_TONEAREST, false, "to nearest"},
    {FE_UPWARD, false, "upward"},
    {FE_DOWNWARD, false, "downward"},
    {FE_TOWARDZERO, false, "toward zero"},
    {FE_TONEAREST, true, "to nearest, FTZ+DAZ"},
    {FE_UPWARD, true, "upward, FTZ+DAZ"},
};

TEST(FpEnvironment, EveryPathMatchesTheReferenceF32) {
  for (const Environment& e : kEnvironments) all_paths_agree<float>(e);
}

TEST(FpEnvironment, EveryPathMatchesTheReferenceF64) {
  for (const Environment& e : kEnvironments) all_paths_agree<double>(e);
}

// Mixed precision under every environment: the f32 arithmetic follows the
// caller's rounding mode and FTZ/DAZ on every path alike, while the 16-bit
// conversions are nearest-even (or stochastic) whatever the mode, and keep
// binary16 subnormals under FTZ/DAZ (the hardware conversions take their
// rounding from an immediate and ignore FTZ/DAZ; the reference is integer
// arithmetic).
TEST(FpEnvironment, MixedPrecisionPathsMatchTheReference) {
  const std::size_t n = 1003;
  std::mt19937_64 rng(23);
  std::uniform_real_distribution<double> uniform(-2.0, 2.0);
  const std::vector<float> specials = special_values<float>();
  std::vector<float> w(n), g(n), G(n), conversions(n);
  for (std::size_t i = 0; i < n; ++i) {
    w[i] = i % 7 == 0 ? specials[i % specials.size()] : static_cast<float>(uniform(rng));
    g[i] = static_cast<float>(uniform(rng) * (i % 3 == 0 ? 1e-6 : 1.0));
    G[i] = static_cast<float>(uniform(rng) * uniform(rng) * 1e-10);
    // Values in and around the binary16 and bfloat16 subnormal ranges.
    conversions[i] = static_cast<float>(uniform(rng)) *
                     (i % 2 ? 6.0e-8f : std::numeric_limits<float>::denorm_min() * 1000);
  }
  for (const Environment& e : kEnvironments) {
    SCOPED_TRACE(e.name);
    for (adagrad_dtype type : {ADAGRAD_DTYPE_BF16, ADAGRAD_DTYPE_F16}) {
      for (adagrad_rounding rounding : {ADAGRAD_ROUND_NEAREST_EVEN, ADAGRAD_ROUND_STOCHASTIC}) {
        adagrad_params p = adagrad_params_default();
        p.weight_decay = 0.1;
        adagrad_mixed_options o = adagrad_mixed_options_default();
        o.rounding = rounding;
        o.grad_scale = 3.0;
        std::vector<std::uint16_t> copy_ref(n), half_ref(n);
        std::vector<float> w_ref = w, G_ref = G;
        std::vector<std::vector<std::uint16_t>> copies, halves;
        std::vector<std::vector<float>> ws;
        std::fenv_t before, after;
        {
          ScopedEnvironment scoped(e);
          std::fegetenv(&before);
          ASSERT_EQ(ADAGRAD_OK, adagrad_step_master_isa(ADAGRAD_ISA_SCALAR, w_ref.data(), g.data(),
                                                        ADAGRAD_DTYPE_F32, G_ref.data(),
                                                        copy_ref.data(), type, n, &p, &o, nullptr));
          ASSERT_EQ(ADAGRAD_OK, adagrad_convert_to_half_isa(ADAGRAD_ISA_SCALAR, conversions.data(),
                                                            half_ref.data(), n, type));
          for (adagrad_isa isa : kSimdIsas) {
            if (!adagrad_isa_supported(isa)) continue;
            ws.push_back(w);
            std::vector<float> G_isa = G;
            copies.emplace_back(n);
            halves.emplace_back(n);
            ASSERT_EQ(ADAGRAD_OK, adagrad_step_master_isa(isa, ws.back().data(), g.data(),
                                                          ADAGRAD_DTYPE_F32, G_isa.data(),
                                                          copies.back().data(), type, n, &p, &o,
                                                          nullptr));
            ASSERT_EQ(ADAGRAD_OK, adagrad_convert_to_half_isa(isa, conversions.data(),
                                                              halves.back().data(), n, type));
          }
          std::fegetenv(&after);
        }
        EXPECT_EQ(control_state(before), control_state(after));
        for (std::size_t k = 0; k < copies.size(); ++k) {
          for (std::size_t i = 0; i < n; ++i) {
            ASSERT_TRUE(same_value(ws[k][i], w_ref[i])) << "path " << k << " w[" << i << "]";
            const bool both_nan = std::isnan(w_ref[i]);
            ASSERT_TRUE(both_nan || copies[k][i] == copy_ref[i])
                << "path " << k << " copy[" << i << "] " << copies[k][i] << " vs " << copy_ref[i]
                << " type " << type << " rounding " << rounding;
            ASSERT_EQ(halves[k][i], half_ref[i])
                << "path " << k << " conversion of " << hex(conversions[i]) << " type " << type;
          }
        }
      }
    }
  }
}

// The environment really changes the results, so the tests above can fail.
TEST(FpEnvironment, TheEnvironmentMatters) {
  std::mt19937_64 rng(5);
  std::uniform_real_distribution<double> uniform(-1.0, 1.0);
  const std::size_t n = 4096;
  std::vector<float> w(n), g(n), G(n);
  for (std::size_t i = 0; i < n; ++i) {
    w[i] = static_cast<float>(uniform(rng));
    g[i] = static_cast<float>(uniform(rng));
    G[i] = static_cast<float>(uniform(rng) + 1.0);
  }
  std::vector<float> w_up = w, G_up = G;
  const adagrad_params p = adagrad_params_default();
  ASSERT_EQ(ADAGRAD_OK, adagrad_step(w.data(), g.data(), G.data(), n, &p));
  {
    ScopedEnvironment scoped({FE_UPWARD, false, "upward"});
    ASSERT_EQ(ADAGRAD_OK, adagrad_step(w_up.data(), g.data(), G_up.data(), n, &p));
  }
  std::size_t differing = 0;
  for (std::size_t i = 0; i < n; ++i) differing += to_bits(w[i]) != to_bits(w_up[i]);
  EXPECT_GT(differing, n / 10);
}

}  // namespace
}  // namespace adagrad_test
