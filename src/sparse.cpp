// SPDX-License-Identifier: BSD-3-Clause
// Embedding tables: the sparse steps (per-element and row-wise state, and the
// lazy composite steps, proximal and dual averaging) and the dense row-wise
// step.
//
// A sparse step validates everything, then sorts the batch's positions by
// row (a stable LSD radix sort in the caller's workspace), so that the
// occurrences of one row form one run in batch order. Each run is one row's
// work: its summed gradient (SUM) or its occurrences in turn (SEQUENTIAL).
// Runs never straddle two tasks of the pool, so every row is updated by one
// thread in batch order, and the results do not depend on the thread count.
// The sorted order also walks the table in address order, and the driver
// prefetches the rows of the occurrences ahead (prefetch_span, in
// src/sparse_sort.h).
// ADAGRAD_DUPLICATES_TORCH sorts with a transcription of libstdc++'s
// std::sort instead (torch_sort, src/sparse_sort.h), whose order of equal rows is the
// order PyTorch's coalesce() sums them in.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>
#include <utility>

#include "adagrad/adagrad.h"
#include "dispatch.h"
#include "pool.h"
#include "sparse_sort.h"
#include "step_constants.h"
#include "ukernels.h"
#include "validate.h"

namespace adagrad {
namespace detail {
namespace {

// What a row update is.
enum class row_update {
  dense,           // the dense step, state G (num_rows x dim)
  rowwise,         // row-wise AdaGrad, state G (num_rows)
  proximal,        // proximal AdaGrad, state G (num_rows x dim)
  dual_averaging,  // AdaGrad DA, states z (state) and G (state2), both num_rows x dim
};

template <class Index>
struct sparse_batch {
  float* table;
  float* state;
  float* state2;  // dual averaging's G; nullptr otherwise
  std::size_t num_rows;
  std::size_t dim;
  const Index* indices;
  std::size_t num_indices;
  const float* grads;
  row_update kind;
  bool rowwise;
  bool sum_duplicates;
  bool torch_sort;  // ADAGRAD_DUPLICATES_TORCH: runs in torch_sort's order
  kernels::step_constants<float> constants;
  kernels::composite_constants<float> composite;  // proximal and dual averaging
  const isa_kernels* kernels;
  std::uint64_t max_row;  // the largest index, once checked
};

template <class Index>
adagrad_status validate_sparse(sparse_batch<Index>* b, const adagrad_params* p,
                               const adagrad_regularization* r, const adagrad_duplicates& dup,
                               const void* workspace, std::size_t workspace_size) {
  if (b->kernels == nullptr) return ADAGRAD_ERROR_UNSUPPORTED_ISA;
  adagrad_status status = ADAGRAD_OK;
  if (b->kind == row_update::proximal || b->kind == row_update::dual_averaging) {
    status = make_composite_constants(p, r, b->kind == row_update::dual_averaging, &b->composite);
    b->constants = b->composite.step;
  } else {
    status = make_constants(p, &b->constants);
  }
  if (status != ADAGRAD_OK) return status;
  // dup may hold any int a C caller stored: read as the integer (enum_int).
  const int mode = enum_int(dup);
  if (mode != ADAGRAD_DUPLICATES_SUM && mode != ADAGRAD_DUPLICATES_SEQUENTIAL &&
      mode != ADAGRAD_DUPLICATES_TORCH) {
    return ADAGRAD_ERROR_INVALID_PARAMS;
  }
  b->sum_duplicates = mode != ADAGRAD_DUPLICATES_SEQUENTIAL;
  b->torch_sort = mode == ADAGRAD_DUPLICATES_TORCH;
  // Per-element rows also update in torch's sparse order; the row-wise and
  // composite updates have no torch counterpart and keep theirs.
  b->constants.torch_order = b->torch_sort && b->kind == row_update::dense;

  // Sizes: no object is larger than PTRDIFF_MAX bytes.
  const std::size_t max_floats = static_cast<std::size_t>(PTRDIFF_MAX) / sizeof(float);
  const std::size_t dim = b->dim;
  const std::size_t n = b->num_indices;
  if (dim != 0 && (b->num_rows > max_floats / dim || n > max_floats / dim)) {
    return ADAGRAD_ERROR_SIZE_OVERFLOW;
  }
  if (b->num_rows > max_floats || n > static_cast<std::size_t>(PTRDIFF_MAX) / sizeof(Index)) {
    return ADAGRAD_ERROR_SIZE_OVERFLOW;
  }
  const std::size_t needed = workspace_bytes(n);
  if (needed == SIZE_MAX) return ADAGRAD_ERROR_SIZE_OVERFLOW;
  if (n == 0) return ADAGRAD_OK;

  const std::size_t table_bytes = b->num_rows * dim * sizeof(float);
  const std::size_t state_bytes = b->rowwise ? b->num_rows * sizeof(float) : table_bytes;
  const std::size_t state2_bytes = b->kind == row_update::dual_averaging ? table_bytes : 0;
  const std::size_t grads_bytes = n * dim * sizeof(float);
  const std::size_t index_bytes = n * sizeof(Index);
  const std::size_t scratch_bytes = workspace_size < needed ? workspace_size : needed;
  if ((b->table == nullptr && table_bytes != 0) || (b->state == nullptr && state_bytes != 0) ||
      (b->state2 == nullptr && state2_bytes != 0) || (b->grads == nullptr && grads_bytes != 0) ||
      b->indices == nullptr) {
    return ADAGRAD_ERROR_NULL_POINTER;
  }
  if (misaligned(b->table, alignof(float)) || misaligned(b->state, alignof(float)) ||
      misaligned(b->state2, alignof(float)) || misaligned(b->grads, alignof(float)) ||
      misaligned(b->indices, alignof(Index))) {
    return ADAGRAD_ERROR_MISALIGNED;
  }
  // The written buffers against every other; grads and indices are only read.
  // The first four are written, the last two only read.
  const void* const all[] = {b->table, b->state, b->state2, workspace, b->grads, b->indices};
  const std::size_t all_bytes[] = {table_bytes,   state_bytes, state2_bytes,
                                   scratch_bytes, grads_bytes, index_bytes};
  for (std::size_t i = 0; i < 4; ++i) {
    for (std::size_t j = i + 1; j < 6; ++j) {
      if (buffers_overlap(all[i], all_bytes[i], all[j], all_bytes[j])) {
        return ADAGRAD_ERROR_OVERLAP;
      }
    }
  }
  if (workspace_size < needed || workspace == nullptr) return ADAGRAD_ERROR_WORKSPACE_TOO_SMALL;

  // Every index, before anything is written: a branch-free maximum of the
  // unsigned keys (negative indices are huge), one test at the end.
  std::uint64_t max_row = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const std::uint64_t key = row_key(b->indices[i]);
    max_row = key > max_row ? key : max_row;
  }
  if (max_row >= b->num_rows) return ADAGRAD_ERROR_INDEX_OUT_OF_RANGE;
  b->max_row = max_row;
  return ADAGRAD_OK;
}

template <class Index, class Position>
struct sparse_job {
  const sparse_batch<Index>* batch;
  const Position* order;  // positions sorted by row
  std::size_t occurrences_per_task;

