// SPDX-License-Identifier: BSD-3-Clause
// The embedding-table benchmarks behind bench/run: the sparse steps
// (adagrad_sparse_step, adagrad_rowwise_sparse_step) and the dense row-wise
// step. Every figure bench/report.py quotes from them is a ratio of two rows
// of the same run:
//
//   sparse/<state>/<dup>/<isa>/<dist>/<dim>  one step of a batch of 65,536
//       int64 indices on a table of 2^20 rows x dim (32, 64, 128, 256) f32;
//       state elem (per-element, 2^20 x dim) or rowwise (2^20 floats); dup
//       sum or seq (and torch, ADAGRAD_DUPLICATES_TORCH, per-element);
//       the dispatched entry point (named by the ISA it runs) at every dim
//       and the scalar path (the _isa entry) at 128; dist uniform or zipf
//       (s = 1.05 over the rows, ranks scattered by a fixed random
//       permutation). Each iteration steps the same batch again.
//   sparse_roofline/<state>/<dist>/<dim>     the same bytes, streamed
//   sparse_gather/<state>/<dist>/<dim>       the same rows in the step's
//       order, trivial arithmetic (a diagnostic: the random-row limit)
//   ceiling/f32/<isa>/1024                   one sqrt and one division per
//       element on L1 data (the arithmetic alone)
//   sparse_threads/<state>/<dup>/threads:<t> a table of 16K rows x 128, whose
//       rows and state stay in the last-level cache, on a pool of t threads
//   sparse_roofline_threads/<state>/threads:<t>  its roofline on the same pool
//   rowwise_vs_dense/<step>                  adagrad_rowwise_step against
//       adagrad_step on 2^24 floats (131072 rows x 128), with the streaming
//       roofline of each
//
// Traffic (bytes per step, SetBytesProcessed): the bytes a step has to move
// between the core and memory, counted once per row it touches:
//
//   per-element state: 16 * dim per unique row (read and write its table row
//                      and its state row) + 4 * dim per occurrence (read its
//                      gradient row)
//   row-wise state:    (8 * dim + 8) per unique row (read and write its table
//                      row and its one accumulator) + 4 * dim per occurrence
//
// Unique rows count once in both duplicate modes: SEQUENTIAL updates a
// repeated row once per occurrence, but its occurrences are adjacent after
// the step's sort, so the repeats hit the cache. Not counted: the indices
// (8 bytes per occurrence) and the step's own sort in the workspace, which
// are the library's overhead, not the update's traffic.
//
// Roofline: a sequential, vectorized kernel of the best ISA of this CPU
// (bench/limits.h, bench/sparse_limits.h) moving the same number of bytes
// with the same mix of reads and writes, over arrays as large as the rows the
// step touches: for per-element state, the dense roofline (3 reads, 2
// writes per element) over unique rows x dim floats plus a read-only stream
// over the (occurrences - unique rows) x dim remaining gradient floats; for
// row-wise state, read w and g and write w over unique rows x dim floats,
// read and write one float per unique row, plus the same read-only stream.
// Efficiency = roofline time / step time: 1.00 means the step moves its rows
// as fast as a sequential stream moves the same bytes. The tables come from
// page_array (bench/harness.h): transparent huge pages asked for before the
// first touch, as NumPy asks for its large arrays; the 4 KiB and huge-page
// cases side by side are bench/embedding_bag_bench.cc's rows.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>


#include "adagrad/adagrad.h"
#include "cache_context.h"
#include "roofline_pool.h"
#include "harness.h"
#include "limits.h"
#include "sparse_limits.h"

