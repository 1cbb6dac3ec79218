// SPDX-License-Identifier: BSD-3-Clause
// DenseStepTester: runs the dense step on one ISA and on the scalar reference
// with identical inputs and checks that w and G agree bit for bit, that g is
// untouched and that no guard element around any buffer changed.
//
//   DenseStepTester<float>().n(37).misalign_w(3).steps(100).weight_decay(0.1).Test(isa);
#ifndef ADAGRAD_TESTS_DENSE_STEP_TESTER_H_
#define ADAGRAD_TESTS_DENSE_STEP_TESTER_H_

#include <gtest/gtest.h>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "adagrad/adagrad.h"
#include "guarded_buffer.h"

namespace adagrad_test {

// The step entry point of one element type, on an explicit ISA.
inline adagrad_status step_on(adagrad_isa isa, float* w, const float* g, float* G, std::size_t n,
                              const adagrad_params& p) {
  return adagrad_step_isa(isa, w, g, G, n, &p);
}
inline adagrad_status step_on(adagrad_isa isa, double* w, const double* g, double* G, std::size_t n,
                              const adagrad_params& p) {
  return adagrad_step_f64_isa(isa, w, g, G, n, &p);
}

// Values that stress the IEEE corner cases: signed zeros, subnormals,
// infinities, NaN, values whose square overflows or underflows to zero or a
// subnormal, and ordinary values.
template <class T>
std::vector<T> special_values() {
  using limits = std::numeric_limits<T>;
  const T big = std::sqrt(limits::max()) * T(2);        // big * big overflows
  const T tiny = std::sqrt(limits::min()) / T(4);       // tiny * tiny is subnormal
  const T vanishing = std::sqrt(limits::denorm_min());  // square rounds to 0 or denorm_min
  return {T(0),
          -T(0),
          limits::denorm_min(),
          -limits::denorm_min(),
          limits::min() - limits::denorm_min(),  // largest subnormal
          limits::min(),
          limits::infinity(),
          -limits::infinity(),
          limits::quiet_NaN(),
          -limits::quiet_NaN(),
          limits::max(),
          -limits::max(),
          big,
          -big,
          tiny,
          -tiny,
          vanishing,
          T(1),
          T(-1),
          T(0.5),
          T(3)};
}

template <class T>
class DenseStepTester {
 public:
  DenseStepTester() : params_(adagrad_params_default()) {}

  DenseStepTester& n(std::size_t value) {
    n_ = value;
    return *this;
  }
  // Element offsets of each buffer from a 64-byte boundary.
  DenseStepTester& misalign_w(std::size_t value) {
    misalign_w_ = value;
    return *this;
  }
  DenseStepTester& misalign_g(std::size_t value) {
    misalign_g_ = value;
    return *this;
  }
  DenseStepTester& misalign_G(std::size_t value) {
    misalign_G_ = value;
    return *this;
  }
  // Consecutive steps, each with a fresh gradient (and step index).
  DenseStepTester& steps(std::size_t value) {
    steps_ = value;
    return *this;
  }
  DenseStepTester& lr(double value) {
    params_.lr = value;
    return *this;
  }
  DenseStepTester& eps(double value) {
    params_.eps = value;
    return *this;
  }
  DenseStepTester& weight_decay(double value) {
    params_.weight_decay = value;
    return *this;
  }
  DenseStepTester& lr_decay(double value) {
    params_.lr_decay = value;
    return *this;
  }
  DenseStepTester& maximize(bool value) {
    params_.maximize = value ? 1 : 0;
    return *this;
  }
  DenseStepTester& eps_mode(adagrad_eps_mode value) {
    params_.eps_mode = value;
    return *this;
  }
  DenseStepTester& fma(bool value) {
    params_.fma = value ? 1 : 0;
    return *this;
  }
  DenseStepTester& seed(std::uint64_t value) {
    seed_ = value;
    return *this;
  }
  // Put `value` at `position` of one buffer ('w', 'g' or 'G'); the rest stays
  // random. May be called several times.
  DenseStepTester& special(char buffer, std::size_t position, T value) {
    specials_.push_back({buffer, position, value});
    return *this;
  }
  // Draw every element of every buffer from special_values().
  DenseStepTester& all_special(bool value) {
    all_special_ = value;
    return *this;
  }

