// SPDX-License-Identifier: BSD-3-Clause
// What the sparse steps (src/sparse.cpp) and the fused embedding-bag step
// (src/embedding_bag.cpp) share: the workspace of the row sort, the stable
// sort of a batch's positions by row (or, for ADAGRAD_DUPLICATES_TORCH,
// libstdc++'s std::sort transcribed: torch_sort), the prefetch of a span of
// a row, and the row-wise update of a row from its summed gradient.
// Nothing here writes outside the caller's workspace.
#ifndef ADAGRAD_SRC_SPARSE_SORT_H_
#define ADAGRAD_SRC_SPARSE_SORT_H_

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>
#include <utility>

#include "dispatch.h"
#include "pool.h"
#include "ukernels.h"
#include "validate.h"

namespace adagrad {
namespace detail {

// Columns of a duplicated row summed at a time, on the stack (1 KiB); a
// multiple of the row-wise reduction's 16 lanes, so that chunks after the
// first start at lane 0 again.
constexpr std::size_t kChunkColumns = 256;
static_assert(kChunkColumns % kernels::kRowwiseLanes == 0, "chunks keep the lane order");
// The radix sort's digit: 2048 buckets, two passes for a table of 4M rows.
constexpr unsigned kRadixBits = 11;
constexpr std::size_t kRadixBuckets = std::size_t{1} << kRadixBits;
// Up to this many indices an insertion sort is faster and needs no counts.
constexpr std::size_t kSmallBatch = 64;
// The workspace may come at any address; it is used from the next cache line.
constexpr std::size_t kWorkspaceAlignment = 64;

// Positions in the batch are 32-bit while the batch allows it (half the
// workspace and the sort's traffic).
template <class Position>
inline std::size_t workspace_bytes_for(std::size_t num_indices) {
  if (num_indices == 0) return 0;
  const std::size_t counts = num_indices > kSmallBatch ? kRadixBuckets : 0;
  // Two arrays of positions (the sort ping-pongs between them) and the counts.
  const std::size_t limit = (SIZE_MAX - kWorkspaceAlignment) / sizeof(Position) - counts;
  if (num_indices > limit / 2) return SIZE_MAX;
  return kWorkspaceAlignment + (2 * num_indices + counts) * sizeof(Position);
}

inline std::size_t workspace_bytes(std::size_t num_indices) {
  return num_indices <= UINT32_MAX ? workspace_bytes_for<std::uint32_t>(num_indices)
                                   : workspace_bytes_for<std::uint64_t>(num_indices);
}

// Both byte ranges non-empty and sharing a byte.
inline bool buffers_overlap(const void* a, std::size_t a_bytes, const void* b,
                            std::size_t b_bytes) {
  return a_bytes != 0 && b_bytes != 0 && overlap(a, a_bytes, b, b_bytes);
}

// A row number as an unsigned key; negative indices become huge and fail the
// range check.
template <class Index>
inline std::uint64_t row_key(Index index) {
  return static_cast<std::uint64_t>(static_cast<std::int64_t>(index));
}

// ---- torch_sort: libstdc++'s std::sort, transcribed ---------------------
//
// PyTorch's CPU coalesce() sorts the flattened indices with
// torch.sort(stable=False), which runs std::sort on (index, position) pairs
// comparing indices only, then sums each index's values in the order the
// sort left them. std::sort is not stable, so that order is the algorithm's:
// libstdc++'s introsort (bits/stl_algo.h, bits/stl_heap.h; unchanged since
// GCC 4.x). It is transcribed here step for step, rather than calling
// std::sort, so that the library's order does not depend on the C++
// library it is built with. tests/embedding_test.cc checks it against
// std::sort where that is libstdc++'s, and Python's adagrad.torch checks it
// against the installed PyTorch's coalesce() before using it.
constexpr std::ptrdiff_t kIntrosortThreshold = 16;

template <class E, class Less>
void torch_adjust_heap(E* first, std::ptrdiff_t hole, std::ptrdiff_t len, E value, Less less) {
  const std::ptrdiff_t top = hole;
  std::ptrdiff_t second = hole;
  while (second < (len - 1) / 2) {
    second = 2 * (second + 1);
    if (less(first[second], first[second - 1])) --second;
    first[hole] = first[second];
    hole = second;
  }
  if ((len & 1) == 0 && second == (len - 2) / 2) {
    second = 2 * (second + 1);
    first[hole] = first[second - 1];
    hole = second - 1;
  }
  // __push_heap
  std::ptrdiff_t parent = (hole - 1) / 2;
  while (hole > top && less(first[parent], value)) {
    first[hole] = first[parent];
    hole = parent;
    parent = (hole - 1) / 2;
  }
  first[hole] = value;
}

// __partial_sort(first, last, last): make_heap, then sort_heap.
template <class E, class Less>
void torch_heap_sort(E* first, E* last, Less less) {
  const std::ptrdiff_t len = last - first;
  if (len >= 2) {
    for (std::ptrdiff_t parent = (len - 2) / 2;; --parent) {
      torch_adjust_heap(first, parent, len, first[parent], less);
      if (parent == 0) break;
    }
  }
  while (last - first > 1) {
    --last;
    const E value = *last;
    *last = *first;
    torch_adjust_heap(first, std::ptrdiff_t{0}, last - first, value, less);
  }
}

template <class E, class Less>
void torch_move_median_to_first(E* result, E* a, E* b, E* c, Less less) {
  E* median;
  if (less(*a, *b)) {
    if (less(*b, *c)) {
      median = b;
    } else if (less(*a, *c)) {
      median = c;
    } else {
      median = a;
    }
  } else if (less(*a, *c)) {
    median = a;
  } else if (less(*b, *c)) {
    median = c;
  } else {
    median = b;
  }
  std::swap(*result, *median);
}

template <class E, class Less>
E* torch_unguarded_partition(E* first, E* last, const E* pivot, Less less) {
  while (true) {
    while (less(*first, *pivot)) ++first;
    --last;
    while (less(*pivot, *last)) --last;
    if (!(first < last)) return first;
    std::swap(*first, *last);
    ++first;
  }
}

template <class E, class Less>
void torch_introsort_loop(E* first, E* last, std::size_t depth_limit, Less less) {
  while (last - first > kIntrosortThreshold) {
    if (depth_limit == 0) {
      torch_heap_sort(first, last, less);
      return;
    }
    --depth_limit;
    torch_move_median_to_first(first, first + 1, first + (last - first) / 2, last - 1, less);
    E* cut = torch_unguarded_partition(first + 1, last, first, less);
    torch_introsort_loop(cut, last, depth_limit, less);
    last = cut;
  }
}

template <class E, class Less>
void torch_unguarded_linear_insert(E* last, Less less) {
  const E value = *last;
  E* next = last - 1;
  while (less(value, *next)) {
    *last = *next;
    last = next;
    --next;
  }
  *last = value;
}

template <class E, class Less>
void torch_insertion_sort(E* first, E* last, Less less) {
  if (first == last) return;
  for (E* i = first + 1; i != last; ++i) {
    if (less(*i, *first)) {
      const E value = *i;
      std::memmove(first + 1, first, static_cast<std::size_t>(i - first) * sizeof(E));
      *first = value;
    } else {
      torch_unguarded_linear_insert(i, less);
    }
  }
}

template <class E, class Less>
void torch_sort(E* first, E* last, Less less) {
  if (first == last) return;
  std::size_t lg = 0;  // std::__lg
  for (auto len = static_cast<std::size_t>(last - first); len > 1; len >>= 1) ++lg;
  torch_introsort_loop(first, last, 2 * lg, less);
  if (last - first > kIntrosortThreshold) {
    torch_insertion_sort(first, first + kIntrosortThreshold, less);
    for (E* i = first + kIntrosortThreshold; i != last; ++i) torch_unguarded_linear_insert(i, less);
  } else {
    torch_insertion_sort(first, last, less);
  }
}

// The batch's positions in torch_sort's order, in from[0 .. n). Rows that
// fit 32 bits with 32-bit positions are sorted as packed (row << 32 |
// position) words, which need no look-up per comparison: the same
// comparisons of the same rows, so the same order. The packed words take the
// two position arrays' bytes (8n).
template <class Position, class Index>
Position* torch_sort_by_row(const Index* indices, std::size_t n, std::uint64_t max_row,
                            unsigned char* bytes) {
  auto* from = reinterpret_cast<Position*>(bytes);
  if (sizeof(Position) == 4 && max_row <= UINT32_MAX) {
    auto* packed = reinterpret_cast<std::uint64_t*>(bytes);
    for (std::size_t i = 0; i < n; ++i) packed[i] = row_key(indices[i]) << 32 | i;
    torch_sort(packed, packed + n,
               [](std::uint64_t a, std::uint64_t b) { return (a >> 32) < (b >> 32); });
    // In place, forwards: position i's bytes lie within packed word i's, and
    // words before i have been read (memcpy: the bytes change type).
    for (std::size_t i = 0; i < n; ++i) {
      std::uint64_t word;
      std::memcpy(&word, bytes + i * sizeof word, sizeof word);
      const auto position = static_cast<Position>(word);
      std::memcpy(bytes + i * sizeof position, &position, sizeof position);
    }
    return from;
  }
  for (std::size_t i = 0; i < n; ++i) from[i] = static_cast<Position>(i);
  torch_sort(from, from + n, [indices](Position a, Position b) {
    return row_key(indices[a]) < row_key(indices[b]);
  });
  return from;
}

// The batch's positions 0 .. n - 1 ordered by row, and within a row by
// position: a stable sort, so each row's occurrences stay in batch order
// (torch_sort's order for ADAGRAD_DUPLICATES_TORCH).
template <class Position, class Index>
const Position* sort_by_row(const Index* indices, std::size_t n, std::uint64_t max_row,
                            bool torch_order, void* workspace) {
  // From the next cache line on (the size asked for includes the slack).
  const std::size_t past_line = reinterpret_cast<std::uintptr_t>(workspace) % kWorkspaceAlignment;
  const std::size_t skip = (kWorkspaceAlignment - past_line) % kWorkspaceAlignment;
  unsigned char* bytes = static_cast<unsigned char*>(workspace) + skip;
  if (torch_order) return torch_sort_by_row<Position>(indices, n, max_row, bytes);
  auto* from = reinterpret_cast<Position*>(bytes);
  Position* to = from + n;
  for (std::size_t i = 0; i < n; ++i) from[i] = static_cast<Position>(i);
  if (n <= kSmallBatch) {
    for (std::size_t i = 1; i < n; ++i) {
      const Position moving = from[i];
      const std::uint64_t key = row_key(indices[moving]);
      std::size_t j = i;
      for (; j > 0 && row_key(indices[from[j - 1]]) > key; --j) from[j] = from[j - 1];
      from[j] = moving;
    }
    return from;
  }
  Position* counts = to + n;
  for (unsigned shift = 0; shift < 64 && (max_row >> shift) != 0; shift += kRadixBits) {
    std::memset(counts, 0, kRadixBuckets * sizeof(Position));
    // Counting needs no order: read the indices in batch order.
    for (std::size_t i = 0; i < n; ++i) {
      ++counts[(row_key(indices[i]) >> shift) & (kRadixBuckets - 1)];
    }
    if (counts[(row_key(indices[0]) >> shift) & (kRadixBuckets - 1)] == n) continue;
    Position offset = 0;
    for (std::size_t d = 0; d < kRadixBuckets; ++d) {
      const Position c = counts[d];
      counts[d] = offset;
      offset = static_cast<Position>(offset + c);
    }
    for (std::size_t i = 0; i < n; ++i) {
      const Position p = from[i];
      to[counts[(row_key(indices[p]) >> shift) & (kRadixBuckets - 1)]++] = p;
    }
    Position* swap = from;
    from = to;
    to = swap;
  }
  return from;
}

// sort_by_row's radix sort (torch_order false) split over a pool: each
// pass's counting and scattering in contiguous blocks of the current order,
// the positions of one digit placed block after block, so the order is the
// serial sort's, bit for bit, on any number of threads. Run on the caller
// alone, the sort was the largest serial part of a threaded fused step (the
// embedding_bag_threads rows of bench/embedding_bag_bench.cc, a table in
// cache). The blocks' counts are on the caller's stack (32 KiB at most):
// hence at most kMaxSortBlocks blocks, none below kMinSortBlock positions
// (smaller ones cost more in pool hand-offs than they save).
constexpr std::size_t kMaxSortBlocks = 4;
constexpr std::size_t kMinSortBlock = 8192;

template <class Index>
struct radix_pass {
  const Index* indices;
  const std::uint32_t* from;
  std::uint32_t* to;
  std::size_t n;
  std::size_t block;
  unsigned shift;
  bool scatter;
  // Per block: its digits' counts, then where its first position of each
  // digit goes.
  std::uint32_t (*counts)[kRadixBuckets];

