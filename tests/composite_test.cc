// SPDX-License-Identifier: BSD-3-Clause
// Composite-objective steps: proximal AdaGrad and AdaGrad dual averaging.
//
//  - CompositeTest (every ISA): dense steps bit for bit against the scalar
//    path over lengths, misalignments, every switch, special values and
//    consecutive steps; sparse (lazy) steps against per-row dense steps.
//  - TensorFlowTranscription: the scalar path against transcriptions of
//    TensorFlow's ApplyProximalAdagrad and ApplyAdagradDA formulas: exact
//    where the operation order matches, else within a stated ulp bound.
//  - CompositeContract: every error status, nothing written.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <iterator>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "adagrad/adagrad.h"
#include "adagrad/adagrad.hpp"
#include "dense_step_tester.h"
#include "enums_as_int.h"
#include "guarded_buffer.h"
#include "simd_isas.h"

namespace adagrad_test {
namespace {

adagrad_status proximal_on(adagrad_isa isa, float* w, const float* g, float* z, float* G,
                           std::size_t n, const adagrad_params& p,
                           const adagrad_regularization& r) {
  (void)z;
  return adagrad_proximal_step_isa(isa, w, g, G, n, &p, &r);
}
adagrad_status proximal_on(adagrad_isa isa, double* w, const double* g, double* z, double* G,
                           std::size_t n, const adagrad_params& p,
                           const adagrad_regularization& r) {
  (void)z;
  return adagrad_proximal_step_f64_isa(isa, w, g, G, n, &p, &r);
}
adagrad_status da_on(adagrad_isa isa, float* w, const float* g, float* z, float* G, std::size_t n,
                     const adagrad_params& p, const adagrad_regularization& r) {
  return adagrad_da_step_isa(isa, w, g, z, G, n, &p, &r);
}
adagrad_status da_on(adagrad_isa isa, double* w, const double* g, double* z, double* G,
                     std::size_t n, const adagrad_params& p, const adagrad_regularization& r) {
  return adagrad_da_step_f64_isa(isa, w, g, z, G, n, &p, &r);
}

struct Setting {
  adagrad_params p;
  adagrad_regularization r;
};

// Every combination of the switches that change the code path.
std::vector<Setting> settings() {
  std::vector<Setting> out;
  for (int bits = 0; bits < 64; ++bits) {
    Setting s{adagrad_params_default(), {0.0, 0.0}};
    s.p.lr = 0.1;
    s.p.maximize = bits & 1;
    s.p.weight_decay = (bits & 2) ? 0.05 : 0.0;
    s.p.eps_mode = (bits & 4) ? ADAGRAD_EPS_INSIDE_SQRT : ADAGRAD_EPS_OUTSIDE_SQRT;
    s.p.fma = (bits & 8) ? 1 : 0;
    s.r.l1 = (bits & 16) ? 0.02 : 0.0;
    s.r.l2 = (bits & 32) ? 0.3 : 0.0;
    s.p.step = 1 + static_cast<std::uint64_t>(bits % 5);
    out.push_back(s);
  }
  return out;
}

template <class T>
void expect_bits(const T* got, const T* want, std::size_t n, const std::string& what) {
  for (std::size_t i = 0; i < n; ++i) {
    ASSERT_TRUE(same_value(got[i], want[i]))
        << what << "[" << i << "]: " << hex(got[i]) << ", expected " << hex(want[i]);
  }
}

class CompositeTest : public ::testing::TestWithParam<adagrad_isa> {
 protected:
  void SetUp() override {
    if (!adagrad_isa_supported(GetParam())) {
      GTEST_SKIP() << adagrad_isa_name(GetParam()) << " is not usable on this CPU";
    }
  }

