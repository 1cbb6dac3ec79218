// SPDX-License-Identifier: BSD-3-Clause
// Every SIMD path against the scalar reference, bit for bit, float and
// double: lengths, misalignments, consecutive steps, every hyperparameter
// switch and IEEE special values at every lane position. One instantiation per
// ISA of include/adagrad/isa_list.h; ISAs this CPU lacks are skipped.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstddef>
#include <vector>

#include "adagrad/adagrad.h"
#include "dense_step_tester.h"
#include "simd_isas.h"

namespace adagrad_test {
namespace {

class ExactnessTest : public testing::TestWithParam<adagrad_isa> {
 protected:
  void SetUp() override {
    if (!adagrad_isa_supported(GetParam())) {
      GTEST_SKIP() << adagrad_isa_name(GetParam()) << " is not usable on this CPU";
    }
  }
};

// Widest vector is 256 bytes (SVE at 2048 bits): 64 floats, 32 doubles.
// Every length up to 300 covers 0, 1..W-1, W, W+1..2W-1 and multiples for
// every ISA and every SVE vector length.
constexpr std::size_t kMaxDenseLength = 300;

std::vector<std::size_t> large_lengths() {
  std::vector<std::size_t> lengths;
  for (std::size_t p = 512; p <= (std::size_t{1} << 20); p *= 2) {
    lengths.insert(lengths.end(), {p - 1, p, p + 1});
  }
  // Primes between the powers of two, up to 2^20.
  for (std::size_t prime : {307u, 401u, 509u, 769u, 1021u, 2039u, 4093u, 8191u, 16381u, 65521u,
                            131071u, 524287u, 1048573u}) {
    lengths.push_back(prime);
  }
  return lengths;
}

template <class T>
void every_length(adagrad_isa isa) {
  for (std::size_t n = 0; n <= kMaxDenseLength; ++n) {
    DenseStepTester<T>().n(n).Test(isa);
    if (testing::Test::HasFatalFailure()) return;
  }
  for (std::size_t n : large_lengths()) {
    DenseStepTester<T>().n(n).Test(isa);
    DenseStepTester<T>().n(n).weight_decay(0.1).fma(true).Test(isa);
    if (testing::Test::HasFatalFailure()) return;
  }
}

TEST_P(ExactnessTest, EveryLengthF32) { every_length<float>(GetParam()); }
TEST_P(ExactnessTest, EveryLengthF64) { every_length<double>(GetParam()); }

// Every element offset from a 64-byte boundary, of each buffer alone and of
// all three together, on lengths around the vector widths.
template <class T>
void every_misalignment(adagrad_isa isa) {
  constexpr std::size_t kOffsets = 64 / sizeof(T);
  for (std::size_t n : {1u, 7u, 8u, 15u, 16u, 17u, 33u, 64u, 129u, 1000u}) {
    for (std::size_t m = 0; m < kOffsets; ++m) {
      DenseStepTester<T>().n(n).misalign_w(m).Test(isa);
      DenseStepTester<T>().n(n).misalign_g(m).Test(isa);
      DenseStepTester<T>().n(n).misalign_G(m).Test(isa);
      DenseStepTester<T>()
          .n(n)
          .misalign_w(m)
          .misalign_g((m + 5) % kOffsets)
          .misalign_G((m + 11) % kOffsets)
          .Test(isa);
      if (testing::Test::HasFatalFailure()) return;
    }
  }
}

TEST_P(ExactnessTest, EveryMisalignmentF32) { every_misalignment<float>(GetParam()); }
TEST_P(ExactnessTest, EveryMisalignmentF64) { every_misalignment<double>(GetParam()); }

// Every combination of the switches, with one and with 100 consecutive steps.
template <class T>
void every_switch(adagrad_isa isa) {
  for (bool fma : {false, true}) {
    for (std::size_t steps : {1u, 100u}) {
      for (double weight_decay : {0.0, 0.01, 0.5}) {
        for (double lr_decay : {0.0, 0.05}) {
          for (bool maximize : {false, true}) {
            for (adagrad_eps_mode mode : {ADAGRAD_EPS_OUTSIDE_SQRT, ADAGRAD_EPS_INSIDE_SQRT}) {
              for (double eps : {1e-8, 0.0, 1e-10, 0.1}) {
                for (std::size_t n : {5u, 31u, 67u, 250u}) {
                  DenseStepTester<T>()
                      .n(n)
                      .misalign_w(1)
                      .misalign_G(2)
                      .steps(steps)
                      .lr(0.1)
                      .eps(eps)
                      .weight_decay(weight_decay)
                      .lr_decay(lr_decay)
                      .maximize(maximize)
                      .eps_mode(mode)
                      .fma(fma)
                      .Test(isa);
                  if (testing::Test::HasFatalFailure()) return;
                }
              }
            }
          }
        }
      }
    }
  }
}

TEST_P(ExactnessTest, EverySwitchF32) { every_switch<float>(GetParam()); }
TEST_P(ExactnessTest, EverySwitchF64) { every_switch<double>(GetParam()); }

// Each special value in each buffer at every lane position of two full
// vectors and a tail, under both eps modes and with and without weight decay
// (0 * inf must not appear when the decay is off).
template <class T>
void special_values_at_every_lane(adagrad_isa isa) {
  constexpr std::size_t kLanes = 64 / sizeof(T);
  const std::size_t n = 2 * kLanes + 3;
  for (T value : special_values<T>()) {
    for (char buffer : {'w', 'g', 'G'}) {
      for (std::size_t position = 0; position < n; ++position) {
        for (double weight_decay : {0.0, 0.25}) {
          for (adagrad_eps_mode mode : {ADAGRAD_EPS_OUTSIDE_SQRT, ADAGRAD_EPS_INSIDE_SQRT}) {
            for (bool fma : {false, true}) {
              DenseStepTester<T>()
                  .n(n)
                  .weight_decay(weight_decay)
                  .eps_mode(mode)
                  .fma(fma)
                  .special(buffer, position, value)
                  .Test(isa);
              if (testing::Test::HasFatalFailure()) return;
            }
          }
        }
      }
    }
  }
}

TEST_P(ExactnessTest, SpecialValuesAtEveryLaneF32) {
  special_values_at_every_lane<float>(GetParam());
}
TEST_P(ExactnessTest, SpecialValuesAtEveryLaneF64) {
  special_values_at_every_lane<double>(GetParam());
}

// Buffers made only of special values, over several steps and seeds: NaN and
// infinity propagate through every operation identically on every path.
template <class T>
void all_special(adagrad_isa isa) {
  for (std::uint64_t seed = 0; seed < 20; ++seed) {
    for (double weight_decay : {0.0, 0.5}) {
      for (bool maximize : {false, true}) {
        DenseStepTester<T>()
            .n(203)
            .seed(seed)
            .steps(3)
            .all_special(true)
            .weight_decay(weight_decay)
            .maximize(maximize)
            .fma(seed % 2 == 1)
            .Test(isa);
        if (testing::Test::HasFatalFailure()) return;
      }
    }
  }
}

TEST_P(ExactnessTest, AllSpecialF32) { all_special<float>(GetParam()); }
TEST_P(ExactnessTest, AllSpecialF64) { all_special<double>(GetParam()); }

std::string isa_test_name(const testing::TestParamInfo<adagrad_isa>& info) {
  return adagrad_isa_name(info.param);
}

INSTANTIATE_TEST_SUITE_P(Isa, ExactnessTest, testing::ValuesIn(kSimdIsas), isa_test_name);

}  // namespace
}  // namespace adagrad_test
