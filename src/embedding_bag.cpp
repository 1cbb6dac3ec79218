// SPDX-License-Identifier: BSD-3-Clause
// The embedding-bag backward pass fused with the sparse AdaGrad step
// (include/adagrad/adagrad.h, "Embedding bags").
//
// Per table, after every table has been validated: each occurrence's bag is
// written to the workspace (walking the offsets), the occurrences are sorted
// by row as the sparse steps sort them (src/sparse_sort.h: stable, so each
// row's occurrences stay in batch order), the sorted places' rows and bags
// are written out in that order where the workspace's arrays hold them
// (sorted_lookup), and each run of one row is summed
// from grad_output, scaled, in batch order, chunk by chunk on the stack, and
// handed to the same row kernels the sparse steps call, with the same chunks.
// So the bits are those of the materialised gradient and the sparse step with
// ADAGRAD_DUPLICATES_SUM, and the num_indices x dim gradient is never written.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>

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

constexpr std::size_t kMaxFloats = static_cast<std::size_t>(PTRDIFF_MAX) / sizeof(float);

// The bag of each occurrence, 32-bit while num_bags allows it.
inline std::size_t bag_entry_bytes(std::size_t num_bags) {
  return num_bags <= UINT32_MAX ? sizeof(std::uint32_t) : sizeof(std::uint64_t);
}

// The sort's workspace, then (8-byte aligned) one bag number per occurrence.
std::size_t fused_workspace_bytes(std::size_t num_indices, std::size_t num_bags) {
  const std::size_t sort = workspace_bytes(num_indices);
  if (sort == 0 || sort == SIZE_MAX) return sort;
  const std::size_t entry = bag_entry_bytes(num_bags);
  if (num_indices > (SIZE_MAX - sort - 8) / entry) return SIZE_MAX;
  return sort + 8 + num_indices * entry;
}

// Where the bag numbers start: past the sort's arrays (which start at the
// first cache line of the workspace), rounded up to 8 bytes from that line,
// so the address is 8-byte aligned whatever the workspace's alignment (the
// contract asks for none; UBSan caught an offset rounded from the unaligned
// start instead).
inline void* bag_area(void* workspace, std::size_t num_indices) {
  const std::size_t past_line = reinterpret_cast<std::uintptr_t>(workspace) % kWorkspaceAlignment;
  const std::size_t skip = (kWorkspaceAlignment - past_line) % kWorkspaceAlignment;
  const std::size_t sort = workspace_bytes(num_indices) - kWorkspaceAlignment;
  return static_cast<unsigned char*>(workspace) + skip + (sort + 7) / 8 * 8;
}

// One table, validated: its constants and what the run needs. Every field
// starts zeroed, so that no path reads one the validation did not reach.
template <class Index>
struct bag_table {
  float* weights{};
  float* state{};
  std::size_t dim{};
  const Index* indices{};
  const Index* offsets{};
  std::size_t num_indices{};
  std::size_t num_bags{};
  const float* per_sample_weights{};
  const float* grad_output{};
  std::size_t stride{};
  bool mean{};
  bool rowwise{};
  kernels::step_constants<float> constants{};
  const isa_kernels* kernels{};
  std::uint64_t max_row{};
  // The options (include/adagrad/adagrad.h, "Optimizer options"), rounded
  // to float once.
  bool clip{};  // max_gradient > 0
  float max_gradient{};
  bool decay{};      // DECOUPLE or COUNTER with weight_decay != 0
  bool counter{};    // COUNTER
  float lr_wd{};     // d = lr_t * weight_decay, in double, rounded once
  float halflife{};  // COUNTER's h
  double fade{};     // COUNTER's counter_decay
  std::int64_t step{};
  float* counters{};
  std::int64_t* counter_steps{};
  bool renorm{};  // max_norm > 0
  float max_norm{};
  // Whether no option changes the row's update.
  bool plain() const { return !clip && !decay && !renorm; }
};

inline bool valid_float_rate(double value) {
  return value >= 0.0 && value <= static_cast<double>(std::numeric_limits<float>::max());
}

