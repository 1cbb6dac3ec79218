// SPDX-License-Identifier: BSD-3-Clause
// The fused embedding-bag step (include/adagrad/adagrad.h, "Embedding bags").
//
//  - EmbeddingBagTest (every ISA): the fused step against its definition:
//    the per-occurrence gradients written out here (scale by the documented
//    rule), then the sparse step of the same ISA with ADAGRAD_DUPLICATES_SUM;
//    and against the scalar path's fused step. Several tables per call (dims
//    around the vector widths, the chunk of 256 and past it), SUM and MEAN,
//    with and without per-sample weights, empty bags, duplicates, both index
//    types, both kinds of state, strided grad_output, small and large batches
//    (insertion and radix sort), every switch of the step.
//  - EmbeddingBagOptionsTest (every ISA): the optimizer options (weight
//    decay modes, max_norm, gradient clipping) against a transcription of
//    their documented order around the scalar sparse step of one row, and
//    against the scalar path.
//  - Threads: the same results for 1 to 4 threads (adagrad_pool).
//  - EmbeddingBagContract: every status, in the documented order, with not
//    one byte of any buffer changed; the offsets convention; no-ops.
#include <gtest/gtest.h>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
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

// One table of a test batch, owning its buffers. Indices and offsets are kept
// as int64_t and converted for an int32 call.
struct TestTable {
  std::size_t rows = 0, dim = 0, stride = 0;  // stride 0: dim
  adagrad_pooling pooling = ADAGRAD_POOLING_SUM;
  bool has_params = false;
  adagrad_params params{};
  std::vector<float> weights, state, per_sample_weights, grad_output;
  std::vector<std::int64_t> indices, offsets;
  std::vector<std::int32_t> indices32, offsets32;
  bool has_options = false;
  adagrad_embedding_options options{};
  std::vector<float> counter;
  std::vector<std::int64_t> counter_step;

  std::size_t row_stride() const { return stride != 0 ? stride : dim; }
};

// A batch of num_bags bags with random lengths in [0, max_len] (so some are
// empty), rows drawn from few enough rows that duplicates are common.
TestTable make_table(std::mt19937_64& rng, std::size_t rows, std::size_t dim, std::size_t num_bags,
                     std::size_t max_len, adagrad_pooling pooling, bool weighted, bool rowwise,
                     std::size_t stride) {
  TestTable t;
  t.rows = rows;
  t.dim = dim;
  t.stride = stride;
  t.pooling = pooling;
  std::uniform_real_distribution<double> value(-2.0, 2.0), positive(0.0, 3.0);
  std::uniform_int_distribution<std::size_t> length(0, max_len);
  std::uniform_int_distribution<std::int64_t> row(0, static_cast<std::int64_t>(rows) - 1);
  t.weights.resize(rows * dim);
  for (auto& x : t.weights) x = static_cast<float>(value(rng));
  t.state.resize(rowwise ? rows : rows * dim);
  for (auto& x : t.state) x = static_cast<float>(positive(rng));
  t.offsets.push_back(0);
  for (std::size_t b = 0; b < num_bags; ++b) {
    const std::size_t len = length(rng);
    for (std::size_t k = 0; k < len; ++k) t.indices.push_back(row(rng));
    t.offsets.push_back(static_cast<std::int64_t>(t.indices.size()));
  }
  if (weighted) {
    t.per_sample_weights.resize(t.indices.size());
    for (auto& x : t.per_sample_weights) x = static_cast<float>(value(rng));
  }
  const std::size_t s = t.row_stride();
  t.grad_output.resize(num_bags == 0 ? 0 : (num_bags - 1) * s + dim);
  for (auto& x : t.grad_output) x = static_cast<float>(value(rng));
  t.indices32.assign(t.indices.begin(), t.indices.end());
  t.offsets32.assign(t.offsets.begin(), t.offsets.end());
  return t;
}

adagrad_embedding_table descriptor(TestTable& t, adagrad_index_type type) {
  adagrad_embedding_table d{};
  d.weights = t.weights.data();
  d.state = t.state.data();
  d.num_rows = t.rows;
  d.dim = t.dim;
  d.params = t.has_params ? &t.params : nullptr;
  d.pooling = t.pooling;
  const bool i32 = type == ADAGRAD_INDEX_INT32;
  d.indices = i32 ? static_cast<const void*>(t.indices32.data()) : t.indices.data();
  d.offsets = i32 ? static_cast<const void*>(t.offsets32.data()) : t.offsets.data();
  d.num_indices = t.indices.size();
  d.per_sample_weights = t.per_sample_weights.empty() ? nullptr : t.per_sample_weights.data();
  d.grad_output = t.grad_output.data();
  d.grad_output_stride = t.stride;
  d.options = t.has_options ? &t.options : nullptr;
  d.counter = t.counter.empty() ? nullptr : t.counter.data();
  d.counter_step = t.counter_step.empty() ? nullptr : t.counter_step.data();
  return d;
}

// The definition: g_q written out, occurrence by occurrence.
std::vector<float> materialize(const TestTable& t) {
  const std::size_t n = t.indices.size();
  std::vector<float> grads(n * t.dim);
  const bool weighted = !t.per_sample_weights.empty();
  for (std::size_t b = 0; b + 1 < t.offsets.size(); ++b) {
    const auto first = static_cast<std::size_t>(t.offsets[b]);
    const auto last = static_cast<std::size_t>(t.offsets[b + 1]);
    const float* go = t.grad_output.data() + b * t.row_stride();
    for (std::size_t q = first; q < last; ++q) {
      float* g = grads.data() + q * t.dim;
      if (t.pooling == ADAGRAD_POOLING_SUM && !weighted) {
        for (std::size_t j = 0; j < t.dim; ++j) g[j] = go[j];
        continue;
      }
      float s = weighted ? t.per_sample_weights[q] : 1.0f;
      if (t.pooling == ADAGRAD_POOLING_MEAN) {
        s = static_cast<float>(static_cast<double>(s) / static_cast<double>(last - first));
      }
      for (std::size_t j = 0; j < t.dim; ++j) g[j] = s * go[j];
    }
  }
  return grads;
}

// The materialised gradients through the sparse step of isa, table by table.
void reference_step(adagrad_isa isa, bool rowwise, std::vector<TestTable>& tables,
                    const adagrad_params& p) {
  for (TestTable& t : tables) {
    const std::vector<float> grads = materialize(t);
    const std::size_t n = t.indices.size();
    std::vector<unsigned char> workspace(
        adagrad_sparse_workspace_size(n, t.dim, ADAGRAD_DUPLICATES_SUM));
    const adagrad_params* q = t.has_params ? &t.params : &p;
    auto* step = rowwise ? adagrad_rowwise_sparse_step_isa : adagrad_sparse_step_isa;
    ASSERT_EQ(ADAGRAD_OK, step(isa, t.weights.data(), t.state.data(), t.rows, t.dim,
                               t.indices.data(), n, grads.data(), q, ADAGRAD_DUPLICATES_SUM,
                               workspace.data(), workspace.size(), nullptr));
  }
}

