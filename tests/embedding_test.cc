// SPDX-License-Identifier: BSD-3-Clause
// Embedding tables: the sparse steps (per-element and row-wise state) and the
// dense row-wise step.
//
//  - RowwiseTranscription: the scalar path against a transcription, in this
//    file, of the documented row-wise order (canonical 16-lane reduction).
//  - EmbeddingTest (every ISA): the row-wise ukernels over a sweep of dims,
//    misalignments, switches and special values, bit for bit against the
//    scalar path; the sparse steps against a reference built here from the
//    documented semantics (duplicates summed in batch order, or applied in
//    turn), for both index types, small batches (insertion sort) and large
//    ones (radix sort over several digits).
//  - Contract: every error status, in the documented order, with not one
//    byte of any buffer changed; no-ops; workspace sizes.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
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

float lr_t(const adagrad_params& p) {
  double lr = p.lr;
  if (p.lr_decay != 0.0) lr = p.lr / (1.0 + static_cast<double>(p.step - 1) * p.lr_decay);
  return static_cast<float>(lr);
}

// The documented row-wise order, written out independently of the library.
void rowwise_transcription(float* w, const float* g, float* G, std::size_t dim,
                           const adagrad_params& p) {
  const float lr = lr_t(p);
  const auto eps = static_cast<float>(p.eps);
  const auto wd = static_cast<float>(p.weight_decay);
  std::vector<float> grad(dim);
  for (std::size_t j = 0; j < dim; ++j) {
    float x = g[j];
    if (p.maximize) x = -x;
    if (p.weight_decay != 0.0) x = p.fma ? std::fma(wd, w[j], x) : x + wd * w[j];
    grad[j] = x;
  }
  float partial[16] = {};
  for (std::size_t j = 0; j < dim; ++j) {
    float& s = partial[j % 16];
    s = p.fma ? std::fma(grad[j], grad[j], s) : s + grad[j] * grad[j];
  }
  for (int k = 0; k < 8; ++k) partial[k] = partial[k] + partial[k + 8];
  for (int k = 0; k < 4; ++k) partial[k] = partial[k] + partial[k + 4];
  for (int k = 0; k < 2; ++k) partial[k] = partial[k] + partial[k + 2];
  const float sum = partial[0] + partial[1];
  *G = *G + sum / static_cast<float>(dim);
  const float denom =
      p.eps_mode == ADAGRAD_EPS_INSIDE_SQRT ? std::sqrt(*G + eps) : std::sqrt(*G) + eps;
  const float rate = lr / denom;
  for (std::size_t j = 0; j < dim; ++j) w[j] = w[j] - rate * grad[j];
}

template <class T>
void expect_bits(const T* got, const T* want, std::size_t n, const std::string& what) {
  for (std::size_t i = 0; i < n; ++i) {
    ASSERT_TRUE(same_value(got[i], want[i]))
        << what << "[" << i << "]: " << hex(got[i]) << ", expected " << hex(want[i]);
  }
}

// The switches every row-wise and sparse sweep goes through.
std::vector<adagrad_params> switch_settings() {
  std::vector<adagrad_params> settings;
  for (int bits = 0; bits < 16; ++bits) {
    adagrad_params p = adagrad_params_default();
    p.lr = 0.05;
    p.maximize = bits & 1;
    p.weight_decay = (bits & 2) ? 0.1 : 0.0;
    p.eps_mode = (bits & 4) ? ADAGRAD_EPS_INSIDE_SQRT : ADAGRAD_EPS_OUTSIDE_SQRT;
    p.fma = (bits & 8) ? 1 : 0;
    p.lr_decay = (bits & 4) ? 0.01 : 0.0;
    p.step = 3;
    settings.push_back(p);
  }
  return settings;
}

const std::size_t kDims[] = {1,  2,  3,  4,  5,  7,   8,   9,   15,  16,  17,  23,  31,  32,  33,
                             47, 48, 63, 64, 65, 100, 128, 129, 255, 256, 257, 300, 513, 1000};

TEST(RowwiseTranscription, ScalarPathFollowsTheDocumentedOrder) {
  std::mt19937_64 rng(7);
  std::uniform_real_distribution<double> value(-2.0, 2.0), state(0.0, 3.0);
  for (const adagrad_params& p : switch_settings()) {
    for (std::size_t dim : kDims) {
      const std::size_t rows = 3;
      std::vector<float> w(rows * dim), g(rows * dim), G(rows);
      for (auto& x : w) x = static_cast<float>(value(rng));
      for (auto& x : g) x = static_cast<float>(value(rng));
      for (auto& x : G) x = static_cast<float>(state(rng));
      std::vector<float> w_want = w, G_want = G;
      for (std::size_t r = 0; r < rows; ++r) {
        rowwise_transcription(&w_want[r * dim], &g[r * dim], &G_want[r], dim, p);
      }
      ASSERT_EQ(ADAGRAD_OK, adagrad_rowwise_step_isa(ADAGRAD_ISA_SCALAR, w.data(), g.data(),
                                                     G.data(), rows, dim, &p, nullptr));
      expect_bits(G.data(), G_want.data(), rows, "G, dim " + std::to_string(dim));
      expect_bits(w.data(), w_want.data(), w.size(), "w, dim " + std::to_string(dim));
    }
  }
}

// A worked example: dim 4, g = (1, 2, 3, 4): s = 30, mean 7.5.
TEST(RowwiseTranscription, WorkedExample) {
  float w[4] = {1, 1, 1, 1};
  const float g[4] = {1, 2, 3, 4};
  float G = 0.5f;
  adagrad_params p = adagrad_params_default();
  p.lr = 0.5;
  p.eps = 0;
  ASSERT_EQ(ADAGRAD_OK, adagrad_rowwise_step(w, g, &G, 1, 4, &p, nullptr));
  EXPECT_EQ(8.0f, G);
  const float rate = 0.5f / std::sqrt(8.0f);
  for (int j = 0; j < 4; ++j) EXPECT_EQ(1.0f - rate * g[j], w[j]) << j;
}

