// SPDX-License-Identifier: BSD-3-Clause
// Differential fuzzing of the sparse embedding steps (libFuzzer, with ASan
// and UBSan): adagrad_sparse_step and adagrad_rowwise_sparse_step, their
// _isa and _i32 entry points.
//
// The input chooses per-element or row-wise state, int64 or int32 indices,
// the duplicates mode (SUM, SEQUENTIAL, TORCH or any int), the hyperparameters
// (valid or raw doubles), num_rows, dim and num_indices (0 and odd sizes
// included; sometimes sizes that overflow), the indices (mostly valid, with
// many duplicates; sometimes negative or >= num_rows), the workspace (exact,
// larger, too small, NULL, empty; any start address), where the five buffers
// lie (each behind a guard, or all in one arena where they may overlap or be
// misaligned; sometimes a NULL one) and every value (special ones included).
//
// int64 indices run on the scalar reference, on every ISA this CPU has
// (_isa), on the dispatched entry, and through a pool of two threads; int32
// indices run on the dispatched _i32 entry, with and without the pool, and
// the scalar reference runs the same batch with int64 indices. The target
// aborts when
//   - a status is not one the header allows for this call (its checks, in
//     its order: ISA, parameters and duplicates mode, sizes, pointers,
//     alignment, overlap, workspace size, indices),
//   - two paths return different statuses,
//   - a failed call changed any byte of any block (guards, workspace, grads
//     and indices included),
//   - a successful call differs from the scalar reference in any bit, or
//     from the plain reference written below (the header's formulas; there
//     any NaN equals any NaN, fuzz_util.h says why), or changed anything but
//     the named rows of table and state and the workspace,
// and ASan aborts on any access outside the buffers.
// ADAGRAD_FUZZ_NAN_STRICT=1 and ADAGRAD_FUZZ_IN_RANGE_ENUMS=1 in the environment
// change two checks (fuzz_util.h).
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "adagrad/adagrad.h"
#include "fuzz_shims.h"
#include "fuzz_util.h"

#if defined(__GLIBCXX__)
constexpr bool kLibstdcxx = true;
#else
constexpr bool kLibstdcxx = false;
#endif