  std::uint64_t row_at(std::size_t i) const { return row_key(batch->indices[order[i]]); }

  // The first run boundary at or after i.
  std::size_t run_start(std::size_t i) const {
    while (i > 0 && i < batch->num_indices && row_at(i) == row_at(i - 1)) ++i;
    return i;
  }

  void run_task(std::size_t task) const {
    const std::size_t n = batch->num_indices;
    const std::size_t first = task * occurrences_per_task;
    if (first >= n) return;
    const std::size_t last = n - first > occurrences_per_task ? first + occurrences_per_task : n;
    run_range(run_start(first), run_start(last));
  }

  // Runs [begin, end), which begins and ends at run boundaries.
  //
  // The loop is kept lean on purpose: an occurrence's update is a direct call
  // of the ISA's row kernel, and only a summed run of duplicates goes through
  // the out-of-line update_summed_row. The rows miss in cache, and how many
  // rows' misses the core keeps in flight depends on how many rows its
  // out-of-order window spans, so every instruction per row costs memory
  // parallelism: calling the general per-run update for every row was about
  // 25 ns per index slower than calling the kernel from here (row-wise,
  // SEQUENTIAL, dim 128 in bench/sparse_step_bench.cc; docs/benchmarking.md
  // has the experiment).
  void run_range(std::size_t begin, std::size_t end) const {
    const bool sum_duplicates = batch->sum_duplicates;
    prefetch_cursor ahead{begin, ~std::uint64_t{0}};
    for (std::size_t i = begin; i < end;) {
      const std::uint64_t row = row_at(i);
      std::size_t j = i + 1;
      while (j < end && row_at(j) == row) ++j;
      const std::size_t ahead_end =
          end - j > kPrefetchOccurrences ? j + kPrefetchOccurrences : end;
      for (; ahead.next < ahead_end; ++ahead.next) prefetch_occurrence(&ahead);
      if (j - i == 1 || !sum_duplicates) {
        for (std::size_t q = i; q < j; ++q) step_row(row, grad_row(q));
      } else {
        update_summed_row(row, i, j);
      }
      i = j;
    }
  }

