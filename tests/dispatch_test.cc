// SPDX-License-Identifier: BSD-3-Clause
// Runtime ISA selection per kernel family. ctest runs this binary once per
// setting of ADAGRAD_ISA (every ISA name, plus names that must be ignored) and
// of ADAGRAD_DISPATCH (unset, table, calibrate), so each run checks the
// choice made at first use in a fresh process.
//
// main() first lets many threads race to the first step, each on its own
// buffers, before anything else has touched the library: they must all see
// the same ISA and all produce the reference result.
#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <cstdint>
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

// What one racing thread saw right after its first step.
struct first_sight {
  adagrad_status step_status;
  adagrad_status query_status[ADAGRAD_FAMILY_COUNT];
  adagrad_isa family_isa[ADAGRAD_FAMILY_COUNT];
  adagrad_dispatch_source family_source[ADAGRAD_FAMILY_COUNT];
  std::uint64_t calibration_ns;
  std::vector<float> w;
};
std::vector<first_sight> g_seen_by_thread(kRacingThreads);

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
      // Odd threads step in fma mode, whose kernels have a pointer of their
      // own: its first call resolves too.
      adagrad_params p = adagrad_params_default();
      p.fma = t % 2;
      ready.fetch_add(1);
      while (ready.load() < kRacingThreads) {
      }
      first_sight& seen = g_seen_by_thread[t];
      seen.step_status = adagrad_step(w.data(), g.data(), G.data(), w.size(), &p);
      for (int f = 0; f < ADAGRAD_FAMILY_COUNT; ++f) {
        seen.query_status[f] = adagrad_dispatch_query(static_cast<adagrad_family>(f),
                                                      &seen.family_isa[f], &seen.family_source[f]);
      }
      seen.calibration_ns = adagrad_dispatch_calibration_ns();
      seen.w = w;
    });
  }
  for (auto& thread : threads) thread.join();
}

const adagrad_family kFamilies[] = {ADAGRAD_FAMILY_DENSE_F32, ADAGRAD_FAMILY_DENSE_F64,
                                    ADAGRAD_FAMILY_FMA,       ADAGRAD_FAMILY_COMPOSITE,
                                    ADAGRAD_FAMILY_SPARSE,    ADAGRAD_FAMILY_ROWWISE,
                                    ADAGRAD_FAMILY_MIXED};
static_assert(sizeof kFamilies / sizeof kFamilies[0] == ADAGRAD_FAMILY_COUNT, "every family");

bool environment_is(const char* name, const char* value) {
  const char* set = std::getenv(name);
  return set != nullptr && std::strcmp(set, value) == 0;
}

// The usable ISA ADAGRAD_ISA names, if any.
bool forced_isa(adagrad_isa* isa) {
  const char* forced = std::getenv("ADAGRAD_ISA");
  if (forced == nullptr) return false;
  adagrad_isa named = ADAGRAD_ISA_SCALAR;
  if (adagrad_isa_from_name(forced, &named) != ADAGRAD_OK || !adagrad_isa_supported(named)) {
    return false;
  }
  *isa = named;
  return true;
}

bool is_512_bit(adagrad_isa isa) { return simd_isa_vector_bytes(isa) > 32; }

// The widest usable SIMD ISA (the last usable entry of the ISA list), of at
// most 256 bits if asked; the scalar reference when none is usable.
adagrad_isa widest_usable(bool at_most_256) {
  adagrad_isa best = ADAGRAD_ISA_SCALAR;
  for (adagrad_isa isa : kSimdIsas) {
    if (adagrad_isa_supported(isa) && !(at_most_256 && is_512_bit(isa))) best = isa;
  }
  return best;
}

// The widest usable SIMD ISA of a fixed vector length (not SVE): what the
// SVE rule picks where SVE is 128 bits (src/dispatch_rules.cpp).
adagrad_isa widest_fixed_usable() {
  adagrad_isa best = ADAGRAD_ISA_SCALAR;
  for (adagrad_isa isa : kSimdIsas) {
    if (adagrad_isa_supported(isa) && !simd_isa_scalable(isa)) best = isa;
  }
  return best;
}

int usable_simd_isas() {
  int count = 0;
  for (adagrad_isa isa : kSimdIsas) count += adagrad_isa_supported(isa) != 0;
  return count;
}