// The options' constants, after the table's parameters (p valid).
template <class Index>
adagrad_status table_options(const adagrad_embedding_table& t, const adagrad_params& p,
                             bag_table<Index>* b) {
  const adagrad_embedding_options defaults = adagrad_embedding_options_default();
  const adagrad_embedding_options& o = t.options != nullptr ? *t.options : defaults;
  const int mode = enum_int(o.weight_decay_mode);
  if (mode != ADAGRAD_WEIGHT_DECAY_L2 && mode != ADAGRAD_WEIGHT_DECAY_DECOUPLE &&
      mode != ADAGRAD_WEIGHT_DECAY_COUNTER) {
    return ADAGRAD_ERROR_INVALID_PARAMS;
  }
  if (!valid_float_rate(o.max_norm) || !valid_float_rate(o.max_gradient)) {
    return ADAGRAD_ERROR_INVALID_PARAMS;
  }
  b->clip = o.max_gradient > 0.0;
  b->max_gradient = static_cast<float>(o.max_gradient);
  b->renorm = o.max_norm > 0.0;
  b->max_norm = static_cast<float>(o.max_norm);
  b->counter = mode == ADAGRAD_WEIGHT_DECAY_COUNTER;
  b->decay = false;
  b->lr_wd = 0.0f;
  b->halflife = 0.0f;
  b->fade = 1.0;
  b->step = 0;
  if (mode != ADAGRAD_WEIGHT_DECAY_L2) {
    const double lr_wd = decayed_lr(p) * p.weight_decay;
    if (!valid_float_rate(lr_wd)) return ADAGRAD_ERROR_INVALID_PARAMS;
    // The step adds no decay term; the driver decays the row instead.
    b->constants.apply_weight_decay = false;
    b->decay = p.weight_decay > 0.0;
    b->lr_wd = static_cast<float>(lr_wd);
  }
  if (b->counter) {
    if (!(o.counter_halflife > 0.0) || !valid_float_rate(o.counter_halflife) ||
        !(o.counter_decay >= 0.0 && o.counter_decay <= 1.0) || p.step == 0 ||
        p.step > static_cast<std::uint64_t>(INT64_MAX)) {
      return ADAGRAD_ERROR_INVALID_PARAMS;
    }
    b->halflife = static_cast<float>(o.counter_halflife);
    b->fade = o.counter_decay;
    b->step = static_cast<std::int64_t>(p.step);
  }
  return ADAGRAD_OK;
}

// The table's constants and pooling (ADAGRAD_ERROR_INVALID_PARAMS).
template <class Index>
adagrad_status table_params(const adagrad_embedding_table& t, const adagrad_params* p,
                            bag_table<Index>* b) {
  const adagrad_params* own = t.params != nullptr ? t.params : p;
  const adagrad_status status = make_constants(own, &b->constants);
  if (status != ADAGRAD_OK) return status;
  const int pooling = enum_int(t.pooling);
  if (pooling != ADAGRAD_POOLING_SUM && pooling != ADAGRAD_POOLING_MEAN) {
    return ADAGRAD_ERROR_INVALID_PARAMS;
  }
  b->mean = pooling == ADAGRAD_POOLING_MEAN;
  return table_options(t, *own, b);
}

// Whether the table's options are COUNTER's (valid options: checked first).
inline bool uses_counter(const adagrad_embedding_table& t) {
  return t.options != nullptr &&
         enum_int(t.options->weight_decay_mode) == ADAGRAD_WEIGHT_DECAY_COUNTER;
}

// The byte sizes of a table's buffers (valid once its sizes are checked).
struct table_bytes {
  std::size_t weights, state, indices, offsets, weights_per_sample, grad_output, counter,
      counter_step;
};

template <class Index>
table_bytes bytes_of(const adagrad_embedding_table& t, std::size_t num_bags, bool rowwise) {
  table_bytes s;
  const std::size_t stride = t.grad_output_stride != 0 ? t.grad_output_stride : t.dim;
  s.weights = t.num_rows * t.dim * sizeof(float);
  s.state = rowwise ? t.num_rows * sizeof(float) : s.weights;
  s.indices = t.num_indices * sizeof(Index);
  s.offsets = (num_bags + 1) * sizeof(Index);
  if (t.offsets == nullptr && num_bags == 0) s.offsets = 0;
  s.weights_per_sample = t.per_sample_weights != nullptr ? t.num_indices * sizeof(float) : 0;
  s.grad_output =
      num_bags != 0 && t.dim != 0 ? ((num_bags - 1) * stride + t.dim) * sizeof(float) : 0;
  const bool counter = uses_counter(t);
  s.counter = counter ? t.num_rows * sizeof(float) : 0;
  s.counter_step = counter ? t.num_rows * sizeof(std::int64_t) : 0;
  return s;
}

// Everything of one table that fits in the address space.
template <class Index>
bool sizes_fit(const adagrad_embedding_table& t, std::size_t num_bags) {
  const std::size_t dim = t.dim;
  if (t.num_rows > kMaxFloats || (dim != 0 && t.num_rows > kMaxFloats / dim)) return false;
  if (t.num_indices > static_cast<std::size_t>(PTRDIFF_MAX) / sizeof(Index)) return false;
  if (num_bags >= static_cast<std::size_t>(PTRDIFF_MAX) / sizeof(Index)) return false;
  if (fused_workspace_bytes(t.num_indices, num_bags) == SIZE_MAX) return false;
  if (num_bags != 0 && dim != 0) {
    const std::size_t stride = t.grad_output_stride != 0 ? t.grad_output_stride : dim;
    if (dim > kMaxFloats || num_bags - 1 > (kMaxFloats - dim) / stride) return false;
  }
  return true;
}