  // Where the prefetch is: the next occurrence it asks for, and the table
  // row it asked for last (a duplicate's rows are on their way).
  struct prefetch_cursor {
    std::size_t next;
    std::uint64_t last_row;
  };

  // The rows of a batch are scattered: each is a few lines in a page of its
  // own, so the hardware prefetchers cannot guess the next one. Asks (see
  // kPrefetchOccurrences) for the rows of occurrence cursor->next: the
  // gradient row, and unless the occurrence repeats the previous one's row,
  // the table row and the state.
  __attribute__((always_inline)) inline void prefetch_occurrence(prefetch_cursor* cursor) const {
    const sparse_batch<Index>& b = *batch;
    const std::size_t row_bytes = b.dim * sizeof(float);
    if (row_bytes == 0) return;
    const std::size_t q = cursor->next;
    prefetch_span<false>(grad_row(q), row_bytes);
    const std::uint64_t row = row_at(q);
    if (row == cursor->last_row) return;
    cursor->last_row = row;
    prefetch_span<true>(b.table + row * b.dim, row_bytes);
    if (b.rowwise) {
      __builtin_prefetch(b.state + row, 1, kPrefetchLocality);
      return;
    }
    prefetch_span<true>(b.state + row * b.dim, row_bytes);
    if (b.state2 != nullptr) prefetch_span<true>(b.state2 + row * b.dim, row_bytes);
  }

  const float* grad_row(std::size_t i) const { return batch->grads + order[i] * batch->dim; }

  // One update of `row` by one gradient row (a lone occurrence, or one
  // occurrence of a SEQUENTIAL run), whole, by the ISA's row kernel.
  void step_row(std::uint64_t row, const float* grad) const {
    const sparse_batch<Index>& b = *batch;
    if (b.rowwise) {
      b.kernels->rowwise_rows(1, b.dim, b.table + row * b.dim, grad, b.state + row, b.constants);
      return;
    }
    step_elements(row * b.dim, b.dim, grad);
  }

  // The element-wise update of table (and state) elements [at, at + len) by
  // grad[0 .. len): a whole row, or a chunk of a summed one.
  void step_elements(std::size_t at, std::size_t len, const float* grad) const {
    const sparse_batch<Index>& b = *batch;
    const isa_kernels& k = *b.kernels;
    switch (b.kind) {
      case row_update::proximal:
        k.proximal_f32(len, b.table + at, grad, b.state + at, &b.composite);
        break;
      case row_update::dual_averaging:
        k.da_f32(len, b.table + at, grad, b.state + at, b.state2 + at, &b.composite);
        break;
      default: k.f32(len, b.table + at, grad, b.state + at, b.constants); break;
    }
  }

  // sum[0 .. len) = the gradients of occurrences [i, j), columns
  // [column, column + len), added in batch order.
  void sum_gradients(std::size_t i, std::size_t j, std::size_t column, std::size_t len,
                     float* sum) const {
    sum_run<false>(
        *batch->kernels, i, j, column, len, [&](std::size_t q) { return grad_row(q); },
        [](std::size_t) { return 1.0f; }, sum);
  }