  // Three consecutive steps on one ISA and on the scalar path; w, z, G equal
  // bit for bit after each, g untouched, guards intact.
  template <class T, bool DualAveraging>
  void check(std::size_t n, std::size_t misalign, const Setting& s, bool specials,
             std::uint64_t seed) {
    const adagrad_isa isa = GetParam();
    GuardedBuffer<T> w(n, misalign), g(n, (misalign + 1) % 4), z(n, (misalign + 2) % 4),
        G(n, (misalign + 3) % 4);
    std::mt19937_64 rng(seed);
    std::uniform_real_distribution<double> value(-1.0, 1.0), state(0.0, 2.0);
    const std::vector<T> special = special_values<T>();
    std::uniform_int_distribution<std::size_t> pick(0, special.size() - 1);
    for (std::size_t i = 0; i < n; ++i) {
      w[i] = static_cast<T>(value(rng));
      z[i] = static_cast<T>(value(rng));
      G[i] = static_cast<T>(state(rng));
      if (specials && i % 3 == 0) w[i] = special[pick(rng)];
      if (specials && i % 5 == 1) G[i] = std::fabs(special[pick(rng)]);
    }
    std::vector<T> w_ref(w.data(), w.data() + n), z_ref(z.data(), z.data() + n),
        G_ref(G.data(), G.data() + n);
    for (int step = 0; step < 3; ++step) {
      for (std::size_t i = 0; i < n; ++i) {
        g[i] = specials && i % 2 == 0 ? special[pick(rng)] : static_cast<T>(value(rng) * 0.1);
      }
      const std::vector<T> g_before(g.data(), g.data() + n);
      if constexpr (DualAveraging) {
        ASSERT_EQ(ADAGRAD_OK, da_on(isa, w.data(), g.data(), z.data(), G.data(), n, s.p, s.r));
        ASSERT_EQ(ADAGRAD_OK, da_on(ADAGRAD_ISA_SCALAR, w_ref.data(), g.data(), z_ref.data(),
                                    G_ref.data(), n, s.p, s.r));
        expect_bits(z.data(), z_ref.data(), n, "z");
      } else {
        ASSERT_EQ(ADAGRAD_OK, proximal_on(isa, w.data(), g.data(), nullptr, G.data(), n, s.p, s.r));
        ASSERT_EQ(ADAGRAD_OK, proximal_on(ADAGRAD_ISA_SCALAR, w_ref.data(), g.data(), nullptr,
                                          G_ref.data(), n, s.p, s.r));
      }
      expect_bits(G.data(), G_ref.data(), n, "G");
      expect_bits(w.data(), w_ref.data(), n, "w");
      expect_bits(g.data(), g_before.data(), n, "g (read only)");
      for (const GuardedBuffer<T>* b : {&w, &g, &z, &G}) {
        std::ptrdiff_t at = 0;
        ASSERT_TRUE(b->guards_intact(&at)) << "guard " << at << " changed";
      }
    }
  }