inline bool buffer_missing(const void* p, std::size_t bytes) { return p == nullptr && bytes != 0; }

// offsets[0] == 0, nondecreasing, offsets[num_bags] == num_indices.
template <class Index>
bool offsets_valid(const Index* offsets, std::size_t num_bags, std::size_t num_indices) {
  if (offsets == nullptr) return num_indices == 0;  // num_bags == 0 (checked with the pointers)
  if (offsets[0] != 0) return false;
  for (std::size_t b = 0; b < num_bags; ++b) {
    if (offsets[b + 1] < offsets[b]) return false;
  }
  return static_cast<std::uint64_t>(static_cast<std::int64_t>(offsets[num_bags])) == num_indices;
}

template <class Index>
adagrad_status validate_tables(const adagrad_embedding_table* tables, std::size_t num_tables,
                               std::size_t num_bags, const adagrad_params* p, bool rowwise,
                               const void* workspace, std::size_t workspace_size) {
  // The parameters (p and the index type were checked by the caller).
  if (num_tables != 0 && tables == nullptr) {
    // A NULL array cannot say what its tables' parameters are: the pointer
    // status, after the call's own parameters.
    return ADAGRAD_ERROR_NULL_POINTER;
  }
  for (std::size_t t = 0; t < num_tables; ++t) {
    bag_table<Index> b;
    const adagrad_status status = table_params(tables[t], p, &b);
    if (status != ADAGRAD_OK) return status;
  }
  // The sizes.
  if (num_tables > static_cast<std::size_t>(PTRDIFF_MAX) / sizeof(adagrad_embedding_table)) {
    return ADAGRAD_ERROR_SIZE_OVERFLOW;
  }
  std::size_t needed = 0;
  for (std::size_t t = 0; t < num_tables; ++t) {
    if (!sizes_fit<Index>(tables[t], num_bags)) return ADAGRAD_ERROR_SIZE_OVERFLOW;
    const std::size_t bytes = fused_workspace_bytes(tables[t].num_indices, num_bags);
    needed = bytes > needed ? bytes : needed;
  }
  // The pointers.
  for (std::size_t t = 0; t < num_tables; ++t) {
    const adagrad_embedding_table& e = tables[t];
    const table_bytes s = bytes_of<Index>(e, num_bags, rowwise);
    if (buffer_missing(e.weights, s.weights) || buffer_missing(e.state, s.state) ||
        buffer_missing(e.indices, s.indices) || buffer_missing(e.offsets, s.offsets) ||
        buffer_missing(e.grad_output, s.grad_output) || buffer_missing(e.counter, s.counter) ||
        buffer_missing(e.counter_step, s.counter_step)) {
      return ADAGRAD_ERROR_NULL_POINTER;
    }
  }
  // The alignment.
  for (std::size_t t = 0; t < num_tables; ++t) {
    const adagrad_embedding_table& e = tables[t];
    if (misaligned(e.weights, alignof(float)) || misaligned(e.state, alignof(float)) ||
        misaligned(e.per_sample_weights, alignof(float)) ||
        misaligned(e.grad_output, alignof(float)) || misaligned(e.indices, alignof(Index)) ||
        misaligned(e.offsets, alignof(Index)) ||
        (uses_counter(e) && (misaligned(e.counter, alignof(float)) ||
                             misaligned(e.counter_step, alignof(std::int64_t))))) {
      return ADAGRAD_ERROR_MISALIGNED;
    }
  }
  // The overlaps: every written buffer (each table's weights and state, and
  // the workspace) against every buffer the call reads or writes.
  const std::size_t scratch = workspace_size < needed ? workspace_size : needed;
  auto overlaps_written = [&](const void* a, std::size_t a_bytes, std::size_t skip_table,
                              int skip_slot) {
    if (buffers_overlap(a, a_bytes, workspace, scratch) && skip_slot != 2) return true;
    for (std::size_t u = 0; u < num_tables; ++u) {
      const table_bytes s = bytes_of<Index>(tables[u], num_bags, rowwise);
      if (!(u == skip_table && skip_slot == 0) &&
          buffers_overlap(a, a_bytes, tables[u].weights, s.weights)) {
        return true;
      }
      if (!(u == skip_table && skip_slot == 1) &&
          buffers_overlap(a, a_bytes, tables[u].state, s.state)) {
        return true;
      }
      if (!(u == skip_table && skip_slot == 3) &&
          buffers_overlap(a, a_bytes, tables[u].counter, s.counter)) {
        return true;
      }
      if (!(u == skip_table && skip_slot == 4) &&
          buffers_overlap(a, a_bytes, tables[u].counter_step, s.counter_step)) {
        return true;
      }
    }
    return false;
  };
  constexpr std::size_t kNone = ~std::size_t{0};
  if (overlaps_written(tables, num_tables * sizeof(adagrad_embedding_table), kNone, -1) ||
      overlaps_written(p, sizeof(adagrad_params), kNone, -1) ||
      overlaps_written(workspace, scratch, kNone, 2)) {
    return ADAGRAD_ERROR_OVERLAP;
  }
  for (std::size_t t = 0; t < num_tables; ++t) {
    const adagrad_embedding_table& e = tables[t];
    const table_bytes s = bytes_of<Index>(e, num_bags, rowwise);
    if (overlaps_written(e.weights, s.weights, t, 0) || overlaps_written(e.state, s.state, t, 1) ||
        overlaps_written(e.indices, s.indices, kNone, -1) ||
        overlaps_written(e.offsets, s.offsets, kNone, -1) ||
        overlaps_written(e.per_sample_weights, s.weights_per_sample, kNone, -1) ||
        overlaps_written(e.grad_output, s.grad_output, kNone, -1) ||
        overlaps_written(e.counter, s.counter, t, 3) ||
        overlaps_written(e.counter_step, s.counter_step, t, 4) ||
        (e.params != nullptr && overlaps_written(e.params, sizeof(adagrad_params), kNone, -1)) ||
        (e.options != nullptr &&
         overlaps_written(e.options, sizeof(adagrad_embedding_options), kNone, -1))) {
      return ADAGRAD_ERROR_OVERLAP;
    }
  }
  // The workspace.
  if (needed != 0 && (workspace_size < needed || workspace == nullptr)) {
    return ADAGRAD_ERROR_WORKSPACE_TOO_SMALL;
  }
  // The offsets, then the indices.
  for (std::size_t t = 0; t < num_tables; ++t) {
    const adagrad_embedding_table& e = tables[t];
    if (!offsets_valid(static_cast<const Index*>(e.offsets), num_bags, e.num_indices)) {
      return ADAGRAD_ERROR_INVALID_OFFSETS;
    }
  }
  for (std::size_t t = 0; t < num_tables; ++t) {
    const adagrad_embedding_table& e = tables[t];
    const auto* indices = static_cast<const Index*>(e.indices);
    std::uint64_t max_row = 0;
    for (std::size_t i = 0; i < e.num_indices; ++i) {
      const std::uint64_t key = row_key(indices[i]);
      max_row = key > max_row ? key : max_row;
    }
    if (e.num_indices != 0 && max_row >= e.num_rows) return ADAGRAD_ERROR_INDEX_OUT_OF_RANGE;
  }
  return ADAGRAD_OK;
}