adagrad_status fused_step(adagrad_isa isa, bool rowwise, std::vector<TestTable>& tables,
                          std::size_t num_bags, adagrad_index_type type, const adagrad_params& p,
                          adagrad_pool* pool = nullptr) {
  std::vector<adagrad_embedding_table> d;
  std::size_t most = 0;
  for (TestTable& t : tables) {
    d.push_back(descriptor(t, type));
    most = t.indices.size() > most ? t.indices.size() : most;
  }
  // One byte past the size asked for, at an odd address: no alignment needed.
  std::vector<unsigned char> workspace(adagrad_embedding_bag_workspace_size(most, num_bags) + 1);
  auto* step = rowwise ? adagrad_rowwise_embedding_bag_step_isa : adagrad_embedding_bag_step_isa;
  return step(isa, d.data(), d.size(), num_bags, type, &p, workspace.data() + 1,
              workspace.size() - 1, pool);
}

void expect_same(const std::vector<float>& got, const std::vector<float>& want,
                 const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  for (std::size_t i = 0; i < got.size(); ++i) {
    ASSERT_TRUE(same_value(got[i], want[i]))
        << what << "[" << i << "]: " << hex(got[i]) << ", expected " << hex(want[i]);
  }
}

void expect_same_tables(const std::vector<TestTable>& got, const std::vector<TestTable>& want,
                        const std::string& what) {
  for (std::size_t t = 0; t < got.size(); ++t) {
    expect_same(got[t].weights, want[t].weights, what + ", table " + std::to_string(t) + " w");
    expect_same(got[t].state, want[t].state, what + ", table " + std::to_string(t) + " state");
  }
}

std::vector<adagrad_params> settings() {
  std::vector<adagrad_params> all;
  for (int bits = 0; bits < 8; ++bits) {
    adagrad_params p = adagrad_params_default();
    p.lr = 0.05;
    p.maximize = bits & 1;
    p.weight_decay = (bits & 2) ? 0.1 : 0.0;
    p.eps_mode = (bits & 4) ? ADAGRAD_EPS_INSIDE_SQRT : ADAGRAD_EPS_OUTSIDE_SQRT;
    p.fma = (bits & 4) ? 1 : 0;
    p.lr_decay = (bits & 2) ? 0.01 : 0.0;
    p.step = 3;
    all.push_back(p);
  }
  return all;
}

class EmbeddingBagTest : public ::testing::TestWithParam<adagrad_isa> {
 protected:
  void SetUp() override {
    if (!adagrad_isa_supported(GetParam())) {
      GTEST_SKIP() << adagrad_isa_name(GetParam()) << " is not usable on this CPU";
    }
  }
};

// Table shapes of one call: (rows, dim, stride); the stride, when not 0,
// leaves columns between rows as FBGEMM's concatenated grad_output does.
struct Shape {
  std::size_t rows, dim, stride;
};
const Shape kShapes[][3] = {
    {{7, 1, 0}, {5, 3, 0}, {11, 4, 9}},      {{13, 8, 0}, {9, 15, 0}, {4, 16, 20}},
    {{6, 17, 0}, {30, 33, 0}, {3, 64, 100}}, {{5, 100, 0}, {17, 128, 0}, {8, 255, 300}},
    {{4, 256, 0}, {6, 257, 0}, {9, 300, 0}}, {{3, 513, 520}, {2, 1000, 0}, {40, 65, 0}},
};

void sweep(adagrad_isa isa, std::size_t num_bags, std::size_t max_len, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  int case_number = 0;
  for (const adagrad_params& p : settings()) {
    for (const auto& shapes : kShapes) {
      for (bool rowwise : {false, true}) {
        ++case_number;
        // The call's variations, from the case number's bits above the
        // row-wise one (which alternates with every case).
        const int bits = case_number >> 1;
        const auto pooling = (bits & 1) ? ADAGRAD_POOLING_MEAN : ADAGRAD_POOLING_SUM;
        const bool weighted = (bits & 2) != 0;
        const auto type = (bits & 4) ? ADAGRAD_INDEX_INT32 : ADAGRAD_INDEX_INT64;
        std::vector<TestTable> tables;
        for (std::size_t t = 0; t < 3; ++t) {
          const Shape& s = shapes[t];
          // The middle table pools the other way and takes its own rate.
          const auto own =
              t == 1 ? (pooling == ADAGRAD_POOLING_SUM ? ADAGRAD_POOLING_MEAN : ADAGRAD_POOLING_SUM)
                     : pooling;
          tables.push_back(make_table(rng, s.rows, s.dim, num_bags, max_len, own,
                                      weighted != (t == 2), rowwise, s.stride));
          if (t == 1) {
            tables.back().has_params = true;
            tables.back().params = p;
            tables.back().params.lr = 0.2;
          }
        }
        std::vector<TestTable> want = tables, scalar = tables;
        reference_step(isa, rowwise, want, p);
        ASSERT_EQ(ADAGRAD_OK, fused_step(isa, rowwise, tables, num_bags, type, p));
        ASSERT_EQ(ADAGRAD_OK, fused_step(ADAGRAD_ISA_SCALAR, rowwise, scalar, num_bags, type, p));
        const std::string where = std::string(adagrad_isa_name(isa)) + ", case " +
                                  std::to_string(case_number) + (rowwise ? ", row-wise" : "") +
                                  ", dims " + std::to_string(shapes[0].dim) + "..";
        expect_same_tables(tables, want, "against materialised + sparse step, " + where);
        expect_same_tables(tables, scalar, "against the scalar fused step, " + where);
      }
    }
  }
}

// Small batches: each table's few indices go through the insertion sort.
TEST_P(EmbeddingBagTest, SmallBatchesMatchMaterialisedSparseStep) { sweep(GetParam(), 5, 4, 11); }

// Larger batches (more than 64 indices: the radix sort), pooling up to 20.
TEST_P(EmbeddingBagTest, LargeBatchesMatchMaterialisedSparseStep) { sweep(GetParam(), 40, 20, 12); }

// A table of many rows: the radix sort's second digit, and lone occurrences.
TEST_P(EmbeddingBagTest, ManyRowsMatchMaterialisedSparseStep) {
  const adagrad_isa isa = GetParam();
  std::mt19937_64 rng(13);
  adagrad_params p = adagrad_params_default();
  p.lr = 0.1;
  for (bool rowwise : {false, true}) {
    for (auto pooling : {ADAGRAD_POOLING_SUM, ADAGRAD_POOLING_MEAN}) {
      std::vector<TestTable> tables;
      tables.push_back(make_table(rng, 5000, 32, 64, 20, pooling, false, rowwise, 0));
      std::vector<TestTable> want = tables;
      reference_step(isa, rowwise, want, p);
      ASSERT_EQ(ADAGRAD_OK, fused_step(isa, rowwise, tables, 64, ADAGRAD_INDEX_INT64, p));
      expect_same_tables(tables, want, std::string(adagrad_isa_name(isa)) + ", many rows");
    }
  }
}

