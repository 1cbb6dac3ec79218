// SPDX-License-Identifier: BSD-3-Clause
// The library against the seed notebook's own NumPy code, bit for bit.
// tests/seed_reference.py runs the notebook's AdaGrad class (ctest runs it
// first, with Debian's python3-numpy) and writes every input and result; this
// test replays each case through the dispatched entry and every usable ISA.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "adagrad/adagrad.h"
#include "guarded_buffer.h"

namespace adagrad_test {
namespace {

struct SeedCase {
  std::string name, dtype;
  std::size_t n = 0, steps = 0;
  double lr = 0, eps = 0, weight_decay = 0;
  std::vector<std::uint64_t> w0, G0;
  // Per step: gradient, expected w, expected G (bit patterns).
  std::vector<std::vector<std::uint64_t>> g, w, G;
};

std::vector<std::uint64_t> read_patterns(std::istringstream& line, std::size_t n) {
  std::vector<std::uint64_t> values(n);
  for (auto& v : values) {
    std::string token;
    line >> token;
    v = std::stoull(token, nullptr, 16);
  }
  return values;
}

std::vector<SeedCase> load_cases() {
  const char* path = std::getenv("ADAGRAD_SEED_REFERENCE");
  std::vector<SeedCase> cases;
  if (path == nullptr) return cases;
  std::ifstream file(path);
  std::string text;
  while (std::getline(file, text)) {
    std::istringstream line(text);
    std::string tag;
    line >> tag;
    if (tag == "case") {
      SeedCase c;
      line >> c.name >> c.dtype >> c.n >> c.lr >> c.eps >> c.weight_decay >> c.steps;
      cases.push_back(c);
    } else if (tag == "w0") {
      cases.back().w0 = read_patterns(line, cases.back().n);
    } else if (tag == "G0") {
      cases.back().G0 = read_patterns(line, cases.back().n);
    } else if (tag == "step") {
      SeedCase& c = cases.back();
      std::string bar;
      c.g.push_back(read_patterns(line, c.n));
      line >> bar;
      c.w.push_back(read_patterns(line, c.n));
      line >> bar;
      c.G.push_back(read_patterns(line, c.n));
    }
  }
  return cases;
}

template <class T>
adagrad_status run_step(int isa, T* w, const T* g, T* G, std::size_t n, const adagrad_params* p) {
  if constexpr (sizeof(T) == 4) {
    return isa < 0 ? adagrad_step(w, g, G, n, p)
                   : adagrad_step_isa(static_cast<adagrad_isa>(isa), w, g, G, n, p);
  } else {
    return isa < 0 ? adagrad_step_f64(w, g, G, n, p)
                   : adagrad_step_f64_isa(static_cast<adagrad_isa>(isa), w, g, G, n, p);
  }
}

// Replays one case; isa < 0 is the dispatched entry. Values compare bit for
// bit, with no NaN exception: the seed cases hold none.
template <class T>
void replay(const SeedCase& c, int isa) {
  using bits = bits_of<T>;
  std::vector<T> w(c.n), g(c.n), G(c.n);
  for (std::size_t i = 0; i < c.n; ++i) {
    w[i] = from_bits<T>(static_cast<bits>(c.w0[i]));
    G[i] = from_bits<T>(static_cast<bits>(c.G0[i]));
  }
  adagrad_params p = adagrad_params_default();
  p.lr = c.lr;
  p.eps = c.eps;
  p.weight_decay = c.weight_decay;
  const std::string path =
      isa < 0 ? std::string("dispatched") : adagrad_isa_name(static_cast<adagrad_isa>(isa));
  for (std::size_t s = 0; s < c.steps; ++s) {
    for (std::size_t i = 0; i < c.n; ++i) g[i] = from_bits<T>(static_cast<bits>(c.g[s][i]));
    ASSERT_EQ(ADAGRAD_OK, run_step(isa, w.data(), g.data(), G.data(), c.n, &p));
    for (std::size_t i = 0; i < c.n; ++i) {
      ASSERT_EQ(static_cast<bits>(c.G[s][i]), to_bits(G[i]))
          << c.name << " " << c.dtype << " on " << path << ": G[" << i << "] after step " << s + 1
          << " is " << hex(G[i]) << ", NumPy " << hex(from_bits<T>(static_cast<bits>(c.G[s][i])));
      ASSERT_EQ(static_cast<bits>(c.w[s][i]), to_bits(w[i]))
          << c.name << " " << c.dtype << " on " << path << ": w[" << i << "] after step " << s + 1
          << " is " << hex(w[i]) << ", NumPy " << hex(from_bits<T>(static_cast<bits>(c.w[s][i])));
    }
  }
}

TEST(SeedNotebook, EveryCaseBitForBitOnEveryPath) {
  const std::vector<SeedCase> cases = load_cases();
  // The reference file comes from the ctest fixture; without it this test
  // has nothing to compare against, which is a failure, not a skip.
  ASSERT_GE(cases.size(), 14u) << "ADAGRAD_SEED_REFERENCE is unset or the file is incomplete";
  std::size_t float64_cases = 0;
  for (const SeedCase& c : cases) {
    ASSERT_EQ(c.steps, c.g.size()) << c.name;
    for (int isa = -1; isa < ADAGRAD_ISA_COUNT; ++isa) {
      if (isa >= 0 && !adagrad_isa_supported(static_cast<adagrad_isa>(isa))) continue;
      if (c.dtype == "float64") {
        replay<double>(c, isa);
      } else {
        ASSERT_EQ("float32", c.dtype);
        replay<float>(c, isa);
      }
      if (HasFatalFailure()) return;
    }
    float64_cases += c.dtype == "float64";
  }
  EXPECT_GE(float64_cases, 10u);
}

}  // namespace
}  // namespace adagrad_test