// One table's rows: tasks of whole runs of the sorted occurrences, as the
// sparse steps split theirs (src/sparse.cpp, sparse_job).
// The rows ahead (src/sparse_sort.h) asked for in bursts: once fewer
// than kPrefetchOccurrences occurrences ahead have been asked for, the
// next kBagPrefetchBurst as well, back to back. Why: on 4 KiB pages each
// row's first request misses the TLB, and perf put the fused loop's time on
// that one prefetch (it retires once its page walk is done). Asked one per
// row, between rows whose kernel, sum and calls fill the reorder buffer, the
// walks ran nearly one after the other; back to back they overlap. The
// embedding_bag/fused/.../4k/uniform/pool:20/128 rows of
// bench/embedding_bag_bench.cc against the embedding_bag_gather rows show
// it; huge pages neither gain nor lose.
constexpr std::size_t kBagPrefetchBurst = 16;

template <class Index, class Position, class Bag>
struct bag_job {
  const bag_table<Index>* table;
  const Position* order;  // occurrences sorted by row
  const Bag* bag_of;      // each occurrence's bag
  // The row and the bag of each sorted place, when run_table could lay them
  // out (sorted_lookup): read in order, where indices[order[i]] and
  // bag_of[order[i]] are two dependent random reads per occurrence on the
  // loop's path to its prefetches (embedding_bag/fused rows of
  // bench/embedding_bag_bench.cc). Null: looked up through order.
  const Bag* sorted_rows;
  const Position* sorted_bags;
  std::size_t occurrences_per_task;
  // SUM without weights: every g_q is its bag's gradient row as it is.
  bool unit_scale;
  // No option changes the update: the sparse step's arithmetic alone.
  bool plain;

  std::uint64_t row_at(std::size_t i) const {
    return sorted_rows != nullptr ? sorted_rows[i] : row_key(table->indices[order[i]]);
  }

  std::size_t bag_at(std::size_t i) const {
    return sorted_bags != nullptr ? static_cast<std::size_t>(sorted_bags[i])
                                  : static_cast<std::size_t>(bag_of[order[i]]);
  }

