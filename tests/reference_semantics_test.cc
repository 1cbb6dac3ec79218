// SPDX-License-Identifier: BSD-3-Clause
// The scalar reference against the documented formula: hand-checked values
// and a long-hand transcription of the contract in include/adagrad/adagrad.h,
// written here independently of kernels/adagrad_scalar.cpp.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <vector>

#include "adagrad/adagrad.h"
#include "adagrad/adagrad.hpp"
#include "guarded_buffer.h"

namespace adagrad_test {
namespace {

// The contract, one element, one statement per documented step.
template <class T>
void contract_step(T& w, T g, T& G, const adagrad_params& p) {
  double lr_t = p.lr;
  if (p.lr_decay != 0.0) lr_t = p.lr / (1.0 + static_cast<double>(p.step - 1) * p.lr_decay);
  const T lr = static_cast<T>(lr_t);
  const T eps = static_cast<T>(p.eps);
  const T wd = static_cast<T>(p.weight_decay);
  if (p.maximize) g = -g;
  if (p.weight_decay != 0.0) g = p.fma ? std::fma(wd, w, g) : g + (wd * w);
  G = p.fma ? std::fma(g, g, G) : G + g * g;
  T d;
  if (p.eps_mode == ADAGRAD_EPS_INSIDE_SQRT) {
    d = std::sqrt(G + eps);
  } else {
    d = std::sqrt(G) + eps;
  }
  w = w - (lr * g) / d;
}

template <class T>
adagrad_status scalar(T* w, const T* g, T* G, std::size_t n, const adagrad_params& p) {
  if constexpr (sizeof(T) == 4) {
    return adagrad_step_isa(ADAGRAD_ISA_SCALAR, w, g, G, n, &p);
  } else {
    return adagrad_step_f64_isa(ADAGRAD_ISA_SCALAR, w, g, G, n, &p);
  }
}

template <class T>
class ReferenceTest : public testing::Test {};
using ElementTypes = testing::Types<float, double>;
TYPED_TEST_SUITE(ReferenceTest, ElementTypes);

TYPED_TEST(ReferenceTest, HandCheckedValues) {
  using T = TypeParam;
  adagrad_params p = adagrad_params_default();
  p.lr = 0.5;
  p.eps = 0.0;
  // G = 0 + 2*2 = 4, d = 2, w = 1 - (0.5*2)/2 = 0.5: all exact.
  T w = 1, g = 2, G = 0;
  ASSERT_EQ(ADAGRAD_OK, scalar(&w, &g, &G, 1, p));
  EXPECT_EQ(T(4), G);
  EXPECT_EQ(T(0.5), w);
  // maximize: the step goes the other way.
  p.maximize = 1;
  w = 1, G = 0;
  ASSERT_EQ(ADAGRAD_OK, scalar(&w, &g, &G, 1, p));
  EXPECT_EQ(T(4), G);
  EXPECT_EQ(T(1.5), w);
  // Weight decay 0.5 on w = 4: g' = 2 + 2 = 4, G = 16, d = 4, w = 4 - 2/4.
  p.maximize = 0;
  p.weight_decay = 0.5;
  w = 4, G = 0;
  ASSERT_EQ(ADAGRAD_OK, scalar(&w, &g, &G, 1, p));
  EXPECT_EQ(T(16), G);
  EXPECT_EQ(T(3.5), w);
  // maximize negates before the decay: g' = -2 + 2 = 0, nothing moves
  // (eps 1 keeps the denominator away from 0 / 0).
  p.maximize = 1;
  p.eps = 1.0;
  w = 4, G = 0;
  ASSERT_EQ(ADAGRAD_OK, scalar(&w, &g, &G, 1, p));
  EXPECT_EQ(T(0), G);
  EXPECT_EQ(T(4), w);
  // eps inside the root: G = 0 + 1, d = sqrt(1 + 3) = 2, w = 0 - 0.5/2.
  p = adagrad_params_default();
  p.lr = 0.5;
  p.eps = 3.0;
  p.eps_mode = ADAGRAD_EPS_INSIDE_SQRT;
  w = 0, g = 1, G = 0;
  ASSERT_EQ(ADAGRAD_OK, scalar(&w, &g, &G, 1, p));
  EXPECT_EQ(T(1), G);
  EXPECT_EQ(T(-0.25), w);
  // lr_decay: lr_t = 1 / (1 + (3 - 1) * 1.5) = 0.25; G = 4, w = 0 - 0.5/2.
  p = adagrad_params_default();
  p.lr = 1.0;
  p.eps = 0.0;
  p.lr_decay = 1.5;
  p.step = 3;
  w = 0, g = 2, G = 0;
  ASSERT_EQ(ADAGRAD_OK, scalar(&w, &g, &G, 1, p));
  EXPECT_EQ(T(-0.25), w);
}

TYPED_TEST(ReferenceTest, DecayTermIsSkippedNotMultipliedByZero) {
  using T = TypeParam;
  // With weight_decay == 0 an infinite weight must not turn 0 * inf into NaN.
  adagrad_params p = adagrad_params_default();
  T w = std::numeric_limits<T>::infinity(), g = 1, G = 0;
  ASSERT_EQ(ADAGRAD_OK, scalar(&w, &g, &G, 1, p));
  EXPECT_EQ(std::numeric_limits<T>::infinity(), w);
  EXPECT_EQ(T(1), G);
}

TEST(ReferenceTest, DecayCoefficientTestedBeforeRounding) {
  // 1e-50 rounds to 0 in float, but like the seed's `if weight_decay > 0` on a
  // Python float the term is still added: 0 * inf = NaN reaches the weight.
  adagrad_params p = adagrad_params_default();
  p.weight_decay = 1e-50;
  float w = std::numeric_limits<float>::infinity(), g = 1, G = 0;
  ASSERT_EQ(ADAGRAD_OK, adagrad_step_isa(ADAGRAD_ISA_SCALAR, &w, &g, &G, 1, &p));
  EXPECT_TRUE(std::isnan(w));
  EXPECT_TRUE(std::isnan(G));
}

// fma mode really fuses: on random data some results differ from plain mode
// (else the exactness tests of fma mode could pass with fma ignored).
TYPED_TEST(ReferenceTest, FmaModeChangesRoundings) {
  using T = TypeParam;
  std::mt19937_64 rng(3);
  std::uniform_real_distribution<double> uniform(-3.0, 3.0);
  const std::size_t n = 4096;
  std::vector<T> w(n), g(n), G(n);
  for (std::size_t i = 0; i < n; ++i) {
    w[i] = static_cast<T>(uniform(rng));
    g[i] = static_cast<T>(uniform(rng));
    G[i] = static_cast<T>(std::fabs(uniform(rng)));
  }
  std::vector<T> w_fma = w, G_fma = G;
  adagrad_params p = adagrad_params_default();
  p.weight_decay = 0.1;
  ASSERT_EQ(ADAGRAD_OK, scalar(w.data(), g.data(), G.data(), n, p));
  p.fma = 1;
  ASSERT_EQ(ADAGRAD_OK, scalar(w_fma.data(), g.data(), G_fma.data(), n, p));
  std::size_t differing = 0;
  for (std::size_t i = 0; i < n; ++i) differing += to_bits(G[i]) != to_bits(G_fma[i]);
  EXPECT_GT(differing, n / 20);
}

TYPED_TEST(ReferenceTest, MatchesTheContractTranscription) {
  using T = TypeParam;
  std::mt19937_64 rng(7);
  std::uniform_real_distribution<double> uniform(-3.0, 3.0);
  const std::size_t n = 257;
  for (double wd : {0.0, 0.1}) {
    for (double lr_decay : {0.0, 0.01}) {
      for (int maximize : {0, 1}) {
        for (adagrad_eps_mode mode : {ADAGRAD_EPS_OUTSIDE_SQRT, ADAGRAD_EPS_INSIDE_SQRT}) {
          for (int fma : {0, 1}) {
            adagrad_params p = adagrad_params_default();
            p.fma = fma;
            p.lr = 0.3;
            p.weight_decay = wd;
            p.lr_decay = lr_decay;
            p.maximize = maximize;
            p.eps_mode = mode;
            std::vector<T> w(n), g(n), G(n), w_want(n), G_want(n);
            for (std::size_t i = 0; i < n; ++i) {
              w[i] = w_want[i] = static_cast<T>(uniform(rng));
              G[i] = G_want[i] = static_cast<T>(std::fabs(uniform(rng)));
            }
            for (std::uint64_t step = 1; step <= 20; ++step) {
              p.step = step;
              for (auto& x : g) x = static_cast<T>(uniform(rng));
              ASSERT_EQ(ADAGRAD_OK, scalar(w.data(), g.data(), G.data(), n, p));
              for (std::size_t i = 0; i < n; ++i) {
                contract_step(w_want[i], g[i], G_want[i], p);
                ASSERT_EQ(to_bits(w_want[i]), to_bits(w[i])) << "w[" << i << "] step " << step;
                ASSERT_EQ(to_bits(G_want[i]), to_bits(G[i])) << "G[" << i << "] step " << step;
              }
            }
          }
        }
      }
    }
  }
}

TEST(CppWrapper, ForwardsToTheCApi) {
  std::vector<float> w(33, 1.0f), g(33, 2.0f), G(33, 0.0f);
  adagrad::params p;
  p.lr = 0.5;
  p.eps = 0.0;
  ASSERT_EQ(ADAGRAD_OK, adagrad::step(w.data(), g.data(), G.data(), w.size(), p));
  for (float x : w) EXPECT_EQ(0.5f, x);
  std::vector<double> wd(5, 1.0), gd(5, 2.0), Gd(5, 0.0);
  ASSERT_EQ(ADAGRAD_OK, adagrad::step(ADAGRAD_ISA_SCALAR, wd.data(), gd.data(), Gd.data(), 5, p));
  for (double x : wd) EXPECT_EQ(0.5, x);
  EXPECT_EQ(ADAGRAD_ERROR_INVALID_PARAMS,
            adagrad::step(w.data(), g.data(), G.data(), w.size(), adagrad::params{-1.0}));
  std::vector<float> w2 = w, G2 = G, w3 = w, G3 = G;
  ASSERT_EQ(ADAGRAD_OK, adagrad::step(w.data(), g.data(), G.data(), w.size(), p));
  ASSERT_EQ(ADAGRAD_OK,
            adagrad::step_parallel(nullptr, w2.data(), g.data(), G2.data(), w.size(), p));
  const adagrad_tensor tensor = {w3.data(), g.data(), G3.data(), w3.size()};
  ASSERT_EQ(ADAGRAD_OK, adagrad::step_multi(&tensor, 1, p));
  EXPECT_EQ(w, w2);
  EXPECT_EQ(w, w3);
  EXPECT_EQ(G, G3);
  EXPECT_STREQ("scalar", adagrad::isa_name(ADAGRAD_ISA_SCALAR));
  EXPECT_TRUE(adagrad::isa_supported(adagrad::active_isa()));
  EXPECT_TRUE(adagrad::isa_supported(adagrad::active_wide_isa()));
  adagrad::dispatch_choice choice{};
  EXPECT_EQ(ADAGRAD_OK, adagrad::dispatch_query(ADAGRAD_FAMILY_ROWWISE, &choice));
  EXPECT_TRUE(adagrad::isa_supported(choice.target));
  EXPECT_EQ(ADAGRAD_ERROR_NULL_POINTER, adagrad::dispatch_query(ADAGRAD_FAMILY_ROWWISE, nullptr));
#if defined(ADAGRAD_HAS_STD_SPAN)
  std::vector<float> short_g(32, 1.0f);
  const std::vector<float> w_before = w;
  EXPECT_EQ(
      ADAGRAD_ERROR_SIZE_MISMATCH,
      adagrad::step(std::span<float>(w), std::span<const float>(short_g), std::span<float>(G), p));
  EXPECT_EQ(w_before, w);
  EXPECT_EQ(ADAGRAD_OK,
            adagrad::step(std::span<float>(w), std::span<const float>(g), std::span<float>(G), p));
#endif
}

}  // namespace
}  // namespace adagrad_test