  std::size_t digit(std::uint32_t p) const {
    return (row_key(indices[p]) >> shift) & (kRadixBuckets - 1);
  }

  void run_task(std::size_t k) const {
    const std::size_t first = k * block;
    const std::size_t last = n - first > block ? first + block : n;
    std::uint32_t* c = counts[k];
    if (!scatter) {
      std::memset(c, 0, kRadixBuckets * sizeof(std::uint32_t));
      for (std::size_t i = first; i < last; ++i) ++c[digit(from[i])];
      return;
    }
    for (std::size_t i = first; i < last; ++i) {
      const std::uint32_t p = from[i];
      to[c[digit(p)]++] = p;
    }
  }
};

template <class Position, class Index>
const Position* sort_by_row_on(adagrad_pool* pool, const Index* indices, std::size_t n,
                               std::uint64_t max_row, void* workspace) {
  std::size_t blocks = adagrad_pool_threads(pool);
  if (blocks > kMaxSortBlocks) blocks = kMaxSortBlocks;
  if (blocks > n / kMinSortBlock) blocks = n / kMinSortBlock;
  if constexpr (!std::is_same<Position, std::uint32_t>::value) blocks = 1;
  if (blocks < 2) {
    return sort_by_row<Position>(indices, n, max_row, /*torch_order=*/false, workspace);
  }
  // The workspace as sort_by_row lays it out (its own counts unused).
  const std::size_t past_line = reinterpret_cast<std::uintptr_t>(workspace) % kWorkspaceAlignment;
  const std::size_t skip = (kWorkspaceAlignment - past_line) % kWorkspaceAlignment;
  auto* from = reinterpret_cast<std::uint32_t*>(static_cast<unsigned char*>(workspace) + skip);
  std::uint32_t* to = from + n;
  for (std::size_t i = 0; i < n; ++i) from[i] = static_cast<std::uint32_t>(i);
  alignas(64) std::uint32_t counts[kMaxSortBlocks][kRadixBuckets];
  radix_pass<Index> pass{};
  pass.indices = indices;
  pass.n = n;
  pass.block = (n + blocks - 1) / blocks;
  pass.counts = counts;
  for (unsigned shift = 0; shift < 64 && (max_row >> shift) != 0; shift += kRadixBits) {
    pass.from = from;
    pass.to = to;
    pass.shift = shift;
    pass.scatter = false;
    run_tasks(pool, blocks, pass);
    const std::size_t first_digit = pass.digit(0);
    std::size_t same = 0;
    for (std::size_t k = 0; k < blocks; ++k) same += counts[k][first_digit];
    if (same == n) continue;
    std::uint32_t offset = 0;
    for (std::size_t d = 0; d < kRadixBuckets; ++d) {
      for (std::size_t k = 0; k < blocks; ++k) {
        const std::uint32_t c = counts[k][d];
        counts[k][d] = offset;
        offset = static_cast<std::uint32_t>(offset + c);
      }
    }
    pass.scatter = true;
    run_tasks(pool, blocks, pass);
    std::uint32_t* swap = from;
    from = to;
    to = swap;
  }
  if constexpr (std::is_same<Position, std::uint32_t>::value) {
    return from;
  } else {
    return nullptr;  // not reached: the serial sort above
  }
}

// Software prefetch of the rows of the occurrences ahead: each whole row
// kPrefetchOccurrences ahead (in occurrences of the sorted order), into L2
// only (locality kPrefetchLocality = 2: prefetcht1 on x86). Why L2: a
// request for L1 holds one of the core's few L1 miss buffers until memory
// answers, so asking for many rows' lines into L1 stalled the loop on those
// buffers (perf put the drivers' time on their prefetch instructions); a
// request for L2 only leaves them free, so more rows are in flight, and the
// row kernel's loads then find the lines in L2 or on their way. The
// embedding_bag/fused and sparse/ rows of bench/embedding_bag_bench.cc and
// bench/sparse_step_bench.cc show it; the A/B and the forms tried (the first
// 128 bytes 8 ahead and the rest 2 ahead, all into L1, as before; a second
// stage into L1 2 ahead; distances 4 and 16) are in docs/benchmarking.md.
constexpr std::size_t kPrefetchOccurrences = 8;
constexpr int kPrefetchLocality = 2;

// Asks for the lines of [p, p + bytes), bytes > 0, into L2 (see
// kPrefetchOccurrences), with write intent or not: one request per 64 bytes
// from p, and one for the last byte, whose line is one more when p is not
// line-aligned. Every address stays inside the range.
// always_inline, here and in the drivers' prefetch_occurrence, keeps the prefetches: one
// has no effect the compiler can see, so GCC 12's IPA pure-const pass may mark
// an out-of-line function that only reads and prefetches as pure, and then
// deletes each call of it whose result nobody uses. A first version of
// prefetch_occurrence (no store, not always_inline) built without a single
// prefetch in src/sparse.cpp; the same function always_inline kept them all. The
// test sparse_prefetch_codegen (tests/check_prefetch_codegen.cmake) reads the
// object code for them.
template <bool ForWrite>
__attribute__((always_inline)) inline void prefetch_span(const float* p, std::size_t bytes) {
  const auto* first = reinterpret_cast<const char*>(p);
  for (std::size_t offset = 0; offset < bytes; offset += 64) {
    __builtin_prefetch(first + offset, ForWrite ? 1 : 0, kPrefetchLocality);
  }
  __builtin_prefetch(first + bytes - 1, ForWrite ? 1 : 0, kPrefetchLocality);
}

// Rows of a run handed to the sum_rows ukernel at a time: their pointers
// and scales on the stack (384 bytes); a longer run goes in batches, each
// adding on to the sum so far (the same additions in the same order).
constexpr std::size_t kSumBatchRows = 32;

// sum[0 .. len) = the gradient rows of a run's occurrences [i, j), columns
// [column, column + len), added in order by the ISA's sum_rows ukernel:
// row(q) is occurrence q's gradient row and, when Scaled, scale(q) its
// factor. i < j.
template <bool Scaled, class Row, class Scale>
void sum_run(const isa_kernels& k, std::size_t i, std::size_t j, std::size_t column,
             std::size_t len, const Row& row, const Scale& scale, float* sum) {
  const float* rows[kSumBatchRows];
  float scales[kSumBatchRows];
  // A run holds at least one occurrence (i < j), so the first batch always
  // runs and writes every sum[t] (a plain for loop left clang-analyzer
  // doubting that).
  std::size_t q = i;
  do {
    const std::size_t count = j - q < kSumBatchRows ? j - q : kSumBatchRows;
    for (std::size_t r = 0; r < count; ++r) {
      rows[r] = row(q + r);
      if (Scaled) scales[r] = scale(q + r);
    }
    k.sum_rows(len, count, rows, column, Scaled ? scales : nullptr, sum, q != i);
    q += count;
  } while (q < j);
}

// A touched row's row-wise update from its summed gradient, which
// sum(column, len, out) writes chunk by chunk (kChunkColumns columns at a
// time, on the stack): the sparse steps' SUM runs and the embedding-bag
// step's rows. A row of one chunk is summed once and stepped as a one-row
// dense row-wise step; a longer row gets the sum of squares over all chunks,
// then the update, summing each chunk again (the same additions in the same
// order, so the same bits) instead of keeping a whole row.
template <class Sum>
void rowwise_summed_row(const isa_kernels& k, float* w, float* G, std::size_t dim,
                        const kernels::step_constants<float>& c, const Sum& sum) {
  alignas(64) float chunk[kChunkColumns];
  if (dim <= kChunkColumns) {
    sum(0, dim, chunk);
    k.rowwise_rows(1, dim, w, chunk, G, c);
    return;
  }
  alignas(64) float partial[kernels::kRowwiseLanes] = {};
  for (std::size_t column = 0; column < dim; column += kChunkColumns) {
    const std::size_t len = dim - column < kChunkColumns ? dim - column : kChunkColumns;
    sum(column, len, chunk);
    k.rowwise_reduce(len, w + column, chunk, partial, c);
  }
  const float rate = kernels::adagrad_f32_rowwise_rate(partial, dim, G, c);
  for (std::size_t column = 0; column < dim; column += kChunkColumns) {
    const std::size_t len = dim - column < kChunkColumns ? dim - column : kChunkColumns;
    sum(column, len, chunk);
    k.rowwise_update(len, w + column, chunk, rate, c);
  }
}

}  // namespace detail
}  // namespace adagrad

#endif  // ADAGRAD_SRC_SPARSE_SORT_H_