  std::size_t run_start(std::size_t i) const {
    while (i > 0 && i < table->num_indices && row_at(i) == row_at(i - 1)) ++i;
    return i;
  }

  void run_task(std::size_t task) const {
    const std::size_t n = table->num_indices;
    const std::size_t first = task * occurrences_per_task;
    if (first >= n) return;
    const std::size_t last = n - first > occurrences_per_task ? first + occurrences_per_task : n;
    run_range(run_start(first), run_start(last));
  }

  const float* output_row(std::size_t i) const {
    return table->grad_output + bag_at(i) * table->stride;
  }

  // s_q of the occurrence at sorted place i (include/adagrad/adagrad.h).
  float scale(std::size_t i) const {
    const bag_table<Index>& b = *table;
    const std::size_t q = order[i];
    const float x = b.per_sample_weights != nullptr ? b.per_sample_weights[q] : 1.0f;
    if (!b.mean) return x;
    const std::size_t bag = bag_at(i);
    const auto length = static_cast<std::uint64_t>(static_cast<std::int64_t>(b.offsets[bag + 1]) -
                                                   static_cast<std::int64_t>(b.offsets[bag]));
    // In double, rounded once: PyTorch's scale.
    return static_cast<float>(static_cast<double>(x) / static_cast<double>(length));
  }

  // Where the prefetch is: the next occurrence it asks for, and the table
  // row it asked for last (a run's other occurrences need nothing).
  struct prefetch_cursor {
    std::size_t next;
    std::uint64_t last_row;
  };

  // The rows of the occurrences ahead miss in cache, as the sparse steps'
  // rows do: the same prefetch (src/sparse_sort.h), the whole table row and
  // state into L2. The bags' gradient rows are few and shared, so they are
  // left alone.
  __attribute__((always_inline)) inline void prefetch_occurrence(prefetch_cursor* cursor) const {
    const bag_table<Index>& b = *table;
    const std::size_t row_bytes = b.dim * sizeof(float);
    const std::uint64_t row = row_at(cursor->next);
    if (row == cursor->last_row) return;
    cursor->last_row = row;
    prefetch_span<true>(b.weights + row * b.dim, row_bytes);
    if (b.rowwise) {
      __builtin_prefetch(b.state + row, 1, kPrefetchLocality);
      return;
    }
    prefetch_span<true>(b.state + row * b.dim, row_bytes);
  }

  void run_range(std::size_t begin, std::size_t end) const {
    prefetch_cursor ahead{begin, ~std::uint64_t{0}};
    for (std::size_t i = begin; i < end;) {
      const std::uint64_t row = row_at(i);
      std::size_t j = i + 1;
      while (j < end && row_at(j) == row) ++j;
      std::size_t ahead_end = end - j > kPrefetchOccurrences ? j + kPrefetchOccurrences : end;
      if (ahead.next < ahead_end) {
        ahead_end = end - ahead_end > kBagPrefetchBurst ? ahead_end + kBagPrefetchBurst : end;
      }
      for (; ahead.next < ahead_end; ++ahead.next) prefetch_occurrence(&ahead);
      if (j - i == 1 && unit_scale && plain) {
        // The sparse step's lone occurrence: the row kernel on the gradient row.
        step_whole_row(row, output_row(i));
      } else {
        update_summed_row(row, i, j);
      }
      i = j;
    }
  }

  void step_whole_row(std::uint64_t row, const float* grad) const {
    const bag_table<Index>& b = *table;
    if (b.rowwise) {
      b.kernels->rowwise_rows(1, b.dim, b.weights + row * b.dim, grad, b.state + row, b.constants);
    } else {
      b.kernels->f32(b.dim, b.weights + row * b.dim, grad, b.state + row * b.dim, b.constants);
    }
  }

  // sum[0 .. len) = the g_q of occurrences [i, j), columns [column, column +
  // len), added in batch order: the materialised rows' sum, bit for bit.
  void sum_gradients(std::size_t i, std::size_t j, std::size_t column, std::size_t len,
                     float* sum) const {
    auto row = [&](std::size_t q) { return output_row(q); };
    auto factor = [&](std::size_t q) { return scale(q); };
    if (unit_scale) {
      sum_run<false>(*table->kernels, i, j, column, len, row, factor, sum);
    } else {
      sum_run<true>(*table->kernels, i, j, column, len, row, factor, sum);
    }
    if (table->clip) {
      // Option 1: the summed gradient clamped; comparisons leave a NaN as is.
      const float m = table->max_gradient;
      for (std::size_t t = 0; t < len; ++t) {
        const float x = sum[t];
        sum[t] = x > m ? m : (x < -m ? -m : x);
      }
    }
  }