class EmbeddingTest : public ::testing::TestWithParam<adagrad_isa> {
 protected:
  void SetUp() override {
    if (!adagrad_isa_supported(GetParam())) {
      GTEST_SKIP() << adagrad_isa_name(GetParam()) << " is not usable on this CPU";
    }
  }
};

// The dense row-wise step on one ISA against the scalar path: every dim of
// kDims, each switch setting, w and g misaligned by 0 to 3 floats, guards.
TEST_P(EmbeddingTest, RowwiseStepEveryDimAndSwitch) {
  const adagrad_isa isa = GetParam();
  std::mt19937_64 rng(11);
  std::uniform_real_distribution<double> value(-2.0, 2.0), state(0.0, 3.0);
  for (const adagrad_params& p : switch_settings()) {
    for (std::size_t dim : kDims) {
      const std::size_t misalign = dim % 4;
      const std::size_t rows = 2;
      GuardedBuffer<float> w(rows * dim, misalign), g(rows * dim, (misalign + 1) % 4),
          G(rows, 3 - misalign);
      for (std::size_t i = 0; i < rows * dim; ++i) {
        w[i] = static_cast<float>(value(rng));
        g[i] = static_cast<float>(value(rng));
      }
      for (std::size_t r = 0; r < rows; ++r) G[r] = static_cast<float>(state(rng));
      std::vector<float> w_want(w.data(), w.data() + rows * dim), G_want(G.data(), G.data() + rows);
      const std::vector<float> g_before(g.data(), g.data() + rows * dim);
      ASSERT_EQ(ADAGRAD_OK, adagrad_rowwise_step_isa(ADAGRAD_ISA_SCALAR, w_want.data(), g.data(),
                                                     G_want.data(), rows, dim, &p, nullptr));
      ASSERT_EQ(ADAGRAD_OK, adagrad_rowwise_step_isa(isa, w.data(), g.data(), G.data(), rows, dim,
                                                     &p, nullptr));
      const std::string where = std::string(adagrad_isa_name(isa)) + ", dim " +
                                std::to_string(dim) + ", fma " + std::to_string(p.fma);
      expect_bits(G.data(), G_want.data(), rows, "G, " + where);
      expect_bits(w.data(), w_want.data(), rows * dim, "w, " + where);
      expect_bits(g.data(), g_before.data(), rows * dim, "g (read only), " + where);
      for (const GuardedBuffer<float>* b : {&w, &g, &G}) {
        std::ptrdiff_t at = 0;
        ASSERT_TRUE(b->guards_intact(&at)) << "guard " << at << " changed, " << where;
      }
    }
  }
}

// Special values (signed zeros, subnormals, infinities, NaN, squares that
// overflow) at every position of a row, for every lane of the reduction.
TEST_P(EmbeddingTest, RowwiseStepSpecialValues) {
  const adagrad_isa isa = GetParam();
  const std::vector<float> specials = special_values<float>();
  std::mt19937_64 rng(13);
  std::uniform_int_distribution<std::size_t> pick(0, specials.size() - 1);
  for (const adagrad_params& p : switch_settings()) {
    for (std::size_t dim : {std::size_t{16}, std::size_t{37}, std::size_t{64}}) {
      for (int trial = 0; trial < 8; ++trial) {
        const std::size_t rows = 4;
        std::vector<float> w(rows * dim), g(rows * dim), G(rows);
        for (auto& x : w) x = specials[pick(rng)];
        for (auto& x : g) x = specials[pick(rng)];
        for (auto& x : G) x = std::fabs(specials[pick(rng)]);
        // One row with a single special value among ordinary ones.
        for (std::size_t j = 0; j < dim; ++j) {
          w[j] = 0.5f;
          g[j] = 0.25f * static_cast<float>(j % 7);
        }
        g[trial % dim] = specials[pick(rng)];
        std::vector<float> w_want = w, G_want = G;
        ASSERT_EQ(ADAGRAD_OK, adagrad_rowwise_step_isa(ADAGRAD_ISA_SCALAR, w_want.data(), g.data(),
                                                       G_want.data(), rows, dim, &p, nullptr));
        ASSERT_EQ(ADAGRAD_OK, adagrad_rowwise_step_isa(isa, w.data(), g.data(), G.data(), rows, dim,
                                                       &p, nullptr));
        expect_bits(G.data(), G_want.data(), rows, "G");
        expect_bits(w.data(), w_want.data(), w.size(), "w");
      }
    }
  }
}

// ---- Sparse steps --------------------------------------------------------

struct Batch {
  std::size_t num_rows;
  std::size_t dim;
  std::vector<float> table, state, grads;
  std::vector<std::int64_t> indices;
};

// A batch whose indices fall on `hot` rows with probability 1/2 (so rows
// repeat, some many times) and anywhere else otherwise.
Batch make_batch(std::size_t num_rows, std::size_t dim, std::size_t num_indices, bool rowwise,
                 std::size_t hot, std::uint64_t seed) {
  Batch b;
  b.num_rows = num_rows;
  b.dim = dim;
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> value(-2.0, 2.0), state(0.0, 3.0);
  std::uniform_int_distribution<std::size_t> any(0, num_rows - 1), hot_row(0, hot - 1);
  b.table.resize(num_rows * dim);
  b.state.resize(rowwise ? num_rows : num_rows * dim);
  b.grads.resize(num_indices * dim);
  for (auto& x : b.table) x = static_cast<float>(value(rng));
  for (auto& x : b.state) x = static_cast<float>(state(rng));
  for (auto& x : b.grads) x = static_cast<float>(value(rng));
  for (std::size_t k = 0; k < num_indices; ++k) {
    const std::size_t row = (rng() & 1) ? hot_row(rng) * (num_rows / hot) : any(rng);
    b.indices.push_back(static_cast<std::int64_t>(row));
  }
  return b;
}