  void Test(adagrad_isa isa) const {
    GuardedBuffer<T> w(n_, misalign_w_), g(n_, misalign_g_), G(n_, misalign_G_);
    GuardedBuffer<T> w_ref(n_, misalign_w_), g_ref(n_, misalign_g_), G_ref(n_, misalign_G_);
    std::mt19937_64 rng(seed_ ^ (n_ * 0x9e3779b97f4a7c15ull));
    fill(w, g, G, rng);
    for (std::size_t i = 0; i < n_; ++i) {
      w_ref[i] = w[i];
      G_ref[i] = G[i];
    }
    const std::vector<T> specials = special_values<T>();
    for (std::size_t s = 0; s < steps_; ++s) {
      if (s > 0) refill_gradient(g, rng, specials);
      for (std::size_t i = 0; i < n_; ++i) g_ref[i] = g[i];
      adagrad_params p = params_;
      p.step = s + 1;
      ASSERT_EQ(ADAGRAD_OK, step_on(isa, w.data(), g.data(), G.data(), n_, p)) << describe(isa);
      ASSERT_EQ(ADAGRAD_OK,
                step_on(ADAGRAD_ISA_SCALAR, w_ref.data(), g_ref.data(), G_ref.data(), n_, p));
      ASSERT_TRUE(agree("G", G, G_ref, isa, s)) << describe(isa);
      ASSERT_TRUE(agree("w", w, w_ref, isa, s)) << describe(isa);
      ASSERT_TRUE(agree("g", g, g_ref, isa, s)) << describe(isa) << " (g must not be written)";
      for (const GuardedBuffer<T>* buffer : {&w, &g, &G}) {
        std::ptrdiff_t at = 0;
        ASSERT_TRUE(buffer->guards_intact(&at))
            << "guard element " << at << " changed; " << describe(isa);
      }
    }
  }

 private:
  struct Special {
    char buffer;
    std::size_t position;
    T value;
  };

  void fill(GuardedBuffer<T>& w, GuardedBuffer<T>& g, GuardedBuffer<T>& G,
            std::mt19937_64& rng) const {
    const std::vector<T> specials = special_values<T>();
    std::uniform_real_distribution<double> weight(-2.0, 2.0), sum_sq(0.0, 4.0);
    std::uniform_int_distribution<std::size_t> pick(0, specials.size() - 1);
    for (std::size_t i = 0; i < n_; ++i) {
      w[i] = all_special_ ? specials[pick(rng)] : static_cast<T>(weight(rng));
      G[i] = all_special_ ? specials[pick(rng)] : static_cast<T>(sum_sq(rng));
    }
    for (const Special& s : specials_) {
      if (s.buffer == 'w' && s.position < n_) w[s.position] = s.value;
      if (s.buffer == 'G' && s.position < n_) G[s.position] = s.value;
    }
    refill_gradient(g, rng, specials);
  }

  void refill_gradient(GuardedBuffer<T>& g, std::mt19937_64& rng,
                       const std::vector<T>& specials) const {
    std::uniform_real_distribution<double> gradient(-1.0, 1.0);
    std::uniform_int_distribution<std::size_t> pick(0, specials.size() - 1);
    for (std::size_t i = 0; i < n_; ++i) {
      g[i] = all_special_ ? specials[pick(rng)] : static_cast<T>(gradient(rng));
    }
    for (const Special& s : specials_) {
      if (s.buffer == 'g' && s.position < n_) g[s.position] = s.value;
    }
  }

  bool agree(const char* name, const GuardedBuffer<T>& got, const GuardedBuffer<T>& want,
             adagrad_isa isa, std::size_t step_index) const {
    for (std::size_t i = 0; i < n_; ++i) {
      if (!same_value(got[i], want[i])) {
        ADD_FAILURE() << name << "[" << i << "] after step " << step_index + 1 << " on "
                      << adagrad_isa_name(isa) << ": " << hex(got[i]) << ", scalar reference "
                      << hex(want[i]);
        return false;
      }
    }
    return true;
  }

  std::string describe(adagrad_isa isa) const {
    std::ostringstream text;
    text << (sizeof(T) == 4 ? "f32" : "f64") << " isa=" << adagrad_isa_name(isa) << " n=" << n_
         << " misalign(w,g,G)=(" << misalign_w_ << "," << misalign_g_ << "," << misalign_G_
         << ") steps=" << steps_ << " lr=" << params_.lr << " eps=" << params_.eps
         << " wd=" << params_.weight_decay << " lr_decay=" << params_.lr_decay
         << " maximize=" << params_.maximize << " eps_mode=" << params_.eps_mode
         << " fma=" << params_.fma << " specials=" << specials_.size()
         << " all_special=" << all_special_ << " seed=" << seed_;
    return text.str();
  }

  std::size_t n_ = 1;
  std::size_t misalign_w_ = 0, misalign_g_ = 0, misalign_G_ = 0;
  std::size_t steps_ = 1;
  std::uint64_t seed_ = 42;
  bool all_special_ = false;
  adagrad_params params_;
  std::vector<Special> specials_;
};

}  // namespace adagrad_test

#endif  // ADAGRAD_TESTS_DENSE_STEP_TESTER_H_
