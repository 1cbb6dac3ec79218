// SPDX-License-Identifier: BSD-3-Clause
// The C API's contract for bad input: the right status, and not one byte of
// w, g or G changed. Also the fixed names, defaults and status strings.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "adagrad/adagrad.h"
#include "enums_as_int.h"
#include "guarded_buffer.h"

namespace adagrad_test {
namespace {

// Every ISA value the public enum has (it is dense from 0).
const std::vector<adagrad_isa> kAllIsas = [] {
  std::vector<adagrad_isa> isas;
  for (int i = 0; i < ADAGRAD_ISA_COUNT; ++i) isas.push_back(static_cast<adagrad_isa>(i));
  return isas;
}();

// One arena holding w, g and G back to back (so overlaps can be made), a
// snapshot of its bytes, and the check that nothing changed.
template <class T>
class Arena {
 public:
  explicit Arena(std::size_t elements) : bytes_(elements * sizeof(T) + 64) {
    for (std::size_t i = 0; i < bytes_.size(); ++i)
      bytes_[i] = static_cast<unsigned char>(i * 7 + 1);
    // Plausible values in every aligned slot so a wrongly started step would
    // visibly change them.
    T* base = at(0);
    for (std::size_t i = 0; i < elements; ++i) base[i] = static_cast<T>(0.25 + 0.001 * i);
    snapshot_ = bytes_;
  }
  // Element i of the arena, aligned to 64 bytes at element 0.
  T* at(std::size_t i) {
    const auto raw = reinterpret_cast<std::uintptr_t>(bytes_.data());
    return reinterpret_cast<T*>(bytes_.data() + (64 - raw % 64) % 64) + i;
  }
  bool unchanged() const { return bytes_ == snapshot_; }

 private:
  std::vector<unsigned char> bytes_;
  std::vector<unsigned char> snapshot_;
};

inline adagrad_status call(adagrad_isa isa, float* w, const float* g, float* G, std::size_t n,
                           const adagrad_params* p) {
  return adagrad_step_isa(isa, w, g, G, n, p);
}
inline adagrad_status call(adagrad_isa isa, double* w, const double* g, double* G, std::size_t n,
                           const adagrad_params* p) {
  return adagrad_step_f64_isa(isa, w, g, G, n, p);
}
inline adagrad_status call_default(float* w, const float* g, float* G, std::size_t n,
                                   const adagrad_params* p) {
  return adagrad_step(w, g, G, n, p);
}
inline adagrad_status call_default(double* w, const double* g, double* G, std::size_t n,
                                   const adagrad_params* p) {
  return adagrad_step_f64(w, g, G, n, p);
}

template <class T>
class BadInputTest : public testing::Test {
 protected:
  static constexpr std::size_t kN = 100;

  // Runs one call on every usable ISA and on the dispatched entry, each on a
  // fresh arena, and checks the status and that no byte changed. `make`
  // chooses the pointers from the arena.
  template <class Make>
  void expect_rejected(adagrad_status expected, const adagrad_params* p, std::size_t n, Make make) {
    for (adagrad_isa isa : kAllIsas) {
      if (!adagrad_isa_supported(isa)) continue;
      Arena<T> arena(4 * kN);
      T* w = nullptr;
      const T* g = nullptr;
      T* G = nullptr;
      make(arena, &w, &g, &G);
      EXPECT_EQ(expected, call(isa, w, g, G, n, p)) << adagrad_isa_name(isa);
      EXPECT_TRUE(arena.unchanged()) << "bytes changed on " << adagrad_isa_name(isa);
    }
    Arena<T> arena(4 * kN);
    T* w = nullptr;
    const T* g = nullptr;
    T* G = nullptr;
    make(arena, &w, &g, &G);
    EXPECT_EQ(expected, call_default(w, g, G, n, p)) << "dispatched";
    EXPECT_TRUE(arena.unchanged()) << "bytes changed on the dispatched path";
  }