// The documented semantics, built from the scalar dense and row-wise steps:
// SUM adds each row's gradients in batch order and updates once; SEQUENTIAL
// updates once per occurrence, in batch order.
void expected_sparse(Batch& b, bool rowwise, adagrad_duplicates dup, const adagrad_params& p) {
  const std::size_t dim = b.dim;
  std::vector<bool> done(b.num_rows, false);
  for (std::size_t k = 0; k < b.indices.size(); ++k) {
    const auto row = static_cast<std::size_t>(b.indices[k]);
    float* w = &b.table[row * dim];
    float* G = rowwise ? &b.state[row] : &b.state[row * dim];
    std::vector<float> grad(b.grads.begin() + static_cast<std::ptrdiff_t>(k * dim),
                            b.grads.begin() + static_cast<std::ptrdiff_t>((k + 1) * dim));
    if (dup == ADAGRAD_DUPLICATES_SUM) {
      if (done[row]) continue;
      done[row] = true;
      for (std::size_t q = k + 1; q < b.indices.size(); ++q) {
        if (static_cast<std::size_t>(b.indices[q]) != row) continue;
        for (std::size_t j = 0; j < dim; ++j) grad[j] = grad[j] + b.grads[q * dim + j];
      }
    }
    if (rowwise) {
      rowwise_transcription(w, grad.data(), G, dim, p);
    } else {
      ASSERT_EQ(ADAGRAD_OK, adagrad_step_isa(ADAGRAD_ISA_SCALAR, w, grad.data(), G, dim, &p));
    }
  }
}

adagrad_status run_sparse(adagrad_isa isa, bool rowwise, bool int32, Batch& b,
                          adagrad_duplicates dup, const adagrad_params& p) {
  const std::size_t n = b.indices.size();
  std::vector<unsigned char> workspace(adagrad_sparse_workspace_size(n, b.dim, dup));
  if (int32) {
    // The _i32 entry points take the dispatched ISA of their family.
    EXPECT_EQ(dispatched_isa(rowwise ? ADAGRAD_FAMILY_ROWWISE : ADAGRAD_FAMILY_SPARSE), isa)
        << "int32 runs need the dispatched ISA";
    std::vector<std::int32_t> narrow(b.indices.begin(), b.indices.end());
    auto* step = rowwise ? adagrad_rowwise_sparse_step_i32 : adagrad_sparse_step_i32;
    return step(b.table.data(), b.state.data(), b.num_rows, b.dim, narrow.data(), n, b.grads.data(),
                &p, dup, workspace.data(), workspace.size(), nullptr);
  }
  auto* step = rowwise ? adagrad_rowwise_sparse_step_isa : adagrad_sparse_step_isa;
  return step(isa, b.table.data(), b.state.data(), b.num_rows, b.dim, b.indices.data(), n,
              b.grads.data(), &p, dup, workspace.data(), workspace.size(), nullptr);
}

void check_sparse(adagrad_isa isa, bool rowwise, bool int32, std::size_t num_rows, std::size_t dim,
                  std::size_t num_indices, std::size_t hot, adagrad_duplicates dup,
                  const adagrad_params& p, std::uint64_t seed) {
  Batch got = make_batch(num_rows, dim, num_indices, rowwise, hot, seed);
  Batch want = got;
  expected_sparse(want, rowwise, dup, p);
  ASSERT_EQ(ADAGRAD_OK, run_sparse(isa, rowwise, int32, got, dup, p));
  const std::string where =
      std::string(adagrad_isa_name(isa)) + (rowwise ? " row-wise" : "") +
      (int32 ? " int32" : " int64") + (dup == ADAGRAD_DUPLICATES_SUM ? " SUM" : " SEQUENTIAL") +
      ", rows " + std::to_string(num_rows) + ", dim " + std::to_string(dim) + ", indices " +
      std::to_string(num_indices) + ", fma " + std::to_string(p.fma);
  expect_bits(got.state.data(), want.state.data(), got.state.size(), "state, " + where);
  expect_bits(got.table.data(), want.table.data(), got.table.size(), "table, " + where);
  expect_bits(got.grads.data(), want.grads.data(), got.grads.size(), "grads, " + where);
}

TEST_P(EmbeddingTest, SparseStepsMatchTheDocumentedSemantics) {
  const adagrad_isa isa = GetParam();
  struct Shape {
    std::size_t rows, dim, indices, hot;
  };
  // Small batches take the insertion sort, larger ones the radix sort (5000
  // rows: two digits); dims below, at and above the 256-column chunk (a
  // row-wise SUM row of at most one chunk is summed once and stepped whole).
  const Shape shapes[] = {{10, 1, 1, 1},      {10, 5, 7, 2},      {50, 16, 64, 3},
                          {50, 33, 65, 4},    {5000, 8, 3000, 7}, {5000, 128, 600, 5},
                          {300, 256, 200, 3}, {300, 257, 200, 3}, {40, 513, 90, 2}};
  for (const adagrad_params& p : switch_settings()) {
    for (const Shape& s : shapes) {
      for (bool rowwise : {false, true}) {
        for (adagrad_duplicates dup : {ADAGRAD_DUPLICATES_SUM, ADAGRAD_DUPLICATES_SEQUENTIAL}) {
          check_sparse(isa, rowwise, false, s.rows, s.dim, s.indices, s.hot, dup, p,
                       s.rows * 31 + s.dim);
          if (HasFatalFailure()) return;
        }
      }
    }
  }
}