struct choice {
  adagrad_isa isa;
  adagrad_dispatch_source source;
};

choice query(adagrad_family family) {
  choice c{};
  EXPECT_EQ(ADAGRAD_OK, adagrad_dispatch_query(family, &c.isa, &c.source));
  return c;
}

std::string describe(adagrad_family family, const choice& c) {
  const char* forced = std::getenv("ADAGRAD_ISA");
  const char* method = std::getenv("ADAGRAD_DISPATCH");
  return std::string(adagrad_family_name(family)) + ": " + adagrad_isa_name(c.isa) + " (" +
         adagrad_dispatch_source_name(c.source) + "), cpu " + adagrad_dispatch_cpu() +
         ", ADAGRAD_ISA=" + (forced ? forced : "(unset)") +
         ", ADAGRAD_DISPATCH=" + (method ? method : "(unset)");
}

// The rules of adagrad_dispatch_query's contract, per family, for the
// environment this process runs in (ctest runs it under every setting).
TEST(Dispatch, EveryFamilyFollowsTheDocumentedRules) {
  adagrad_isa forced = ADAGRAD_ISA_SCALAR;
  const bool is_forced = forced_isa(&forced);
  const bool table_only = environment_is("ADAGRAD_DISPATCH", "table");
  const bool calibrate_all = environment_is("ADAGRAD_DISPATCH", "calibrate");
  const bool cpu_known = std::strcmp(adagrad_dispatch_cpu(), "unknown") != 0;
  bool measured_any = false;
  for (adagrad_family family : kFamilies) {
    const choice c = query(family);
    SCOPED_TRACE(describe(family, c));
    EXPECT_TRUE(adagrad_isa_supported(c.isa));
    if (is_forced) {
      EXPECT_EQ(ADAGRAD_DISPATCH_FORCED, c.source);
      EXPECT_EQ(forced, c.isa);
      continue;
    }
    switch (c.source) {
      case ADAGRAD_DISPATCH_FORCED: ADD_FAILURE() << "nothing forces an ISA"; break;
      case ADAGRAD_DISPATCH_WIDEST:
        // Only when nothing was to be measured: measuring is off, or there
        // is nothing to choose from.
        EXPECT_TRUE(table_only || usable_simd_isas() <= 1);
        EXPECT_EQ(widest_usable(false), c.isa);
        break;
      case ADAGRAD_DISPATCH_TABLE:
        EXPECT_TRUE(cpu_known);
        EXPECT_FALSE(calibrate_all);
        EXPECT_TRUE(c.isa == widest_usable(false) || c.isa == widest_usable(true) ||
                    c.isa == widest_fixed_usable());
        break;
      case ADAGRAD_DISPATCH_MEASURED:
        measured_any = true;
        EXPECT_FALSE(table_only);
        EXPECT_GT(usable_simd_isas(), 1);
        EXPECT_NE(ADAGRAD_ISA_SCALAR, c.isa) << "measuring chooses among the SIMD ISAs";
        break;
      default: ADD_FAILURE() << "unknown source " << static_cast<int>(c.source);
    }
    if (calibrate_all && usable_simd_isas() > 1) {
      EXPECT_EQ(ADAGRAD_DISPATCH_MEASURED, c.source);
    }
    if (!cpu_known && !table_only && usable_simd_isas() > 1) {
      EXPECT_EQ(ADAGRAD_DISPATCH_MEASURED, c.source) << "a CPU the table does not know is measured";
    }
  }
  // What was measured took time; nothing measured, none.
  if (measured_any) {
    EXPECT_GT(adagrad_dispatch_calibration_ns(), 0u);
  } else {
    EXPECT_EQ(0u, adagrad_dispatch_calibration_ns());
  }
}

TEST(Dispatch, ActiveIsasAreTheDenseAndSparseFamilies) {
  EXPECT_EQ(query(ADAGRAD_FAMILY_DENSE_F32).isa, adagrad_active_isa());
  EXPECT_EQ(query(ADAGRAD_FAMILY_SPARSE).isa, adagrad_active_wide_isa());
}