  static void disjoint(Arena<T>& a, T** w, const T** g, T** G) {
    *w = a.at(0);
    *g = a.at(kN);
    *G = a.at(2 * kN);
  }
};

using ElementTypes = testing::Types<float, double>;
TYPED_TEST_SUITE(BadInputTest, ElementTypes);

TYPED_TEST(BadInputTest, NullBufferWithElements) {
  using T = TypeParam;
  const adagrad_params p = adagrad_params_default();
  const std::size_t n = this->kN;
  this->expect_rejected(ADAGRAD_ERROR_NULL_POINTER, &p, n,
                        [](Arena<T>& a, T** w, const T** g, T** G) {
                          BadInputTest<T>::disjoint(a, w, g, G);
                          *w = nullptr;
                        });
  this->expect_rejected(ADAGRAD_ERROR_NULL_POINTER, &p, n,
                        [](Arena<T>& a, T** w, const T** g, T** G) {
                          BadInputTest<T>::disjoint(a, w, g, G);
                          *g = nullptr;
                        });
  this->expect_rejected(ADAGRAD_ERROR_NULL_POINTER, &p, n,
                        [](Arena<T>& a, T** w, const T** g, T** G) {
                          BadInputTest<T>::disjoint(a, w, g, G);
                          *G = nullptr;
                        });
}

TYPED_TEST(BadInputTest, ZeroLengthIsANoOpEvenWithNullBuffers) {
  using T = TypeParam;
  const adagrad_params p = adagrad_params_default();
  this->expect_rejected(ADAGRAD_OK, &p, 0, [](Arena<T>&, T** w, const T** g, T** G) {
    *w = nullptr;
    *g = nullptr;
    *G = nullptr;
  });
  // Overlapping and misaligned pointers do not matter when nothing is touched.
  this->expect_rejected(ADAGRAD_OK, &p, 0, [](Arena<T>& a, T** w, const T** g, T** G) {
    *w = a.at(0);
    *g = a.at(0);
    *G = reinterpret_cast<T*>(reinterpret_cast<unsigned char*>(a.at(4)) + 1);
  });
}

TYPED_TEST(BadInputTest, MisalignedBuffer) {
  using T = TypeParam;
  const adagrad_params p = adagrad_params_default();
  for (std::size_t byte = 1; byte < sizeof(T); ++byte) {
    for (int which = 0; which < 3; ++which) {
      this->expect_rejected(
          ADAGRAD_ERROR_MISALIGNED, &p, this->kN - 1, [=](Arena<T>& a, T** w, const T** g, T** G) {
            BadInputTest<T>::disjoint(a, w, g, G);
            auto shift = [byte](auto* ptr) {
              using P = decltype(ptr);
              return reinterpret_cast<P>(reinterpret_cast<std::uintptr_t>(ptr) + byte);
            };
            if (which == 0) *w = shift(*w);
            if (which == 1) *g = shift(*g);
            if (which == 2) *G = shift(*G);
          });
    }
  }
}

TYPED_TEST(BadInputTest, OverlappingBuffers) {
  using T = TypeParam;
  const adagrad_params p = adagrad_params_default();
  const std::size_t n = this->kN;
  // Full aliasing (in-place on the gradient is not allowed either), partial
  // overlap by one element from either side, for each of the three pairs.
  for (std::ptrdiff_t shift : {std::ptrdiff_t{0}, std::ptrdiff_t(n - 1), -std::ptrdiff_t(n - 1)}) {
    for (int pair = 0; pair < 3; ++pair) {
      this->expect_rejected(ADAGRAD_ERROR_OVERLAP, &p, n,
                            [=](Arena<T>& a, T** w, const T** g, T** G) {
                              // The pair shares the region around element n;
                              // the third buffer sits apart at 3n.
                              T* first = a.at(n);
                              T* second = a.at(n + shift);
                              T* apart = a.at(3 * n);
                              if (pair == 0) {
                                *w = first;
                                *g = second;
                                *G = apart;
                              }
                              if (pair == 1) {
                                *w = first;
                                *G = second;
                                *g = apart;
                              }
                              if (pair == 2) {
                                *g = first;
                                *G = second;
                                *w = apart;
                              }
                            });
    }
  }
}

TYPED_TEST(BadInputTest, AdjacentBuffersAreNotOverlapping) {
  using T = TypeParam;
  const std::size_t n = this->kN;
  Arena<T> arena(3 * n);
  const adagrad_params p = adagrad_params_default();
  EXPECT_EQ(ADAGRAD_OK, call_default(arena.at(0), arena.at(n), arena.at(2 * n), n, &p));
}

TYPED_TEST(BadInputTest, SizeOverflow) {
  using T = TypeParam;
  const adagrad_params p = adagrad_params_default();
  for (std::size_t n : {SIZE_MAX, SIZE_MAX / sizeof(T) + 1,
                        static_cast<std::size_t>(PTRDIFF_MAX) / sizeof(T) + 1}) {
    this->expect_rejected(ADAGRAD_ERROR_SIZE_OVERFLOW, &p, n, BadInputTest<T>::disjoint);
  }
}

TYPED_TEST(BadInputTest, InvalidHyperparameters) {
  using T = TypeParam;
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const double inf = std::numeric_limits<double>::infinity();
  // Finite in double, infinite once rounded to float.
  const double beyond_float = 1e39;
  std::vector<double> bad = {
      nan, -nan, inf, -inf, -1.0, -1e-300, -std::numeric_limits<double>::denorm_min()};
  if (sizeof(T) == 4) bad.push_back(beyond_float);
  double adagrad_params::*fields[] = {&adagrad_params::lr, &adagrad_params::eps,
                                      &adagrad_params::weight_decay, &adagrad_params::lr_decay};
  for (auto field : fields) {
    for (double value : bad) {
      adagrad_params p = adagrad_params_default();
      p.*field = value;
      this->expect_rejected(ADAGRAD_ERROR_INVALID_PARAMS, &p, this->kN, BadInputTest<T>::disjoint);
      // Parameters are checked even when there is nothing to update.
      this->expect_rejected(ADAGRAD_ERROR_INVALID_PARAMS, &p, 0, BadInputTest<T>::disjoint);
    }
  }
  adagrad_params step_zero = adagrad_params_default();
  step_zero.lr_decay = 0.1;
  step_zero.step = 0;
  this->expect_rejected(ADAGRAD_ERROR_INVALID_PARAMS, &step_zero, this->kN,
                        BadInputTest<T>::disjoint);
  adagrad_params bad_mode = adagrad_params_default();
  bad_mode.eps_mode = static_cast<adagrad_eps_mode>(2);
  this->expect_rejected(ADAGRAD_ERROR_INVALID_PARAMS, &bad_mode, this->kN,
                        BadInputTest<T>::disjoint);
  this->expect_rejected(ADAGRAD_ERROR_INVALID_PARAMS, nullptr, this->kN, BadInputTest<T>::disjoint);
}

TYPED_TEST(BadInputTest, BoundaryHyperparametersAreAccepted) {
  using T = TypeParam;
  Arena<T> arena(3 * this->kN);
  adagrad_params p = adagrad_params_default();
  p.lr = 0.0;
  p.eps = 0.0;
  p.lr_decay = 0.0;
  p.step = 0;  // not read when lr_decay == 0
  EXPECT_EQ(ADAGRAD_OK,
            call_default(arena.at(0), arena.at(this->kN), arena.at(2 * this->kN), this->kN, &p));
  p.lr = static_cast<double>(std::numeric_limits<T>::max());
  EXPECT_EQ(ADAGRAD_OK,
            call_default(arena.at(0), arena.at(this->kN), arena.at(2 * this->kN), this->kN, &p));
}

TYPED_TEST(BadInputTest, UnsupportedIsaIsCheckedFirst) {
  using T = TypeParam;
  for (int value : {-1, int{ADAGRAD_ISA_COUNT}, 1000}) {
    // Before the parameters and the pointers are looked at.
    EXPECT_EQ(ADAGRAD_ERROR_UNSUPPORTED_ISA,
              call(static_cast<adagrad_isa>(value), static_cast<T*>(nullptr), nullptr, nullptr, 1,
                   nullptr));
    Arena<T> arena(3 * this->kN);
    const adagrad_params p = adagrad_params_default();
    EXPECT_EQ(ADAGRAD_ERROR_UNSUPPORTED_ISA,
              call(static_cast<adagrad_isa>(value), arena.at(0), arena.at(this->kN),
                   arena.at(2 * this->kN), this->kN, &p));
    EXPECT_TRUE(arena.unchanged());
  }
  for (adagrad_isa isa : kAllIsas) {
    if (adagrad_isa_supported(isa)) continue;
    Arena<T> arena(3 * this->kN);
    const adagrad_params p = adagrad_params_default();
    EXPECT_EQ(ADAGRAD_ERROR_UNSUPPORTED_ISA,
              call(isa, arena.at(0), arena.at(this->kN), arena.at(2 * this->kN), this->kN, &p))
        << adagrad_isa_name(isa);
    EXPECT_TRUE(arena.unchanged());
  }
}

TEST(Api, VersionIsTheHeadersAtRunTime) {
  const std::string expected = std::to_string(ADAGRAD_VERSION_MAJOR) + "." +
                               std::to_string(ADAGRAD_VERSION_MINOR) + "." +
                               std::to_string(ADAGRAD_VERSION_PATCH);
  EXPECT_EQ(expected, adagrad_version());
}

TEST(Api, Presets) {
  const adagrad_params seed = adagrad_params_preset(ADAGRAD_PRESET_SEED);
  EXPECT_EQ(0.01, seed.lr);
  EXPECT_EQ(1e-8, seed.eps);
  const adagrad_params torch = adagrad_params_preset(ADAGRAD_PRESET_PYTORCH);
  EXPECT_EQ(0.01, torch.lr);
  EXPECT_EQ(1e-10, torch.eps);
  EXPECT_EQ(ADAGRAD_EPS_OUTSIDE_SQRT, torch.eps_mode);
  const adagrad_params keras = adagrad_params_preset(ADAGRAD_PRESET_KERAS);
  EXPECT_EQ(0.001, keras.lr);
  EXPECT_EQ(1e-7, keras.eps);
  EXPECT_EQ(ADAGRAD_EPS_INSIDE_SQRT, keras.eps_mode);
  const adagrad_params tf = adagrad_params_preset(ADAGRAD_PRESET_TENSORFLOW);
  EXPECT_EQ(0.001, tf.lr);
  EXPECT_EQ(1e-7, tf.eps);
  EXPECT_EQ(ADAGRAD_EPS_OUTSIDE_SQRT, tf.eps_mode);
  EXPECT_EQ(0.0, adagrad_preset_initial_accumulator(ADAGRAD_PRESET_PYTORCH));
  EXPECT_EQ(0.1, adagrad_preset_initial_accumulator(ADAGRAD_PRESET_KERAS));
  EXPECT_EQ(0.1, adagrad_preset_initial_accumulator(ADAGRAD_PRESET_TENSORFLOW));
  EXPECT_EQ(-1.0, adagrad_preset_initial_accumulator(static_cast<adagrad_preset>(9)));
}

TEST(Api, StateInit) {
  std::vector<float> G(37, -1.0f);
  ASSERT_EQ(ADAGRAD_OK, adagrad_state_init(G.data(), G.size(), 0.1));
  for (float x : G) EXPECT_EQ(0.1f, x);
  std::vector<double> Gd(5, -1.0);
  ASSERT_EQ(ADAGRAD_OK, adagrad_state_init_f64(Gd.data(), Gd.size(), 0.1));
  for (double x : Gd) EXPECT_EQ(0.1, x);
  const std::vector<float> before = G;
  EXPECT_EQ(ADAGRAD_ERROR_INVALID_PARAMS, adagrad_state_init(G.data(), G.size(), -0.5));
  EXPECT_EQ(ADAGRAD_ERROR_INVALID_PARAMS,
            adagrad_state_init(G.data(), G.size(), std::numeric_limits<double>::quiet_NaN()));
  EXPECT_EQ(ADAGRAD_ERROR_NULL_POINTER, adagrad_state_init(nullptr, 3, 0.1));
  EXPECT_EQ(
      ADAGRAD_ERROR_MISALIGNED,
      adagrad_state_init(reinterpret_cast<float*>(reinterpret_cast<char*>(G.data()) + 1), 3, 0.1));
  EXPECT_EQ(ADAGRAD_OK, adagrad_state_init(nullptr, 0, 0.1));
  EXPECT_EQ(before, G);
}

TEST(Api, DefaultsAreTheSeedNotebooks) {
  const adagrad_params p = adagrad_params_default();
  EXPECT_EQ(0.01, p.lr);
  EXPECT_EQ(1e-8, p.eps);
  EXPECT_EQ(0.0, p.weight_decay);
  EXPECT_EQ(0.0, p.lr_decay);
  EXPECT_EQ(1u, p.step);
  EXPECT_EQ(0, p.maximize);
  EXPECT_EQ(ADAGRAD_EPS_OUTSIDE_SQRT, p.eps_mode);
  EXPECT_EQ(0, p.fma);
}

TEST(Api, IsaNames) {
  EXPECT_STREQ("scalar", adagrad_isa_name(ADAGRAD_ISA_SCALAR));
  EXPECT_STREQ("sse2", adagrad_isa_name(ADAGRAD_ISA_SSE2));
  EXPECT_STREQ("avx", adagrad_isa_name(ADAGRAD_ISA_AVX));
  EXPECT_STREQ("avx512f", adagrad_isa_name(ADAGRAD_ISA_AVX512F));
  EXPECT_STREQ("neon64", adagrad_isa_name(ADAGRAD_ISA_NEON64));
  EXPECT_STREQ("avx2", adagrad_isa_name(ADAGRAD_ISA_AVX2));
  EXPECT_STREQ("avx512bf16", adagrad_isa_name(ADAGRAD_ISA_AVX512BF16));
  EXPECT_STREQ("unknown", isa_name_as_int(99));
}

TEST(Api, ScalarIsAlwaysSupported) { EXPECT_TRUE(adagrad_isa_supported(ADAGRAD_ISA_SCALAR)); }

TEST(Api, StatusStringsAreDistinct) {
  std::vector<std::string> seen;
  for (int s = ADAGRAD_OK; s <= ADAGRAD_ERROR_UNAVAILABLE; ++s) {
    const std::string text = adagrad_status_string(static_cast<adagrad_status>(s));
    EXPECT_NE("unknown status", text) << s;
    for (const std::string& other : seen) EXPECT_NE(other, text);
    seen.push_back(text);
  }
  EXPECT_STREQ("unknown status", adagrad_status_string(static_cast<adagrad_status>(-3)));
}

}  // namespace
}  // namespace adagrad_test