  template <class T, bool DualAveraging>
  void sweep() {
    const std::size_t lengths[] = {0,  1,  2,  3,  5,  7,  8,   9,   15,   16,   17,
                                   31, 32, 33, 63, 64, 65, 100, 257, 1000, 1031, 4099};
    std::uint64_t seed = 1;
    for (const Setting& s : settings()) {
      for (std::size_t n : lengths) {
        check<T, DualAveraging>(n, n % 4, s, false, ++seed);
        if (HasFatalFailure()) return;
      }
      check<T, DualAveraging>(97, 1, s, true, ++seed);
      if (HasFatalFailure()) return;
    }
  }
};

TEST_P(CompositeTest, ProximalF32) { sweep<float, false>(); }
TEST_P(CompositeTest, ProximalF64) { sweep<double, false>(); }
TEST_P(CompositeTest, DualAveragingF32) { sweep<float, true>(); }
TEST_P(CompositeTest, DualAveragingF64) { sweep<double, true>(); }

// L1 makes exact zeros: weights whose update falls inside the threshold
// become +0 or -0 exactly, on every ISA.
TEST_P(CompositeTest, L1GivesExactZeros) {
  const std::size_t n = 1000;
  std::vector<float> w(n, 0.001f), g(n, 0.0f), z(n, 0.0f), G(n, 1.0f);
  for (std::size_t i = 0; i < n; ++i) g[i] = (i % 2 ? 1e-3f : -1e-3f);
  adagrad_params p = adagrad_params_default();
  const adagrad_regularization r{1.0, 0.0};
  ASSERT_EQ(ADAGRAD_OK,
            adagrad_proximal_step_isa(GetParam(), w.data(), g.data(), G.data(), n, &p, &r));
  for (float x : w) ASSERT_EQ(0.0f, x);
  ASSERT_EQ(ADAGRAD_OK,
            adagrad_da_step_isa(GetParam(), w.data(), g.data(), z.data(), G.data(), n, &p, &r));
  for (float x : w) ASSERT_EQ(0.0f, x);
}

// The lazy sparse steps: each touched row as the dense step on that row (with
// SUM's summed gradient), untouched rows unchanged, on every ISA.
TEST_P(CompositeTest, SparseStepsAreLazyDenseStepsPerRow) {
  const std::size_t rows = 300, dim = 37, n = 400;
  std::mt19937_64 rng(5);
  std::uniform_real_distribution<double> value(-1.0, 1.0);
  std::vector<float> table(rows * dim), z(rows * dim), G(rows * dim), grads(n * dim);
  for (auto& x : table) x = static_cast<float>(value(rng));
  for (auto& x : z) x = static_cast<float>(value(rng));
  for (auto& x : G) x = static_cast<float>(value(rng) + 1.0);
  for (auto& x : grads) x = static_cast<float>(value(rng));
  std::vector<std::int64_t> indices(n);
  for (auto& i : indices) i = static_cast<std::int64_t>(rng() % (rng() % 2 ? 7 : rows));
  std::vector<unsigned char> workspace(
      adagrad_sparse_workspace_size(n, dim, ADAGRAD_DUPLICATES_SUM));
  for (const Setting& s : {settings()[18], settings()[55]}) {
    for (bool da : {false, true}) {
      for (adagrad_duplicates dup : {ADAGRAD_DUPLICATES_SUM, ADAGRAD_DUPLICATES_SEQUENTIAL}) {
        std::vector<float> t1 = table, z1 = z, G1 = G, t2 = table, z2 = z, G2 = G;
        const adagrad_status status =
            da ? adagrad_sparse_da_step_isa(GetParam(), t1.data(), z1.data(), G1.data(), rows, dim,
                                            indices.data(), n, grads.data(), &s.p, &s.r, dup,
                                            workspace.data(), workspace.size(), nullptr)
               : adagrad_sparse_proximal_step_isa(GetParam(), t1.data(), G1.data(), rows, dim,
                                                  indices.data(), n, grads.data(), &s.p, &s.r, dup,
                                                  workspace.data(), workspace.size(), nullptr);
        ASSERT_EQ(ADAGRAD_OK, status);
        std::vector<bool> done(rows, false);
        for (std::size_t k = 0; k < n; ++k) {
          const auto row = static_cast<std::size_t>(indices[k]);
          std::vector<float> grad(grads.begin() + static_cast<std::ptrdiff_t>(k * dim),
                                  grads.begin() + static_cast<std::ptrdiff_t>((k + 1) * dim));
          if (dup == ADAGRAD_DUPLICATES_SUM) {
            if (done[row]) continue;
            done[row] = true;
            for (std::size_t q = k + 1; q < n; ++q) {
              if (static_cast<std::size_t>(indices[q]) != row) continue;
              for (std::size_t j = 0; j < dim; ++j) grad[j] = grad[j] + grads[q * dim + j];
            }
          }
          const std::size_t at = row * dim;
          if (da) {
            ASSERT_EQ(ADAGRAD_OK, adagrad_da_step_isa(ADAGRAD_ISA_SCALAR, &t2[at], grad.data(),
                                                      &z2[at], &G2[at], dim, &s.p, &s.r));
          } else {
            ASSERT_EQ(ADAGRAD_OK, adagrad_proximal_step_isa(ADAGRAD_ISA_SCALAR, &t2[at],
                                                            grad.data(), &G2[at], dim, &s.p, &s.r));
          }
        }
        expect_bits(t1.data(), t2.data(), t1.size(), da ? "DA table" : "proximal table");
        expect_bits(G1.data(), G2.data(), G1.size(), "G");
        expect_bits(z1.data(), z2.data(), z1.size(), "z");
      }
    }
  }
}

std::vector<adagrad_isa> scalar_and_simd_isas() {
  std::vector<adagrad_isa> isas{ADAGRAD_ISA_SCALAR};
  isas.insert(isas.end(), std::begin(kSimdIsas), std::end(kSimdIsas));
  return isas;
}

INSTANTIATE_TEST_SUITE_P(EveryIsa, CompositeTest, ::testing::ValuesIn(scalar_and_simd_isas()),
                         [](const ::testing::TestParamInfo<adagrad_isa>& info) {
                           return std::string(adagrad_isa_name(info.param));
                         });

// ---- TensorFlow's formulas, transcribed (training_ops.cc, CPU functors) ----

template <class T>
T tf_sign(T x) {
  return x > T(0) ? T(1) : (x < T(0) ? T(-1) : T(0));
}

// ApplyProximalAdagrad. `divide` replaces TensorFlow's lr * rsqrt(accum) by
// lr / sqrt(accum), the library's order.
template <class T>
void tf_proximal(T& var, T& accum, T grad, T lr, T l1, T l2, bool divide) {
  accum += grad * grad;
  const T learning_rate = divide ? lr / std::sqrt(accum) : lr * (T(1) / std::sqrt(accum));
  const T prox_var = var - grad * learning_rate;
  if (l1 > T(0)) {
    var = tf_sign(prox_var) * std::max(std::fabs(prox_var) - learning_rate * l1, T(0)) /
          (learning_rate * l2 + T(1));
  } else {
    var = prox_var / (learning_rate * l2 + T(1));
  }
}

// ApplyAdagradDA; TensorFlow forms l1 * global_step and l2 * global_step * lr
// in T.
template <class T>
void tf_da(T& var, T& gradient_accum, T& gradient_squared_accum, T grad, T lr, T l1, T l2,
           std::int64_t global_step) {
  gradient_accum += grad;
  gradient_squared_accum += grad * grad;
  const auto gs = static_cast<T>(global_step);
  if (l1 > T(0)) {
    var = T(-1) * lr * tf_sign(gradient_accum) *
          std::max(std::fabs(gradient_accum) - l1 * gs, T(0)) /
          (l2 * gs * lr + std::sqrt(gradient_squared_accum));
  } else {
    var = T(-1) * (gradient_accum * lr) / (l2 * gs * lr + std::sqrt(gradient_squared_accum));
  }
}

// |a - b| in ulps of `scale`: the magnitude of the operands the result was
// computed from. The shrinkage |v| - threshold cancels, so an ulp of
// difference in the threshold (TensorFlow rounds it differently) is many ulps
// of a small result, but never more than a few ulps of its operands.
template <class T>
double ulp_distance(T a, T b, T scale) {
  if (a == b) return 0;
  scale = std::max({std::fabs(a), std::fabs(b), scale});
  return std::fabs(static_cast<double>(a) - static_cast<double>(b)) /
         static_cast<double>(std::nextafter(scale, std::numeric_limits<T>::infinity()) - scale);
}

// Returns the largest distance in ulp over many elements and steps, after
// asserting exact equality when `exact`.
template <class T, bool DualAveraging>
double compare_with_tensorflow(bool exact_order, double l1, double l2) {
  const std::size_t n = 4096;
  std::mt19937_64 rng(3);
  std::uniform_real_distribution<double> value(-1.0, 1.0);
  std::vector<T> w(n), z(n, T(0)), G(n), g(n);
  for (auto& x : w) x = static_cast<T>(value(rng));
  for (auto& x : G) x = static_cast<T>(value(rng) + 1.5);
  std::vector<T> tf_w = w, tf_z = z, tf_G = G;
  adagrad_params p = adagrad_params_default();
  p.lr = 0.3;   // not a power of two: lr * rsqrt and lr / sqrt then differ
  p.eps = 0.0;  // TensorFlow's formulas have no epsilon
  const adagrad_regularization r{l1, l2};
  double worst = 0;
  for (std::uint64_t step = 1; step <= 20; ++step) {
    for (auto& x : g) x = static_cast<T>(value(rng) * 0.5);
    p.step = step;
    if constexpr (DualAveraging) {
      EXPECT_EQ(ADAGRAD_OK,
                da_on(ADAGRAD_ISA_SCALAR, w.data(), g.data(), z.data(), G.data(), n, p, r));
    } else {
      EXPECT_EQ(ADAGRAD_OK,
                proximal_on(ADAGRAD_ISA_SCALAR, w.data(), g.data(), nullptr, G.data(), n, p, r));
    }
    for (std::size_t i = 0; i < n; ++i) {
      const T w_before = tf_w[i];
      if constexpr (DualAveraging) {
        tf_da<T>(tf_w[i], tf_z[i], tf_G[i], g[i], static_cast<T>(0.3), static_cast<T>(l1),
                 static_cast<T>(l2), static_cast<std::int64_t>(step));
      } else {
        tf_proximal<T>(tf_w[i], tf_G[i], g[i], static_cast<T>(0.3), static_cast<T>(l1),
                       static_cast<T>(l2), exact_order);
      }
      // The states follow the same sums in the same order: always exact.
      EXPECT_EQ(to_bits(tf_G[i]), to_bits(G[i])) << i;
      if (exact_order) {
        // Equal values; the sign of a zero may differ (sign(-0) * 0 is +0,
        // copysign(0, -0) is -0).
        EXPECT_TRUE(tf_w[i] == w[i]) << "step " << step << " [" << i << "] " << hex(w[i])
                                     << " vs TensorFlow " << hex(tf_w[i]);
      }
      const T root = std::sqrt(G[i]);
      const T lr_t = static_cast<T>(0.3);
      const T scale =
          DualAveraging
              ? lr_t * (std::fabs(z[i]) + static_cast<T>(step) * static_cast<T>(l1)) / root
              : std::fabs(w_before) + lr_t * (std::fabs(g[i]) + static_cast<T>(l1)) / root;
      worst = std::max(worst, ulp_distance(w[i], tf_w[i], scale));
      // Carry on from the library's state so that differences do not grow.
      tf_w[i] = w[i];
      if constexpr (DualAveraging) tf_z[i] = z[i];
    }
  }
  return worst;
}

TEST(TensorFlowTranscription, ProximalExactInTheLibrarysOrder) {
  for (double l1 : {0.0, 0.01, 0.3}) {
    for (double l2 : {0.0, 0.5}) {
      EXPECT_EQ(0.0, (compare_with_tensorflow<float, false>(true, l1, l2)));
      EXPECT_EQ(0.0, (compare_with_tensorflow<double, false>(true, l1, l2)));
    }
  }
}

// With TensorFlow's own lr * rsqrt(accum) the rate differs by the rounding of
// one extra operation: asserted within 4 ulp of the operands' magnitude (see
// ulp_distance; the figure measured is printed).
TEST(TensorFlowTranscription, ProximalWithRsqrtWithinFourUlp) {
  double worst = 0;
  for (double l1 : {0.0, 0.01}) {
    for (double l2 : {0.0, 0.5}) {
      worst = std::max(worst, compare_with_tensorflow<float, false>(false, l1, l2));
      worst = std::max(worst, compare_with_tensorflow<double, false>(false, l1, l2));
    }
  }
  RecordProperty("max_ulp", std::to_string(worst));
  std::printf("proximal vs TensorFlow's rsqrt form: at most %.3g ulp\n", worst);
  EXPECT_LE(worst, 4.0);
}

// Dual averaging in double: TensorFlow's constants in double are the
// library's, so every bit agrees. In float TensorFlow rounds l1 * t and
// l2 * t * lr in float where the library rounds once from double: within 4
// ulp of the operands' magnitude (see ulp_distance; measured figure printed).
TEST(TensorFlowTranscription, DualAveraging) {
  for (double l1 : {0.0, 0.01, 0.2}) {
    for (double l2 : {0.0, 0.5}) {
      EXPECT_EQ(0.0, (compare_with_tensorflow<double, true>(true, l1, l2)));
      const double worst = compare_with_tensorflow<float, true>(false, l1, l2);
      std::printf("DA float vs TensorFlow (l1 %g, l2 %g): at most %.3g ulp\n", l1, l2, worst);
      EXPECT_LE(worst, 4.0);
    }
  }
}

// The C++ wrappers reach the same functions.
TEST(CompositeCxxWrappers, SameResultsAsTheCApi) {
  std::vector<double> w(50, 0.5), g(50, 0.25), z(50, 0.0), G(50, 1.0);
  std::vector<double> w2 = w, z2 = z, G2 = G;
  adagrad_params p = adagrad_params_default();
  p.step = 4;
  const adagrad_regularization r{0.01, 0.2};
  ASSERT_EQ(ADAGRAD_OK, adagrad_da_step_f64(w.data(), g.data(), z.data(), G.data(), 50, &p, &r));
  adagrad::params q;
  q.step = 4;
  ASSERT_EQ(ADAGRAD_OK, adagrad::da_step(w2.data(), g.data(), z2.data(), G2.data(), 50,
                                         adagrad::regularization{0.01, 0.2}, q));
  expect_bits(w2.data(), w.data(), 50, "w");
  ASSERT_EQ(ADAGRAD_OK, adagrad_proximal_step_f64(w.data(), g.data(), G.data(), 50, &p, &r));
  ASSERT_EQ(ADAGRAD_OK, adagrad::proximal_step(w2.data(), g.data(), G2.data(), 50,
                                               adagrad::regularization{0.01, 0.2}, q));
  expect_bits(w2.data(), w.data(), 50, "w");
  expect_bits(G2.data(), G.data(), 50, "G");
}

// ---- Contract -----------------------------------------------------------

TEST(CompositeContract, StatusesAndNothingWritten) {
  std::vector<float> arena(4096, 0.5f);
  const std::vector<float> before = arena;
  float* w = arena.data();
  float* g = arena.data() + 1024;
  float* z = arena.data() + 2048;
  float* G = arena.data() + 3072;
  adagrad_params p = adagrad_params_default();
  adagrad_regularization r{0.1, 0.1};
  auto expect_unchanged = [&] {
    ASSERT_EQ(0, std::memcmp(arena.data(), before.data(), arena.size() * sizeof(float)));
  };
  EXPECT_EQ(ADAGRAD_ERROR_INVALID_PARAMS, adagrad_proximal_step(w, g, G, 100, &p, nullptr));
  EXPECT_EQ(ADAGRAD_ERROR_INVALID_PARAMS, adagrad_da_step(w, g, z, G, 100, &p, nullptr));
  for (double bad : {-1.0, std::nan(""), HUGE_VAL, 1e300}) {
    r = {bad, 0.1};
    EXPECT_EQ(ADAGRAD_ERROR_INVALID_PARAMS, adagrad_proximal_step(w, g, G, 100, &p, &r)) << bad;
    r = {0.1, bad};
    EXPECT_EQ(ADAGRAD_ERROR_INVALID_PARAMS, adagrad_da_step(w, g, z, G, 100, &p, &r)) << bad;
  }
  r = {0.1, 0.1};
  p.step = 0;
  EXPECT_EQ(ADAGRAD_ERROR_INVALID_PARAMS, adagrad_da_step(w, g, z, G, 100, &p, &r));
  EXPECT_EQ(ADAGRAD_OK, adagrad_proximal_step(w, g, G, 0, &p, &r)) << "step is DA's only";
  // t * l1 overflows float but not double.
  p.step = 10;
  r = {1e38, 0.0};
  EXPECT_EQ(ADAGRAD_ERROR_INVALID_PARAMS, adagrad_da_step(w, g, z, G, 100, &p, &r));
  double wd[4] = {0, 0, 0, 0}, gd[4] = {0, 0, 0, 0}, zd[4] = {0, 0, 0, 0}, Gd[4] = {1, 1, 1, 1};
  EXPECT_EQ(ADAGRAD_OK, adagrad_da_step_f64(wd, gd, zd, Gd, 4, &p, &r));
  r = {0.1, 0.1};
  p.step = 1;
  EXPECT_EQ(ADAGRAD_ERROR_NULL_POINTER, adagrad_da_step(w, g, nullptr, G, 100, &p, &r));
  EXPECT_EQ(ADAGRAD_ERROR_OVERLAP, adagrad_da_step(w, g, w + 99, G, 100, &p, &r));
  EXPECT_EQ(ADAGRAD_ERROR_OVERLAP, adagrad_da_step(w, g, G + 50, G, 100, &p, &r));
  EXPECT_EQ(ADAGRAD_ERROR_MISALIGNED,
            adagrad_da_step(w, g, reinterpret_cast<float*>(reinterpret_cast<char*>(z) + 2), G, 100,
                            &p, &r));
  EXPECT_EQ(ADAGRAD_ERROR_OVERLAP, adagrad_proximal_step(w, w + 10, G, 100, &p, &r));
  EXPECT_EQ(ADAGRAD_ERROR_UNSUPPORTED_ISA,
            proximal_step_isa_as_int(77, w, g, G, 100, &p, &r));
  expect_unchanged();
  // The sparse DA step's second state is checked like the first.
  std::int64_t indices[3] = {0, 1, 2};
  unsigned char workspace[512];
  const std::size_t bytes = adagrad_sparse_workspace_size(3, 4, ADAGRAD_DUPLICATES_SUM);
  ASSERT_LE(bytes, sizeof workspace);
  EXPECT_EQ(ADAGRAD_ERROR_NULL_POINTER,
            adagrad_sparse_da_step(w, z, nullptr, 10, 4, indices, 3, g, &p, &r,
                                   ADAGRAD_DUPLICATES_SUM, workspace, bytes, nullptr));
  EXPECT_EQ(ADAGRAD_ERROR_OVERLAP,
            adagrad_sparse_da_step(w, z, z + 39, 10, 4, indices, 3, g, &p, &r,
                                   ADAGRAD_DUPLICATES_SUM, workspace, bytes, nullptr));
  EXPECT_EQ(ADAGRAD_ERROR_INVALID_PARAMS,
            adagrad_sparse_proximal_step(w, G, 10, 4, indices, 3, g, &p, nullptr,
                                         ADAGRAD_DUPLICATES_SUM, workspace, bytes, nullptr));
  indices[2] = 10;
  EXPECT_EQ(ADAGRAD_ERROR_INDEX_OUT_OF_RANGE,
            adagrad_sparse_da_step(w, z, G, 10, 4, indices, 3, g, &p, &r, ADAGRAD_DUPLICATES_SUM,
                                   workspace, bytes, nullptr));
  expect_unchanged();
}

}  // namespace
}  // namespace adagrad_test