TEST(Dispatch, QueryRejectsWhatItCannotAnswer) {
  adagrad_isa isa = ADAGRAD_ISA_NEON64;
  adagrad_dispatch_source source = ADAGRAD_DISPATCH_FORCED;
  for (int family : {-1, ADAGRAD_FAMILY_COUNT, 1000}) {
    EXPECT_EQ(ADAGRAD_ERROR_INVALID_PARAMS,
              adagrad_dispatch_query(static_cast<adagrad_family>(family), &isa, &source));
  }
  EXPECT_EQ(ADAGRAD_ERROR_NULL_POINTER,
            adagrad_dispatch_query(ADAGRAD_FAMILY_DENSE_F32, nullptr, &source));
  EXPECT_EQ(ADAGRAD_ISA_NEON64, isa) << "nothing written on error";
  EXPECT_EQ(ADAGRAD_DISPATCH_FORCED, source) << "nothing written on error";
  EXPECT_EQ(ADAGRAD_OK, adagrad_dispatch_query(ADAGRAD_FAMILY_MIXED, &isa, nullptr));
  EXPECT_STREQ("unknown", adagrad_family_name(static_cast<adagrad_family>(ADAGRAD_FAMILY_COUNT)));
  EXPECT_STREQ("unknown", adagrad_dispatch_source_name(static_cast<adagrad_dispatch_source>(4)));
}

// Set by the CPU-model runs under qemu, which know what the model has (and
// run with ADAGRAD_DISPATCH=table: measuring under emulation times qemu).
TEST(Dispatch, EveryFamilyRunsTheIsaTheCpuModelHas) {
  const char* expected = std::getenv("ADAGRAD_EXPECT_ISA");
  if (expected == nullptr) GTEST_SKIP() << "ADAGRAD_EXPECT_ISA is not set";
  for (adagrad_family family : kFamilies) {
    EXPECT_STREQ(expected, adagrad_isa_name(query(family).isa)) << adagrad_family_name(family);
  }
}

TEST(Dispatch, ChoicesAreStable) {
  choice first[ADAGRAD_FAMILY_COUNT];
  for (adagrad_family family : kFamilies) first[family] = query(family);
  const std::uint64_t calibration = adagrad_dispatch_calibration_ns();
  for (int i = 0; i < 100; ++i) {
    for (adagrad_family family : kFamilies) {
      const choice again = query(family);
      ASSERT_EQ(first[family].isa, again.isa);
      ASSERT_EQ(first[family].source, again.source);
    }
    ASSERT_EQ(calibration, adagrad_dispatch_calibration_ns()) << "resolution ran again";
  }
}

// Racing first calls resolve once: every thread sees the same choice for
// every family and the same calibration, and the reference's result.
TEST(Dispatch, RacingFirstCallsAgreeWithEachOtherAndTheReference) {
  std::vector<float> want[2];  // the reference without and with fma mode
  for (int fma : {0, 1}) {
    std::vector<float> w(kRaceLength), g(kRaceLength), G(kRaceLength);
    fill_inputs(w, g, G);
    adagrad_params p = adagrad_params_default();
    p.fma = fma;
    ASSERT_EQ(ADAGRAD_OK,
              adagrad_step_isa(ADAGRAD_ISA_SCALAR, w.data(), g.data(), G.data(), w.size(), &p));
    want[fma] = w;
  }
  for (int t = 0; t < kRacingThreads; ++t) {
    const first_sight& seen = g_seen_by_thread[t];
    const std::vector<float>& w = want[t % 2];
    EXPECT_EQ(ADAGRAD_OK, seen.step_status) << "thread " << t;
    for (adagrad_family family : kFamilies) {
      EXPECT_EQ(ADAGRAD_OK, seen.query_status[family]) << "thread " << t;
      const choice now = query(family);
      EXPECT_EQ(now.isa, seen.family_isa[family]) << "thread " << t;
      EXPECT_EQ(now.source, seen.family_source[family]) << "thread " << t;
    }
    EXPECT_EQ(adagrad_dispatch_calibration_ns(), seen.calibration_ns) << "thread " << t;
    ASSERT_EQ(w.size(), seen.w.size());
    for (std::size_t i = 0; i < w.size(); ++i) {
      ASSERT_TRUE(same_value(w[i], seen.w[i])) << "thread " << t << " w[" << i << "]";
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
