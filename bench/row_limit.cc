// SPDX-License-Identifier: BSD-3-Clause
// The row limit of the Python benchmarks (bench/row_limit.py loads this
// module with ctypes): what this CPU gives any per-element step on the rows
// a sparse step touches, measured in the benchmark's own process on the
// benchmark's own tables, so that bench/torch_bench.py (the DLRM cases) and
// bench/embedding_torch_bench.py can say how far a speedup over PyTorch can
// go. It is bench/embedding_bag_bench.cc's gather limit on rows given from
// Python: each row once, in the order given (the step's: unique rows
// ascending), w += g and G += g * g over the row with the best ISA's limit
// kernel (bench/sparse_limits.h), the rows ahead asked for with write intent
// in one of the forms of bench/sparse_limits_best.h (prefetch_form: into L1
// or L2 `distance` rows ahead, both stages, or into L2 in bursts; distance 0:
// none; the caller sweeps form and distance and keeps the fastest). It
// sums no duplicates and reads one gradient row for all: it moves at most a
// step's bytes, so its time is a lower bound on the step's.
#include <cstddef>
#include <cstdint>

#include "adagrad/adagrad.h"
#include "sparse_limits_best.h"

extern "C" {

// The ISA whose kernel adagrad_bench_row_limit runs.
__attribute__((visibility("default"))) const char* adagrad_bench_row_limit_isa(void) {
  return adagrad_isa_name(adagrad_bench::best_sparse_limits().isa);
}

// Rows rows[0 .. count) of table and state (each row dim floats), updated
// with the dim floats of grad_row; form is an adagrad_bench::prefetch_form
// (0 into L1, 1 into L2, 2 both stages, 3 into L2 in bursts).
__attribute__((visibility("default"))) void adagrad_bench_row_limit(
    float* table, float* state, std::size_t dim, const std::int64_t* rows, std::size_t count,
    const float* grad_row, std::size_t distance, int form) {
  const adagrad_bench::sparse_limit_path& path = adagrad_bench::best_sparse_limits();
  const std::size_t row_bytes = dim * sizeof(float);
  const auto prefetch = static_cast<adagrad_bench::prefetch_form>(form);
  auto ask = [&](std::size_t place, auto locality) __attribute__((always_inline)) {
    const auto ahead = static_cast<std::size_t>(rows[place]);
    adagrad_bench::prefetch_for_write<decltype(locality)::value>(table + ahead * dim, row_bytes);
    adagrad_bench::prefetch_for_write<decltype(locality)::value>(state + ahead * dim, row_bytes);
  };
  std::size_t asked = 0;
  for (std::size_t u = 0; u < count; ++u) {
    adagrad_bench::prefetch_ahead(prefetch, distance, u, count, &asked, ask);
    const auto row = static_cast<std::size_t>(rows[u]);
    path.kernels.row_update(dim, table + row * dim, grad_row, state + row * dim);
  }
}

}  // extern "C"
