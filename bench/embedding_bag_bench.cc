// SPDX-License-Identifier: BSD-3-Clause
// The fused embedding-bag step against the unfused library path:
//
//   embedding_bag/<path>/<state>/<pages>/<dist>/pool:<p>/<dim>
//       one step of a batch of 2048 bags of p indices (pooling factor 1 or
//       20, SUM, no per-sample weights, int64) on one table of 2^20 rows x
//       dim (32, 64, 128, 256) f32; path fused (adagrad_embedding_bag_step,
//       adagrad_rowwise_embedding_bag_step) or unfused (the num_indices x dim
//       gradient materialised from grad_output, then adagrad_sparse_step /
//       adagrad_rowwise_sparse_step with ADAGRAD_DUPLICATES_SUM: the same
//       bits); state elem (2^20 x dim) or rowwise (2^20); pages 4k (the
//       table and state advised MADV_NOHUGEPAGE before their first touch) or
//       huge (adagrad_table_alloc); dist uniform or zipf (s = 1.05 over the
//       rows, ranks scattered by a fixed permutation). Dispatched ISA, one
//       thread. Each iteration steps the same batch again.
//
// Counters: ns_per_index; huge_bytes, the table's and state's bytes on huge
// pages as /proc/self/smaps reports them after the first step
// (adagrad_table_huge_page_bytes): what the row got, not what it asked for.
// Traffic (SetBytesProcessed), per step: fused, 16 * dim per unique row
// (per-element: table and state rows read and written) or 8 * dim + 8
// (row-wise), plus 4 * dim per bag (its grad_output row); unfused adds the
// gradient it writes and reads back, 8 * dim per index. The figure to quote
// is the same-run ratio fused / unfused of the same case.
//
// The limits of the fused step, at pooling 20 and dims 64 and 128 (the other
// fields as above; the best ISA this CPU runs, bench/sparse_limits.h):
//
//   embedding_bag_stream/<state>/<pages>/<dist>/pool:20/<dim>
//       the fused step's bytes moved sequentially: as many table and state
//       floats as its unique rows hold, read and written (x += 1), and
//       grad_output read, on memory of the same page kind;
//   embedding_bag_gather/<state>/<pages>/<dist>/pool:20/<dim>/<form>:<D>
//       the step's own unique rows of the same table, in its order (sorted
//       by row), each updated once with trivial arithmetic (w += g, G +=
//       g * g; row-wise w += g and its accumulator + 1), g the grad_output
//       row of its first bag; the table and state rows D rows ahead
//       prefetched with write intent (0: none), <form> = prefetch (into
//       L1), prefetch_l2 (into L2 only), prefetch_l2_l1 (into L2, then
//       into L1 two rows ahead) or prefetch_l2_bursts (into L2, 16 rows
//       back to back once fewer than D are asked for ahead). The fastest form and D is the random-row
//       limit of this CPU; bench/report.py names it.
//
// Both count the fused step's traffic, so their times compare directly.
//
//   embedding_bag_threads/<path>/<state>/threads:<1|2>
//       the fused or unfused step (the gradient materialised on the calling
//       thread) on a table in cache, 4096 rows x 128 (table and state 4 MiB),
//       2048 bags of 20 uniform rows, on an adagrad_pool of 2 threads created
//       before timing, or on the caller alone (threads:1).
//   embedding_bag_loaded/fused/<state>/<pages>/uniform/pool:20/128/neighbour:<n>
//       the fused step as embedding_bag/ times it, quiet (none) or with
//       another process (this executable again, posix_spawn) copying a 1 GiB
//       buffer on 4 KiB pages back and forth from before the first call to
//       the end (stream): what a user's tables keep beside a memory-heavy
//       job on the other core.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>
#include <string>
#include <vector>

#if defined(__linux__)
#include <signal.h>
#include <spawn.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>
#endif

#include "adagrad/adagrad.h"
#include "harness.h"
#include "sparse_limits_best.h"
#include "sparse_limits.h"

