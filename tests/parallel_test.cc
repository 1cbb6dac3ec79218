// SPDX-License-Identifier: BSD-3-Clause
// Steps over an adagrad_pool and over many tensors: bitwise equal to the
// single-threaded adagrad_step for any pool size and any split, under the
// caller's rounding mode, and nothing written on any error.
#include <gtest/gtest.h>

#include <algorithm>
#include <cfenv>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <memory>
#include <random>
#include <thread>
#include <vector>

#include "adagrad/adagrad.h"
#include "guarded_buffer.h"

namespace adagrad_test {
namespace {

struct PoolDeleter {
  void operator()(adagrad_pool* pool) const { adagrad_pool_destroy(pool); }
};
using Pool = std::unique_ptr<adagrad_pool, PoolDeleter>;

Pool make_pool(std::size_t threads) { return Pool(adagrad_pool_create(threads)); }

adagrad_status single(float* w, const float* g, float* G, std::size_t n, const adagrad_params& p) {
  return adagrad_step(w, g, G, n, &p);
}
adagrad_status single(double* w, const double* g, double* G, std::size_t n,
                      const adagrad_params& p) {
  return adagrad_step_f64(w, g, G, n, &p);
}
adagrad_status parallel(adagrad_pool* pool, float* w, const float* g, float* G, std::size_t n,
                        const adagrad_params& p) {
  return adagrad_step_parallel(pool, w, g, G, n, &p);
}
adagrad_status parallel(adagrad_pool* pool, double* w, const double* g, double* G, std::size_t n,
                        const adagrad_params& p) {
  return adagrad_step_parallel_f64(pool, w, g, G, n, &p);
}

template <class T>
void fill(std::vector<T>& values, std::mt19937_64& rng, double low, double high) {
  std::uniform_real_distribution<double> dist(low, high);
  for (auto& v : values) v = static_cast<T>(dist(rng));
}

template <class T>
void expect_same(const std::vector<T>& got, const std::vector<T>& want, const char* what) {
  ASSERT_EQ(want.size(), got.size());
  for (std::size_t i = 0; i < got.size(); ++i) {
    ASSERT_TRUE(same_value(got[i], want[i]))
        << what << "[" << i << "]: " << hex(got[i]) << ", single-threaded " << hex(want[i]);
  }
}

// One tensor through pools of 1 to 7 threads (more threads than cores is
// fine) at lengths below, at and far above the threshold for splitting, with
// w both line-aligned and not, so chunk boundaries move.
template <class T>
void parallel_matches_single() {
  std::mt19937_64 rng(11);
  adagrad_params p = adagrad_params_default();
  p.weight_decay = 0.01;
  for (std::size_t threads : {0u, 1u, 2u, 3u, 4u, 7u}) {
    Pool pool = threads == 0 ? Pool() : make_pool(threads);
    for (std::size_t n : {0u, 1u, 100u, 32767u, 65537u, 262147u, 1048589u}) {
      for (std::size_t shift : {0u, 3u}) {
        std::vector<T> w(n + shift), g(n + shift), G(n + shift);
        fill(w, rng, -1, 1);
        fill(g, rng, -1, 1);
        fill(G, rng, 0, 2);
        std::vector<T> w_ref = w, G_ref = G;
        ASSERT_EQ(ADAGRAD_OK,
                  parallel(pool.get(), w.data() + shift, g.data() + shift, G.data() + shift, n, p));
        ASSERT_EQ(ADAGRAD_OK,
                  single(w_ref.data() + shift, g.data() + shift, G_ref.data() + shift, n, p));
        SCOPED_TRACE(testing::Message()
                     << "threads=" << threads << " n=" << n << " shift=" << shift);
        expect_same(w, w_ref, "w");
        expect_same(G, G_ref, "G");
        if (testing::Test::HasFatalFailure()) return;
      }
    }
  }
}

TEST(Parallel, MatchesSingleThreadF32) { parallel_matches_single<float>(); }
TEST(Parallel, MatchesSingleThreadF64) { parallel_matches_single<double>(); }

// The pool's own contract: its limits, and the same bits however its
// workers are found (spinning, asleep, busy with another caller's step).
TEST(Pool, Limits) {
  EXPECT_EQ(1u, adagrad_pool_threads(nullptr));
  adagrad_pool_destroy(nullptr);
  EXPECT_EQ(nullptr, adagrad_pool_create(ADAGRAD_POOL_MAX_THREADS + 1));
  for (std::size_t threads : {1u, 2u, 5u}) {
    Pool pool = make_pool(threads);
    ASSERT_NE(nullptr, pool.get());
    EXPECT_EQ(threads, adagrad_pool_threads(pool.get()));
  }
  Pool online = make_pool(0);  // one per online CPU
  ASSERT_NE(nullptr, online.get());
  EXPECT_GE(adagrad_pool_threads(online.get()), 1u);
}

// Steps far enough apart that the workers have gone to sleep (they spin for
// about 100 microseconds): each step must wake them or run without them.
TEST(Pool, StepsAfterTheWorkersSleep) {
  const std::size_t n = 1 << 20;
  std::mt19937_64 rng(3);
  std::vector<float> w(n), g(n), G(n);
  fill(w, rng, -1, 1);
  fill(g, rng, -1, 1);
  fill(G, rng, 0, 2);
  std::vector<float> w_ref = w, G_ref = G;
  const adagrad_params p = adagrad_params_default();
  Pool pool = make_pool(3);
  for (int step = 0; step < 5; ++step) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    ASSERT_EQ(ADAGRAD_OK, adagrad_step_parallel(pool.get(), w.data(), g.data(), G.data(), n, &p));
    ASSERT_EQ(ADAGRAD_OK, adagrad_step(w_ref.data(), g.data(), G_ref.data(), n, &p));
  }
  expect_same(w, w_ref, "w");
  expect_same(G, G_ref, "G");
}

// Four threads step their own tensors on one shared pool at the same time:
// a step that finds the pool taken runs on its own thread. (Under
// ThreadSanitizer, tests/run --sanitize, this is the pool's race test.)
TEST(Pool, ConcurrentStepsShareOnePool) {
  const std::size_t n = 300000, callers = 4, steps = 20;
  Pool pool = make_pool(2);
  std::vector<std::vector<float>> ws(callers), Gs(callers), w_refs, G_refs;
  std::vector<float> g(n);
  std::mt19937_64 rng(9);
  fill(g, rng, -1, 1);
  for (std::size_t c = 0; c < callers; ++c) {
    ws[c].resize(n);
    Gs[c].resize(n);
    fill(ws[c], rng, -1, 1);
    fill(Gs[c], rng, 0, 2);
  }
  w_refs = ws;
  G_refs = Gs;
  const adagrad_params p = adagrad_params_default();
  std::vector<adagrad_status> failed(callers, ADAGRAD_OK);
  std::vector<std::thread> threads;
  for (std::size_t c = 0; c < callers; ++c) {
    threads.emplace_back([&, c] {
      for (std::size_t step = 0; step < steps; ++step) {
        const adagrad_status status =
            adagrad_step_parallel(pool.get(), ws[c].data(), g.data(), Gs[c].data(), n, &p);
        if (status != ADAGRAD_OK) failed[c] = status;
      }
    });
  }
  for (auto& t : threads) t.join();
  for (std::size_t c = 0; c < callers; ++c) {
    ASSERT_EQ(ADAGRAD_OK, failed[c]);
    for (std::size_t step = 0; step < steps; ++step) {
      ASSERT_EQ(ADAGRAD_OK, adagrad_step(w_refs[c].data(), g.data(), G_refs[c].data(), n, &p));
    }
    expect_same(ws[c], w_refs[c], "w");
    expect_same(Gs[c], G_refs[c], "G");
  }
}

// Under a directed rounding mode the workers must round as the caller does.
TEST(Parallel, WorkersUseTheCallersRoundingMode) {
  const std::size_t n = 1 << 20;
  std::mt19937_64 rng(5);
  std::vector<float> w(n), g(n), G(n);
  fill(w, rng, -1, 1);
  fill(g, rng, -1, 1);
  fill(G, rng, 0, 2);
  const adagrad_params p = adagrad_params_default();
  Pool pool = make_pool(4);
  std::vector<float> w_up = w, G_up = G, w_up_ref = w, G_up_ref = G, w_near = w, G_near = G;
  ASSERT_EQ(0, std::fesetround(FE_UPWARD));
  const adagrad_status parallel_status =
      parallel(pool.get(), w_up.data(), g.data(), G_up.data(), n, p);
  const adagrad_status single_status = single(w_up_ref.data(), g.data(), G_up_ref.data(), n, p);
  ASSERT_EQ(0, std::fesetround(FE_TONEAREST));
  ASSERT_EQ(ADAGRAD_OK, parallel_status);
  ASSERT_EQ(ADAGRAD_OK, single_status);
  ASSERT_EQ(ADAGRAD_OK, single(w_near.data(), g.data(), G_near.data(), n, p));
  expect_same(w_up, w_up_ref, "w");
  expect_same(G_up, G_up_ref, "G");
  // The mode really changes results, so the comparison above can fail.
  std::size_t differing = 0;
  for (std::size_t i = 0; i < n; ++i) differing += to_bits(w_up[i]) != to_bits(w_near[i]);
  EXPECT_GT(differing, n / 10);
}

// A model's parameter list: sizes from empty to large, one gradient buffer
// shared by two tensors (allowed: gradients are only read).
template <class T, class Tensor>
void multi_matches_single(adagrad_status (*multi)(const Tensor*, std::size_t, const adagrad_params*,
                                                  adagrad_pool*)) {
  std::mt19937_64 rng(23);
  const std::vector<std::size_t> sizes = {768, 0, 1, 3072, 589824, 17, 2359296, 768, 30522 * 7, 5};
  std::vector<std::vector<T>> ws, gs, Gs;
  for (std::size_t n : sizes) {
    ws.emplace_back(n);
    gs.emplace_back(n);
    Gs.emplace_back(n);
    fill(ws.back(), rng, -1, 1);
    fill(gs.back(), rng, -1, 1);
    fill(Gs.back(), rng, 0, 2);
  }
  adagrad_params p = adagrad_params_default();
  p.lr_decay = 0.01;
  p.step = 3;
  for (std::size_t threads : {0u, 1u, 2u, 4u}) {
    Pool pool = threads == 0 ? Pool() : make_pool(threads);
    auto w = ws, G = Gs, w_ref = ws, G_ref = Gs;
    std::vector<Tensor> tensors;
    for (std::size_t t = 0; t < sizes.size(); ++t) {
      // Tensors 0 and 7 (both 768 elements) read the same gradient.
      const T* g = t == 7 ? gs[0].data() : gs[t].data();
      tensors.push_back({w[t].data(), g, G[t].data(), sizes[t]});
      ASSERT_EQ(ADAGRAD_OK, single(w_ref[t].data(), g, G_ref[t].data(), sizes[t], p));
    }
    ASSERT_EQ(ADAGRAD_OK, multi(tensors.data(), tensors.size(), &p, pool.get()));
    for (std::size_t t = 0; t < sizes.size(); ++t) {
      SCOPED_TRACE(testing::Message() << "threads=" << threads << " tensor=" << t);
      expect_same(w[t], w_ref[t], "w");
      expect_same(G[t], G_ref[t], "G");
      if (testing::Test::HasFatalFailure()) return;
    }
  }
}

TEST(Multi, MatchesPerTensorStepsF32) {
  multi_matches_single<float, adagrad_tensor>(adagrad_step_multi);
}
TEST(Multi, MatchesPerTensorStepsF64) {
  multi_matches_single<double, adagrad_tensor_f64>(adagrad_step_multi_f64);
}

TEST(Multi, EmptyListIsANoOp) {
  const adagrad_params p = adagrad_params_default();
  EXPECT_EQ(ADAGRAD_OK, adagrad_step_multi(nullptr, 0, &p, nullptr));
  EXPECT_EQ(ADAGRAD_ERROR_NULL_POINTER, adagrad_step_multi(nullptr, 1, &p, nullptr));
  EXPECT_EQ(ADAGRAD_ERROR_INVALID_PARAMS, adagrad_step_multi(nullptr, 0, nullptr, nullptr));
}

// Four tensors of which the last is bad in one way: nothing may change in any.
class MultiBadInput : public testing::Test {
 protected:
  static constexpr std::size_t kN = 40000;
  MultiBadInput() : arena_(16 * kN) {
    for (std::size_t i = 0; i < arena_.size(); ++i)
      arena_[i] = 0.5f + 0.001f * static_cast<float>(i % 1000);
    for (std::size_t t = 0; t < 4; ++t) {
      tensors_.push_back({at(3 * t * kN), at((3 * t + 1) * kN), at((3 * t + 2) * kN), kN});
    }
  }
  float* at(std::size_t i) { return arena_.data() + i; }
  void expect(adagrad_status want, const adagrad_params* p = nullptr) {
    const adagrad_params defaults = adagrad_params_default();
    const std::vector<float> before = arena_;
    Pool pool = make_pool(2);
    for (adagrad_pool* with : {static_cast<adagrad_pool*>(nullptr), pool.get()}) {
      EXPECT_EQ(want,
                adagrad_step_multi(tensors_.data(), tensors_.size(), p ? p : &defaults, with));
      EXPECT_TRUE(arena_ == before) << "a tensor changed";
    }
  }
  std::vector<float> arena_;
  std::vector<adagrad_tensor> tensors_;
};

TEST_F(MultiBadInput, NullBuffer) {
  tensors_[3].G = nullptr;
  expect(ADAGRAD_ERROR_NULL_POINTER);
}

TEST_F(MultiBadInput, Misaligned) {
  tensors_[3].w = reinterpret_cast<float*>(reinterpret_cast<char*>(tensors_[3].w) + 2);
  expect(ADAGRAD_ERROR_MISALIGNED);
}

TEST_F(MultiBadInput, WeightsOfTwoTensorsOverlap) {
  tensors_[3].w = tensors_[0].w + kN / 2;
  expect(ADAGRAD_ERROR_OVERLAP);
}

TEST_F(MultiBadInput, AccumulatorOverlapsAnotherTensorsGradient) {
  tensors_[3].G = const_cast<float*>(tensors_[1].g) + 1;
  expect(ADAGRAD_ERROR_OVERLAP);
}

TEST_F(MultiBadInput, GradientOverlapsAnotherTensorsWeights) {
  tensors_[3].g = tensors_[2].w + kN - 1;
  expect(ADAGRAD_ERROR_OVERLAP);
}

// The descriptors are read again after the steps began writing: an array of
// them that lies in a weight or accumulator buffer (here tensor 1's w) is an
// overlap, not a crash.
TEST_F(MultiBadInput, DescriptorsInsideAWrittenBuffer) {
  for (std::size_t written : {std::size_t{0}, std::size_t{2}}) {  // tensor 1's w, then its G
    float* inside = tensors_[1].w + (written == 0 ? 0 : 2 * kN);
    // 16 bytes in: aligned for the descriptors (the arena is, and kN floats
    // are a multiple of 8 bytes).
    auto* placed = reinterpret_cast<adagrad_tensor*>(inside + 4);
    std::memcpy(static_cast<void*>(placed), tensors_.data(),
                tensors_.size() * sizeof(adagrad_tensor));
    const adagrad_params p = adagrad_params_default();
    const std::vector<float> before = arena_;
    Pool pool = make_pool(2);
    for (adagrad_pool* with : {static_cast<adagrad_pool*>(nullptr), pool.get()}) {
      EXPECT_EQ(ADAGRAD_ERROR_OVERLAP, adagrad_step_multi(placed, tensors_.size(), &p, with));
      EXPECT_TRUE(arena_ == before) << "a tensor changed";
    }
  }
}

TEST_F(MultiBadInput, InvalidParameters) {
  adagrad_params p = adagrad_params_default();
  p.eps = -1;
  expect(ADAGRAD_ERROR_INVALID_PARAMS, &p);
}

// Random lists of 2 to 8 and of 250 to 300 tensors (both sides of the sorted
// overlap check's limit, 256) laid out apart in one arena, and in half of the
// trials one buffer moved to a random place: the status is OVERLAP exactly
// when a written buffer (w, G) shares a byte with any other buffer (two
// gradients may), as comparing every pair here says; nothing changes then.
TEST(Multi, OverlapStatusMatchesEveryPairCompared) {
  std::mt19937_64 rng(20261207);
  std::vector<float> arena(3 * 300 * 4, 0.5f);
  const adagrad_params p = adagrad_params_default();
  for (int trial = 0; trial < 400; ++trial) {
    const std::size_t count = trial % 4 == 0 ? 250 + rng() % 51 : 2 + rng() % 7;
    std::vector<std::size_t> slots(3 * count);
    for (std::size_t i = 0; i < slots.size(); ++i) slots[i] = 4 * i;
    std::shuffle(slots.begin(), slots.end(), rng);
    std::vector<adagrad_tensor> tensors(count);
    for (std::size_t t = 0; t < count; ++t) {
      const std::size_t n = rng() % 5;  // 0 to 4 elements: a slot holds 4
      tensors[t] = {&arena[slots[3 * t]], &arena[slots[3 * t + 1]], &arena[slots[3 * t + 2]], n};
    }
    if (trial % 2 == 1) {
      adagrad_tensor& moved = tensors[rng() % count];
      float* to = &arena[rng() % (arena.size() - 4)];
      switch (rng() % 3) {
        case 0: moved.w = to; break;
        case 1: moved.g = to; break;
        default: moved.G = to; break;
      }
    }
    struct buffer {
      const float* data;
      std::size_t n;
      bool written;
    };
    std::vector<buffer> buffers;
    for (const adagrad_tensor& t : tensors) {
      if (t.n == 0) continue;
      buffers.push_back({t.w, t.n, true});
      buffers.push_back({t.g, t.n, false});
      buffers.push_back({t.G, t.n, true});
    }
    bool overlapping = false;
    for (std::size_t i = 0; i < buffers.size() && !overlapping; ++i) {
      for (std::size_t j = i + 1; j < buffers.size() && !overlapping; ++j) {
        const buffer& a = buffers[i];
        const buffer& b = buffers[j];
        overlapping = (a.written || b.written) && a.data < b.data + b.n && b.data < a.data + a.n;
      }
    }
    const std::vector<float> before = arena;
    SCOPED_TRACE(testing::Message() << "trial " << trial << ", " << count << " tensors");
    EXPECT_EQ(overlapping ? ADAGRAD_ERROR_OVERLAP : ADAGRAD_OK,
              adagrad_step_multi(tensors.data(), count, &p, nullptr));
    if (overlapping) {
      EXPECT_TRUE(arena == before) << "a tensor changed";
    }
    std::fill(arena.begin(), arena.end(), 0.5f);
  }
}

TEST(ParallelBadInput, SameStatusesAsTheSingleStep) {
  std::vector<float> buffer(3 * 100000, 1.0f);
  const std::vector<float> before = buffer;
  Pool pool = make_pool(2);
  const adagrad_params p = adagrad_params_default();
  float* w = buffer.data();
  EXPECT_EQ(ADAGRAD_ERROR_OVERLAP,
            adagrad_step_parallel(pool.get(), w, w + 50000, w + 200000, 100000, &p));
  EXPECT_EQ(ADAGRAD_ERROR_NULL_POINTER,
            adagrad_step_parallel(pool.get(), w, nullptr, w + 200000, 100000, &p));
  EXPECT_EQ(ADAGRAD_ERROR_INVALID_PARAMS,
            adagrad_step_parallel(pool.get(), w, w + 100000, w + 200000, 100000, nullptr));
  EXPECT_TRUE(buffer == before);
}

// A batch of uniform row indices in which every `period`-th occurrence (period
// > 3) is the row `hot`: heavy duplicates, spread over the whole batch.
std::vector<std::int64_t> batch_with_hot_row(std::size_t num_indices, std::size_t num_rows,
                                             std::size_t period, std::int64_t hot,
                                             std::mt19937_64& rng) {
  std::vector<std::int64_t> indices(num_indices);
  std::uniform_int_distribution<std::int64_t> any(0, static_cast<std::int64_t>(num_rows) - 1);
  for (std::size_t k = 0; k < num_indices; ++k) indices[k] = k % period == 3 ? hot : any(rng);
  return indices;
}

// Sparse and row-wise steps through pools of 1 to 5 threads: rows split
// across tasks at row boundaries, heavy duplicates (one row takes a tenth of
// the batch), both duplicate modes, both kinds of state, under round-upward:
// bitwise equal to the calling thread alone.
TEST(ParallelEmbedding, SparseStepsMatchTheCallingThread) {
  const std::size_t num_rows = 4000, dim = 64, num_indices = 6000;
  std::mt19937_64 rng(99);
  std::vector<float> table(num_rows * dim), state(num_rows * dim), row_state(num_rows),
      grads(num_indices * dim);
  fill(table, rng, -1.0, 1.0);
  fill(state, rng, 0.0, 2.0);
  fill(row_state, rng, 0.0, 2.0);
  fill(grads, rng, -1.0, 1.0);
  const std::vector<std::int64_t> indices = batch_with_hot_row(num_indices, num_rows, 10, 77, rng);
  std::vector<unsigned char> workspace(
      adagrad_sparse_workspace_size(num_indices, dim, ADAGRAD_DUPLICATES_SUM));
  adagrad_params p = adagrad_params_default();
  p.weight_decay = 0.01;
  const int caller_mode = std::fegetround();
  std::fesetround(FE_UPWARD);
  for (bool rowwise : {false, true}) {
    for (adagrad_duplicates dup : {ADAGRAD_DUPLICATES_SUM, ADAGRAD_DUPLICATES_SEQUENTIAL}) {
      auto* step = rowwise ? adagrad_rowwise_sparse_step : adagrad_sparse_step;
      std::vector<float> want_table = table, want_state = rowwise ? row_state : state;
      ASSERT_EQ(ADAGRAD_OK, step(want_table.data(), want_state.data(), num_rows, dim,
                                 indices.data(), num_indices, grads.data(), &p, dup,
                                 workspace.data(), workspace.size(), nullptr));
      for (std::size_t threads = 1; threads <= 5; ++threads) {
        Pool pool = make_pool(threads);
        std::vector<float> got_table = table, got_state = rowwise ? row_state : state;
        ASSERT_EQ(ADAGRAD_OK, step(got_table.data(), got_state.data(), num_rows, dim,
                                   indices.data(), num_indices, grads.data(), &p, dup,
                                   workspace.data(), workspace.size(), pool.get()));
        expect_same(got_table, want_table, "table");
        expect_same(got_state, want_state, "state");
      }
    }
  }
  // The dense row-wise step, rows split across the pool.
  std::vector<float> want_w = table, want_state = row_state;
  ASSERT_EQ(ADAGRAD_OK, adagrad_rowwise_step(want_w.data(), grads.data(), want_state.data(),
                                             num_rows, dim, &p, nullptr));
  for (std::size_t threads = 2; threads <= 5; ++threads) {
    Pool pool = make_pool(threads);
    std::vector<float> got_w = table, got_state = row_state;
    ASSERT_EQ(ADAGRAD_OK, adagrad_rowwise_step(got_w.data(), grads.data(), got_state.data(),
                                               num_rows, dim, &p, pool.get()));
    expect_same(got_w, want_w, "w");
    expect_same(got_state, want_state, "row_state");
  }
  std::fesetround(caller_mode);
}

// The composite sparse steps (proximal, dual averaging) share the row split:
// bitwise equal to the calling thread for pools of 2 to 4 threads.
TEST(ParallelEmbedding, CompositeSparseStepsMatchTheCallingThread) {
  const std::size_t num_rows = 3000, dim = 40, num_indices = 5000;
  std::mt19937_64 rng(7);
  std::vector<float> table(num_rows * dim), G(num_rows * dim), z(num_rows * dim),
      grads(num_indices * dim);
  fill(table, rng, -1.0, 1.0);
  fill(G, rng, 0.0, 2.0);
  fill(z, rng, -3.0, 3.0);
  fill(grads, rng, -1.0, 1.0);
  const std::vector<std::int64_t> indices = batch_with_hot_row(num_indices, num_rows, 7, 11, rng);
  std::vector<unsigned char> workspace(
      adagrad_sparse_workspace_size(num_indices, dim, ADAGRAD_DUPLICATES_SUM));
  adagrad_params p = adagrad_params_default();
  p.step = 5;
  adagrad_regularization r{0.001, 0.01};
  for (adagrad_duplicates dup : {ADAGRAD_DUPLICATES_SUM, ADAGRAD_DUPLICATES_SEQUENTIAL}) {
    std::vector<float> want_table = table, want_G = G, want_z = z;
    ASSERT_EQ(ADAGRAD_OK,
              adagrad_sparse_proximal_step(want_table.data(), want_G.data(), num_rows, dim,
                                           indices.data(), num_indices, grads.data(), &p, &r, dup,
                                           workspace.data(), workspace.size(), nullptr));
    ASSERT_EQ(ADAGRAD_OK,
              adagrad_sparse_da_step(want_table.data(), want_z.data(), want_G.data(), num_rows, dim,
                                     indices.data(), num_indices, grads.data(), &p, &r, dup,
                                     workspace.data(), workspace.size(), nullptr));
    for (std::size_t threads = 2; threads <= 4; ++threads) {
      Pool pool = make_pool(threads);
      std::vector<float> got_table = table, got_G = G, got_z = z;
      ASSERT_EQ(ADAGRAD_OK,
                adagrad_sparse_proximal_step(got_table.data(), got_G.data(), num_rows, dim,
                                             indices.data(), num_indices, grads.data(), &p, &r, dup,
                                             workspace.data(), workspace.size(), pool.get()));
      ASSERT_EQ(ADAGRAD_OK,
                adagrad_sparse_da_step(got_table.data(), got_z.data(), got_G.data(), num_rows, dim,
                                       indices.data(), num_indices, grads.data(), &p, &r, dup,
                                       workspace.data(), workspace.size(), pool.get()));
      SCOPED_TRACE(testing::Message() << "threads=" << threads << " dup=" << dup);
      expect_same(got_table, want_table, "table");
      expect_same(got_G, want_G, "G");
      expect_same(got_z, want_z, "z");
    }
  }
}

// The mixed-precision steps through pools of 2 to 4 threads, at a length
// that is split and starts off a cache line: bf16 and fp16 weights with
// nearest-even and stochastic rounding, and f32 master weights writing a
// 16-bit copy, each bitwise equal to the calling thread alone.
TEST(ParallelMixed, MixedStepsMatchTheCallingThread) {
  const std::size_t n = 300001, offset = 3;
  std::mt19937_64 rng(5);
  std::vector<float> w32(n + offset), g32(n + offset), G(n + offset);
  fill(w32, rng, -1.0, 1.0);
  fill(g32, rng, -1.0, 1.0);
  fill(G, rng, 0.0, 2.0);
  std::vector<std::uint16_t> w16(n + offset), g16(n + offset);
  adagrad_params p = adagrad_params_default();
  p.step = 3;
  for (adagrad_dtype half : {ADAGRAD_DTYPE_BF16, ADAGRAD_DTYPE_F16}) {
    ASSERT_EQ(ADAGRAD_OK, adagrad_convert_to_half(w32.data(), w16.data(), w16.size(), half));
    ASSERT_EQ(ADAGRAD_OK, adagrad_convert_to_half(g32.data(), g16.data(), g16.size(), half));
    for (adagrad_rounding rounding : {ADAGRAD_ROUND_NEAREST_EVEN, ADAGRAD_ROUND_STOCHASTIC}) {
      adagrad_mixed_options o = adagrad_mixed_options_default();
      o.rounding = rounding;
      o.seed = 42;
      o.grad_scale = 1024.0;
      std::vector<std::uint16_t> want_w = w16;
      std::vector<float> want_G = G;
      ASSERT_EQ(ADAGRAD_OK, adagrad_step_mixed(want_w.data() + offset, half, g16.data() + offset,
                                               half, want_G.data() + offset, n, &p, &o, nullptr));
      std::vector<float> want_master = w32, want_master_G = G;
      std::vector<std::uint16_t> want_copy(n + offset);
      ASSERT_EQ(ADAGRAD_OK,
                adagrad_step_master(want_master.data() + offset, g16.data() + offset, half,
                                    want_master_G.data() + offset, want_copy.data() + offset, half,
                                    n, &p, &o, nullptr));
      for (std::size_t threads = 2; threads <= 4; ++threads) {
        SCOPED_TRACE(testing::Message()
                     << "threads=" << threads << " dtype=" << half << " rounding=" << rounding);
        Pool pool = make_pool(threads);
        std::vector<std::uint16_t> got_w = w16;
        std::vector<float> got_G = G;
        ASSERT_EQ(ADAGRAD_OK,
                  adagrad_step_mixed(got_w.data() + offset, half, g16.data() + offset, half,
                                     got_G.data() + offset, n, &p, &o, pool.get()));
        ASSERT_TRUE(got_w == want_w);
        expect_same(got_G, want_G, "G");
        std::vector<float> got_master = w32, got_master_G = G;
        std::vector<std::uint16_t> got_copy(n + offset);
        ASSERT_EQ(ADAGRAD_OK,
                  adagrad_step_master(got_master.data() + offset, g16.data() + offset, half,
                                      got_master_G.data() + offset, got_copy.data() + offset, half,
                                      n, &p, &o, pool.get()));
        expect_same(got_master, want_master, "master w");
        expect_same(got_master_G, want_master_G, "master G");
        ASSERT_TRUE(got_copy == want_copy);
      }
    }
  }
}

}  // namespace
}  // namespace adagrad_test