  // Option 2, DECOUPLE and COUNTER: the row decayed before its step.
  void decay_row(std::uint64_t row) const {
    const bag_table<Index>& b = *table;
    float d = b.lr_wd;
    if (b.counter) {
      const std::int64_t last = b.counter_steps[row];
      std::uint64_t k = 1;
      if (last > 0) k = last < b.step ? static_cast<std::uint64_t>(b.step - last) : 0;
      // counter_decay^k by binary powering, in double: multiplications only.
      double a = 1.0;
      double base = b.fade;
      for (; k != 0; k >>= 1) {
        if (k & 1) a = a * base;
        base = base * base;
      }
      const float c = 1.0f + static_cast<float>(a) * b.counters[row];
      b.counters[row] = c;
      b.counter_steps[row] = b.step;
      d = (b.halflife / c) * d;
    }
    float* w = b.weights + row * b.dim;
    for (std::size_t j = 0; j < b.dim; ++j) w[j] = w[j] - d * w[j];
  }

  // Option 4: a row longer than max_norm scaled back to it. The sum of
  // squares by the ISA's row-wise reduction ukernel (no maximize, no decay,
  // no fma: partial[j % 16] += w_j * w_j, the canonical order), folded by the
  // documented tree.
  void renormalise_row(std::uint64_t row) const {
    const bag_table<Index>& b = *table;
    float* w = b.weights + row * b.dim;
    kernels::step_constants<float> squares = b.constants;
    squares.maximize = false;
    squares.apply_weight_decay = false;
    squares.fma = false;
    alignas(64) float partial[kernels::kRowwiseLanes] = {};
    b.kernels->rowwise_reduce(b.dim, w, w, partial, squares);
    for (std::size_t half = kernels::kRowwiseLanes / 2; half >= 1; half /= 2) {
      for (std::size_t k = 0; k < half; ++k) partial[k] = partial[k] + partial[k + half];
    }
    const float norm = std::sqrt(partial[0]);
    if (!(norm > b.max_norm)) return;
    const float scale = b.max_norm / norm;
    for (std::size_t j = 0; j < b.dim; ++j) w[j] = w[j] * scale;
  }

  // The run [i, j) of one row: the options around the step (decay before,
  // renormalisation after). Out of line: the loop of run_range stays lean.
  __attribute__((noinline)) void update_summed_row(std::uint64_t row, std::size_t i,
                                                   std::size_t j) const {
    const bag_table<Index>& b = *table;
    if (b.decay) decay_row(row);
    update_row(row, i, j);
    if (b.renorm) renormalise_row(row);
  }

  // The step of the run [i, j), summed chunk by chunk: the sparse step's
  // update_summed_row (src/sparse.cpp), the same chunks and kernels.
  void update_row(std::uint64_t row, std::size_t i, std::size_t j) const {
    const bag_table<Index>& b = *table;
    const std::size_t dim = b.dim;
    const isa_kernels& k = *b.kernels;
    const kernels::step_constants<float>& c = b.constants;
    float* w = b.weights + row * dim;
    if (!b.rowwise) {
      // Element-wise: a chunk's bits do not depend on the other chunks.
      alignas(64) float sum[kChunkColumns];
      for (std::size_t column = 0; column < dim; column += kChunkColumns) {
        const std::size_t len = dim - column < kChunkColumns ? dim - column : kChunkColumns;
        sum_gradients(i, j, column, len, sum);
        k.f32(len, w + column, sum, b.state + row * dim + column, c);
      }
      return;
    }
    rowwise_summed_row(k, w, b.state + row, dim, c,
                       [&](std::size_t column, std::size_t len, float* out) {
                         sum_gradients(i, j, column, len, out);
                       });
  }
};

// The sorted places' bags, then their rows, written in order over the pool
// in blocks as the sort splits its passes (src/sparse_sort.h): the bags into
// the sort's other position array, free once the sort is done, the rows
// over the bag of each occurrence, free once the first pass has read it.
template <class Index, class Position, class Bag>
struct sorted_lookup {
  const Index* indices;
  const Position* order;
  const Bag* bag_of;
  Position* bags;
  Bag* rows;
  std::size_t n;
  std::size_t block;
  bool write_rows;  // the second pass

  void run_task(std::size_t k) const {
    const std::size_t first = k * block;
    const std::size_t last = n - first > block ? first + block : n;
    if (!write_rows) {
      for (std::size_t i = first; i < last; ++i) bags[i] = static_cast<Position>(bag_of[order[i]]);
      return;
    }
    for (std::size_t i = first; i < last; ++i) {
      rows[i] = static_cast<Bag>(row_key(indices[order[i]]));
    }
  }
};