namespace fuzz {
namespace {

constexpr char kName[] = "fuzz_sparse_step";

enum { kTable, kState, kGrads, kIndices, kWorkspace, kBufferCount };
const char* const kNames[] = {"table", "state", "grads", "indices", "workspace"};

struct Case {
  Hyper hyper;
  bool rowwise = false;
  bool i32 = false;
  bool big = false;  // enough work for the pool to split
  int dup = ADAGRAD_DUPLICATES_SUM;
  std::size_t num_rows = 0, dim = 0, n = 0;  // the sizes of the buffers
  std::size_t call_rows = 0, call_n = 0;     // the sizes passed (overflowing in the size tests)
  std::size_t index_size = 8;
  std::size_t workspace_size = 0;
  std::uint8_t isa_choice = 0;  // for the unusable-ISA call
};

std::int64_t invalid_index(Input& in, std::size_t rows, bool i32) {
  const std::int64_t r = static_cast<std::int64_t>(rows);
  const std::uint8_t k = in.byte();
  if (i32) {
    const std::int64_t values[] = {-1, INT32_MIN, r, r + 1 + in.byte(), INT32_MAX, -r - 1};
    return values[k % 6];
  }
  // 2^32 + a valid row: a truncation to 32 bits would take it for that row.
  const std::int64_t values[] = {-1,
                                 INT64_MIN,
                                 r,
                                 r + 1 + in.byte(),
                                 INT64_MAX,
                                 -(r << 8),
                                 (std::int64_t{1} << 32) + (rows ? in.byte() % r : 0),
                                 UINT32_MAX};
  return values[k % 8];
}

void decode(Input& in, Case* c, Layout* l) {
  const std::uint8_t mode = in.byte();
  c->rowwise = mode & 1;
  c->i32 = (mode & 2) != 0;
  const bool shared = (mode & 4) != 0;
  c->big = (mode & 0x18) == 0x18;
  const bool misalign = (mode & 0x20) != 0;
  const bool nulls = (mode & 0xc0) == 0xc0;
  const std::uint8_t rare = in.byte();
  c->isa_choice = rare >> 4;
  c->big = c->big && (rare & 0x30) == 0x30;  // one input in 16
  c->hyper = decode_hyper(in);
  const std::uint8_t d = in.byte();
  c->dup = d & 1;
  if ((d & 3) == 3) {
    const int raw = in.take<std::int8_t>();  // read either way: the layout of the input stays
    if (!in_range_enums_only()) c->dup = raw;
  } else if (d & 4) {
    c->dup = ADAGRAD_DUPLICATES_TORCH;
  }
  c->index_size = c->i32 ? 4 : 8;

  const std::uint16_t x = in.take<std::uint16_t>();
  const std::uint16_t r = in.take<std::uint16_t>();
  const std::uint16_t k = in.take<std::uint16_t>();
  std::size_t rows, dim, n;
  if (c->big) {
    dim = 170 + x % 140;
    rows = (r & 0x8000) ? 1 + r % 700 : 1 + r % 64;
    n = 200 + k % 300;
  } else {
    dim = (x & 0x8000) ? x % 320 : x % 36;
    rows = (r & 0x8000) ? r % 5000 : r % 24;
    n = (k & 0x8000) ? k % 600 : k % 24;
  }
  // A big batch is one the pool splits (over 32K elements); others stay
  // small enough for thousands of runs a second.
  const std::size_t limit = std::size_t{1} << (c->big ? 17 : 15);
  while (rows * dim > limit) rows /= 2;
  while (n * dim > limit) n /= 2;
  c->num_rows = rows;
  c->dim = dim;
  c->n = n;
  const unsigned special = in.byte() / 4;

  // Indices: from a few hot rows or from all, with repeats of earlier ones.
  const std::uint8_t pattern = in.byte();
  const bool uniform = (pattern & 0x80) != 0;
  const unsigned invalid = (pattern & 0x40) ? 6 : 0;
  const unsigned hot = 1 + pattern % 8;
  const std::uint16_t base = in.take<std::uint16_t>();
  std::vector<std::int64_t> indices(n);
  for (std::size_t q = 0; q < n; ++q) {
    const std::uint8_t b = in.byte();
    if (b < invalid) {
      indices[q] = invalid_index(in, rows, c->i32);
    } else if (b < 80 && q > 0) {
      indices[q] = indices[in.take<std::uint16_t>() % q];
    } else if (rows == 0) {
      indices[q] = in.byte() % 3;
    } else {
      indices[q] = static_cast<std::int64_t>(uniform ? in.take<std::uint32_t>() % rows
                                                     : (base + in.byte() % hot) % rows);
    }
  }

  // The workspace: exact (most often), larger, too small, NULL, empty.
  const std::size_t needed = fuzz_sparse_workspace_size(n, dim, c->dup);
  const std::uint8_t w = in.byte();
  bool workspace_null = false;
  std::size_t workspace_size = needed;
  switch (w % 8) {
    case 4: workspace_size = needed + in.byte(); break;
    case 5: workspace_size = needed ? needed - 1 - in.take<std::uint16_t>() % needed : 0; break;
    case 6: workspace_null = true; break;
    case 7: workspace_size = 0; break;
    default: break;
  }
  c->workspace_size = workspace_size;

  std::size_t mis[kBufferCount] = {0, 0, 0, 0, static_cast<std::size_t>(in.byte() % 64)};
  if (misalign) {
    for (int b = kTable; b <= kIndices; ++b) {
      const std::uint8_t m = in.byte();
      mis[b] = m < 160 ? 0 : m % (b == kIndices ? c->index_size : 4);
    }
  }
  const int null_buffer = nulls ? in.byte() % 4 : -1;

  // Sizes that overflow: nothing may be read before they are rejected.
  c->call_rows = rows;
  c->call_n = n;
  if ((rare & 0x0f) == 0x0f) {
    const std::uint8_t h = in.byte();
    const std::size_t small = h >> 4;
    if (h & 1) {
      c->call_rows = dim                       ? kMaxObject / 4 / dim + 1 + small
                     : (c->rowwise || (h & 2)) ? kMaxObject / 4 + 1 + small
                                               : SIZE_MAX - small;
    } else {
      const std::size_t choices[] = {SIZE_MAX, SIZE_MAX / 2, kMaxObject / c->index_size + 1,
                                     dim ? kMaxObject / 4 / dim + 1 : std::size_t{1} << 62};
      c->call_n = choices[(h >> 1) % 4];
    }
  }

  const std::size_t bytes[kBufferCount] = {rows * dim * 4, (c->rowwise ? rows : rows * dim) * 4,
                                           n * dim * 4, n * c->index_size, workspace_size};
  l->buffers.assign(kBufferCount, Buffer());
  auto is_null = [&](int b) { return b == null_buffer || (b == kWorkspace && workspace_null); };
  for (int b = 0; b < kBufferCount; ++b) l->buffers[b].bytes = bytes[b];
  if (!shared) {
    for (int b = 0; b < kBufferCount; ++b) {
      if (is_null(b)) continue;
      l->buffers[b].block = l->add_block(kGuardBytes + mis[b] + bytes[b]);
      l->buffers[b].offset = kGuardBytes + mis[b];
    }
  } else {
    // One arena; the buffers in an order the input picks, each placed
    // relative to the one before.
    int order[kBufferCount] = {0, 1, 2, 3, 4};
    unsigned perm = in.byte() % 120;
    for (int i = kBufferCount; i > 1; --i) {
      const unsigned j = perm % i;
      perm /= i;
      const int t = order[i - 1];
      order[i - 1] = order[j];
      order[j] = t;
    }
    std::size_t previous_start = kGuardBytes, previous_end = kGuardBytes, end = kGuardBytes;
    for (int b : order) {
      if (is_null(b)) continue;
      std::size_t start = arena_offset(in, previous_start, previous_end);
      if (start < kGuardBytes) start = kGuardBytes;
      start += mis[b];
      l->buffers[b].offset = start;
      previous_start = start;
      previous_end = start + bytes[b];
      if (previous_end > end) end = previous_end;
    }
    const int block = l->add_block(end + kGuardBytes);
    for (int b = 0; b < kBufferCount; ++b) {
      if (!is_null(b)) l->buffers[b].block = block;
    }
    auto& arena = l->initial[block];
    for (std::size_t at = kGuardBytes; at + 4 <= end; at += 4) {
      const float v = data_value<float>(in, special, false);
      std::memcpy(arena.data() + at, &v, 4);
    }
  }

  // Contents, in this order (an overlapped buffer keeps the later one's).
  for (int b = kTable; b <= kGrads; ++b) {
    if (is_null(b)) continue;
    std::uint8_t* at = l->at(l->initial, b);
    for (std::size_t i = 0; i < bytes[b] / 4; ++i) {
      const float v = data_value<float>(in, special, b == kState);
      std::memcpy(at + 4 * i, &v, 4);
    }
  }
  if (!is_null(kIndices)) {
    std::uint8_t* at = l->at(l->initial, kIndices);
    for (std::size_t q = 0; q < n; ++q) {
      if (c->i32) {
        const std::int32_t v = static_cast<std::int32_t>(indices[q]);
        std::memcpy(at + 4 * q, &v, 4);
      } else {
        std::memcpy(at + 8 * q, &indices[q], 8);
      }
    }
  }
  if (!shared && !is_null(kWorkspace)) {
    std::uint8_t* at = l->at(l->initial, kWorkspace);
    for (std::size_t i = 0; i < workspace_size; ++i) at[i] = in.byte();
  }
  l->mark_scratch(kWorkspace);
}

// The index values as the call will read them.
std::vector<std::int64_t> read_indices(const Case& c, const Layout& l) {
  std::vector<std::int64_t> indices(c.n);
  const Buffer& b = l.buffers[kIndices];
  const std::uint8_t* at = l.initial[b.block].data() + b.offset;
  for (std::size_t q = 0; q < c.n; ++q) {
    if (c.i32) {
      std::int32_t v;
      std::memcpy(&v, at + 4 * q, 4);
      indices[q] = v;
    } else {
      std::memcpy(&indices[q], at + 8 * q, 8);
    }
  }
  return indices;
}

// The statuses the header allows, by its checks in its order.
StatusSet expected_statuses(const Case& c, const Layout& l) {
  Checks k;
  check_params<float>(k, c.hyper);
  if (c.dup != ADAGRAD_DUPLICATES_SUM && c.dup != ADAGRAD_DUPLICATES_SEQUENTIAL &&
      c.dup != ADAGRAD_DUPLICATES_TORCH) {
    k.fail(ADAGRAD_ERROR_INVALID_PARAMS);
  }
  if (k.done()) return k.result();

  // Sizes: every buffer's bytes, and the workspace the batch needs.
  const std::size_t table = product(c.call_rows, c.dim, 4);
  const std::size_t state = c.rowwise ? product(c.call_rows, 4) : table;
  const std::size_t grads = product(c.call_n, c.dim, 4);
  const std::size_t index = product(c.call_n, c.index_size);
  const std::size_t needed = fuzz_sparse_workspace_size(c.call_n, c.dim, c.dup);
  if (table > kMaxObject || state > kMaxObject || grads > kMaxObject || index > kMaxObject ||
      needed == SIZE_MAX) {
    k.fail(ADAGRAD_ERROR_SIZE_OVERFLOW);
  } else if (c.dim == 0 && c.call_rows > kMaxObject / 4) {
    // Rows of nothing: per-element state then holds 0 bytes, yet counting
    // num_rows floats is a reading of "the sizes" too.
    k.maybe(ADAGRAD_ERROR_SIZE_OVERFLOW);
  }
  if (c.call_n == 0) k.succeed();
  if (k.done()) return k.result();

  const std::size_t bytes[kBufferCount] = {table, state, grads, index, c.workspace_size};
  for (int b = kTable; b <= kIndices; ++b) {
    if (l.buffers[b].block < 0 && bytes[b] != 0) k.fail(ADAGRAD_ERROR_NULL_POINTER);
  }
  if (k.done()) return k.result();
  for (int b = kTable; b <= kIndices; ++b) {
    if (l.buffers[b].block < 0) continue;
    const std::size_t align = b == kIndices ? c.index_size : 4;
    if (l.address_mod_64(b) % align == 0) continue;
    // A misaligned pointer to 0 bytes: the dense step does not look at an
    // empty buffer; "checked like the dense step's buffers" leaves it open.
    if (bytes[b] != 0) {
      k.fail(ADAGRAD_ERROR_MISALIGNED);
    } else {
      k.maybe(ADAGRAD_ERROR_MISALIGNED);
    }
  }
  if (k.done()) return k.result();

  // Overlap of a written buffer (table, state, workspace) with any other.
  // The workspace's bytes beyond what the batch needs: open (the header
  // forbids sharing any byte; using only what is needed is a reading too).
  auto ranges_meet = [&](int a, std::size_t a_bytes, int b, std::size_t b_bytes) {
    const Buffer& x = l.buffers[a];
    const Buffer& y = l.buffers[b];
    return x.block >= 0 && x.block == y.block && a_bytes != 0 && b_bytes != 0 &&
           x.offset < y.offset + b_bytes && y.offset < x.offset + a_bytes;
  };
  const std::size_t used = c.workspace_size < needed ? c.workspace_size : needed;
  auto length = [&](int b, bool whole) { return b == kWorkspace && !whole ? used : bytes[b]; };
  bool certain = false, possible = false;
  for (int a : {kTable, kState, kWorkspace}) {
    for (int b = 0; b < kBufferCount; ++b) {
      if (b == a) continue;
      certain |= ranges_meet(a, length(a, false), b, length(b, false));
      possible |= ranges_meet(a, length(a, true), b, length(b, true));
    }
  }
  if (certain) k.fail(ADAGRAD_ERROR_OVERLAP);
  if (possible) k.maybe(ADAGRAD_ERROR_OVERLAP);
  if (l.buffers[kWorkspace].block < 0 || c.workspace_size < needed) {
    k.fail(ADAGRAD_ERROR_WORKSPACE_TOO_SMALL);
  }
  if (k.done()) return k.result();

  for (std::int64_t index_value : read_indices(c, l)) {
    if (index_value < 0 || static_cast<std::uint64_t>(index_value) >= c.call_rows) {
      k.fail(ADAGRAD_ERROR_INDEX_OUT_OF_RANGE);
    }
  }
  return k.result();
}

// The image a successful call leaves, by the header's words: each named row
// of table and state stepped (per element: the dense step; row-wise: steps 1
// to 5), once with the rows' gradients summed in batch order (SUM) or once
// per occurrence in batch order (SEQUENTIAL); nothing else changes (the
// workspace is compared nowhere).
// ADAGRAD_DUPLICATES_TORCH as the header states it: each row's occurrences
// summed in the order std::sort leaves (index, position) pairs compared by
// index (libstdc++'s, the order PyTorch's coalesce() sums in), then one
// update: per-element in torch's sparse order, row-wise as SUM.
void torch_reference(const Case& c, const std::vector<std::int64_t>& indices,
                     const std::vector<float>& grads, std::vector<float>* table,
                     std::vector<float>* state, const Constants<float>& k) {
  static_assert(kLibstdcxx, "the TORCH order is libstdc++'s std::sort");
  const std::size_t dim = c.dim;
  std::vector<std::pair<std::int64_t, std::size_t>> order;
  for (std::size_t q = 0; q < c.n; ++q) order.emplace_back(indices[q], q);
  std::sort(order.begin(), order.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<float> sum(dim);
  for (std::size_t i = 0; i < order.size();) {
    const auto row = static_cast<std::size_t>(order[i].first);
    for (std::size_t j = 0; j < dim; ++j) sum[j] = grads[order[i].second * dim + j];
    std::size_t next = i + 1;
    for (; next < order.size() && order[next].first == order[i].first; ++next) {
      for (std::size_t j = 0; j < dim; ++j) sum[j] = sum[j] + grads[order[next].second * dim + j];
    }
    if (c.rowwise) {
      rowwise_row(&(*table)[row * dim], sum.data(), &(*state)[row], dim, k);
    } else {
      for (std::size_t j = 0; j < dim; ++j) {
        float& w = (*table)[row * dim + j];
        float& G = (*state)[row * dim + j];
        const float g = effective_gradient(sum[j], w, k);
        G = G + g * g;
        const float d = k.eps_inside ? std::sqrt(G + k.eps) : std::sqrt(G) + k.eps;
        const float q = g / d;
        w = k.fma ? std::fma(-k.lr, q, w) : w + -k.lr * q;
      }
    }
    i = next;
  }
}

Image reference_image(const Case& c, const Layout& l) {
  Image image = l.initial;
  if (c.n == 0 || c.dim == 0) return image;
  const std::size_t dim = c.dim;
  std::vector<float> table(c.num_rows * dim), state(c.rowwise ? c.num_rows : c.num_rows * dim),
      grads(c.n * dim);
  std::memcpy(table.data(), l.at(image, kTable), table.size() * 4);
  std::memcpy(state.data(), l.at(image, kState), state.size() * 4);
  std::memcpy(grads.data(), l.at(image, kGrads), grads.size() * 4);
  const std::vector<std::int64_t> indices = read_indices(c, l);
  const Constants<float> k = constants_of<float>(c.hyper);
  if (c.dup == ADAGRAD_DUPLICATES_TORCH) {
    torch_reference(c, indices, grads, &table, &state, k);
    std::memcpy(l.at(image, kTable), table.data(), table.size() * 4);
    std::memcpy(l.at(image, kState), state.data(), state.size() * 4);
    return image;
  }
  std::vector<bool> summed(c.num_rows, false);
  std::vector<float> sum(dim);
  for (std::size_t q = 0; q < c.n; ++q) {
    const std::size_t row = static_cast<std::size_t>(indices[q]);
    const float* g = &grads[q * dim];
    if (c.dup == ADAGRAD_DUPLICATES_SUM) {
      if (summed[row]) continue;
      summed[row] = true;
      // One occurrence: the "sum" is the row itself.
      for (std::size_t j = 0; j < dim; ++j) sum[j] = g[j];
      for (std::size_t later = q + 1; later < c.n; ++later) {
        if (indices[later] != indices[q]) continue;
        for (std::size_t j = 0; j < dim; ++j) sum[j] = sum[j] + grads[later * dim + j];
      }
      g = sum.data();
    }
    if (c.rowwise) {
      rowwise_row(&table[row * dim], g, &state[row], dim, k);
    } else {
      for (std::size_t j = 0; j < dim; ++j) {
        dense_element(&table[row * dim + j], g[j], &state[row * dim + j], k);
      }
    }
  }
  std::memcpy(l.at(image, kTable), table.data(), table.size() * 4);
  std::memcpy(l.at(image, kState), state.data(), state.size() * 4);
  return image;
}

std::string path_name(int entry, int isa, adagrad_pool* pool) {
  std::string name = entry == FUZZ_SPARSE_ISA   ? "_isa(" + isa_label(isa) + ")"
                     : entry == FUZZ_SPARSE_I64 ? "dispatched"
                                                : "dispatched _i32";
  return name + (pool ? " with a pool of 2" : "");
}

adagrad_status call(const Case& c, Copy& copy, int entry, int isa, adagrad_pool* pool) {
  copy.poison();
  const adagrad_status s = fuzz_sparse_call(
      entry, isa, c.rowwise, copy.as<float>(kTable), copy.as<float>(kState), c.call_rows, c.dim,
      copy.ptr(kIndices), c.call_n, copy.as<const float>(kGrads), params_of(c.hyper), c.dup,
      copy.ptr(kWorkspace), c.workspace_size, pool);
  copy.unpoison();
  return s;
}

// int32 indices: the scalar reference on the same batch with int64 indices,
// in separate buffers; its table and state must equal the _i32 result's.
void compare_with_int64_reference(const Case& c, const Layout& l, const Image& got) {
  Layout wide;
  wide.buffers.assign(kBufferCount, Buffer());
  const std::size_t bytes[kBufferCount] = {l.buffers[kTable].bytes, l.buffers[kState].bytes,
                                           l.buffers[kGrads].bytes, c.n * 8,
                                           fuzz_sparse_workspace_size(c.n, c.dim, c.dup)};
  for (int b = 0; b < kBufferCount; ++b) {
    wide.buffers[b].block = wide.add_block(bytes[b]);
    wide.buffers[b].bytes = bytes[b];
  }
  Image initial = l.initial;
  for (int b = kTable; b <= kGrads; ++b) {
    if (bytes[b]) std::memcpy(wide.at(wide.initial, b), l.at(initial, b), bytes[b]);
  }
  const std::vector<std::int64_t> indices = read_indices(c, l);
  if (!indices.empty()) std::memcpy(wide.at(wide.initial, kIndices), indices.data(), c.n * 8);
  wide.mark_scratch(kWorkspace);
  Copy copy(wide);
  Case c64 = c;
  c64.i32 = false;
  c64.index_size = 8;
  c64.workspace_size = bytes[kWorkspace];
  const adagrad_status s = call(c64, copy, FUZZ_SPARSE_ISA, ADAGRAD_ISA_SCALAR, nullptr);
  if (s != ADAGRAD_OK) {
    fail(kName,
         "the _i32 entry succeeded, the int64 scalar reference returned " + std::to_string(s));
  }
  const Image wide_result = copy.image();
  Image got_copy = got;
  for (int b : {kTable, kState}) {
    if (bytes[b] == 0) continue;
    const Image a(1, std::vector<std::uint8_t>(l.at(got_copy, b), l.at(got_copy, b) + bytes[b]));
    const Image w(1, wide_result[b]);
    Layout one;
    one.buffers.assign(1, Buffer{0, 0, bytes[b]});
    const char* const name[] = {kNames[b]};
    const std::string d = compare_images(one, name, a, w, false, 4, nan_any_between_paths(), {0});
    if (!d.empty()) fail(kName, "the _i32 entry and the int64 scalar reference differ: " + d);
  }
}

void run(Input& in) {
  Case c;
  Layout l;
  decode(in, &c, &l);
  const StatusSet allowed = expected_statuses(c, l);
  const bool huge = c.call_rows != c.num_rows || c.call_n != c.n;
  if (huge && c.call_n != c.n &&
      (allowed & ~(bit(ADAGRAD_ERROR_INVALID_PARAMS) | bit(ADAGRAD_ERROR_SIZE_OVERFLOW))) != 0) {
    fail(kName, "internal: an overflowing batch size the header would accept");
  }

  // The first path: the scalar reference, or the dispatched _i32 entry.
  const int first_entry = c.i32 ? FUZZ_SPARSE_I32 : FUZZ_SPARSE_ISA;
  Copy first(l);
  const adagrad_status want = call(c, first, first_entry, ADAGRAD_ISA_SCALAR, nullptr);
  const std::string first_name = path_name(first_entry, ADAGRAD_ISA_SCALAR, nullptr);
  if (!(allowed & bit(want))) {
    fail(kName, first_name + " returned " + status_names(bit(want)) + "; the header says " +
                    status_names(allowed));
  }
  const Image want_image = first.image();
  if (want != ADAGRAD_OK) {
    if (want_image != l.initial) {
      fail(kName, first_name + " wrote on error: " +
                      compare_images(l, kNames, want_image, l.initial, false, 4, false, {}));
    }
  } else {
    const std::string d = compare_images(l, kNames, want_image, reference_image(c, l), true, 4,
                                         kReferenceNanAny, {kTable, kState});
    if (!d.empty()) fail(kName, first_name + " and the plain reference differ: " + d);
    if (c.i32 && !huge && c.n != 0 && c.dim != 0) compare_with_int64_reference(c, l, want_image);
  }

  struct Path {
    int entry, isa;
    adagrad_pool* pool;
  };
  std::vector<Path> paths;
  if (c.i32) {
    paths.push_back({FUZZ_SPARSE_I32, 0, two_threads()});
  } else {
    for (int isa : supported_isas()) {
      if (isa != ADAGRAD_ISA_SCALAR) paths.push_back({FUZZ_SPARSE_ISA, isa, nullptr});
      if (c.big) paths.push_back({FUZZ_SPARSE_ISA, isa, two_threads()});
    }
    paths.push_back({FUZZ_SPARSE_I64, 0, nullptr});
    paths.push_back({FUZZ_SPARSE_I64, 0, two_threads()});
  }
  for (const Path& p : paths) {
    Copy copy(l);
    const adagrad_status got = call(c, copy, p.entry, p.isa, p.pool);
    const std::string name = path_name(p.entry, p.isa, p.pool);
    if (got != want) {
      fail(kName, name + " returned " + std::to_string(got) + ", " + first_name + " " +
                      std::to_string(want));
    }
    const Image image = copy.image();
    const std::string d = got != ADAGRAD_OK
                              ? compare_images(l, kNames, image, l.initial, false, 4, false, {})
                              : compare_images(l, kNames, image, want_image, true, 4,
                                               nan_any_between_paths(), {kTable, kState});
    if (!d.empty()) {
      fail(kName,
           name + (got != ADAGRAD_OK ? " wrote on error: " : " differs from " + first_name + ": ") +
               d);
    }
  }

  // An ISA that is not usable: that status first, and nothing written.
  int isa;
  if (!c.i32 && unusable_isa(c.isa_choice, &isa)) {
    Copy copy(l);
    const adagrad_status got = call(c, copy, FUZZ_SPARSE_ISA, isa, nullptr);
    if (got != ADAGRAD_ERROR_UNSUPPORTED_ISA) {
      fail(kName, path_name(FUZZ_SPARSE_ISA, isa, nullptr) + " returned " + std::to_string(got));
    }
    if (copy.image() != l.initial) fail(kName, "a call on an unusable ISA wrote");
  }
}

}  // namespace
}  // namespace fuzz

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  fuzz::Input in(data, size);
  fuzz::run(in);
  return 0;
}