  // A SUM run, occurrences [i, j) of one row with j - i > 1: the row updated
  // once with the gradients summed in batch order. Out of line: duplicates
  // are the exception, and its buffers stay off run_range's stack.
  __attribute__((noinline)) void update_summed_row(std::uint64_t row, std::size_t i,
                                                   std::size_t j) const {
    const sparse_batch<Index>& b = *batch;
    const std::size_t dim = b.dim;
    const isa_kernels& k = *b.kernels;
    const kernels::step_constants<float>& c = b.constants;
    float* w = b.table + row * dim;
    if (!b.rowwise) {
      // Element-wise updates take the row in chunks of the summed gradient.
      alignas(64) float sum[kChunkColumns];
      for (std::size_t column = 0; column < dim; column += kChunkColumns) {
        const std::size_t len = dim - column < kChunkColumns ? dim - column : kChunkColumns;
        sum_gradients(i, j, column, len, sum);
        step_elements(row * dim + column, len, sum);
      }
      return;
    }
    rowwise_summed_row(k, w, b.state + row, dim, c,
                       [&](std::size_t column, std::size_t len, float* out) {
                         sum_gradients(i, j, column, len, out);
                       });
  }
};

template <class Position, class Index>
void run_sparse(const sparse_batch<Index>& b, void* workspace, adagrad_pool* pool) {
  sparse_job<Index, Position> job;
  job.batch = &b;
  job.order = sort_by_row<Position>(b.indices, b.num_indices, b.max_row, b.torch_sort, workspace);
  const std::size_t tasks = task_count(pool, b.num_indices * b.dim);
  job.occurrences_per_task = (b.num_indices + tasks - 1) / tasks;
  run_tasks(pool, tasks, job);
}

template <class Index>
adagrad_status sparse_step(const isa_kernels* k, row_update kind, float* table, float* state,
                           float* state2, std::size_t num_rows, std::size_t dim,
                           const Index* indices, std::size_t num_indices, const float* grads,
                           const adagrad_params* p, const adagrad_regularization* r,
                           const adagrad_duplicates& dup, void* workspace,
                           std::size_t workspace_size, adagrad_pool* pool) {
  sparse_batch<Index> b;
  b.kind = kind;
  b.table = table;
  b.state = state;
  b.state2 = state2;
  b.num_rows = num_rows;
  b.dim = dim;
  b.indices = indices;
  b.num_indices = num_indices;
  b.grads = grads;
  b.rowwise = kind == row_update::rowwise;
  b.kernels = k;
  const adagrad_status status = validate_sparse(&b, p, r, dup, workspace, workspace_size);
  // With dim == 0 the rows hold nothing: no weight and, row-wise, no mean
  // (0 / 0) to accumulate.
  if (status != ADAGRAD_OK || num_indices == 0 || dim == 0) return status;
  if (num_indices <= UINT32_MAX) {
    run_sparse<std::uint32_t>(b, workspace, pool);
  } else {
    run_sparse<std::uint64_t>(b, workspace, pool);
  }
  return ADAGRAD_OK;
}

struct rowwise_job {
  float* w;
  const float* g;
  float* state;
  std::size_t rows;
  std::size_t dim;
  std::size_t rows_per_task;
  kernels::f32_rowwise_rows_fn ukernel;
  kernels::step_constants<float> constants;

  void run_task(std::size_t task) const {
    const std::size_t first = task * rows_per_task;
    if (first >= rows) return;
    const std::size_t count = rows - first > rows_per_task ? rows_per_task : rows - first;
    ukernel(count, dim, w + first * dim, g + first * dim, state + first, constants);
  }
};

adagrad_status rowwise_step(const isa_kernels* k, float* w, const float* g, float* row_state,
                            std::size_t rows, std::size_t dim, const adagrad_params* p,
                            adagrad_pool* pool) {
  if (k == nullptr) return ADAGRAD_ERROR_UNSUPPORTED_ISA;
  rowwise_job job;
  adagrad_status status = make_constants(p, &job.constants);
  if (status != ADAGRAD_OK) return status;
  const std::size_t max_floats = static_cast<std::size_t>(PTRDIFF_MAX) / sizeof(float);
  if ((dim != 0 && rows > max_floats / dim) || rows > max_floats) {
    return ADAGRAD_ERROR_SIZE_OVERFLOW;
  }
  // No rows, or rows of nothing (no mean to take): a no-op.
  if (rows == 0 || dim == 0) return ADAGRAD_OK;
  const std::size_t bytes = rows * dim * sizeof(float);
  const std::size_t state_bytes = rows * sizeof(float);
  if (w == nullptr || g == nullptr || row_state == nullptr) return ADAGRAD_ERROR_NULL_POINTER;
  if (misaligned(w, alignof(float)) || misaligned(g, alignof(float)) ||
      misaligned(row_state, alignof(float))) {
    return ADAGRAD_ERROR_MISALIGNED;
  }
  if (overlap(w, bytes, g, bytes) || overlap(w, bytes, row_state, state_bytes) ||
      overlap(g, bytes, row_state, state_bytes)) {
    return ADAGRAD_ERROR_OVERLAP;
  }
  job.w = w;
  job.g = g;
  job.state = row_state;
  job.rows = rows;
  job.dim = dim;
  job.ukernel = k->rowwise_rows;
  const std::size_t tasks = task_count(pool, rows * dim);
  job.rows_per_task = (rows + tasks - 1) / tasks;
  run_tasks(pool, tasks, job);
  return ADAGRAD_OK;
}

}  // namespace
}  // namespace detail
}  // namespace adagrad