// Whether sorted_lookup can lay the rows and bags out: a bag fits the
// position array's entries, and a row the bag array's.
template <class Position, class Bag>
bool sorted_lookup_fits(std::uint64_t max_row) {
  return sizeof(Bag) <= sizeof(Position) && max_row <= std::numeric_limits<Bag>::max();
}

template <class Index, class Position, class Bag>
void lay_out_sorted(adagrad_pool* pool, const bag_table<Index>& b, void* workspace, Bag* bag_of,
                    bag_job<Index, Position, Bag>* job) {
  const std::size_t n = b.num_indices;
  // The sort's two position arrays, as sort_by_row lays them out.
  const std::size_t past_line = reinterpret_cast<std::uintptr_t>(workspace) % kWorkspaceAlignment;
  const std::size_t skip = (kWorkspaceAlignment - past_line) % kWorkspaceAlignment;
  auto* first = reinterpret_cast<Position*>(static_cast<unsigned char*>(workspace) + skip);
  Position* other = job->order == first ? first + n : first;
  std::size_t blocks = adagrad_pool_threads(pool);
  if (blocks > kMaxSortBlocks) blocks = kMaxSortBlocks;
  if (blocks > n / kMinSortBlock) blocks = n / kMinSortBlock;
  if (blocks < 1) blocks = 1;
  sorted_lookup<Index, Position, Bag> pass{};
  pass.indices = b.indices;
  pass.order = job->order;
  pass.bag_of = bag_of;
  pass.bags = other;
  pass.rows = bag_of;
  pass.n = n;
  pass.block = (n + blocks - 1) / blocks;
  pass.write_rows = false;
  run_tasks(pool, blocks, pass);
  pass.write_rows = true;
  run_tasks(pool, blocks, pass);
  job->sorted_bags = other;
  job->sorted_rows = bag_of;
}

template <class Index, class Position, class Bag>
void run_table(const bag_table<Index>& b, void* workspace, adagrad_pool* pool) {
  const std::size_t n = b.num_indices;
  auto* bag_of = static_cast<Bag*>(bag_area(workspace, n));
  for (std::size_t bag = 0; bag < b.num_bags; ++bag) {
    const auto first = static_cast<std::size_t>(b.offsets[bag]);
    const auto last = static_cast<std::size_t>(b.offsets[bag + 1]);
    for (std::size_t q = first; q < last; ++q) bag_of[q] = static_cast<Bag>(bag);
  }
  bag_job<Index, Position, Bag> job;
  job.table = &b;
  job.bag_of = bag_of;
  job.unit_scale = !b.mean && b.per_sample_weights == nullptr;
  job.plain = b.plain();
  job.order = sort_by_row_on<Position>(pool, b.indices, n, b.max_row, workspace);
  job.sorted_rows = nullptr;
  job.sorted_bags = nullptr;
  if (sorted_lookup_fits<Position, Bag>(b.max_row)) {
    lay_out_sorted(pool, b, workspace, bag_of, &job);
  }
  // The elements of work, saturated (no gradient buffer bounds n * dim).
  const std::size_t elements = n > SIZE_MAX / b.dim ? SIZE_MAX : n * b.dim;
  const std::size_t tasks = task_count(pool, elements);
  job.occurrences_per_task = (n + tasks - 1) / tasks;
  run_tasks(pool, tasks, job);
}

template <class Index>
adagrad_status embedding_bag_step(const isa_kernels* k, bool rowwise,
                                  const adagrad_embedding_table* tables, std::size_t num_tables,
                                  std::size_t num_bags, const adagrad_params* p, void* workspace,
                                  std::size_t workspace_size, adagrad_pool* pool) {
  const adagrad_status status =
      validate_tables<Index>(tables, num_tables, num_bags, p, rowwise, workspace, workspace_size);
  if (status != ADAGRAD_OK) return status;
  for (std::size_t t = 0; t < num_tables; ++t) {
    const adagrad_embedding_table& e = tables[t];
    // With dim == 0 the rows hold nothing (and, row-wise, have no mean).
    if (e.num_indices == 0 || e.dim == 0) continue;
    bag_table<Index> b;
    (void)table_params(e, p, &b);  // valid: checked above
    b.weights = e.weights;
    b.state = e.state;
    b.dim = e.dim;
    b.indices = static_cast<const Index*>(e.indices);
    b.offsets = static_cast<const Index*>(e.offsets);
    b.num_indices = e.num_indices;
    b.num_bags = num_bags;
    b.per_sample_weights = e.per_sample_weights;
    b.grad_output = e.grad_output;
    b.stride = e.grad_output_stride != 0 ? e.grad_output_stride : e.dim;
    b.rowwise = rowwise;
    b.kernels = k;
    b.counters = e.counter;
    b.counter_steps = e.counter_step;
    std::uint64_t max_row = 0;
    for (std::size_t i = 0; i < e.num_indices; ++i) {
      const std::uint64_t key = row_key(b.indices[i]);
      max_row = key > max_row ? key : max_row;
    }
    b.max_row = max_row;
    const bool narrow_bags = num_bags <= UINT32_MAX;
    if (e.num_indices <= UINT32_MAX) {
      if (narrow_bags) {
        run_table<Index, std::uint32_t, std::uint32_t>(b, workspace, pool);
      } else {
        run_table<Index, std::uint32_t, std::uint64_t>(b, workspace, pool);
      }
    } else if (narrow_bags) {
      run_table<Index, std::uint64_t, std::uint32_t>(b, workspace, pool);
    } else {
      run_table<Index, std::uint64_t, std::uint64_t>(b, workspace, pool);
    }
  }
  return ADAGRAD_OK;
}