TEST_P(EmbeddingTest, Int32IndicesOnTheActiveIsa) {
  adagrad_params p = adagrad_params_default();
  p.weight_decay = 0.01;
  bool ran = false;
  for (bool rowwise : {false, true}) {
    // The _i32 entry points dispatch: only their family's ISA can run them.
    if (GetParam() != dispatched_isa(rowwise ? ADAGRAD_FAMILY_ROWWISE : ADAGRAD_FAMILY_SPARSE)) {
      continue;
    }
    ran = true;
    for (adagrad_duplicates dup : {ADAGRAD_DUPLICATES_SUM, ADAGRAD_DUPLICATES_SEQUENTIAL}) {
      check_sparse(GetParam(), rowwise, true, 3000, 40, 2000, 9, dup, p, 5);
      check_sparse(GetParam(), rowwise, true, 30, 17, 20, 2, dup, p, 6);
    }
  }
  if (!ran) GTEST_SKIP() << "the _i32 entry points dispatch to another ISA";
}

// Moving occurrences of different rows past each other changes nothing: only
// each row's own order of occurrences matters.
TEST_P(EmbeddingTest, OnlyEachRowsOwnOrderMatters) {
  adagrad_params p = adagrad_params_default();
  p.lr = 0.1;
  for (bool rowwise : {false, true}) {
    for (adagrad_duplicates dup : {ADAGRAD_DUPLICATES_SUM, ADAGRAD_DUPLICATES_SEQUENTIAL}) {
      Batch a = make_batch(100, 24, 300, rowwise, 4, 17);
      // b: a stable sort of a's occurrences by row, gradients moved along.
      Batch b = a;
      std::vector<std::size_t> order(a.indices.size());
      for (std::size_t k = 0; k < order.size(); ++k) order[k] = k;
      std::stable_sort(order.begin(), order.end(),
                       [&](std::size_t x, std::size_t y) { return a.indices[x] > a.indices[y]; });
      for (std::size_t k = 0; k < order.size(); ++k) {
        b.indices[k] = a.indices[order[k]];
        std::copy_n(&a.grads[order[k] * a.dim], a.dim, &b.grads[k * a.dim]);
      }
      ASSERT_EQ(ADAGRAD_OK, run_sparse(GetParam(), rowwise, false, a, dup, p));
      ASSERT_EQ(ADAGRAD_OK, run_sparse(GetParam(), rowwise, false, b, dup, p));
      expect_bits(a.table.data(), b.table.data(), a.table.size(), "table");
      expect_bits(a.state.data(), b.state.data(), a.state.size(), "state");
    }
  }
}

// SUM and SEQUENTIAL agree when no index repeats; they differ when one does.
TEST_P(EmbeddingTest, DuplicateModesDifferOnlyOnDuplicates) {
  adagrad_params p = adagrad_params_default();
  p.lr = 0.1;
  for (bool rowwise : {false, true}) {
    Batch unique = make_batch(1000, 20, 50, rowwise, 1, 3);
    for (std::size_t k = 0; k < unique.indices.size(); ++k) {
      unique.indices[k] = static_cast<std::int64_t>(k * 19);
    }
    Batch sum = unique, sequential = unique;
    ASSERT_EQ(ADAGRAD_OK, run_sparse(GetParam(), rowwise, false, sum, ADAGRAD_DUPLICATES_SUM, p));
    ASSERT_EQ(ADAGRAD_OK,
              run_sparse(GetParam(), rowwise, false, sequential, ADAGRAD_DUPLICATES_SEQUENTIAL, p));
    expect_bits(sum.table.data(), sequential.table.data(), sum.table.size(), "table");
    unique.indices[1] = unique.indices[0];
    sum = unique;
    sequential = unique;
    ASSERT_EQ(ADAGRAD_OK, run_sparse(GetParam(), rowwise, false, sum, ADAGRAD_DUPLICATES_SUM, p));
    ASSERT_EQ(ADAGRAD_OK,
              run_sparse(GetParam(), rowwise, false, sequential, ADAGRAD_DUPLICATES_SEQUENTIAL, p));
    EXPECT_NE(0, std::memcmp(sum.table.data(), sequential.table.data(), 20 * sizeof(float)));
  }
}

// ---- ADAGRAD_DUPLICATES_TORCH ---------------------------------------------

// torch.optim.Adagrad's sparse update of one element, as the header
// documents it, written out independently of the library.
void torch_element(float& w, float g, float& G, const adagrad_params& p) {
  const float lr = lr_t(p);
  const auto eps = static_cast<float>(p.eps);
  const auto wd = static_cast<float>(p.weight_decay);
  if (p.maximize) g = -g;
  if (p.weight_decay != 0.0) g = p.fma ? std::fma(wd, w, g) : g + wd * w;
  G = G + g * g;
  const float d = p.eps_mode == ADAGRAD_EPS_INSIDE_SQRT ? std::sqrt(G + eps) : std::sqrt(G) + eps;
  const float q = g / d;
  w = p.fma ? std::fma(-lr, q, w) : w + -lr * q;
}