// Special values in every input (signed zeros, subnormals, infinities, NaN,
// values whose products overflow): the same bits as the materialised
// gradient through the sparse step, any NaN equal to any NaN.
TEST_P(EmbeddingBagTest, SpecialValuesMatchMaterialisedSparseStep) {
  const adagrad_isa isa = GetParam();
  const float specials[] = {0.0f,
                            -0.0f,
                            std::numeric_limits<float>::infinity(),
                            -std::numeric_limits<float>::infinity(),
                            std::numeric_limits<float>::quiet_NaN(),
                            std::numeric_limits<float>::denorm_min(),
                            -std::numeric_limits<float>::min(),
                            std::numeric_limits<float>::max(),
                            3e38f,
                            1e-30f};
  std::mt19937_64 rng(31);
  for (const adagrad_params& p : settings()) {
    for (bool rowwise : {false, true}) {
      for (auto pooling : {ADAGRAD_POOLING_SUM, ADAGRAD_POOLING_MEAN}) {
        std::vector<TestTable> tables;
        tables.push_back(make_table(rng, 6, 37, 10, 5, pooling, true, rowwise, 0));
        tables.push_back(make_table(rng, 6, 300, 10, 5, pooling, false, rowwise, 0));
        for (TestTable& t : tables) {
          for (std::vector<float>* v : {&t.grad_output, &t.per_sample_weights, &t.weights}) {
            for (std::size_t i = 0; i < v->size(); i += 1 + rng() % 7) {
              (*v)[i] = specials[rng() % (sizeof specials / sizeof specials[0])];
            }
          }
        }
        std::vector<TestTable> want = tables;
        reference_step(isa, rowwise, want, p);
        ASSERT_EQ(ADAGRAD_OK, fused_step(isa, rowwise, tables, 10, ADAGRAD_INDEX_INT64, p));
        expect_same_tables(tables, want, std::string(adagrad_isa_name(isa)) + ", special values");
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(EveryIsa, EmbeddingBagTest, ::testing::ValuesIn([] {
                           std::vector<adagrad_isa> isas{ADAGRAD_ISA_SCALAR};
                           for (adagrad_isa isa : kSimdIsas) isas.push_back(isa);
                           return isas;
                         }()),
                         [](const ::testing::TestParamInfo<adagrad_isa>& info) {
                           return std::string(adagrad_isa_name(info.param));
                         });

// The dispatched entry points run the family's ISA: the same bits.
TEST(EmbeddingBag, DispatchedEntryPointsMatchTheirFamilysIsa) {
  std::mt19937_64 rng(14);
  const adagrad_params p = adagrad_params_default();
  for (bool rowwise : {false, true}) {
    std::vector<TestTable> tables;
    tables.push_back(make_table(rng, 50, 24, 30, 6, ADAGRAD_POOLING_SUM, true, rowwise, 0));
    std::vector<TestTable> want = tables;
    const adagrad_isa isa =
        dispatched_isa(rowwise ? ADAGRAD_FAMILY_ROWWISE : ADAGRAD_FAMILY_SPARSE);
    ASSERT_EQ(ADAGRAD_OK, fused_step(isa, rowwise, want, 30, ADAGRAD_INDEX_INT64, p));
    std::vector<adagrad_embedding_table> d{descriptor(tables[0], ADAGRAD_INDEX_INT64)};
    std::vector<unsigned char> workspace(
        adagrad_embedding_bag_workspace_size(tables[0].indices.size(), 30));
    auto* step = rowwise ? adagrad_rowwise_embedding_bag_step : adagrad_embedding_bag_step;
    ASSERT_EQ(ADAGRAD_OK, step(d.data(), 1, 30, ADAGRAD_INDEX_INT64, &p, workspace.data(),
                               workspace.size(), nullptr));
    expect_same_tables(tables, want, rowwise ? "row-wise" : "per-element");
  }
}

// A worked example, by hand: one table of 3 rows x 2, bags {0, 2, 0} and {}
// and {2}, MEAN: row 0 gets 2 * (g0 / 3), row 2 gets g0 / 3 + g2, row 1
// nothing.
TEST(EmbeddingBag, WorkedExampleMean) {
  TestTable t;
  t.rows = 3;
  t.dim = 2;
  t.pooling = ADAGRAD_POOLING_MEAN;
  t.weights = {1, 1, 1, 1, 1, 1};
  t.state = {0, 0, 0, 0, 0, 0};
  t.indices = {0, 2, 0, 2};
  t.offsets = {0, 3, 3, 4};
  t.grad_output = {3, 6, 5, 5, 1, 2};
  t.indices32.assign(t.indices.begin(), t.indices.end());
  t.offsets32.assign(t.offsets.begin(), t.offsets.end());
  std::vector<TestTable> tables{t};
  adagrad_params p = adagrad_params_default();
  p.lr = 0.5;
  p.eps = 0;
  ASSERT_EQ(ADAGRAD_OK, fused_step(ADAGRAD_ISA_SCALAR, false, tables, 3, ADAGRAD_INDEX_INT64, p));
  // Row 0: g = (1 + 1, 2 + 2) = (2, 4); G = g * g; w = 1 - 0.5 * g / |g| = 0.5.
  // Row 2: g = (1 + 1, 2 + 2) = (2, 4) as well; row 1 untouched.
  const std::vector<float> w_want = {0.5f, 0.5f, 1, 1, 0.5f, 0.5f};
  const std::vector<float> G_want = {4, 16, 0, 0, 4, 16};
  expect_same(tables[0].weights, w_want, "w");
  expect_same(tables[0].state, G_want, "G");
}

// Any number of threads: the single-threaded bits (tables large enough to be
// split into several tasks).
TEST(EmbeddingBag, ThreadCountsGiveTheSameBits) {
  std::mt19937_64 rng(15);
  adagrad_params p = adagrad_params_default();
  p.lr = 0.1;
  for (bool rowwise : {false, true}) {
    std::vector<TestTable> tables;
    tables.push_back(make_table(rng, 3000, 64, 512, 20, ADAGRAD_POOLING_SUM, true, rowwise, 0));
    tables.push_back(make_table(rng, 200, 300, 512, 3, ADAGRAD_POOLING_MEAN, false, rowwise, 0));
    // Batches long enough for the row sort to be split over the pool too
    // (sort_by_row_on: blocks of 8192 positions and more): about 40K indices
    // over two radix passes, and about 25K (a block count that is not the
    // thread count) over one.
    tables.push_back(make_table(rng, 5000, 8, 512, 160, ADAGRAD_POOLING_SUM, false, rowwise, 0));
    tables.push_back(make_table(rng, 1500, 8, 512, 100, ADAGRAD_POOLING_SUM, true, rowwise, 0));
    // And every option: COUNTER's per-row state, max_norm, clipping.
    tables.push_back(make_table(rng, 2000, 96, 512, 12, ADAGRAD_POOLING_SUM, true, rowwise, 0));
    TestTable& options = tables.back();
    options.has_options = true;
    options.options = adagrad_embedding_options_default();
    options.options.weight_decay_mode = ADAGRAD_WEIGHT_DECAY_COUNTER;
    options.options.counter_halflife = 4.0;
    options.options.counter_decay = 0.9;
    options.options.max_norm = 3.0;
    options.options.max_gradient = 0.5;
    options.has_params = true;
    options.params = p;
    options.params.weight_decay = 0.01;
    options.params.step = 5;
    options.counter.assign(options.rows, 1.5f);
    options.counter_step.assign(options.rows, 3);
    std::vector<TestTable> want = tables;
    const adagrad_isa isa = dispatched_isa(ADAGRAD_FAMILY_SPARSE);
    ASSERT_EQ(ADAGRAD_OK, fused_step(isa, rowwise, want, 512, ADAGRAD_INDEX_INT64, p));
    for (std::size_t threads = 2; threads <= 4; ++threads) {
      adagrad_pool* pool = adagrad_pool_create(threads);
      ASSERT_NE(nullptr, pool);
      std::vector<TestTable> got = tables;
      const adagrad_status status =
          fused_step(isa, rowwise, got, 512, ADAGRAD_INDEX_INT64, p, pool);
      adagrad_pool_destroy(pool);
      ASSERT_EQ(ADAGRAD_OK, status);
      expect_same_tables(got, want, std::to_string(threads) + " threads");
      expect_same(got.back().counter, want.back().counter, "counter");
      ASSERT_EQ(got.back().counter_step, want.back().counter_step);
    }
  }
}

// ---- The optimizer options -------------------------------------------------

// The documented order of the options around one row's step, transcribed:
// clipping, decay (DECOUPLE, COUNTER), the step (the scalar sparse step of
// one index, its decay term off unless L2), renormalisation.
void options_reference(bool rowwise, std::vector<TestTable>& tables, const adagrad_params& call) {
  for (TestTable& t : tables) {
    const adagrad_params p = t.has_params ? t.params : call;
    const adagrad_embedding_options o =
        t.has_options ? t.options : adagrad_embedding_options_default();
    const std::vector<float> grads = materialize(t);
    const double lr_t =
        p.lr_decay != 0.0 ? p.lr / (1.0 + static_cast<double>(p.step - 1) * p.lr_decay) : p.lr;
    const auto d = static_cast<float>(lr_t * p.weight_decay);
    adagrad_params step = p;
    if (o.weight_decay_mode != ADAGRAD_WEIGHT_DECAY_L2) step.weight_decay = 0.0;
    std::vector<bool> done(t.rows, false);
    for (std::size_t first = 0; first < t.indices.size(); ++first) {
      const auto r = static_cast<std::size_t>(t.indices[first]);
      if (done[r]) continue;
      done[r] = true;
      // 0. The summed gradient, occurrences in batch order.
      std::vector<float> g(grads.begin() + first * t.dim, grads.begin() + (first + 1) * t.dim);
      for (std::size_t q = first + 1; q < t.indices.size(); ++q) {
        if (static_cast<std::size_t>(t.indices[q]) != r) continue;
        for (std::size_t j = 0; j < t.dim; ++j) g[j] = g[j] + grads[q * t.dim + j];
      }
      // 1. Clipping.
      if (o.max_gradient > 0.0) {
        const auto m = static_cast<float>(o.max_gradient);
        for (float& x : g) x = x > m ? m : (x < -m ? -m : x);
      }
      float* w = t.weights.data() + r * t.dim;
      // 2. Decoupled or counter decay.
      if (o.weight_decay_mode != ADAGRAD_WEIGHT_DECAY_L2 && p.weight_decay != 0.0) {
        float decay = d;
        if (o.weight_decay_mode == ADAGRAD_WEIGHT_DECAY_COUNTER) {
          const std::int64_t s = t.counter_step[r];
          const auto now = static_cast<std::int64_t>(p.step);
          std::uint64_t k = s <= 0 ? 1 : (s < now ? static_cast<std::uint64_t>(now - s) : 0);
          double a = 1.0, b = o.counter_decay;
          while (k != 0) {
            if (k & 1) a = a * b;
            b = b * b;
            k >>= 1;
          }
          const float c = 1.0f + static_cast<float>(a) * t.counter[r];
          t.counter[r] = c;
          t.counter_step[r] = now;
          decay = (static_cast<float>(o.counter_halflife) / c) * d;
        }
        for (std::size_t j = 0; j < t.dim; ++j) w[j] = w[j] - decay * w[j];
      }
      // 3. The step, by the scalar sparse step of this one row.
      const std::int64_t index = static_cast<std::int64_t>(r);
      std::vector<unsigned char> ws(
          adagrad_sparse_workspace_size(1, t.dim, ADAGRAD_DUPLICATES_SUM));
      auto* sparse = rowwise ? adagrad_rowwise_sparse_step_isa : adagrad_sparse_step_isa;
      ASSERT_EQ(ADAGRAD_OK,
                sparse(ADAGRAD_ISA_SCALAR, t.weights.data(), t.state.data(), t.rows, t.dim, &index,
                       1, g.data(), &step, ADAGRAD_DUPLICATES_SUM, ws.data(), ws.size(), nullptr));
      // 4. max_norm: sixteen partial sums, the fixed tree, one root.
      if (o.max_norm > 0.0) {
        float partial[16] = {};
        for (std::size_t j = 0; j < t.dim; ++j) partial[j % 16] = partial[j % 16] + w[j] * w[j];
        for (int k = 0; k < 8; ++k) partial[k] = partial[k] + partial[k + 8];
        for (int k = 0; k < 4; ++k) partial[k] = partial[k] + partial[k + 4];
        for (int k = 0; k < 2; ++k) partial[k] = partial[k] + partial[k + 2];
        const float norm = std::sqrt(partial[0] + partial[1]);
        const auto m = static_cast<float>(o.max_norm);
        if (norm > m) {
          const float scale = m / norm;
          for (std::size_t j = 0; j < t.dim; ++j) w[j] = w[j] * scale;
        }
      }
    }
  }
}

class EmbeddingBagOptionsTest : public EmbeddingBagTest {};

TEST_P(EmbeddingBagOptionsTest, OptionsMatchTheirDocumentedOrder) {
  const adagrad_isa isa = GetParam();
  std::mt19937_64 rng(21);
  std::uniform_real_distribution<double> count(0.0, 5.0);
  const adagrad_weight_decay_mode modes[] = {ADAGRAD_WEIGHT_DECAY_L2, ADAGRAD_WEIGHT_DECAY_DECOUPLE,
                                             ADAGRAD_WEIGHT_DECAY_COUNTER};
  const double fades[] = {0.8, 1.0, 0.0};
  int case_number = 0;
  for (const adagrad_params& base : settings()) {
    for (adagrad_weight_decay_mode mode : modes) {
      for (int extras = 0; extras < 4; ++extras) {
        for (bool rowwise : {false, true}) {
          ++case_number;
          adagrad_params p = base;
          p.step = 10;
          p.weight_decay = (case_number % 5 == 0) ? 0.0 : 0.05;
          adagrad_embedding_options o = adagrad_embedding_options_default();
          o.weight_decay_mode = mode;
          o.max_norm = (extras & 1) ? 2.0 : 0.0;
          o.max_gradient = (extras & 2) ? 0.3 : 0.0;
          o.counter_halflife = 3.0;
          o.counter_decay = fades[case_number % 3];
          std::vector<TestTable> tables;
          const std::size_t dims[] = {5, 16, 37, 300};
          for (std::size_t t = 0; t < 2; ++t) {
            const std::size_t dim = dims[(case_number + 2 * t) % 4];
            tables.push_back(make_table(rng, 9, dim, 12, 5,
                                        t == 0 ? ADAGRAD_POOLING_SUM : ADAGRAD_POOLING_MEAN, t == 1,
                                        rowwise, 0));
            TestTable& table = tables.back();
            table.has_options = true;
            table.options = o;
            if (mode == ADAGRAD_WEIGHT_DECAY_COUNTER) {
              table.counter.resize(table.rows);
              table.counter_step.resize(table.rows);
              for (std::size_t r = 0; r < table.rows; ++r) {
                table.counter[r] = static_cast<float>(count(rng));
                // Never (0 or below), at, after and before the step.
                table.counter_step[r] = static_cast<std::int64_t>(rng() % 14) - 1;
              }
            }
          }
          std::vector<TestTable> want = tables, scalar = tables;
          options_reference(rowwise, want, p);
          ASSERT_EQ(ADAGRAD_OK, fused_step(isa, rowwise, tables, 12, ADAGRAD_INDEX_INT64, p));
          ASSERT_EQ(ADAGRAD_OK,
                    fused_step(ADAGRAD_ISA_SCALAR, rowwise, scalar, 12, ADAGRAD_INDEX_INT64, p));
          const std::string where = std::string(adagrad_isa_name(isa)) + ", case " +
                                    std::to_string(case_number) + (rowwise ? ", row-wise" : "");
          expect_same_tables(tables, want, "against the transcription, " + where);
          expect_same_tables(tables, scalar, "against the scalar path, " + where);
          for (std::size_t t = 0; t < tables.size(); ++t) {
            expect_same(tables[t].counter, want[t].counter, "counter, " + where);
            ASSERT_EQ(tables[t].counter_step, want[t].counter_step) << where;
          }
        }
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(EveryIsa, EmbeddingBagOptionsTest, ::testing::ValuesIn([] {
                           std::vector<adagrad_isa> isas{ADAGRAD_ISA_SCALAR};
                           for (adagrad_isa isa : kSimdIsas) isas.push_back(isa);
                           return isas;
                         }()),
                         [](const ::testing::TestParamInfo<adagrad_isa>& info) {
                           return std::string(adagrad_isa_name(info.param));
                         });

// Worked examples of each option, by hand.
TEST(EmbeddingBagOptions, WorkedExamples) {
  auto one_row = [](const adagrad_embedding_options& o, float* w, float* G, float* counter,
                    std::int64_t* counter_step, const adagrad_params& p) {
    const std::int64_t indices[1] = {0};
    const std::int64_t offsets[2] = {0, 1};
    const float grad_output[2] = {3, -4};
    adagrad_embedding_table t{};
    t.weights = w;
    t.state = G;
    t.num_rows = 1;
    t.dim = 2;
    t.indices = indices;
    t.offsets = offsets;
    t.num_indices = 1;
    t.grad_output = grad_output;
    t.options = &o;
    t.counter = counter;
    t.counter_step = counter_step;
    unsigned char workspace[512];
    return adagrad_embedding_bag_step(&t, 1, 1, ADAGRAD_INDEX_INT64, &p, workspace,
                                      sizeof workspace, nullptr);
  };
  adagrad_params p = adagrad_params_default();
  p.lr = 0.5;
  p.eps = 0;
  // Clipping to 1: g = (1, -1); G = (1, 1); w = w - 0.5 * g.
  {
    adagrad_embedding_options o = adagrad_embedding_options_default();
    o.max_gradient = 1.0;
    float w[2] = {1, 1}, G[2] = {0, 0};
    ASSERT_EQ(ADAGRAD_OK, one_row(o, w, G, nullptr, nullptr, p));
    EXPECT_EQ(0.5f, w[0]);
    EXPECT_EQ(1.5f, w[1]);
    EXPECT_EQ(1.0f, G[0]);
  }
  // DECOUPLE, wd 0.5: w = 4 - 0.25 * 4 = 3 first, then the step: 3 - 0.5 = 2.5.
  {
    adagrad_embedding_options o = adagrad_embedding_options_default();
    o.weight_decay_mode = ADAGRAD_WEIGHT_DECAY_DECOUPLE;
    adagrad_params q = p;
    q.weight_decay = 0.5;
    float w[2] = {4, 4}, G[2] = {0, 0};
    ASSERT_EQ(ADAGRAD_OK, one_row(o, w, G, nullptr, nullptr, q));
    EXPECT_EQ(2.5f, w[0]);
    EXPECT_EQ(3.5f, w[1]);
    EXPECT_EQ(9.0f, G[0]);  // no decay term in the accumulator
  }
  // COUNTER, halflife 2, fade 0.5, last update 2 steps ago, counter 4:
  // c = 1 + 0.25 * 4 = 2, f = 2 / 2 = 1, so the decay is DECOUPLE's.
  {
    adagrad_embedding_options o = adagrad_embedding_options_default();
    o.weight_decay_mode = ADAGRAD_WEIGHT_DECAY_COUNTER;
    o.counter_halflife = 2.0;
    o.counter_decay = 0.5;
    adagrad_params q = p;
    q.weight_decay = 0.5;
    q.step = 7;
    float w[2] = {4, 4}, G[2] = {0, 0}, counter[1] = {4};
    std::int64_t counter_step[1] = {5};
    ASSERT_EQ(ADAGRAD_OK, one_row(o, w, G, counter, counter_step, q));
    EXPECT_EQ(2.0f, counter[0]);
    EXPECT_EQ(7, counter_step[0]);
    EXPECT_EQ(2.5f, w[0]);
  }
  // max_norm 1 after the step: w = (1, 1) - 0.5 * (1, -1) = (0.5, 1.5),
  // norm sqrt(2.5) > 1: scaled by 1 / sqrt(2.5).
  {
    adagrad_embedding_options o = adagrad_embedding_options_default();
    o.max_norm = 1.0;
    float w[2] = {1, 1}, G[2] = {0, 0};
    ASSERT_EQ(ADAGRAD_OK, one_row(o, w, G, nullptr, nullptr, p));
    const float scale = 1.0f / std::sqrt(2.5f);
    EXPECT_EQ(0.5f * scale, w[0]);
    EXPECT_EQ(1.5f * scale, w[1]);
  }
}

// The C++ wrappers: the C API's bits.
TEST(EmbeddingBag, CxxWrappersMatchTheCApi) {
  std::mt19937_64 rng(16);
  for (bool rowwise : {false, true}) {
    std::vector<TestTable> c_api;
    c_api.push_back(make_table(rng, 40, 20, 16, 6, ADAGRAD_POOLING_MEAN, true, rowwise, 0));
    std::vector<TestTable> cxx = c_api;
    adagrad_params p = adagrad_params_default();
    p.weight_decay = 0.25;
    ASSERT_EQ(ADAGRAD_OK,
              fused_step(dispatched_isa(rowwise ? ADAGRAD_FAMILY_ROWWISE : ADAGRAD_FAMILY_SPARSE),
                         rowwise, c_api, 16, ADAGRAD_INDEX_INT32, p));
    adagrad::params q;
    q.weight_decay = 0.25;
    const adagrad::embedding_table t = descriptor(cxx[0], ADAGRAD_INDEX_INT32);
    std::vector<unsigned char> workspace(
        adagrad::embedding_bag_workspace_size(cxx[0].indices.size(), 16));
    const adagrad_status status =
        rowwise ? adagrad::rowwise_embedding_bag_step(&t, 1, 16, ADAGRAD_INDEX_INT32,
                                                      workspace.data(), workspace.size(), q)
                : adagrad::embedding_bag_step(&t, 1, 16, ADAGRAD_INDEX_INT32, workspace.data(),
                                              workspace.size(), q);
    ASSERT_EQ(ADAGRAD_OK, status);
    expect_same_tables(cxx, c_api, rowwise ? "row-wise" : "per-element");
  }
}

TEST(EmbeddingBagWorkspace, Sizes) {
  EXPECT_EQ(0u, adagrad_embedding_bag_workspace_size(0, 100));
  EXPECT_GE(
      adagrad_embedding_bag_workspace_size(10, 4),
      adagrad_sparse_workspace_size(10, 1, ADAGRAD_DUPLICATES_SUM) + 10 * sizeof(std::uint32_t));
  EXPECT_LE(adagrad_embedding_bag_workspace_size(100, 4),
            adagrad_embedding_bag_workspace_size(1000, 4));
  EXPECT_EQ(SIZE_MAX, adagrad_embedding_bag_workspace_size(SIZE_MAX / 4, 4));
}

// ---- The contract --------------------------------------------------------

// Two tables whose every buffer lives in one arena, so that a test can place
// them anywhere and prove that no byte changed.
class EmbeddingBagContract : public ::testing::Test {
 protected:
  static constexpr std::size_t kRows = 20;
  static constexpr std::size_t kDim = 8;
  static constexpr std::size_t kBags = 6;
  static constexpr std::size_t kIndices = 12;

  void SetUp() override {
    arena_.assign(1 << 16, 0);
    std::mt19937_64 rng(1);
    for (auto& byte : arena_) byte = static_cast<unsigned char>(rng());
    for (std::size_t t = 0; t < 2; ++t) {
      adagrad_embedding_table& d = tables[t];
      const std::size_t base = 8192 * t;
      d.weights = place<float>(base);
      d.state = place<float>(base + 1024);
      d.num_rows = kRows;
      d.dim = kDim;
      d.params = nullptr;
      d.pooling = t == 0 ? ADAGRAD_POOLING_SUM : ADAGRAD_POOLING_MEAN;
      auto* indices = place<std::int64_t>(base + 2048);
      auto* offsets = place<std::int64_t>(base + 2560);
      d.indices = indices;
      d.offsets = offsets;
      d.num_indices = kIndices;
      d.per_sample_weights = place<float>(base + 3072);
      d.grad_output = place<float>(base + 3584);
      d.grad_output_stride = 0;
      for (std::size_t i = 0; i < kRows * kDim; ++i) d.weights[i] = 1.0f, d.state[i] = 0.5f;
      for (std::size_t k = 0; k < kIndices; ++k) {
        indices[k] = static_cast<std::int64_t>((k * 7) % kRows);
        place<float>(base + 3072)[k] = 0.5f;
      }
      // Bags of 2, 0, 4, 1, 2, 3.
      const std::int64_t bounds[kBags + 1] = {0, 2, 2, 6, 7, 9, 12};
      for (std::size_t b = 0; b <= kBags; ++b) offsets[b] = bounds[b];
      for (std::size_t i = 0; i < kBags * kDim; ++i) place<float>(base + 3584)[i] = 0.25f;
      // The int32 copies, for the int32 calls.
      auto* indices32 = place<std::int32_t>(base + 4096 + 512);
      auto* offsets32 = place<std::int32_t>(base + 4096 + 1024);
      for (std::size_t k = 0; k < kIndices; ++k)
        indices32[k] = static_cast<std::int32_t>(indices[k]);
      for (std::size_t b = 0; b <= kBags; ++b) offsets32[b] = static_cast<std::int32_t>(bounds[b]);
    }
    workspace = arena_.data() + 20000;
    workspace_size = adagrad_embedding_bag_workspace_size(kIndices, kBags);
    ASSERT_LE(workspace_size, 4000u);
    params = adagrad_params_default();
    before_ = arena_;
  }

  template <class T>
  T* place(std::size_t byte_offset) {
    return reinterpret_cast<T*>(arena_.data() + byte_offset);
  }

  std::int64_t* offsets64(std::size_t t) {
    return const_cast<std::int64_t*>(static_cast<const std::int64_t*>(tables[t].offsets));
  }
  std::int64_t* indices64(std::size_t t) {
    return const_cast<std::int64_t*>(static_cast<const std::int64_t*>(tables[t].indices));
  }

  // Switches the tables to their int32 copies.
  void use_int32() {
    for (std::size_t t = 0; t < 2; ++t) {
      tables[t].indices = place<std::int32_t>(8192 * t + 4096 + 512);
      tables[t].offsets = place<std::int32_t>(8192 * t + 4096 + 1024);
    }
    type = ADAGRAD_INDEX_INT32;
  }

  adagrad_status call(bool rowwise) {
    // The arena's state rows are num_rows x dim: enough for both kinds.
    auto* step = rowwise ? adagrad_rowwise_embedding_bag_step : adagrad_embedding_bag_step;
    return step(tables, 2, kBags, type, &params, workspace, workspace_size, nullptr);
  }

  void expect_untouched() const {
    for (std::size_t i = 0; i < arena_.size(); ++i) {
      ASSERT_EQ(before_[i], arena_[i]) << "byte " << i << " of the arena changed";
    }
  }

  // Changes to the arena made by the test itself are part of "before".
  void snapshot() { before_ = arena_; }

  void expect_error(adagrad_status want) {
    snapshot();
    for (bool rowwise : {false, true}) {
      EXPECT_EQ(want, call(rowwise)) << (rowwise ? "row-wise" : "per-element");
      expect_untouched();
    }
  }

  std::vector<unsigned char> arena_, before_;
  adagrad_embedding_table tables[2]{};
  adagrad_index_type type = ADAGRAD_INDEX_INT64;
  void* workspace = nullptr;
  std::size_t workspace_size = 0;
  adagrad_params params{};
};

TEST_F(EmbeddingBagContract, ValidCallsSucceed) {
  EXPECT_EQ(ADAGRAD_OK, call(false));
  EXPECT_EQ(ADAGRAD_OK, call(true));
  use_int32();
  EXPECT_EQ(ADAGRAD_OK, call(false));
}

TEST_F(EmbeddingBagContract, OffsetsMustStartAtZero) {
  offsets64(1)[0] = 1;
  expect_error(ADAGRAD_ERROR_INVALID_OFFSETS);
}

TEST_F(EmbeddingBagContract, OffsetsMustNotDecrease) {
  offsets64(0)[3] = 1;
  expect_error(ADAGRAD_ERROR_INVALID_OFFSETS);
  offsets64(0)[3] = -1;
  expect_error(ADAGRAD_ERROR_INVALID_OFFSETS);
}

// num_bags + 1 offsets, the last one num_indices (include_last_offset): a
// last offset short of it, or past it, is refused.
TEST_F(EmbeddingBagContract, LastOffsetMustBeNumIndices) {
  offsets64(0)[kBags] = kIndices - 1;
  expect_error(ADAGRAD_ERROR_INVALID_OFFSETS);
  offsets64(0)[kBags] = kIndices + 1;
  expect_error(ADAGRAD_ERROR_INVALID_OFFSETS);
}

TEST_F(EmbeddingBagContract, Int32Offsets) {
  use_int32();
  place<std::int32_t>(4096 + 1024)[2] = 7;  // 0, 2, 7, 6: decreasing
  expect_error(ADAGRAD_ERROR_INVALID_OFFSETS);
}

TEST_F(EmbeddingBagContract, IndexOutOfRange) {
  indices64(1)[kIndices - 1] = kRows;
  expect_error(ADAGRAD_ERROR_INDEX_OUT_OF_RANGE);
  indices64(1)[kIndices - 1] = -1;
  expect_error(ADAGRAD_ERROR_INDEX_OUT_OF_RANGE);
}

TEST_F(EmbeddingBagContract, Int32IndexOutOfRange) {
  use_int32();
  place<std::int32_t>(8192 + 4096 + 512)[0] = -5;
  expect_error(ADAGRAD_ERROR_INDEX_OUT_OF_RANGE);
}

TEST_F(EmbeddingBagContract, WorkspaceTooSmallOrNull) {
  workspace_size -= 1;
  expect_error(ADAGRAD_ERROR_WORKSPACE_TOO_SMALL);
  workspace_size += 1;
  workspace = nullptr;
  expect_error(ADAGRAD_ERROR_WORKSPACE_TOO_SMALL);
}

TEST_F(EmbeddingBagContract, NullPointers) {
  const adagrad_embedding_table saved = tables[1];
  tables[1].weights = nullptr;
  expect_error(ADAGRAD_ERROR_NULL_POINTER);
  tables[1] = saved;
  tables[1].state = nullptr;
  expect_error(ADAGRAD_ERROR_NULL_POINTER);
  tables[1] = saved;
  tables[1].indices = nullptr;
  expect_error(ADAGRAD_ERROR_NULL_POINTER);
  tables[1] = saved;
  tables[1].offsets = nullptr;
  expect_error(ADAGRAD_ERROR_NULL_POINTER);
  tables[1] = saved;
  tables[1].grad_output = nullptr;
  expect_error(ADAGRAD_ERROR_NULL_POINTER);
  tables[1] = saved;
  snapshot();
  EXPECT_EQ(ADAGRAD_ERROR_NULL_POINTER,
            adagrad_embedding_bag_step(nullptr, 2, kBags, type, &params, workspace, workspace_size,
                                       nullptr));
  expect_untouched();
}

TEST_F(EmbeddingBagContract, Misaligned) {
  const adagrad_embedding_table saved = tables[1];
  tables[1].grad_output = reinterpret_cast<const float*>(place<unsigned char>(8192 + 3584 + 2));
  expect_error(ADAGRAD_ERROR_MISALIGNED);
  tables[1] = saved;
  tables[1].offsets = place<unsigned char>(8192 + 2560 + 4);
  expect_error(ADAGRAD_ERROR_MISALIGNED);
  tables[1] = saved;
  tables[1].per_sample_weights = reinterpret_cast<const float*>(place<unsigned char>(8192 + 3073));
  expect_error(ADAGRAD_ERROR_MISALIGNED);
}

TEST_F(EmbeddingBagContract, Overlaps) {
  const adagrad_embedding_table saved0 = tables[0], saved1 = tables[1];
  // A table's weights and its own state.
  tables[0].state = tables[0].weights + 4;
  expect_error(ADAGRAD_ERROR_OVERLAP);
  tables[0] = saved0;
  // One table's state and the other's weights.
  tables[1].state = tables[0].weights + kRows * kDim - 1;
  expect_error(ADAGRAD_ERROR_OVERLAP);
  tables[1] = saved1;
  // Weights and a read-only buffer of the other table.
  tables[1].grad_output = tables[0].weights + 8;
  expect_error(ADAGRAD_ERROR_OVERLAP);
  tables[1] = saved1;
  // The workspace and indices.
  workspace = const_cast<void*>(tables[0].indices);
  expect_error(ADAGRAD_ERROR_OVERLAP);
  workspace = arena_.data() + 20000;
  // A table's params inside a table's state.
  tables[1].params = reinterpret_cast<const adagrad_params*>(tables[0].state);
  // Up to the last field only: the tail padding of params is uninitialised,
  // and expect_untouched compares every arena byte (valgrind reports that).
  std::memcpy(tables[0].state, &params, offsetof(adagrad_params, fma) + sizeof params.fma);
  expect_error(ADAGRAD_ERROR_OVERLAP);
}

TEST_F(EmbeddingBagContract, ReadOnlyBuffersMayOverlap) {
  tables[1].grad_output = tables[0].grad_output;
  tables[1].per_sample_weights = tables[0].per_sample_weights;
  tables[1].indices = tables[0].indices;
  EXPECT_EQ(ADAGRAD_OK, call(false));
}

TEST_F(EmbeddingBagContract, InvalidParameters) {
  params.lr = -1;
  expect_error(ADAGRAD_ERROR_INVALID_PARAMS);
  params = adagrad_params_default();
  adagrad_params own = adagrad_params_default();
  own.eps = std::nan("");
  tables[1].params = &own;
  expect_error(ADAGRAD_ERROR_INVALID_PARAMS);
  tables[1].params = nullptr;
  int bad = 7;
  std::memcpy(&tables[0].pooling, &bad, sizeof bad);
  expect_error(ADAGRAD_ERROR_INVALID_PARAMS);
  tables[0].pooling = ADAGRAD_POOLING_SUM;
  // An unknown index type, passed as C passes it (tests/enums_as_int.c).
  snapshot();
  for (int rowwise : {0, 1}) {
    EXPECT_EQ(ADAGRAD_ERROR_INVALID_PARAMS,
              embedding_bag_step_as_int(rowwise, tables, 2, kBags, bad, &params, workspace,
                                        workspace_size));
    expect_untouched();
  }
  snapshot();
  EXPECT_EQ(ADAGRAD_ERROR_INVALID_PARAMS,
            adagrad_embedding_bag_step(tables, 2, kBags, type, nullptr, workspace, workspace_size,
                                       nullptr));
  expect_untouched();
}

TEST_F(EmbeddingBagContract, InvalidOptions) {
  adagrad_embedding_options o = adagrad_embedding_options_default();
  tables[1].options = &o;
  int bad = 7;
  std::memcpy(&o.weight_decay_mode, &bad, sizeof bad);
  expect_error(ADAGRAD_ERROR_INVALID_PARAMS);
  o = adagrad_embedding_options_default();
  for (double value : {-1.0, std::nan(""), HUGE_VAL, 1e39}) {
    o.max_norm = value;
    expect_error(ADAGRAD_ERROR_INVALID_PARAMS);
    o.max_norm = 0;
    o.max_gradient = value;
    expect_error(ADAGRAD_ERROR_INVALID_PARAMS);
    o.max_gradient = 0;
  }
  // DECOUPLE: lr_t * weight_decay beyond float.
  o.weight_decay_mode = ADAGRAD_WEIGHT_DECAY_DECOUPLE;
  params.lr = 1e30;
  params.weight_decay = 1e30;
  expect_error(ADAGRAD_ERROR_INVALID_PARAMS);
  params = adagrad_params_default();
  // COUNTER: halflife, fade and step (its buffers valid).
  o.weight_decay_mode = ADAGRAD_WEIGHT_DECAY_COUNTER;
  tables[1].counter = place<float>(17000);
  tables[1].counter_step = place<std::int64_t>(17200);
  o.counter_halflife = 1.0;
  o.counter_decay = 0.5;
  EXPECT_EQ(ADAGRAD_OK, call(false));
  for (double halflife : {0.0, -1.0, std::nan(""), HUGE_VAL}) {
    o.counter_halflife = halflife;
    expect_error(ADAGRAD_ERROR_INVALID_PARAMS);
  }
  o.counter_halflife = 1.0;
  for (double fade : {-0.5, 1.5, std::nan("")}) {
    o.counter_decay = fade;
    expect_error(ADAGRAD_ERROR_INVALID_PARAMS);
  }
  o.counter_decay = 0.5;
  params.step = 0;
  expect_error(ADAGRAD_ERROR_INVALID_PARAMS);
}

TEST_F(EmbeddingBagContract, CounterBuffers) {
  adagrad_embedding_options o = adagrad_embedding_options_default();
  o.weight_decay_mode = ADAGRAD_WEIGHT_DECAY_COUNTER;
  o.counter_halflife = 2.0;
  params.weight_decay = 0.1;
  // Other modes never look at them.
  adagrad_embedding_options decouple = o;
  decouple.weight_decay_mode = ADAGRAD_WEIGHT_DECAY_DECOUPLE;
  tables[0].options = &decouple;
  tables[0].counter = reinterpret_cast<float*>(place<unsigned char>(1));
  EXPECT_EQ(ADAGRAD_OK, call(false));
  tables[0].options = nullptr;
  tables[0].counter = nullptr;
  tables[1].options = &o;
  tables[1].counter = place<float>(17000);
  tables[1].counter_step = place<std::int64_t>(17200);
  EXPECT_EQ(ADAGRAD_OK, call(true));
  tables[1].counter = nullptr;
  expect_error(ADAGRAD_ERROR_NULL_POINTER);
  tables[1].counter = place<float>(17000);
  tables[1].counter_step = reinterpret_cast<std::int64_t*>(place<unsigned char>(17204));
  expect_error(ADAGRAD_ERROR_MISALIGNED);
  tables[1].counter_step = place<std::int64_t>(17200);
  tables[1].counter = tables[1].weights + 3;
  expect_error(ADAGRAD_ERROR_OVERLAP);
  tables[1].counter = reinterpret_cast<float*>(tables[1].counter_step) + 1;
  expect_error(ADAGRAD_ERROR_OVERLAP);
  tables[1].counter = place<float>(17000);
  tables[1].counter_step = reinterpret_cast<std::int64_t*>(const_cast<void*>(tables[0].indices));
  expect_error(ADAGRAD_ERROR_OVERLAP);
  tables[1].counter_step = place<std::int64_t>(17200);
  // The options themselves inside a written buffer. Placed field by field:
  // a byte copy of o would carry its uninitialised padding into the arena,
  // and expect_untouched compares every arena byte (valgrind reports that).
  auto* inside_state = reinterpret_cast<adagrad_embedding_options*>(tables[0].state);
  inside_state->weight_decay_mode = o.weight_decay_mode;
  inside_state->counter_halflife = o.counter_halflife;
  inside_state->counter_decay = o.counter_decay;
  inside_state->max_norm = o.max_norm;
  inside_state->max_gradient = o.max_gradient;
  tables[1].options = inside_state;
  expect_error(ADAGRAD_ERROR_OVERLAP);
}

TEST_F(EmbeddingBagContract, UnsupportedIsa) {
  snapshot();
  for (int rowwise : {0, 1}) {
    EXPECT_EQ(ADAGRAD_ERROR_UNSUPPORTED_ISA,
              embedding_bag_step_isa_as_int(rowwise, 99, tables, 2, kBags, type, &params,
                                            workspace, workspace_size));
  }
  expect_untouched();
}

TEST_F(EmbeddingBagContract, SizeOverflow) {
  tables[1].num_rows = SIZE_MAX / 4;
  expect_error(ADAGRAD_ERROR_SIZE_OVERFLOW);
  tables[1].num_rows = kRows;
  tables[0].grad_output_stride = SIZE_MAX / 8;
  expect_error(ADAGRAD_ERROR_SIZE_OVERFLOW);
}

// One failure of each kind at once: the documented order decides.
TEST_F(EmbeddingBagContract, ChecksRunInTheDocumentedOrder) {
  indices64(0)[0] = -1;                     // indices
  offsets64(1)[1] = 5;                      // offsets (2 -> 5, then 2: decreasing)
  workspace_size = 1;                       // workspace
  tables[1].state = tables[1].weights + 1;  // overlap
  expect_error(ADAGRAD_ERROR_OVERLAP);
  tables[1].state = place<float>(8192 + 1024);
  expect_error(ADAGRAD_ERROR_WORKSPACE_TOO_SMALL);
  workspace_size = adagrad_embedding_bag_workspace_size(kIndices, kBags);
  expect_error(ADAGRAD_ERROR_INVALID_OFFSETS);
  offsets64(1)[1] = 2;
  expect_error(ADAGRAD_ERROR_INDEX_OUT_OF_RANGE);
  tables[1].num_rows = SIZE_MAX / 4;  // sizes before the indices
  expect_error(ADAGRAD_ERROR_SIZE_OVERFLOW);
  params.lr = -1;  // parameters before sizes
  expect_error(ADAGRAD_ERROR_INVALID_PARAMS);
}

TEST_F(EmbeddingBagContract, NoOps) {
  snapshot();
  // No tables: tables may be NULL.
  EXPECT_EQ(ADAGRAD_OK,
            adagrad_embedding_bag_step(nullptr, 0, kBags, type, &params, nullptr, 0, nullptr));
  // dim 0: everything checked, nothing written.
  tables[0].dim = 0;
  tables[1].dim = 0;
  EXPECT_EQ(ADAGRAD_OK, call(false));
  EXPECT_EQ(ADAGRAD_OK, call(true));
  expect_untouched();
  indices64(0)[0] = kRows;
  expect_error(ADAGRAD_ERROR_INDEX_OUT_OF_RANGE);
}

// No bags at all: offsets may be NULL (or the one entry 0), no indices.
TEST_F(EmbeddingBagContract, NoBags) {
  for (auto& t : tables) {
    t.num_indices = 0;
    t.offsets = nullptr;
    t.indices = nullptr;
    t.grad_output = nullptr;
  }
  snapshot();
  EXPECT_EQ(ADAGRAD_OK,
            adagrad_embedding_bag_step(tables, 2, 0, type, &params, nullptr, 0, nullptr));
  expect_untouched();
  tables[0].num_indices = 1;
  EXPECT_EQ(ADAGRAD_ERROR_NULL_POINTER,
            adagrad_embedding_bag_step(tables, 2, 0, type, &params, nullptr, 0, nullptr));
}

}  // namespace
}  // namespace adagrad_test
