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
#include <sys/mman.h>
#endif

#include "adagrad/adagrad.h"
#include "harness.h"

namespace {

constexpr std::size_t kRows = std::size_t{1} << 20;
constexpr std::size_t kBags = 2048;
constexpr std::size_t kDims[] = {32, 64, 128, 256};
constexpr std::size_t kPooling[] = {1, 20};
constexpr double kZipfExponent = 1.05;
constexpr double kLearningRate = 1e-3;
constexpr std::size_t kHugePage = std::size_t{2} << 20;

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
          }
        }
      }
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  register_all();
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
