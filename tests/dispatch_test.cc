// Runtime ISA selection. ctest runs this binary once without ADAGRAD_ISA and
// once per value of it (every ISA name, plus names that must be ignored), so
// each run checks the choice made at first use in a fresh process.
//
// main() first lets many threads race to the first step, each on its own
// buffers, before anything else has touched the library: they must all see
// the same ISA and all produce the reference result.
#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "adagrad/adagrad.h"
#include "guarded_buffer.h"
#include "simd_isas.h"

namespace adagrad_test {
namespace {

constexpr int kRacingThreads = 16;
constexpr std::size_t kRaceLength = 4099;
std::vector<adagrad_isa> g_isa_seen_by_thread(kRacingThreads);
std::vector<std::vector<float>> g_weights_by_thread(kRacingThreads);

void fill_inputs(std::vector<float>& w, std::vector<float>& g, std::vector<float>& G) {
  for (std::size_t i = 0; i < w.size(); ++i) {
    w[i] = 0.001f * static_cast<float>(i % 1000) - 0.5f;
    g[i] = 0.002f * static_cast<float>(i % 777) - 0.7f;
    G[i] = 0.003f * static_cast<float>(i % 555);
  }
}

void race_to_first_use() {
  std::atomic<int> ready{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kRacingThreads; ++t) {
    threads.emplace_back([t, &ready] {
      std::vector<float> w(kRaceLength), g(kRaceLength), G(kRaceLength);
      fill_inputs(w, g, G);
      const adagrad_params p = adagrad_params_default();
      ready.fetch_add(1);
      while (ready.load() < kRacingThreads) {
      }
      adagrad_step(w.data(), g.data(), G.data(), w.size(), &p);
      g_isa_seen_by_thread[t] = adagrad_active_isa();
      g_weights_by_thread[t] = w;
    });
  }
  for (auto& thread : threads) thread.join();
}

// The ISA dispatch must pick for the wide steps: the forced one when
// ADAGRAD_ISA names a usable ISA, else the best usable one (the last usable
// entry of the ISA list); for the dense element-wise steps the same, except
// that the best is the last usable one of at most 256 bits.
adagrad_isa forced_or(adagrad_isa best) {
  const char* forced = std::getenv("ADAGRAD_ISA");
  if (forced == nullptr) return best;
  for (adagrad_isa isa : {ADAGRAD_ISA_SCALAR, ADAGRAD_ISA_SSE2, ADAGRAD_ISA_AVX, ADAGRAD_ISA_AVX2,
                          ADAGRAD_ISA_AVX512F, ADAGRAD_ISA_AVX512BF16, ADAGRAD_ISA_NEON64}) {
    if (std::strcmp(forced, adagrad_isa_name(isa)) == 0 && adagrad_isa_supported(isa)) return isa;
  }
  return best;
}

bool is_512_bit(adagrad_isa isa) {
  return isa == ADAGRAD_ISA_AVX512F || isa == ADAGRAD_ISA_AVX512BF16;
}

adagrad_isa expected_wide_isa() {
  adagrad_isa best = ADAGRAD_ISA_SCALAR;
  for (adagrad_isa isa : kSimdIsas) {
    if (adagrad_isa_supported(isa)) best = isa;
  }
  return forced_or(best);
}

adagrad_isa expected_isa() {
  adagrad_isa best = ADAGRAD_ISA_SCALAR;
  for (adagrad_isa isa : kSimdIsas) {
    if (adagrad_isa_supported(isa) && !is_512_bit(isa)) best = isa;
  }
  return forced_or(best);
}

TEST(Dispatch, ActiveIsaIsTheBestOrTheForcedOne) {
  const char* forced = std::getenv("ADAGRAD_ISA");
  EXPECT_EQ(expected_isa(), adagrad_active_isa())
      << "ADAGRAD_ISA=" << (forced ? forced : "(unset)") << ", active "
      << adagrad_isa_name(adagrad_active_isa());
  EXPECT_TRUE(adagrad_isa_supported(adagrad_active_isa()));
  EXPECT_EQ(expected_wide_isa(), adagrad_active_wide_isa())
      << "ADAGRAD_ISA=" << (forced ? forced : "(unset)") << ", active wide "
      << adagrad_isa_name(adagrad_active_wide_isa());
  EXPECT_TRUE(adagrad_isa_supported(adagrad_active_wide_isa()));
}

// Set by the CPU-model runs under qemu, which know what the model has.
TEST(Dispatch, ActiveIsaIsTheOneTheCpuModelHas) {
  const char* expected = std::getenv("ADAGRAD_EXPECT_ISA");
  if (expected == nullptr) GTEST_SKIP() << "ADAGRAD_EXPECT_ISA is not set";
  EXPECT_STREQ(expected, adagrad_isa_name(adagrad_active_isa()));
  EXPECT_STREQ(expected, adagrad_isa_name(adagrad_active_wide_isa()));
}

TEST(Dispatch, ActiveIsaIsStable) {
  const adagrad_isa first = adagrad_active_isa();
  const adagrad_isa first_wide = adagrad_active_wide_isa();
  for (int i = 0; i < 100; ++i) {
    ASSERT_EQ(first, adagrad_active_isa());
    ASSERT_EQ(first_wide, adagrad_active_wide_isa());
  }
}

TEST(Dispatch, RacingFirstCallsAgreeWithEachOtherAndTheReference) {
  std::vector<float> w(kRaceLength), g(kRaceLength), G(kRaceLength);
  fill_inputs(w, g, G);
  const adagrad_params p = adagrad_params_default();
  ASSERT_EQ(ADAGRAD_OK,
            adagrad_step_isa(ADAGRAD_ISA_SCALAR, w.data(), g.data(), G.data(), w.size(), &p));
  for (int t = 0; t < kRacingThreads; ++t) {
    EXPECT_EQ(adagrad_active_isa(), g_isa_seen_by_thread[t]) << "thread " << t;
    ASSERT_EQ(w.size(), g_weights_by_thread[t].size());
    for (std::size_t i = 0; i < w.size(); ++i) {
      ASSERT_TRUE(same_value(w[i], g_weights_by_thread[t][i]))
          << "thread " << t << " w[" << i << "]";
    }
  }
}

TEST(Dispatch, DefaultEntryMatchesTheReference) {
  for (std::size_t n : {0u, 1u, 15u, 16u, 17u, 1000u, 65537u}) {
    std::vector<double> w(n), g(n), G(n);
    for (std::size_t i = 0; i < n; ++i) {
      w[i] = std::sin(static_cast<double>(i));
      g[i] = std::cos(static_cast<double>(i) * 0.7);
      G[i] = static_cast<double>(i % 5);
    }
    std::vector<double> w_ref = w, G_ref = G;
    adagrad_params p = adagrad_params_default();
    p.weight_decay = 0.01;
    ASSERT_EQ(ADAGRAD_OK, adagrad_step_f64(w.data(), g.data(), G.data(), n, &p));
    ASSERT_EQ(ADAGRAD_OK, adagrad_step_f64_isa(ADAGRAD_ISA_SCALAR, w_ref.data(), g.data(),
                                               G_ref.data(), n, &p));
    for (std::size_t i = 0; i < n; ++i) {
      ASSERT_EQ(to_bits(w_ref[i]), to_bits(w[i])) << "n=" << n << " i=" << i;
      ASSERT_EQ(to_bits(G_ref[i]), to_bits(G[i])) << "n=" << n << " i=" << i;
    }
  }
}

}  // namespace
}  // namespace adagrad_test

int main(int argc, char** argv) {
  adagrad_test::race_to_first_use();
  testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