namespace {

constexpr std::size_t kRows = std::size_t{1} << 20;
constexpr std::size_t kBags = 2048;
constexpr std::size_t kDims[] = {32, 64, 128, 256};
constexpr std::size_t kPooling[] = {1, 20};
constexpr double kZipfExponent = 1.05;
constexpr double kLearningRate = 1e-3;
constexpr std::size_t kHugePage = std::size_t{2} << 20;
// The gather limit's prefetch forms (bench/sparse_limits_best.h) and
// distances, in rows, swept (0: no prefetch).
struct prefetch_setting {
  adagrad_bench::prefetch_form form;
  std::size_t distance;
};
constexpr prefetch_setting kPrefetchSettings[] = {
    {adagrad_bench::prefetch_form::into_l1, 0},     {adagrad_bench::prefetch_form::into_l1, 2},
    {adagrad_bench::prefetch_form::into_l1, 4},     {adagrad_bench::prefetch_form::into_l1, 8},
    {adagrad_bench::prefetch_form::into_l1, 16},    {adagrad_bench::prefetch_form::into_l1, 32},
    {adagrad_bench::prefetch_form::into_l2, 4},     {adagrad_bench::prefetch_form::into_l2, 8},
    {adagrad_bench::prefetch_form::into_l2, 16},    {adagrad_bench::prefetch_form::into_l2, 32},
    {adagrad_bench::prefetch_form::l2_then_l1, 4},  {adagrad_bench::prefetch_form::l2_then_l1, 8},
    {adagrad_bench::prefetch_form::l2_then_l1, 16}, {adagrad_bench::prefetch_form::l2_then_l1, 32},
    {adagrad_bench::prefetch_form::l2_bursts, 4},   {adagrad_bench::prefetch_form::l2_bursts, 8},
    {adagrad_bench::prefetch_form::l2_bursts, 16},  {adagrad_bench::prefetch_form::l2_bursts, 32},
};

enum class distribution { uniform, zipf };
enum class pages { small, huge };

// splitmix64, fixed seeds.
struct random_source {
  std::uint64_t state;
  std::uint64_t next() {
    std::uint64_t z = (state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  std::uint64_t below(std::uint64_t bound) {
    return static_cast<std::uint64_t>((static_cast<unsigned __int128>(next()) * bound) >> 64);
  }
  double unit() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }
};

std::vector<std::int64_t> make_indices(distribution d, std::size_t n) {
  std::vector<std::int64_t> indices(n);
  if (d == distribution::uniform) {
    random_source rng{0x5eed0011};
    for (auto& index : indices) index = static_cast<std::int64_t>(rng.below(kRows));
    return indices;
  }
  std::vector<double> cdf(kRows);
  double total = 0;
  for (std::size_t k = 0; k < kRows; ++k) {
    total += std::pow(static_cast<double>(k + 1), -kZipfExponent);
    cdf[k] = total;
  }
  std::vector<std::int64_t> permutation(kRows);
  for (std::size_t k = 0; k < kRows; ++k) permutation[k] = static_cast<std::int64_t>(k);
  random_source shuffle{0x5eed0013};
  for (std::size_t k = kRows - 1; k > 0; --k) {
    std::swap(permutation[k], permutation[shuffle.below(k + 1)]);
  }
  random_source rng{0x5eed0012};
  for (auto& index : indices) {
    const double u = rng.unit() * total;
    const auto rank =
        static_cast<std::size_t>(std::upper_bound(cdf.begin(), cdf.end(), u) - cdf.begin());
    index = permutation[std::min(rank, kRows - 1)];
  }
  return indices;
}

// Memory of either kind, zero-filled and touched before any timing.
struct region {
  void* p = nullptr;
  std::size_t bytes = 0;
  pages kind = pages::small;
  region(std::size_t n, pages k) : bytes(n), kind(k) {
    if (k == pages::huge) {
      p = adagrad_table_alloc(n);
    } else {
      const std::size_t rounded = (n + kHugePage - 1) / kHugePage * kHugePage;
      p = std::aligned_alloc(kHugePage, rounded);
#if defined(__linux__) && defined(MADV_NOHUGEPAGE)
      // 4 KiB pages for sure, even where THP is "always".
      if (p != nullptr) madvise(p, rounded, MADV_NOHUGEPAGE);
#endif
    }
    if (p == nullptr) throw std::bad_alloc();
    std::memset(p, 0, n);
  }
  ~region() {
    if (kind == pages::huge) {
      adagrad_table_free(p);
    } else {
      std::free(p);
    }
  }
  region(const region&) = delete;
  region& operator=(const region&) = delete;
  float* floats() const { return static_cast<float*>(p); }
};

// One table shape at a time (the registrations are grouped by it).
struct setup {
  std::size_t dim;
  pages kind;
  region table, state, row_state;
  setup(std::size_t d, pages k)
      : dim(d),
        kind(k),
        table(kRows * d * sizeof(float), k),
        state(kRows * d * sizeof(float), k),
        row_state(kRows * sizeof(float), k) {
    adagrad_bench::fill(table.floats(), kRows * dim, 1, -1.0, 1.0);
    adagrad_bench::fill(state.floats(), kRows * dim, 3, 0.5, 2.0);
    adagrad_bench::fill(row_state.floats(), kRows, 5, 0.5, 2.0);
  }
};

setup& setup_of(std::size_t dim, pages kind) {
  static std::unique_ptr<setup> current;
  if (!current || current->dim != dim || current->kind != kind) {
    current.reset();
    current = std::make_unique<setup>(dim, kind);
  }
  return *current;
}

struct bench_case {
  bool fused;
  bool rowwise;
  pages kind;
  distribution dist;
  std::size_t pooling, dim;
};

void embedding_bag(benchmark::State& st, bench_case c) {
  setup& s = setup_of(c.dim, c.kind);
  const std::size_t n = kBags * c.pooling;
  const std::vector<std::int64_t> indices = make_indices(c.dist, n);
  std::vector<std::int64_t> offsets(kBags + 1);
  for (std::size_t b = 0; b <= kBags; ++b) offsets[b] = static_cast<std::int64_t>(b * c.pooling);
  adagrad_bench::buffer<float> grad_output = adagrad_bench::page_array<float>(kBags * c.dim);
  adagrad_bench::fill(grad_output.get(), kBags * c.dim, 2, -0.1, 0.1);
  adagrad_bench::buffer<float> grads = adagrad_bench::page_array<float>(n * c.dim);
  const std::size_t workspace_size =
      std::max(adagrad_embedding_bag_workspace_size(n, kBags),
               adagrad_sparse_workspace_size(n, c.dim, ADAGRAD_DUPLICATES_SUM));
  adagrad_bench::buffer<unsigned char> workspace =
      adagrad_bench::page_array<unsigned char>(workspace_size);
  adagrad_params p = adagrad_params_default();
  p.lr = kLearningRate;
  float* state = c.rowwise ? s.row_state.floats() : s.state.floats();
  adagrad_embedding_table t{};
  t.weights = s.table.floats();
  t.state = state;
  t.num_rows = kRows;
  t.dim = c.dim;
  t.pooling = ADAGRAD_POOLING_SUM;
  t.indices = indices.data();
  t.offsets = offsets.data();
  t.num_indices = n;
  t.grad_output = grad_output.get();
  auto step = [&]() -> adagrad_status {
    if (c.fused) {
      return (c.rowwise ? adagrad_rowwise_embedding_bag_step : adagrad_embedding_bag_step)(
          &t, 1, kBags, ADAGRAD_INDEX_INT64, &p, workspace.get(), workspace_size, nullptr);
    }
    // The gradient of every occurrence written out (SUM, no weights: the
    // bag's row), then the sparse step.
    for (std::size_t b = 0; b < kBags; ++b) {
      for (std::size_t q = b * c.pooling; q < (b + 1) * c.pooling; ++q) {
        std::memcpy(grads.get() + q * c.dim, grad_output.get() + b * c.dim, c.dim * sizeof(float));
      }
    }
    return (c.rowwise ? adagrad_rowwise_sparse_step : adagrad_sparse_step)(
        s.table.floats(), state, kRows, c.dim, indices.data(), n, grads.get(), &p,
        ADAGRAD_DUPLICATES_SUM, workspace.get(), workspace_size, nullptr);
  };
  adagrad_bench::timed_loop(st, step);
  std::vector<std::int64_t> unique = indices;
  std::sort(unique.begin(), unique.end());
  const auto unique_rows =
      static_cast<std::uint64_t>(std::unique(unique.begin(), unique.end()) - unique.begin());
  const std::uint64_t row = c.dim * sizeof(float);
  std::uint64_t bytes = unique_rows * (c.rowwise ? 2 * row + 8 : 4 * row) + kBags * row;
  if (!c.fused) bytes += 2 * n * row;
  const auto iterations = static_cast<std::int64_t>(st.iterations());
  st.SetItemsProcessed(iterations * static_cast<std::int64_t>(n));
  st.SetBytesProcessed(iterations * static_cast<std::int64_t>(bytes));
  st.counters["ns_per_index"] =
      benchmark::Counter(static_cast<double>(iterations) * static_cast<double>(n),
                         benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
  st.counters["unique_rows"] = static_cast<double>(unique_rows);
  std::size_t huge_table = 0, huge_state = 0;
  const std::size_t state_bytes = c.rowwise ? kRows * sizeof(float) : kRows * row;
  if (adagrad_table_huge_page_bytes(s.table.p, kRows * row, &huge_table) == ADAGRAD_OK &&
      adagrad_table_huge_page_bytes(state, state_bytes, &huge_state) == ADAGRAD_OK) {
    st.counters["huge_bytes"] = static_cast<double>(huge_table + huge_state);
  }
  st.SetLabel(std::string(adagrad_isa_name(adagrad_active_wide_isa())) +
              (c.kind == pages::huge ? ", huge pages asked" : ", 4 KiB pages"));
}

// ---- the limits: the fused step's bytes streamed, its rows gathered ------------

// The rows one step visits, in its order: the unique rows ascending (the
// fused step sorts the occurrences by row, stably, src/embedding_bag.cpp),
// each with the bag of its first occurrence, whose grad_output row the
// gather kernel adds.
struct visit_order {
  std::vector<std::uint64_t> rows;
  std::vector<std::uint32_t> bags;
};

visit_order visit_order_of(const std::vector<std::int64_t>& indices, std::size_t pooling) {
  std::vector<std::uint32_t> order(indices.size());
  for (std::size_t q = 0; q < order.size(); ++q) order[q] = static_cast<std::uint32_t>(q);
  std::stable_sort(order.begin(), order.end(),
                   [&](std::uint32_t a, std::uint32_t b) { return indices[a] < indices[b]; });
  visit_order v;
  for (std::size_t i = 0; i < order.size(); ++i) {
    const auto row = static_cast<std::uint64_t>(indices[order[i]]);
    if (!v.rows.empty() && v.rows.back() == row) continue;
    v.rows.push_back(row);
    v.bags.push_back(static_cast<std::uint32_t>(order[i] / pooling));
  }
  return v;
}

// The fused step's traffic, counted as embedding_bag() counts it.
std::uint64_t fused_bytes(std::size_t unique_rows, std::size_t dim, bool rowwise) {
  const std::uint64_t row = dim * sizeof(float);
  return unique_rows * (rowwise ? 2 * row + 8 : 4 * row) + kBags * row;
}

void set_limit_counters(benchmark::State& st, std::size_t unique_rows, std::size_t n,
                        std::size_t dim, bool rowwise) {
  const auto iterations = static_cast<std::int64_t>(st.iterations());
  st.SetItemsProcessed(iterations * static_cast<std::int64_t>(n));
  st.SetBytesProcessed(iterations *
                       static_cast<std::int64_t>(fused_bytes(unique_rows, dim, rowwise)));
  st.counters["ns_per_index"] =
      benchmark::Counter(static_cast<double>(iterations) * static_cast<double>(n),
                         benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
  st.counters["unique_rows"] = static_cast<double>(unique_rows);
}

// The same-traffic stream: the unique rows' table and state bytes read and
// written (x += 1), and grad_output read, each sequentially, on memory of
// the case's page kind. The most a step moving these bytes gets from memory.
void embedding_bag_stream(benchmark::State& st, bench_case c) {
  const std::size_t n = kBags * c.pooling;
  const std::vector<std::int64_t> indices = make_indices(c.dist, n);
  const std::size_t unique_rows = visit_order_of(indices, c.pooling).rows.size();
  const std::size_t table_floats = unique_rows * c.dim;
  const std::size_t state_floats = c.rowwise ? unique_rows : table_floats;
  region table(table_floats * sizeof(float), c.kind), state(state_floats * sizeof(float), c.kind);
  adagrad_bench::fill(table.floats(), table_floats, 1, -1.0, 1.0);
  adagrad_bench::fill(state.floats(), state_floats, 3, 0.5, 2.0);
  adagrad_bench::buffer<float> grad_output = adagrad_bench::page_array<float>(kBags * c.dim);
  adagrad_bench::fill(grad_output.get(), kBags * c.dim, 2, -0.1, 0.1);
  const adagrad_bench::sparse_limit_path& path = adagrad_bench::best_sparse_limits();
  float sum = 0.0f;
  adagrad_bench::timed_loop(st, [&] {
    path.kernels.update_stream(table_floats, table.floats());
    path.kernels.update_stream(state_floats, state.floats());
    sum = sum + path.kernels.read_stream(kBags * c.dim, grad_output.get());
    return ADAGRAD_OK;
  });
  benchmark::DoNotOptimize(sum);
  set_limit_counters(st, unique_rows, n, c.dim, c.rowwise);
  st.SetLabel(adagrad_isa_name(path.isa));
}

// The gather limit: the step's own unique rows of the shared table, in its
// order, each updated once with trivial arithmetic (per-element: w += g,
// G += g * g; row-wise: w += g and the row's accumulator + 1), g the
// grad_output row of the row's first bag; the whole table and state rows
// ahead asked for with write intent in one of the prefetch forms of
// bench/sparse_limits_best.h (into L1 or into L2 `distance` rows ahead,
// into L2 there and into L1 two rows ahead, or into L2 in bursts as the step
// asks; distance 0: none), so that the sweep over form and distance finds how many rows in
// flight, and how, this CPU wants. Unlike the step it sums no duplicates:
// it moves at most the step's bytes. D = 0 shows what the hardware
// prefetchers alone give.
void embedding_bag_gather(benchmark::State& st, bench_case c, prefetch_setting prefetch) {
  setup& s = setup_of(c.dim, c.kind);
  const std::size_t n = kBags * c.pooling;
  const visit_order v = visit_order_of(make_indices(c.dist, n), c.pooling);
  adagrad_bench::buffer<float> grad_output = adagrad_bench::page_array<float>(kBags * c.dim);
  adagrad_bench::fill(grad_output.get(), kBags * c.dim, 2, -0.1, 0.1);
  const adagrad_bench::sparse_limit_path& path = adagrad_bench::best_sparse_limits();
  float* table = s.table.floats();
  float* state = c.rowwise ? s.row_state.floats() : s.state.floats();
  const std::size_t dim = c.dim;
  const std::size_t row_bytes = dim * sizeof(float);
  const std::size_t count = v.rows.size();
  auto ask = [&](std::size_t place, auto locality) __attribute__((always_inline)) {
    constexpr int level = decltype(locality)::value;
    const std::uint64_t ahead = v.rows[place];
    adagrad_bench::prefetch_for_write<level>(table + ahead * dim, row_bytes);
    if (c.rowwise) {
      __builtin_prefetch(state + ahead, 1, level);
    } else {
      adagrad_bench::prefetch_for_write<level>(state + ahead * dim, row_bytes);
    }
  };
  adagrad_bench::timed_loop(st, [&] {
    std::size_t asked = 0;
    for (std::size_t u = 0; u < count; ++u) {
      adagrad_bench::prefetch_ahead(prefetch.form, prefetch.distance, u, count, &asked, ask);
      const std::uint64_t row = v.rows[u];
      const float* g = grad_output.get() + std::size_t{v.bags[u]} * dim;
      if (c.rowwise) {
        path.kernels.row_update_rowwise(dim, table + row * dim, g);
        state[row] = state[row] + 1.0f;
      } else {
        path.kernels.row_update(dim, table + row * dim, g, state + row * dim);
      }
    }
    return ADAGRAD_OK;
  });
  set_limit_counters(st, count, n, c.dim, c.rowwise);
  st.SetLabel(adagrad_isa_name(path.isa));
}

// ---- two threads on a table in cache ------------------------------------------

constexpr std::size_t kCacheRows = 4096;
constexpr std::size_t kCacheDim = 128;

struct pool_deleter {
  void operator()(adagrad_pool* p) const { adagrad_pool_destroy(p); }
};
using pool_ptr = std::unique_ptr<adagrad_pool, pool_deleter>;

// The fused or unfused step (the gradient materialised on the calling thread,
// as a caller would, then the sparse step on the pool) of 2048 bags of 20
// uniform rows of a 4096 x 128 table (table and state 4 MiB together, so the
// step's own work, not memory, is what two threads share), on an adagrad_pool
// of `threads` (1: no pool, the caller alone).
void embedding_bag_threads(benchmark::State& st, bool fused, bool rowwise, std::size_t threads) {
  const std::size_t dim = kCacheDim, pooling = 20, n = kBags * pooling;
  adagrad_bench::buffer<float> table = adagrad_bench::page_array<float>(kCacheRows * dim);
  adagrad_bench::buffer<float> state =
      adagrad_bench::page_array<float>(rowwise ? kCacheRows : kCacheRows * dim);
  adagrad_bench::fill(table.get(), kCacheRows * dim, 1, -1.0, 1.0);
  adagrad_bench::fill(state.get(), rowwise ? kCacheRows : kCacheRows * dim, 3, 0.5, 2.0);
  std::vector<std::int64_t> indices(n);
  random_source rng{0x5eed0014};
  for (auto& index : indices) index = static_cast<std::int64_t>(rng.below(kCacheRows));
  std::vector<std::int64_t> offsets(kBags + 1);
  for (std::size_t b = 0; b <= kBags; ++b) offsets[b] = static_cast<std::int64_t>(b * pooling);
  adagrad_bench::buffer<float> grad_output = adagrad_bench::page_array<float>(kBags * dim);
  adagrad_bench::fill(grad_output.get(), kBags * dim, 2, -0.1, 0.1);
  adagrad_bench::buffer<float> grads = adagrad_bench::page_array<float>(fused ? 1 : n * dim);
  const std::size_t workspace_size =
      std::max(adagrad_embedding_bag_workspace_size(n, kBags),
               adagrad_sparse_workspace_size(n, dim, ADAGRAD_DUPLICATES_SUM));
  adagrad_bench::buffer<unsigned char> workspace =
      adagrad_bench::page_array<unsigned char>(workspace_size);
  pool_ptr pool(threads > 1 ? adagrad_pool_create(threads) : nullptr);
  if (threads > 1 && !pool) {
    st.SkipWithError("adagrad_pool_create failed");
    return;
  }
  adagrad_params p = adagrad_params_default();
  p.lr = kLearningRate;
  adagrad_embedding_table t{};
  t.weights = table.get();
  t.state = state.get();
  t.num_rows = kCacheRows;
  t.dim = dim;
  t.pooling = ADAGRAD_POOLING_SUM;
  t.indices = indices.data();
  t.offsets = offsets.data();
  t.num_indices = n;
  t.grad_output = grad_output.get();
  adagrad_bench::timed_loop(st, [&]() -> adagrad_status {
    if (fused) {
      return (rowwise ? adagrad_rowwise_embedding_bag_step : adagrad_embedding_bag_step)(
          &t, 1, kBags, ADAGRAD_INDEX_INT64, &p, workspace.get(), workspace_size, pool.get());
    }
    for (std::size_t q = 0; q < n; ++q) {
      std::memcpy(grads.get() + q * dim, grad_output.get() + q / pooling * dim,
                  dim * sizeof(float));
    }
    return (rowwise ? adagrad_rowwise_sparse_step : adagrad_sparse_step)(
        table.get(), state.get(), kCacheRows, dim, indices.data(), n, grads.get(), &p,
        ADAGRAD_DUPLICATES_SUM, workspace.get(), workspace_size, pool.get());
  });
  const auto iterations = static_cast<std::int64_t>(st.iterations());
  st.SetItemsProcessed(iterations * static_cast<std::int64_t>(n));
  st.counters["ns_per_index"] =
      benchmark::Counter(static_cast<double>(iterations) * static_cast<double>(n),
                         benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
  st.SetLabel(std::string(adagrad_isa_name(adagrad_active_wide_isa())) + ", " +
              std::to_string(threads) + (threads == 1 ? " thread" : " threads"));
}

// ---- a memory-heavy neighbour -------------------------------------------------

// argv[1] of the neighbour process: this executable run again (posix_spawn
// of /proc/self/exe: a fork would share the benchmark's tables copy-on-write,
// and the step's first writes would then copy them, off huge pages).
constexpr const char* kNeighbourFlag = "--embedding-bag-neighbour";
constexpr std::size_t kNeighbourBytes = std::size_t{1} << 30;

// The neighbour: copies one half of a 1 GiB buffer on 4 KiB pages onto the
// other, back and forth, until killed, as a data loader or another job's
// training step on the other core would: it takes memory bandwidth, and evicts
// the step's rows, its page-table entries and its TLB entries from the shared
// caches. Writes one byte to stdout once the buffer is faulted in.
int neighbour_main(const char* parent) {
#if defined(__linux__)
  // Dies with the benchmark, however the benchmark ends.
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (std::to_string(getppid()) != parent) return 1;
  void* p = std::aligned_alloc(kHugePage, kNeighbourBytes);
  if (p == nullptr) return 1;
  madvise(p, kNeighbourBytes, MADV_NOHUGEPAGE);
  auto* bytes = static_cast<unsigned char*>(p);
  std::memset(bytes, 1, kNeighbourBytes);
  const char ready = 1;
  if (write(STDOUT_FILENO, &ready, 1) != 1) return 1;
  const std::size_t half = kNeighbourBytes / 2;
  for (std::size_t k = 0;; ++k) {
    unsigned char* from = bytes + (k % 2) * half;
    std::memcpy(bytes + half - (k % 2) * half, from, half);
    benchmark::ClobberMemory();
  }
#else
  (void)parent;
  return 1;
#endif
}

// The neighbour process from start (returned once its buffer is faulted in)
// to its end (killed and reaped in the destructor, also on an error).
class neighbour {
 public:
  neighbour() {
#if defined(__linux__)
    int ready[2];
    if (pipe(ready) != 0) return;
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, ready[1], STDOUT_FILENO);
    posix_spawn_file_actions_addclose(&actions, ready[0]);
    const std::string parent = std::to_string(getpid());
    char program[] = "/proc/self/exe";
    std::string flag = kNeighbourFlag;
    std::string parent_arg = parent;
    char* argv[] = {program, flag.data(), parent_arg.data(), nullptr};
    pid_t pid = -1;
    const int spawned = posix_spawn(&pid, program, &actions, nullptr, argv, environ);
    posix_spawn_file_actions_destroy(&actions);
    close(ready[1]);
    if (spawned == 0) {
      pid_ = pid;
      char byte = 0;
      ready_ = read(ready[0], &byte, 1) == 1;
    }
    close(ready[0]);
#endif
  }
  ~neighbour() {
#if defined(__linux__)
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      int status = 0;
      waitpid(pid_, &status, 0);
    }
#endif
  }
  neighbour(const neighbour&) = delete;
  neighbour& operator=(const neighbour&) = delete;
  bool ready() const { return ready_; }

 private:
  pid_t pid_ = -1;
  bool ready_ = false;
};

// The fused step at dim 128 as embedding_bag() times it, with (`loaded`) or
// without the neighbour running from before the untimed call to the end.
void embedding_bag_loaded(benchmark::State& st, bench_case c, bool loaded) {
  std::unique_ptr<neighbour> other;
  if (loaded) {
    other = std::make_unique<neighbour>();
    if (!other->ready()) {
      st.SkipWithError("the neighbour process did not start");
      return;
    }
  }
  embedding_bag(st, c);
}

void register_all() {
  for (pages kind : {pages::small, pages::huge}) {
    for (std::size_t dim : kDims) {
      for (bool rowwise : {false, true}) {
        for (distribution dist : {distribution::uniform, distribution::zipf}) {
          for (std::size_t pooling : kPooling) {
            for (bool fused : {true, false}) {
              const std::string name =
                  std::string("embedding_bag/") + (fused ? "fused" : "unfused") + "/" +
                  (rowwise ? "rowwise" : "elem") + "/" + (kind == pages::huge ? "huge" : "4k") +
                  "/" + (dist == distribution::uniform ? "uniform" : "zipf") +
                  "/pool:" + std::to_string(pooling) + "/" + std::to_string(dim);
              benchmark::RegisterBenchmark(name.c_str(), embedding_bag,
                                           bench_case{fused, rowwise, kind, dist, pooling, dim})
                  ->Unit(benchmark::kMicrosecond)
                  ->UseRealTime();
            }
            // The limits where the targets are (pooling 20, dims 64
            // and 128), next to the step on the same table (setup_of keeps it).
            if (pooling != 20 || (dim != 64 && dim != 128)) continue;
            const bench_case c{true, rowwise, kind, dist, pooling, dim};
            const std::string suffix = std::string("/") + (rowwise ? "rowwise" : "elem") + "/" +
                                       (kind == pages::huge ? "huge" : "4k") + "/" +
                                       (dist == distribution::uniform ? "uniform" : "zipf") +
                                       "/pool:" + std::to_string(pooling) + "/" +
                                       std::to_string(dim);
            benchmark::RegisterBenchmark(("embedding_bag_stream" + suffix).c_str(),
                                         embedding_bag_stream, c)
                ->Unit(benchmark::kMicrosecond)
                ->UseRealTime();
            for (const prefetch_setting& prefetch : kPrefetchSettings) {
              benchmark::RegisterBenchmark(
                  ("embedding_bag_gather" + suffix + "/" +
                   adagrad_bench::prefetch_form_name(prefetch.form) + ":" +
                   std::to_string(prefetch.distance))
                      .c_str(),
                  embedding_bag_gather, c, prefetch)
                  ->Unit(benchmark::kMicrosecond)
                  ->UseRealTime();
            }
          }
        }
      }
      // The default tables (huge: adagrad_table_alloc) and 4 KiB pages, with
      // and without a memory-heavy process beside the step.
      if (dim != 128) continue;
      for (bool rowwise : {false, true}) {
        for (bool loaded : {false, true}) {
          const std::string name = std::string("embedding_bag_loaded/fused/") +
                                   (rowwise ? "rowwise" : "elem") + "/" +
                                   (kind == pages::huge ? "huge" : "4k") +
                                   "/uniform/pool:20/128/neighbour:" + (loaded ? "stream" : "none");
          benchmark::RegisterBenchmark(
              name.c_str(), embedding_bag_loaded,
              bench_case{true, rowwise, kind, distribution::uniform, 20, 128}, loaded)
              ->Unit(benchmark::kMicrosecond)
              ->UseRealTime();
        }
      }
    }
  }
  for (bool fused : {true, false}) {
    for (bool rowwise : {false, true}) {
      for (std::size_t threads : {1, 2}) {
        const std::string name =
            std::string("embedding_bag_threads/") + (fused ? "fused" : "unfused") + "/" +
            (rowwise ? "rowwise" : "elem") + "/threads:" + std::to_string(threads);
        benchmark::RegisterBenchmark(name.c_str(), embedding_bag_threads, fused, rowwise, threads)
            ->Unit(benchmark::kMicrosecond)
            ->UseRealTime();
      }
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 3 && std::strcmp(argv[1], kNeighbourFlag) == 0) return neighbour_main(argv[2]);
  register_all();
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