namespace adagrad_test {
namespace {

// Random placements of w, g and G in one arena, some overlapping, some
// misaligned: the status must be what plain interval arithmetic says, and an
// error must leave the arena untouched.
TEST(Api, RandomPlacementsGetTheRightStatus) {
  constexpr std::size_t kArenaBytes = 4096;
  std::vector<unsigned char> arena(kArenaBytes + 64);
  auto* base = arena.data() + (64 - reinterpret_cast<std::uintptr_t>(arena.data()) % 64) % 64;
  std::mt19937_64 rng(99);
  const adagrad_params p = adagrad_params_default();
  std::size_t seen[8] = {};
  for (int trial = 0; trial < 20000; ++trial) {
    const std::size_t n = std::uniform_int_distribution<std::size_t>(1, 200)(rng);
    const std::size_t bytes = n * sizeof(float);
    std::uniform_int_distribution<std::size_t> offset(0, kArenaBytes - bytes);
    // Mostly aligned offsets, sometimes not.
    auto place = [&] {
      std::size_t o = offset(rng);
      if (rng() % 8 != 0) o -= o % 4;
      return o;
    };
    const std::size_t ow = place(), og = place(), oG = place();
    auto overlaps = [bytes](std::size_t x, std::size_t y) {
      return x < y + bytes && y < x + bytes;
    };
    adagrad_status want = ADAGRAD_OK;
    if ((ow | og | oG) % 4 != 0) {
      want = ADAGRAD_ERROR_MISALIGNED;
    } else if (overlaps(ow, og) || overlaps(ow, oG) || overlaps(og, oG)) {
      want = ADAGRAD_ERROR_OVERLAP;
    }
    for (std::size_t i = 0; i < kArenaBytes; ++i) base[i] = 0x3c;  // 0x3c3c3c3c: 0.0115
    const std::vector<unsigned char> before(base, base + kArenaBytes);
    const adagrad_status got =
        adagrad_step(reinterpret_cast<float*>(base + ow), reinterpret_cast<const float*>(base + og),
                     reinterpret_cast<float*>(base + oG), n, &p);
    ASSERT_EQ(want, got) << "n=" << n << " w@" << ow << " g@" << og << " G@" << oG;
    if (got != ADAGRAD_OK) {
      ASSERT_TRUE(std::equal(before.begin(), before.end(), base)) << "written on error";
    }
    ++seen[got];
  }
  // The sweep reached every outcome it is meant to check.
  EXPECT_GT(seen[ADAGRAD_OK], 100u);
  EXPECT_GT(seen[ADAGRAD_ERROR_OVERLAP], 100u);
  EXPECT_GT(seen[ADAGRAD_ERROR_MISALIGNED], 100u);
}

}  // namespace
}  // namespace adagrad_test