namespace {

constexpr std::size_t kTableRows = std::size_t{1} << 20;
constexpr std::size_t kBatch = 65536;
constexpr std::size_t kDims[] = {32, 64, 128, 256};
constexpr std::size_t kScalarDim = 128;
constexpr double kZipfExponent = 1.05;
// The thread comparison: a table whose rows and state (16 MiB) stay in the
// last-level cache between steps.
constexpr std::size_t kThreadTableRows = 16384;
constexpr std::size_t kThreadDim = 128;
// The dense row-wise step against the dense per-element step: 2^24 floats.
constexpr std::size_t kDenseRows = 131072;
constexpr std::size_t kDenseDim = 128;
// The dense roofline of bench/limits.h takes whole vectors only (up to 16
// floats); every row here is a multiple of 16 floats, and so is every tile.
constexpr bool dims_in_whole_vectors() {
  for (std::size_t dim : kDims) {
    if (dim % 16 != 0) return false;
  }
  return true;
}
static_assert(dims_in_whole_vectors() && kThreadDim % 16 == 0 && kDenseDim % 16 == 0,
              "rows of whole 512-bit vectors");
// Small enough that thousands of repeated steps on the same batch keep every
// weight finite and ordinary.
constexpr double kLearningRate = 1e-3;

constexpr std::uint64_t kUniformSeed = 0x5eed0001;
constexpr std::uint64_t kZipfSeed = 0x5eed0002;
constexpr std::uint64_t kPermutationSeed = 0x5eed0003;

using adagrad_bench::buffer;
using adagrad_bench::page_array;
using adagrad_bench::timed_loop;

using adagrad_bench::fill;  // bench/harness.h: deterministic, ordinary values

// splitmix64: a fixed-seed source for the batches.
struct random_source {
  std::uint64_t state;
  std::uint64_t next() {
    std::uint64_t z = (state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  // Uniform in [0, bound) (multiply-shift; the bias is below 2^-40 here).
  std::uint64_t below(std::uint64_t bound) {
    return static_cast<std::uint64_t>((static_cast<unsigned __int128>(next()) * bound) >> 64);
  }
  double unit() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }
};

// ---- batches ----------------------------------------------------------------

enum class distribution { uniform, zipf };

const char* distribution_name(distribution d) {
  return d == distribution::uniform ? "uniform" : "zipf";
}

struct index_batch {
  std::vector<std::int64_t> indices;
  std::size_t unique_rows;
  // Positions ordered by row, then by position: the order the step visits.
  std::vector<std::uint32_t> order;
};

std::size_t count_unique(std::vector<std::int64_t> rows) {
  std::sort(rows.begin(), rows.end());
  return static_cast<std::size_t>(std::unique(rows.begin(), rows.end()) - rows.begin());
}

// kBatch indices over num_rows rows. Zipf: rank k (1-based) has probability
// proportional to k^-1.05, drawn by inverting the cumulative distribution;
// the ranks are then scattered over the table by a fixed random permutation,
// so that the hot rows are not all adjacent.
index_batch make_batch(distribution d, std::size_t num_rows) {
  index_batch b;
  b.indices.resize(kBatch);
  if (d == distribution::uniform) {
    random_source rng{kUniformSeed};
    for (auto& index : b.indices) index = static_cast<std::int64_t>(rng.below(num_rows));
  } else {
    std::vector<double> cdf(num_rows);
    double total = 0;
    for (std::size_t k = 0; k < num_rows; ++k) {
      total += std::pow(static_cast<double>(k + 1), -kZipfExponent);
      cdf[k] = total;
    }
    std::vector<std::int64_t> permutation(num_rows);
    for (std::size_t k = 0; k < num_rows; ++k) permutation[k] = static_cast<std::int64_t>(k);
    random_source shuffle{kPermutationSeed};
    for (std::size_t k = num_rows - 1; k > 0; --k) {
      std::swap(permutation[k], permutation[shuffle.below(k + 1)]);
    }
    random_source rng{kZipfSeed};
    for (auto& index : b.indices) {
      const double u = rng.unit() * total;
      const auto rank =
          static_cast<std::size_t>(std::upper_bound(cdf.begin(), cdf.end(), u) - cdf.begin());
      index = permutation[std::min(rank, num_rows - 1)];
    }
  }
  b.unique_rows = count_unique(b.indices);
  b.order.resize(kBatch);
  for (std::size_t k = 0; k < kBatch; ++k) b.order[k] = static_cast<std::uint32_t>(k);
  std::stable_sort(b.order.begin(), b.order.end(),
                   [&b](std::uint32_t x, std::uint32_t y) { return b.indices[x] < b.indices[y]; });
  return b;
}

const index_batch& batch_of(distribution d, std::size_t num_rows) {
  struct cached {
    distribution d;
    std::size_t rows;
    std::unique_ptr<index_batch> batch;
  };
  static std::vector<cached> cache;
  for (const cached& c : cache) {
    if (c.d == d && c.rows == num_rows) return *c.batch;
  }
  cache.push_back({d, num_rows, std::make_unique<index_batch>(make_batch(d, num_rows))});
  return *cache.back().batch;
}

// ---- tables -----------------------------------------------------------------

// A table with both kinds of state, a batch's gradients and the workspace.
// One is kept at a time (the benchmarks are registered grouped by shape),
// shared by every benchmark of that shape: the steps keep updating it, as
// training does.
struct embedding_tables {
  embedding_tables(std::size_t num_rows, std::size_t row_dim)
      : rows(num_rows),
        dim(row_dim),
        table(page_array<float>(rows * dim)),
        state(page_array<float>(rows * dim)),
        row_state(page_array<float>(rows)),
        grads(page_array<float>(kBatch * dim)),
        workspace_size(
            std::max({adagrad_sparse_workspace_size(kBatch, dim, ADAGRAD_DUPLICATES_SUM),
                      adagrad_sparse_workspace_size(kBatch, dim, ADAGRAD_DUPLICATES_SEQUENTIAL),
                      adagrad_sparse_workspace_size(kBatch, dim, ADAGRAD_DUPLICATES_TORCH)})),
        workspace(page_array<unsigned char>(workspace_size)) {
    fill(table.get(), rows * dim, 1, -1.0, 1.0);
    fill(state.get(), rows * dim, 3, 0.5, 2.0);
    fill(row_state.get(), rows, 5, 0.5, 2.0);
    fill(grads.get(), kBatch * dim, 2, -0.1, 0.1);
  }
  std::size_t rows, dim;
  buffer<float> table, state, row_state, grads;
  std::size_t workspace_size;
  buffer<unsigned char> workspace;
};

embedding_tables& tables_of(std::size_t num_rows, std::size_t dim) {
  static std::unique_ptr<embedding_tables> current;
  if (!current || current->rows != num_rows || current->dim != dim) {
    current.reset();  // free the previous shape first
    current = std::make_unique<embedding_tables>(num_rows, dim);
  }
  return *current;
}

// ---- traffic ----------------------------------------------------------------

struct traffic {
  std::uint64_t unique_rows, occurrences, dim;
  bool rowwise;