extern "C" {

size_t adagrad_sparse_workspace_size(size_t num_indices, size_t dim, adagrad_duplicates dup) {
  (void)dim;
  (void)dup;
  return adagrad::detail::workspace_bytes(num_indices);
}

adagrad_status adagrad_sparse_step(float* table, float* state, size_t num_rows, size_t dim,
                                   const int64_t* indices, size_t num_indices, const float* grads,
                                   const adagrad_params* p, adagrad_duplicates dup, void* workspace,
                                   size_t workspace_size, adagrad_pool* pool) {
  return adagrad::detail::sparse_step(&adagrad::detail::family_kernels(ADAGRAD_FAMILY_SPARSE),
                                      adagrad::detail::row_update::dense, table, state, nullptr,
                                      num_rows, dim, indices, num_indices, grads, p, nullptr, dup,
                                      workspace, workspace_size, pool);
}

adagrad_status adagrad_sparse_step_i32(float* table, float* state, size_t num_rows, size_t dim,
                                       const int32_t* indices, size_t num_indices,
                                       const float* grads, const adagrad_params* p,
                                       adagrad_duplicates dup, void* workspace,
                                       size_t workspace_size, adagrad_pool* pool) {
  return adagrad::detail::sparse_step(&adagrad::detail::family_kernels(ADAGRAD_FAMILY_SPARSE),
                                      adagrad::detail::row_update::dense, table, state, nullptr,
                                      num_rows, dim, indices, num_indices, grads, p, nullptr, dup,
                                      workspace, workspace_size, pool);
}

adagrad_status adagrad_rowwise_sparse_step(float* table, float* state, size_t num_rows, size_t dim,
                                           const int64_t* indices, size_t num_indices,
                                           const float* grads, const adagrad_params* p,
                                           adagrad_duplicates dup, void* workspace,
                                           size_t workspace_size, adagrad_pool* pool) {
  return adagrad::detail::sparse_step(&adagrad::detail::family_kernels(ADAGRAD_FAMILY_ROWWISE),
                                      adagrad::detail::row_update::rowwise, table, state, nullptr,
                                      num_rows, dim, indices, num_indices, grads, p, nullptr, dup,
                                      workspace, workspace_size, pool);
}

adagrad_status adagrad_rowwise_sparse_step_i32(float* table, float* state, size_t num_rows,
                                               size_t dim, const int32_t* indices,
                                               size_t num_indices, const float* grads,
                                               const adagrad_params* p, adagrad_duplicates dup,
                                               void* workspace, size_t workspace_size,
                                               adagrad_pool* pool) {
  return adagrad::detail::sparse_step(&adagrad::detail::family_kernels(ADAGRAD_FAMILY_ROWWISE),
                                      adagrad::detail::row_update::rowwise, table, state, nullptr,
                                      num_rows, dim, indices, num_indices, grads, p, nullptr, dup,
                                      workspace, workspace_size, pool);
}

adagrad_status adagrad_rowwise_step(float* w, const float* g, float* row_state, size_t rows,
                                    size_t dim, const adagrad_params* p, adagrad_pool* pool) {
  return adagrad::detail::rowwise_step(&adagrad::detail::family_kernels(ADAGRAD_FAMILY_ROWWISE), w,
                                       g, row_state, rows, dim, p, pool);
}

adagrad_status adagrad_sparse_step_isa(adagrad_isa isa, float* table, float* state, size_t num_rows,
                                       size_t dim, const int64_t* indices, size_t num_indices,
                                       const float* grads, const adagrad_params* p,
                                       adagrad_duplicates dup, void* workspace,
                                       size_t workspace_size, adagrad_pool* pool) {
  return adagrad::detail::sparse_step(adagrad::detail::usable_kernels(isa),
                                      adagrad::detail::row_update::dense, table, state, nullptr,
                                      num_rows, dim, indices, num_indices, grads, p, nullptr, dup,
                                      workspace, workspace_size, pool);
}

adagrad_status adagrad_rowwise_sparse_step_isa(adagrad_isa isa, float* table, float* state,
                                               size_t num_rows, size_t dim, const int64_t* indices,
                                               size_t num_indices, const float* grads,
                                               const adagrad_params* p, adagrad_duplicates dup,
                                               void* workspace, size_t workspace_size,
                                               adagrad_pool* pool) {
  return adagrad::detail::sparse_step(adagrad::detail::usable_kernels(isa),
                                      adagrad::detail::row_update::rowwise, table, state, nullptr,
                                      num_rows, dim, indices, num_indices, grads, p, nullptr, dup,
                                      workspace, workspace_size, pool);
}

adagrad_status adagrad_rowwise_step_isa(adagrad_isa isa, float* w, const float* g, float* row_state,
                                        size_t rows, size_t dim, const adagrad_params* p,
                                        adagrad_pool* pool) {
  return adagrad::detail::rowwise_step(adagrad::detail::usable_kernels(isa), w, g, row_state, rows,
                                       dim, p, pool);
}

adagrad_status adagrad_sparse_proximal_step(float* table, float* state, size_t num_rows, size_t dim,
                                            const int64_t* indices, size_t num_indices,
                                            const float* grads, const adagrad_params* p,
                                            const adagrad_regularization* r, adagrad_duplicates dup,
                                            void* workspace, size_t workspace_size,
                                            adagrad_pool* pool) {
  return adagrad::detail::sparse_step(&adagrad::detail::family_kernels(ADAGRAD_FAMILY_SPARSE),
                                      adagrad::detail::row_update::proximal, table, state, nullptr,
                                      num_rows, dim, indices, num_indices, grads, p, r, dup,
                                      workspace, workspace_size, pool);
}

adagrad_status adagrad_sparse_da_step(float* table, float* z, float* G, size_t num_rows, size_t dim,
                                      const int64_t* indices, size_t num_indices,
                                      const float* grads, const adagrad_params* p,
                                      const adagrad_regularization* r, adagrad_duplicates dup,
                                      void* workspace, size_t workspace_size,
                                      adagrad_pool* pool) {
  return adagrad::detail::sparse_step(&adagrad::detail::family_kernels(ADAGRAD_FAMILY_SPARSE),
                                      adagrad::detail::row_update::dual_averaging, table, z, G,
                                      num_rows, dim, indices, num_indices, grads, p, r, dup,
                                      workspace, workspace_size, pool);
}

adagrad_status adagrad_sparse_proximal_step_isa(adagrad_isa isa, float* table, float* state,
                                                size_t num_rows, size_t dim, const int64_t* indices,
                                                size_t num_indices, const float* grads,
                                                const adagrad_params* p,
                                                const adagrad_regularization* r,
                                                adagrad_duplicates dup, void* workspace,
                                                size_t workspace_size, adagrad_pool* pool) {
  return adagrad::detail::sparse_step(adagrad::detail::usable_kernels(isa),
                                      adagrad::detail::row_update::proximal, table, state, nullptr,
                                      num_rows, dim, indices, num_indices, grads, p, r, dup,
                                      workspace, workspace_size, pool);
}

adagrad_status adagrad_sparse_da_step_isa(adagrad_isa isa, float* table, float* z, float* G,
                                          size_t num_rows, size_t dim, const int64_t* indices,
                                          size_t num_indices, const float* grads,
                                          const adagrad_params* p, const adagrad_regularization* r,
                                          adagrad_duplicates dup, void* workspace,
                                          size_t workspace_size, adagrad_pool* pool) {
  return adagrad::detail::sparse_step(
      adagrad::detail::usable_kernels(isa), adagrad::detail::row_update::dual_averaging, table, z,
      G, num_rows, dim, indices, num_indices, grads, p, r, dup, workspace, workspace_size, pool);
}

}  // extern "C"