// The batch's positions in the order PyTorch's coalesce() sums them: std::sort
// on (index, position) comparing indices (torch.sort(stable=False)). Only
// libstdc++'s std::sort is the documented order.
std::vector<std::size_t> coalesce_order(const std::vector<std::int64_t>& indices) {
  std::vector<std::pair<std::int64_t, std::size_t>> pairs;
  for (std::size_t k = 0; k < indices.size(); ++k) pairs.emplace_back(indices[k], k);
  std::sort(pairs.begin(), pairs.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<std::size_t> order;
  for (const auto& pair : pairs) order.push_back(pair.second);
  return order;
}

// The documented TORCH semantics: each row's occurrences summed in
// coalesce_order, then one update (torch_element, or the row-wise order).
void expected_torch(Batch& b, bool rowwise, const adagrad_params& p) {
  const std::size_t dim = b.dim;
  const std::vector<std::size_t> order = coalesce_order(b.indices);
  for (std::size_t i = 0; i < order.size();) {
    const auto row = static_cast<std::size_t>(b.indices[order[i]]);
    std::vector<float> sum(&b.grads[order[i] * dim], &b.grads[order[i] * dim] + dim);
    std::size_t j = i + 1;
    for (; j < order.size() && static_cast<std::size_t>(b.indices[order[j]]) == row; ++j) {
      for (std::size_t c = 0; c < dim; ++c) sum[c] = sum[c] + b.grads[order[j] * dim + c];
    }
    if (rowwise) {
      rowwise_transcription(&b.table[row * dim], sum.data(), &b.state[row], dim, p);
    } else {
      for (std::size_t c = 0; c < dim; ++c) {
        torch_element(b.table[row * dim + c], sum[c], b.state[row * dim + c], p);
      }
    }
    i = j;
  }
}

// Every ISA against the documented TORCH semantics (with libstdc++, whose
// std::sort is the order) and against the scalar path: small batches (the
// insertion sort alone), large ones with hot rows repeated hundreds of
// times; dims across vector widths and the 256-column chunk.
TEST_P(EmbeddingTest, TorchModeMatchesTorchsSparseStep) {
  const adagrad_isa isa = GetParam();
  struct Shape {
    std::size_t rows, dim, indices, hot;
  };
  const Shape shapes[] = {{10, 1, 1, 1},      {10, 5, 7, 2},      {50, 16, 17, 3},
                          {50, 33, 65, 4},    {5000, 8, 3000, 7}, {5000, 31, 4000, 2},
                          {300, 257, 200, 3}, {40, 513, 90, 2},   {100000, 64, 20000, 50}};
  for (const adagrad_params& p : switch_settings()) {
    for (const Shape& s : shapes) {
      for (bool rowwise : {false, true}) {
        Batch got = make_batch(s.rows, s.dim, s.indices, rowwise, s.hot, s.rows * 7 + s.dim);
        Batch scalar = got, want = got;
        ASSERT_EQ(ADAGRAD_OK, run_sparse(ADAGRAD_ISA_SCALAR, rowwise, false, scalar,
                                         ADAGRAD_DUPLICATES_TORCH, p));
        ASSERT_EQ(ADAGRAD_OK, run_sparse(isa, rowwise, false, got, ADAGRAD_DUPLICATES_TORCH, p));
        const std::string where =
            std::string(adagrad_isa_name(isa)) + (rowwise ? " row-wise" : "") + " TORCH, rows " +
            std::to_string(s.rows) + ", dim " + std::to_string(s.dim) + ", indices " +
            std::to_string(s.indices) + ", fma " + std::to_string(p.fma) + ", maximize " +
            std::to_string(p.maximize);
        expect_bits(got.state.data(), scalar.state.data(), got.state.size(), "state, " + where);
        expect_bits(got.table.data(), scalar.table.data(), got.table.size(), "table, " + where);
#if defined(__GLIBCXX__)
        expected_torch(want, rowwise, p);
        expect_bits(got.state.data(), want.state.data(), got.state.size(), "state, " + where);
        expect_bits(got.table.data(), want.table.data(), got.table.size(), "table, " + where);
#endif
        if (HasFatalFailure()) return;
      }
    }
  }
}

// int32 and int64 indices give the same TORCH order and bits (on the ISA
// the _i32 entry point dispatches to).
TEST_P(EmbeddingTest, TorchModeIndexWidthsAgree) {
  adagrad_params p = adagrad_params_default();
  p.lr = 0.1;
  Batch a = make_batch(3000, 12, 2500, false, 5, 23);
  Batch b = a;
  ASSERT_EQ(ADAGRAD_OK, run_sparse(GetParam(), false, false, a, ADAGRAD_DUPLICATES_TORCH, p));
  if (GetParam() == dispatched_isa(ADAGRAD_FAMILY_SPARSE)) {
    ASSERT_EQ(ADAGRAD_OK, run_sparse(GetParam(), false, true, b, ADAGRAD_DUPLICATES_TORCH, p));
    expect_bits(a.table.data(), b.table.data(), a.table.size(), "table, int32 against int64");
    expect_bits(a.state.data(), b.state.data(), a.state.size(), "state, int32 against int64");
  }
}

// TORCH differs from SUM only where a row occurs three times or more (two
// values add the same in either order) or in the update's order.
TEST_P(EmbeddingTest, TorchModeSumsPairsAsSumDoes) {
  adagrad_params p = adagrad_params_default();
  p.lr = 0.1;
  Batch unique = make_batch(1000, 20, 300, true, 1, 3);
  for (std::size_t k = 0; k < unique.indices.size(); ++k) {
    unique.indices[k] = static_cast<std::int64_t>((k % 150) * 6);  // every row twice
  }
  Batch sum = unique, torch = unique;
  ASSERT_EQ(ADAGRAD_OK, run_sparse(GetParam(), true, false, sum, ADAGRAD_DUPLICATES_SUM, p));
  ASSERT_EQ(ADAGRAD_OK, run_sparse(GetParam(), true, false, torch, ADAGRAD_DUPLICATES_TORCH, p));
  expect_bits(torch.table.data(), sum.table.data(), sum.table.size(), "row-wise table");
  expect_bits(torch.state.data(), sum.state.data(), sum.state.size(), "row-wise state");
}

// The scalar path too: its sparse driver is the one every ISA shares.
std::vector<adagrad_isa> scalar_and_simd_isas() {
  std::vector<adagrad_isa> isas{ADAGRAD_ISA_SCALAR};
  isas.insert(isas.end(), std::begin(kSimdIsas), std::end(kSimdIsas));
  return isas;
}

INSTANTIATE_TEST_SUITE_P(EveryIsa, EmbeddingTest, ::testing::ValuesIn(scalar_and_simd_isas()),
                         [](const ::testing::TestParamInfo<adagrad_isa>& info) {
                           return std::string(adagrad_isa_name(info.param));
                         });

// ---- The contract: statuses, nothing written on error, no-ops ------------

// One arena holds every buffer of a sparse call, so a test can place them
// anywhere (overlapping, misaligned) and prove that no byte changed.
class SparseContract : public ::testing::Test {
 protected:
  static constexpr std::size_t kRows = 50;
  static constexpr std::size_t kDim = 8;
  static constexpr std::size_t kIndices = 100;

  void SetUp() override {
    arena_.assign(1 << 16, 0);
    std::mt19937_64 rng(1);
    for (auto& byte : arena_) byte = static_cast<unsigned char>(rng());
    table = place<float>(0);
    state = place<float>(4096);
    grads = place<float>(8192);
    indices = place<std::int64_t>(16384);
    workspace = arena_.data() + 24576;
    workspace_size = adagrad_sparse_workspace_size(kIndices, kDim, ADAGRAD_DUPLICATES_SUM);
    ASSERT_LE(workspace_size, arena_.size() - 24576);
    for (std::size_t i = 0; i < kRows * kDim; ++i) table[i] = 1.0f, state[i] = 0.5f;
    for (std::size_t i = 0; i < kIndices * kDim; ++i) grads[i] = 0.25f;
    for (std::size_t k = 0; k < kIndices; ++k) indices[k] = static_cast<std::int64_t>(k % kRows);
    params = adagrad_params_default();
    before_ = arena_;
  }

  template <class T>
  T* place(std::size_t byte_offset) {
    return reinterpret_cast<T*>(arena_.data() + byte_offset);
  }

  adagrad_status call(bool rowwise, adagrad_duplicates dup = ADAGRAD_DUPLICATES_SUM) {
    auto* step = rowwise ? adagrad_rowwise_sparse_step : adagrad_sparse_step;
    return step(table, state, kRows, kDim, indices, kIndices, grads, &params, dup, workspace,
                workspace_size, nullptr);
  }

  // Every byte of the arena (all buffers, the workspace and the rest).
  void expect_untouched() const {
    for (std::size_t i = 0; i < arena_.size(); ++i) {
      ASSERT_EQ(before_[i], arena_[i]) << "byte " << i << " of the arena changed";
    }
  }

  void expect_error(adagrad_status want) {
    for (bool rowwise : {false, true}) {
      EXPECT_EQ(want, call(rowwise)) << (rowwise ? "row-wise" : "per-element");
      expect_untouched();
    }
  }

  std::vector<unsigned char> arena_, before_;
  float* table = nullptr;
  float* state = nullptr;
  float* grads = nullptr;
  std::int64_t* indices = nullptr;
  void* workspace = nullptr;
  std::size_t workspace_size = 0;
  adagrad_params params{};
};

TEST_F(SparseContract, ValidCallsSucceed) {
  EXPECT_EQ(ADAGRAD_OK, call(false));
  EXPECT_EQ(ADAGRAD_OK, call(true, ADAGRAD_DUPLICATES_SEQUENTIAL));
}

TEST_F(SparseContract, IndexOutOfRange) {
  indices[kIndices - 1] = kRows;
  before_ = arena_;
  expect_error(ADAGRAD_ERROR_INDEX_OUT_OF_RANGE);
  indices[kIndices - 1] = -1;
  before_ = arena_;
  expect_error(ADAGRAD_ERROR_INDEX_OUT_OF_RANGE);
  indices[kIndices - 1] = INT64_MIN;
  before_ = arena_;
  expect_error(ADAGRAD_ERROR_INDEX_OUT_OF_RANGE);
}

TEST_F(SparseContract, Int32IndexOutOfRange) {
  std::vector<std::int32_t> narrow(kIndices, 3);
  narrow[kIndices / 2] = -1;
  for (bool rowwise : {false, true}) {
    auto* step = rowwise ? adagrad_rowwise_sparse_step_i32 : adagrad_sparse_step_i32;
    EXPECT_EQ(ADAGRAD_ERROR_INDEX_OUT_OF_RANGE,
              step(table, state, kRows, kDim, narrow.data(), kIndices, grads, &params,
                   ADAGRAD_DUPLICATES_SUM, workspace, workspace_size, nullptr));
    expect_untouched();
  }
}

TEST_F(SparseContract, WorkspaceTooSmallOrNull) {
  workspace_size -= 1;
  expect_error(ADAGRAD_ERROR_WORKSPACE_TOO_SMALL);
  workspace_size += 1;
  workspace = nullptr;
  expect_error(ADAGRAD_ERROR_WORKSPACE_TOO_SMALL);
}

TEST_F(SparseContract, WorkspaceNeedsNoAlignment) {
  workspace = arena_.data() + 24576 + 3;
  EXPECT_EQ(ADAGRAD_OK, call(false));
  EXPECT_EQ(ADAGRAD_OK, call(true));
}

TEST_F(SparseContract, NullPointers) {
  float* saved = table;
  table = nullptr;
  expect_error(ADAGRAD_ERROR_NULL_POINTER);
  table = saved;
  saved = grads;
  grads = nullptr;
  expect_error(ADAGRAD_ERROR_NULL_POINTER);
  grads = saved;
  std::int64_t* saved_indices = indices;
  indices = nullptr;
  expect_error(ADAGRAD_ERROR_NULL_POINTER);
  indices = saved_indices;
  state = nullptr;
  expect_error(ADAGRAD_ERROR_NULL_POINTER);
}

TEST_F(SparseContract, Misaligned) {
  table = place<float>(2);
  expect_error(ADAGRAD_ERROR_MISALIGNED);
  table = place<float>(0);
  indices = place<std::int64_t>(16384 + 4);
  expect_error(ADAGRAD_ERROR_MISALIGNED);
}

TEST_F(SparseContract, Overlaps) {
  // Each written buffer against each other buffer, by one float.
  float* const original_state = state;
  state = table + kRows * kDim - 1;
  expect_error(ADAGRAD_ERROR_OVERLAP);
  state = original_state;
  grads = table + 8;
  expect_error(ADAGRAD_ERROR_OVERLAP);
  grads = place<float>(8192);
  indices = reinterpret_cast<std::int64_t*>(state + 2);
  expect_error(ADAGRAD_ERROR_OVERLAP);
  indices = place<std::int64_t>(16384);
  workspace = indices + kIndices - 1;
  expect_error(ADAGRAD_ERROR_OVERLAP);
  workspace = state + 4;
  expect_error(ADAGRAD_ERROR_OVERLAP);
}

TEST_F(SparseContract, ReadOnlyBuffersMayOverlap) {
  // The gradients may be read from the same memory as the indices.
  grads = reinterpret_cast<float*>(indices);
  for (std::size_t k = 0; k < kIndices; ++k) indices[k] = 0;  // also 0.0f as floats
  EXPECT_EQ(ADAGRAD_OK, call(false));
}

TEST_F(SparseContract, InvalidParameters) {
  params.lr = std::numeric_limits<double>::quiet_NaN();
  expect_error(ADAGRAD_ERROR_INVALID_PARAMS);
  params = adagrad_params_default();
  params.eps = -1;
  expect_error(ADAGRAD_ERROR_INVALID_PARAMS);
  params = adagrad_params_default();
  // An out-of-range mode, passed as C passes it (tests/enums_as_int.c).
  for (int rowwise : {0, 1}) {
    EXPECT_EQ(ADAGRAD_ERROR_INVALID_PARAMS,
              sparse_step_as_int(rowwise, -1, table, state, kRows, kDim, indices, kIndices, grads,
                                 &params, 7, workspace, workspace_size));
    expect_untouched();
  }
  EXPECT_EQ(ADAGRAD_ERROR_INVALID_PARAMS,
            adagrad_sparse_step(table, state, kRows, kDim, indices, kIndices, grads, nullptr,
                                ADAGRAD_DUPLICATES_SUM, workspace, workspace_size, nullptr));
  expect_untouched();
}

TEST_F(SparseContract, UnsupportedIsa) {
  for (int rowwise : {0, 1}) {
    EXPECT_EQ(ADAGRAD_ERROR_UNSUPPORTED_ISA,
              sparse_step_as_int(rowwise, 99, table, state, kRows, kDim, indices, kIndices, grads,
                                 &params, ADAGRAD_DUPLICATES_SUM, workspace, workspace_size));
    expect_untouched();
  }
}

TEST_F(SparseContract, SizeOverflow) {
  EXPECT_EQ(ADAGRAD_ERROR_SIZE_OVERFLOW,
            adagrad_sparse_step(table, state, SIZE_MAX / 2, kDim, indices, kIndices, grads, &params,
                                ADAGRAD_DUPLICATES_SUM, workspace, workspace_size, nullptr));
  EXPECT_EQ(ADAGRAD_ERROR_SIZE_OVERFLOW,
            adagrad_rowwise_sparse_step(table, state, kRows, SIZE_MAX / 4, indices, kIndices, grads,
                                        &params, ADAGRAD_DUPLICATES_SUM, workspace, workspace_size,
                                        nullptr));
  expect_untouched();
}

// The first failing check wins: out-of-range index and too small workspace
// give the workspace status; a NaN rate beats both.
TEST_F(SparseContract, ChecksRunInTheDocumentedOrder) {
  indices[0] = -5;
  workspace_size = 1;
  before_ = arena_;
  expect_error(ADAGRAD_ERROR_WORKSPACE_TOO_SMALL);
  params.lr = -1;
  expect_error(ADAGRAD_ERROR_INVALID_PARAMS);
}

TEST_F(SparseContract, NoOps) {
  // No indices: nothing is looked at, NULL buffers included.
  EXPECT_EQ(ADAGRAD_OK, adagrad_sparse_step(nullptr, nullptr, kRows, kDim, nullptr, 0, nullptr,
                                            &params, ADAGRAD_DUPLICATES_SUM, nullptr, 0, nullptr));
  EXPECT_EQ(0u, adagrad_sparse_workspace_size(0, kDim, ADAGRAD_DUPLICATES_SUM));
  // dim 0: the indices are still checked, nothing is written.
  for (bool rowwise : {false, true}) {
    auto* step = rowwise ? adagrad_rowwise_sparse_step : adagrad_sparse_step;
    EXPECT_EQ(ADAGRAD_OK,
              step(nullptr, rowwise ? state : nullptr, kRows, 0, indices, kIndices, nullptr,
                   &params, ADAGRAD_DUPLICATES_SUM, workspace, workspace_size, nullptr));
    indices[3] = kRows;
    EXPECT_EQ(ADAGRAD_ERROR_INDEX_OUT_OF_RANGE,
              step(nullptr, rowwise ? state : nullptr, kRows, 0, indices, kIndices, nullptr,
                   &params, ADAGRAD_DUPLICATES_SUM, workspace, workspace_size, nullptr));
    indices[3] = 3;
  }
  EXPECT_EQ(ADAGRAD_OK, adagrad_rowwise_step(nullptr, nullptr, nullptr, 0, 5, &params, nullptr));
  EXPECT_EQ(ADAGRAD_OK, adagrad_rowwise_step(nullptr, nullptr, nullptr, 5, 0, &params, nullptr));
}

TEST(SparseWorkspace, GrowsWithTheBatchAndFitsSizeT) {
  std::size_t last = 0;
  for (std::size_t n : {1, 2, 64, 65, 1000, 65536}) {
    const std::size_t bytes = adagrad_sparse_workspace_size(n, 128, ADAGRAD_DUPLICATES_SUM);
    EXPECT_GT(bytes, last) << n;
    EXPECT_EQ(bytes, adagrad_sparse_workspace_size(n, 1, ADAGRAD_DUPLICATES_SEQUENTIAL));
    last = bytes;
  }
  EXPECT_EQ(SIZE_MAX, adagrad_sparse_workspace_size(SIZE_MAX / 2, 1, ADAGRAD_DUPLICATES_SUM));
}

// The C++ wrappers reach the same functions with the same results.
TEST(EmbeddingCxxWrappers, SameResultsAsTheCApi) {
  for (bool rowwise : {false, true}) {
    Batch c_api = make_batch(200, 12, 150, rowwise, 3, 21);
    Batch cxx = c_api;
    adagrad_params p = adagrad_params_default();
    p.weight_decay = 0.5;
    ASSERT_EQ(ADAGRAD_OK,
              run_sparse(dispatched_isa(rowwise ? ADAGRAD_FAMILY_ROWWISE : ADAGRAD_FAMILY_SPARSE),
                         rowwise, false, c_api, ADAGRAD_DUPLICATES_SEQUENTIAL, p));
    adagrad::params q;
    q.weight_decay = 0.5;
    std::vector<std::int32_t> narrow(cxx.indices.begin(), cxx.indices.end());
    std::vector<unsigned char> workspace(adagrad::sparse_workspace_size(narrow.size(), 12));
    const adagrad_status status =
        rowwise ? adagrad::rowwise_sparse_step(cxx.table.data(), cxx.state.data(), 200, 12,
                                               narrow.data(), narrow.size(), cxx.grads.data(),
                                               workspace.data(), workspace.size(), q,
                                               ADAGRAD_DUPLICATES_SEQUENTIAL)
                : adagrad::sparse_step(cxx.table.data(), cxx.state.data(), 200, 12, narrow.data(),
                                       narrow.size(), cxx.grads.data(), workspace.data(),
                                       workspace.size(), q, ADAGRAD_DUPLICATES_SEQUENTIAL);
    ASSERT_EQ(ADAGRAD_OK, status);
    expect_bits(cxx.table.data(), c_api.table.data(), cxx.table.size(), "table");
    expect_bits(cxx.state.data(), c_api.state.data(), cxx.state.size(), "state");
  }
  std::vector<float> w(64, 1.0f), g(64, 0.5f), G(4, 0.0f), w2 = w, G2 = G;
  adagrad_params p = adagrad_params_default();
  ASSERT_EQ(ADAGRAD_OK, adagrad_rowwise_step(w.data(), g.data(), G.data(), 4, 16, &p, nullptr));
  ASSERT_EQ(ADAGRAD_OK, adagrad::rowwise_step(w2.data(), g.data(), G2.data(), 4, 16));
  expect_bits(w2.data(), w.data(), 64, "w");
  expect_bits(G2.data(), G.data(), 4, "G");
}

TEST(RowwiseContract, StatusesAndNothingWritten) {
  std::vector<float> arena(1024, 0.5f);
  const std::vector<float> before = arena;
  adagrad_params p = adagrad_params_default();
  float* w = arena.data();
  float* g = arena.data() + 256;
  float* G = arena.data() + 512;
  EXPECT_EQ(ADAGRAD_ERROR_NULL_POINTER, adagrad_rowwise_step(w, nullptr, G, 4, 8, &p, nullptr));
  EXPECT_EQ(ADAGRAD_ERROR_OVERLAP, adagrad_rowwise_step(w, w + 31, G, 4, 8, &p, nullptr));
  EXPECT_EQ(ADAGRAD_ERROR_OVERLAP, adagrad_rowwise_step(w, g, w + 31, 4, 8, &p, nullptr));
  EXPECT_EQ(ADAGRAD_ERROR_MISALIGNED,
            adagrad_rowwise_step(reinterpret_cast<float*>(reinterpret_cast<char*>(w) + 1), g, G, 4,
                                 8, &p, nullptr));
  EXPECT_EQ(ADAGRAD_ERROR_SIZE_OVERFLOW,
            adagrad_rowwise_step(w, g, G, SIZE_MAX / 8, 8, &p, nullptr));
  p.weight_decay = -1;
  EXPECT_EQ(ADAGRAD_ERROR_INVALID_PARAMS, adagrad_rowwise_step(w, g, G, 4, 8, &p, nullptr));
  EXPECT_EQ(ADAGRAD_ERROR_UNSUPPORTED_ISA,
            rowwise_step_isa_as_int(42, w, g, G, 4, 8, &p));
  EXPECT_EQ(0, std::memcmp(arena.data(), before.data(), arena.size() * sizeof(float)));
}

}  // namespace
}  // namespace adagrad_test