  std::uint64_t row_bytes() const { return dim * sizeof(float); }
  // Per unique row: table row and state read and written; per occurrence:
  // its gradient row read (see the comment at the top).
  std::uint64_t bytes() const {
    const std::uint64_t per_unique =
        rowwise ? 2 * row_bytes() + 2 * sizeof(float) : 4 * row_bytes();
    return unique_rows * per_unique + occurrences * row_bytes();
  }
};

void set_sparse_counters(benchmark::State& state, const traffic& t) {
  const auto iterations = static_cast<std::int64_t>(state.iterations());
  state.SetItemsProcessed(iterations * static_cast<std::int64_t>(t.occurrences));
  state.SetBytesProcessed(iterations * static_cast<std::int64_t>(t.bytes()));
  state.counters["ns_per_index"] =
      benchmark::Counter(static_cast<double>(iterations) * static_cast<double>(t.occurrences),
                         benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
  state.counters["unique_rows"] = static_cast<double>(t.unique_rows);
  state.counters["indices"] = static_cast<double>(t.occurrences);
  state.counters["dim"] = static_cast<double>(t.dim);
  state.counters["bytes_per_step"] = static_cast<double>(t.bytes());
}

// The steps run on the library's pool; the rooflines split their loops over
// bench/roofline_pool.h.
struct PoolDeleter {
  void operator()(adagrad_pool* pool) const { adagrad_pool_destroy(pool); }
};
using pool_ptr = std::unique_ptr<adagrad_pool, PoolDeleter>;
using adagrad_bench::roofline_pool;

// ---- the sparse step --------------------------------------------------------

struct sparse_case {
  bool rowwise;
  adagrad_duplicates dup;
  bool dispatched;  // the public entry point on the active ISA
  adagrad_isa isa;  // the _isa entry point's ISA when !dispatched
  distribution dist;
  std::size_t rows, dim;
};

adagrad_status run_step(const sparse_case& c, embedding_tables& t, const index_batch& b,
                        const adagrad_params* p, adagrad_pool* pool) {
  float* state = c.rowwise ? t.row_state.get() : t.state.get();
  if (c.dispatched) {
    return (c.rowwise ? adagrad_rowwise_sparse_step : adagrad_sparse_step)(
        t.table.get(), state, t.rows, t.dim, b.indices.data(), b.indices.size(), t.grads.get(), p,
        c.dup, t.workspace.get(), t.workspace_size, pool);
  }
  return (c.rowwise ? adagrad_rowwise_sparse_step_isa : adagrad_sparse_step_isa)(
      c.isa, t.table.get(), state, t.rows, t.dim, b.indices.data(), b.indices.size(), t.grads.get(),
      p, c.dup, t.workspace.get(), t.workspace_size, pool);
}

// Each iteration steps the same batch again (the accumulators keep growing,
// as in training).
void sparse_step(benchmark::State& state, sparse_case c, std::size_t threads) {
  embedding_tables& t = tables_of(c.rows, c.dim);
  const index_batch& b = batch_of(c.dist, c.rows);
  adagrad_params p = adagrad_params_default();
  p.lr = kLearningRate;
  pool_ptr pool(threads > 0 ? adagrad_pool_create(threads) : nullptr);
  timed_loop(state, [&] { return run_step(c, t, b, &p, pool.get()); });
  set_sparse_counters(state, {b.unique_rows, b.indices.size(), c.dim, c.rowwise});
  state.SetLabel(c.dispatched
                     ? std::string("dispatched: ") + adagrad_isa_name(adagrad_active_wide_isa())
                     : std::string(adagrad_isa_name(c.isa)));
}

// ---- rooflines --------------------------------------------------------------

struct roofline_path {
  adagrad_isa isa;
  void (*dense)(std::size_t n, float* w, const float* g, float* G);
  adagrad_bench::sparse_limit_kernels sparse;
  void (*ceiling)(std::size_t n, const float* in, float* out);
};

const roofline_path kRooflinePaths[] = {
    {ADAGRAD_ISA_SCALAR,
     adagrad_bench::roofline_f32__scalar,
     {adagrad_bench::read_stream_f32__scalar, adagrad_bench::update_stream_f32__scalar,
      adagrad_bench::rowwise_roofline_f32__scalar, adagrad_bench::row_update_f32__scalar,
      adagrad_bench::row_update_rowwise_f32__scalar},
     adagrad_bench::ceiling_f32__scalar},
#define ADAGRAD_ISA(ENUM, name, arch, features)                                           \
  {ADAGRAD_ISA_##ENUM,                                                                  \
   adagrad_bench::roofline_f32__##name,                                                 \
   {adagrad_bench::read_stream_f32__##name, adagrad_bench::update_stream_f32__##name,   \
    adagrad_bench::rowwise_roofline_f32__##name, adagrad_bench::row_update_f32__##name, \
    adagrad_bench::row_update_rowwise_f32__##name},                                     \
   adagrad_bench::ceiling_f32__##name},
#include "isa_list.inc"
#undef ADAGRAD_ISA
};

// The best ISA this CPU runs, whatever ADAGRAD_ISA forces the step onto: the
// list is in order of preference, as dispatch reads it.
const roofline_path& best_roofline() {
  const roofline_path* best = &kRooflinePaths[0];
  for (const roofline_path& p : kRooflinePaths) {
    if (adagrad_isa_supported(p.isa)) best = &p;
  }
  return *best;
}

// Sequential arrays holding exactly the step's traffic (see the top).
struct roofline_buffers {
  explicit roofline_buffers(const traffic& t)
      : rowwise(t.rowwise),
        rmw_floats(t.unique_rows * t.dim),
        state_floats(t.rowwise ? t.unique_rows : 0),
        extra_floats((t.occurrences - t.unique_rows) * t.dim),
        w(page_array<float>(rmw_floats)),
        g(page_array<float>(rmw_floats)),
        G(page_array<float>(rowwise ? 0 : rmw_floats)),
        row_state(page_array<float>(state_floats)),
        extra(page_array<float>(extra_floats)) {
    fill(w.get(), rmw_floats, 1, -1.0, 1.0);
    fill(g.get(), rmw_floats, 2, -0.1, 0.1);
    if (!rowwise) fill(G.get(), rmw_floats, 3, 0.5, 2.0);
    fill(row_state.get(), state_floats, 5, 0.5, 2.0);
    fill(extra.get(), extra_floats, 4, -0.1, 0.1);
  }
  bool rowwise;
  std::size_t rmw_floats, state_floats, extra_floats;
  buffer<float> w, g, G, row_state, extra;
};

// One streaming part of the roofline, [start, start + count) of its arrays.
struct roofline_job {
  const roofline_buffers* b;
  const roofline_path* path;
  float* sums;       // one per tile of the read-only stream
  std::size_t tile;  // floats per tile (a multiple of a cache line)

  void rmw(std::size_t start, std::size_t count) const {
    if (b->rowwise) {
      path->sparse.rowwise_roofline(count, b->w.get() + start, b->g.get() + start);
    } else {
      path->dense(count, b->w.get() + start, b->g.get() + start, b->G.get() + start);
    }
  }
  void state(std::size_t start, std::size_t count) const {
    path->sparse.update_stream(count, b->row_state.get() + start);
  }
  void read(std::size_t start, std::size_t count) const {
    sums[start / tile] = path->sparse.read_stream(count, b->extra.get() + start);
  }
};

// Floats per tile: a few tiles per thread, each a whole number of cache lines.
std::size_t tile_floats(std::size_t floats, std::size_t threads) {
  const std::size_t line = 64 / sizeof(float);
  const std::size_t lines = (floats + line - 1) / line;
  const std::size_t tiles = threads * 4;
  return std::max<std::size_t>((lines + tiles - 1) / tiles, 1) * line;
}

template <void (roofline_job::*Part)(std::size_t, std::size_t) const>
void run_part(roofline_pool* pool, roofline_job* job, std::size_t floats, std::size_t tile) {
  if (floats == 0) return;
  if (pool == nullptr) {
    (job->*Part)(0, floats);
    return;
  }
  pool->parallelize(
      [](void* context, std::size_t start, std::size_t count) {
        auto* j = static_cast<roofline_job*>(context);
        (j->*Part)(start, count);
      },
      job, floats, tile);
}

// threads == 0: on the calling thread, one pass over each array.
void sparse_roofline(benchmark::State& state, traffic t, std::size_t threads) {
  roofline_buffers b(t);
  const roofline_path& path = best_roofline();
  std::unique_ptr<roofline_pool> pool(threads > 0 ? new roofline_pool(threads) : nullptr);
  const std::size_t split = std::max<std::size_t>(threads, 1);
  const std::size_t read_tile =
      threads > 0 ? tile_floats(b.extra_floats, split) : std::max<std::size_t>(b.extra_floats, 1);
  std::vector<float> sums(b.extra_floats / read_tile + 1);
  roofline_job job{&b, &path, sums.data(), read_tile};
  timed_loop(state, [&] {
    run_part<&roofline_job::rmw>(pool.get(), &job, b.rmw_floats, tile_floats(b.rmw_floats, split));
    run_part<&roofline_job::state>(pool.get(), &job, b.state_floats,
                                   tile_floats(b.state_floats, split));
    run_part<&roofline_job::read>(pool.get(), &job, b.extra_floats, read_tile);
    benchmark::DoNotOptimize(sums.data());
    return ADAGRAD_OK;
  });
  set_sparse_counters(state, t);
  state.SetLabel(adagrad_isa_name(path.isa));
}

// The gather limit: the step's own rows of the shared table, in the step's
// order (sorted by row, each gradient row read at its batch position), one
// row at a time with trivial arithmetic and no software prefetch. Same
// traffic counted as the step's.
void sparse_gather(benchmark::State& state, bool rowwise, distribution dist, std::size_t dim) {
  embedding_tables& t = tables_of(kTableRows, dim);
  const index_batch& b = batch_of(dist, kTableRows);
  const roofline_path& path = best_roofline();
  float* table = t.table.get();
  const float* grads = t.grads.get();
  timed_loop(state, [&] {
    for (std::uint32_t position : b.order) {
      const auto row = static_cast<std::size_t>(b.indices[position]);
      if (rowwise) {
        path.sparse.row_update_rowwise(dim, table + row * dim, grads + position * dim);
        t.row_state[row] = t.row_state[row] + 1.0f;
      } else {
        path.sparse.row_update(dim, table + row * dim, grads + position * dim,
                               t.state.get() + row * dim);
      }
    }
    return ADAGRAD_OK;
  });
  set_sparse_counters(state, {b.unique_rows, b.indices.size(), dim, rowwise});
  state.SetLabel(adagrad_isa_name(path.isa));
}

// One correctly rounded sqrt and one division per element on L1 data (the
// compute ceiling of bench/limits.h), on the roofline's ISA: what the
// arithmetic alone of a per-element step costs.
void ceiling(benchmark::State& state) {
  const std::size_t n = 1024;
  buffer<float> in = page_array<float>(n), out = page_array<float>(n);
  fill(in.get(), n, 4, 0.5, 2.0);
  const roofline_path& path = best_roofline();
  timed_loop(state, [&] {
    path.ceiling(n, in.get(), out.get());
    return ADAGRAD_OK;
  });
  const auto elements =
      static_cast<std::int64_t>(state.iterations()) * static_cast<std::int64_t>(n);
  state.SetItemsProcessed(elements);
  state.counters["ns_per_element"] = benchmark::Counter(
      static_cast<double>(elements), benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
  state.SetLabel(adagrad_isa_name(path.isa));
}

// ---- the row-wise dense step against the dense step --------------------------

struct dense_buffers {
  explicit dense_buffers(std::size_t n, std::size_t rows)
      : w(page_array<float>(n)),
        g(page_array<float>(n)),
        G(page_array<float>(n)),
        row_state(page_array<float>(rows)) {
    fill(w.get(), n, 1, -1.0, 1.0);
    fill(g.get(), n, 2, -0.1, 0.1);
    fill(G.get(), n, 3, 0.5, 2.0);
    fill(row_state.get(), rows, 5, 0.5, 2.0);
  }
  buffer<float> w, g, G, row_state;
};

enum class dense_kind { rowwise_step, dense_step, rowwise_roofline, dense_roofline };

// Traffic per element: the dense step reads w, g, G and writes w, G (20
// bytes); the row-wise step reads w, g and writes w (12 bytes), plus its one
// accumulator per row read and written (8 bytes a row).
void rowwise_vs_dense(benchmark::State& state, dense_kind kind) {
  const std::size_t n = kDenseRows * kDenseDim;
  dense_buffers b(n, kDenseRows);
  adagrad_params p = adagrad_params_default();
  p.lr = kLearningRate;
  const roofline_path& path = best_roofline();
  timed_loop(state, [&] {
    adagrad_status status = ADAGRAD_OK;
    switch (kind) {
      case dense_kind::rowwise_step:
        status = adagrad_rowwise_step(b.w.get(), b.g.get(), b.row_state.get(), kDenseRows,
                                      kDenseDim, &p, nullptr);
        break;
      case dense_kind::dense_step:
        status = adagrad_step(b.w.get(), b.g.get(), b.G.get(), n, &p);
        break;
      case dense_kind::rowwise_roofline:
        path.sparse.rowwise_roofline(n, b.w.get(), b.g.get());
        path.sparse.update_stream(kDenseRows, b.row_state.get());
        break;
      case dense_kind::dense_roofline: path.dense(n, b.w.get(), b.g.get(), b.G.get()); break;
    }
    return status;
  });
  const bool rowwise = kind == dense_kind::rowwise_step || kind == dense_kind::rowwise_roofline;
  const bool roofline = kind == dense_kind::rowwise_roofline || kind == dense_kind::dense_roofline;
  const auto iterations = static_cast<std::int64_t>(state.iterations());
  const auto bytes = static_cast<std::int64_t>(
      rowwise ? n * 3 * sizeof(float) + kDenseRows * 2 * sizeof(float) : n * 5 * sizeof(float));
  state.SetItemsProcessed(iterations * static_cast<std::int64_t>(n));
  state.SetBytesProcessed(iterations * bytes);
  state.counters["ns_per_element"] =
      benchmark::Counter(static_cast<double>(iterations) * static_cast<double>(n),
                         benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
  state.counters["rows"] = static_cast<double>(kDenseRows);
  state.counters["dim"] = static_cast<double>(kDenseDim);
  // The ISA each row ran on: adagrad_step is a dense element-wise step,
  // adagrad_rowwise_step a wide one.
  const adagrad_isa isa = roofline                           ? path.isa
                          : kind == dense_kind::rowwise_step ? adagrad_active_wide_isa()
                                                             : adagrad_active_isa();
  state.SetLabel(adagrad_isa_name(isa));
}

// ---- registration -----------------------------------------------------------

// Wall time on two cores is what other processes on the machine disturb
// most, and they only ever slow a run down: the thread comparison takes the
// fastest of many short repetitions (besides the median).
constexpr int kThreadRepetitions = 10;

double minimum(const std::vector<double>& values) {
  return values.empty() ? 0.0 : *std::min_element(values.begin(), values.end());
}

const char* state_name(bool rowwise) { return rowwise ? "rowwise" : "elem"; }
const char* dup_name(adagrad_duplicates dup) {
  switch (dup) {
    case ADAGRAD_DUPLICATES_SUM: return "sum";
    case ADAGRAD_DUPLICATES_TORCH: return "torch";
    default: return "seq";
  }
}

void register_benchmarks() {
  const std::string active = adagrad_isa_name(adagrad_active_wide_isa());
  // TORCH (torch.optim.Adagrad's sparse bits: an introsort instead of the
  // radix sort, torch's update order) per-element only: row-wise it differs
  // from SUM by the sort alone.
  const adagrad_duplicates dups[] = {ADAGRAD_DUPLICATES_SUM, ADAGRAD_DUPLICATES_SEQUENTIAL,
                                     ADAGRAD_DUPLICATES_TORCH};
  const distribution dists[] = {distribution::uniform, distribution::zipf};
  // Grouped by dim: one table shape is built at a time.
  for (std::size_t dim : kDims) {
    for (bool rowwise : {false, true}) {
      for (distribution dist : dists) {
        const std::string tail =
            std::string("/") + distribution_name(dist) + "/" + std::to_string(dim);
        for (adagrad_duplicates dup : dups) {
          if (rowwise && dup == ADAGRAD_DUPLICATES_TORCH) continue;
          const std::string head =
              std::string("sparse/") + state_name(rowwise) + "/" + dup_name(dup) + "/";
          benchmark::RegisterBenchmark(
              (head + active + tail).c_str(), sparse_step,
              sparse_case{rowwise, dup, true, adagrad_active_wide_isa(), dist, kTableRows, dim},
              std::size_t{0});
          if (dim == kScalarDim) {
            benchmark::RegisterBenchmark(
                (head + "scalar" + tail).c_str(), sparse_step,
                sparse_case{rowwise, dup, false, ADAGRAD_ISA_SCALAR, dist, kTableRows, dim},
                std::size_t{0});
          }
        }
        const index_batch& b = batch_of(dist, kTableRows);
        benchmark::RegisterBenchmark(
            (std::string("sparse_roofline/") + state_name(rowwise) + tail).c_str(), sparse_roofline,
            traffic{b.unique_rows, b.indices.size(), dim, rowwise}, std::size_t{0});
      }
    }
    // Last for this dim: it leaves the shared table's values drifted
    // (finite), which no step of this dim then sees.
    for (bool rowwise : {false, true}) {
      for (distribution dist : dists) {
        benchmark::RegisterBenchmark((std::string("sparse_gather/") + state_name(rowwise) + "/" +
                                      distribution_name(dist) + "/" + std::to_string(dim))
                                         .c_str(),
                                     sparse_gather, rowwise, dist, dim);
      }
    }
  }
  benchmark::RegisterBenchmark(
      (std::string("ceiling/f32/") + adagrad_isa_name(best_roofline().isa) + "/1024").c_str(),
      ceiling);
  const index_batch& resident = batch_of(distribution::uniform, kThreadTableRows);
  for (bool rowwise : {false, true}) {
    for (adagrad_duplicates dup : dups) {
      if (dup == ADAGRAD_DUPLICATES_TORCH) continue;  // the threads table: SUM and SEQUENTIAL
      benchmark::RegisterBenchmark(
          (std::string("sparse_threads/") + state_name(rowwise) + "/" + dup_name(dup)).c_str(),
          [rowwise, dup](benchmark::State& state) {
            sparse_step(state,
                        {rowwise, dup, true, adagrad_active_wide_isa(), distribution::uniform,
                         kThreadTableRows, kThreadDim},
                        static_cast<std::size_t>(state.range(0)));
          })
          ->Arg(1)
          ->Arg(2)
          ->ArgName("threads")
          ->UseRealTime()
          ->Repetitions(kThreadRepetitions)
          ->ComputeStatistics("min", minimum);
    }
    const traffic t{resident.unique_rows, resident.indices.size(), kThreadDim, rowwise};
    benchmark::RegisterBenchmark(
        (std::string("sparse_roofline_threads/") + state_name(rowwise)).c_str(),
        [t](benchmark::State& state) {
          sparse_roofline(state, t, static_cast<std::size_t>(state.range(0)));
        })
        ->Arg(1)
        ->Arg(2)
        ->ArgName("threads")
        ->UseRealTime()
        ->Repetitions(kThreadRepetitions)
        ->ComputeStatistics("min", minimum);
  }
  const std::pair<const char*, dense_kind> dense_cases[] = {
      {"rowwise", dense_kind::rowwise_step},
      {"dense", dense_kind::dense_step},
      {"rowwise_roofline", dense_kind::rowwise_roofline},
      {"dense_roofline", dense_kind::dense_roofline}};
  for (const auto& [name, kind] : dense_cases) {
    benchmark::RegisterBenchmark((std::string("rowwise_vs_dense/") + name).c_str(),
                                 rowwise_vs_dense, kind);
  }
}

void add_context() {
  benchmark::AddCustomContext("adagrad_active_wide_isa",
                              adagrad_isa_name(adagrad_active_wide_isa()));
  benchmark::AddCustomContext("roofline_isa", adagrad_isa_name(best_roofline().isa));
  benchmark::AddCustomContext("sparse_table_rows", std::to_string(kTableRows));
  benchmark::AddCustomContext("sparse_batch", std::to_string(kBatch));
  benchmark::AddCustomContext("sparse_zipf_exponent", "1.05");
  benchmark::AddCustomContext("sparse_threads_table_rows", std::to_string(kThreadTableRows));
  benchmark::AddCustomContext("sparse_threads_dim", std::to_string(kThreadDim));
  benchmark::AddCustomContext("sparse_learning_rate", std::to_string(kLearningRate));
  adagrad_bench::add_cache_context();
  benchmark::AddCustomContext("roofline_pool", roofline_pool::kName);
}

}  // namespace

int main(int argc, char** argv) {
  register_benchmarks();
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  add_context();
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