adagrad_status embedding_bag(const isa_kernels* k, bool rowwise,
                             const adagrad_embedding_table* tables, std::size_t num_tables,
                             std::size_t num_bags, const adagrad_index_type& index_type,
                             const adagrad_params* p, void* workspace, std::size_t workspace_size,
                             adagrad_pool* pool) {
  if (k == nullptr) return ADAGRAD_ERROR_UNSUPPORTED_ISA;
  kernels::step_constants<float> call_constants;
  const adagrad_status status = make_constants(p, &call_constants);
  if (status != ADAGRAD_OK) return status;
  // index_type may hold any int a C caller stored: read as the integer.
  switch (enum_int(index_type)) {
    case ADAGRAD_INDEX_INT64:
      return embedding_bag_step<std::int64_t>(k, rowwise, tables, num_tables, num_bags, p,
                                              workspace, workspace_size, pool);
    case ADAGRAD_INDEX_INT32:
      return embedding_bag_step<std::int32_t>(k, rowwise, tables, num_tables, num_bags, p,
                                              workspace, workspace_size, pool);
    default: return ADAGRAD_ERROR_INVALID_PARAMS;
  }
}

}  // namespace
}  // namespace detail
}  // namespace adagrad

extern "C" {

size_t adagrad_embedding_bag_workspace_size(size_t max_table_indices, size_t num_bags) {
  return adagrad::detail::fused_workspace_bytes(max_table_indices, num_bags);
}

adagrad_status adagrad_embedding_bag_step(const adagrad_embedding_table* tables, size_t num_tables,
                                          size_t num_bags, adagrad_index_type index_type,
                                          const adagrad_params* p, void* workspace,
                                          size_t workspace_size, adagrad_pool* pool) {
  return adagrad::detail::embedding_bag(&adagrad::detail::family_kernels(ADAGRAD_FAMILY_SPARSE),
                                        false, tables, num_tables, num_bags, index_type, p,
                                        workspace, workspace_size, pool);
}

adagrad_status adagrad_rowwise_embedding_bag_step(const adagrad_embedding_table* tables,
                                                  size_t num_tables, size_t num_bags,
                                                  adagrad_index_type index_type,
                                                  const adagrad_params* p, void* workspace,
                                                  size_t workspace_size, adagrad_pool* pool) {
  return adagrad::detail::embedding_bag(&adagrad::detail::family_kernels(ADAGRAD_FAMILY_ROWWISE),
                                        true, tables, num_tables, num_bags, index_type, p,
                                        workspace, workspace_size, pool);
}

adagrad_status adagrad_embedding_bag_step_isa(adagrad_isa isa,
                                              const adagrad_embedding_table* tables,
                                              size_t num_tables, size_t num_bags,
                                              adagrad_index_type index_type,
                                              const adagrad_params* p, void* workspace,
                                              size_t workspace_size, adagrad_pool* pool) {
  return adagrad::detail::embedding_bag(adagrad::detail::usable_kernels(isa), false, tables,
                                        num_tables, num_bags, index_type, p, workspace,
                                        workspace_size, pool);
}

adagrad_status adagrad_rowwise_embedding_bag_step_isa(
    adagrad_isa isa, const adagrad_embedding_table* tables, size_t num_tables, size_t num_bags,
    adagrad_index_type index_type, const adagrad_params* p, void* workspace, size_t workspace_size,
    adagrad_pool* pool) {
  return adagrad::detail::embedding_bag(adagrad::detail::usable_kernels(isa), true, tables,
                                        num_tables, num_bags, index_type, p, workspace,
                                        workspace_size, pool);
}

}  // extern "C"

extern "C" adagrad_embedding_options adagrad_embedding_options_default(void) {
  adagrad_embedding_options o;
  o.weight_decay_mode = ADAGRAD_WEIGHT_DECAY_L2;
  o.counter_halflife = 0.0;
  o.counter_decay = 1.0;
  o.max_norm = 0.0;
  o.max_gradient = 0.0;
  return o;
}
