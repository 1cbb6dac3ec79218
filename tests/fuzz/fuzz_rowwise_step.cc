// SPDX-License-Identifier: BSD-3-Clause
// Differential fuzzing of the dense row-wise step, adagrad_rowwise_step and
// adagrad_rowwise_step_isa (libFuzzer, with ASan and UBSan).
//
// The input chooses the hyperparameters (valid or raw doubles), rows and dim
// (0 and odd sizes included; sometimes sizes that overflow), where w, g and
// row_state lie (each behind a guard, or in one arena where they may overlap
// or be misaligned; sometimes a NULL one) and every value (special ones
// included). The step runs on the scalar reference, on every ISA this CPU
// has, on the dispatched entry, and through a pool of two threads; the
// target aborts when
//   - a status is not one the header allows (checks as for adagrad_step:
//     ISA, parameters, sizes, then, unless rows or dim is 0, pointers,
//     alignment, overlap),
//   - two paths return different statuses,
//   - a failed call changed any byte (guards and g included),
//   - a successful call differs in any bit from the scalar reference, or
//     from the plain reference (the header's steps 1 to 5, written below
//     from its words; there any NaN equals any NaN, fuzz_util.h says why),
//     or changed g or a guard,
// and ASan aborts on any access outside the three buffers.
// ADAGRAD_FUZZ_NAN_STRICT=1 and ADAGRAD_FUZZ_IN_RANGE_ENUMS=1 in the environment
// change two checks (fuzz_util.h).
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "adagrad/adagrad.h"
#include "fuzz_shims.h"
#include "fuzz_util.h"

namespace fuzz {
namespace {

constexpr char kName[] = "fuzz_rowwise_step";

enum { kW, kG, kState, kBufferCount };
const char* const kNames[] = {"w", "g", "row_state"};

struct Case {
  Hyper hyper;
  bool big = false;
  std::size_t rows = 0, dim = 0;            // the buffers' sizes
  std::size_t call_rows = 0, call_dim = 0;  // as passed
  std::uint8_t isa_choice = 0;
};

void decode(Input& in, Case* c, Layout* l) {
  const std::uint8_t mode = in.byte();
  const bool shared = (mode & 1) != 0;
  const bool misalign = (mode & 2) != 0;
  c->big = (mode & 0x0c) == 0x0c;  // with the isa choice below: one input in 16
  const bool nulls = (mode & 0x30) == 0x30;
  const bool huge = (mode & 0xc0) == 0xc0 && (mode & 0x0f) == 0x05;
  c->isa_choice = in.byte();
  c->big = c->big && (c->isa_choice & 0x30) == 0x30;
  c->hyper = decode_hyper(in);
  const std::uint16_t r = in.take<std::uint16_t>();
  const std::uint16_t x = in.take<std::uint16_t>();
  std::size_t rows, dim;
  if (c->big) {
    rows = 150 + r % 200;
    dim = 220 + x % 100;
  } else {
    rows = (r & 0x8000) ? r % 100 : r % 12;
    dim = (x & 0x8000) ? x % 320 : x % 40;
  }
  // A big step is one the pool splits (over 32K elements); others stay
  // small enough for thousands of runs a second.
  while (rows * dim > (std::size_t{1} << (c->big ? 17 : 14))) rows /= 2;
  c->rows = c->call_rows = rows;
  c->dim = c->call_dim = dim;
  const unsigned special = in.byte() / 4;

  std::size_t mis[kBufferCount] = {0, 0, 0};
  if (misalign) {
    for (auto& m : mis) {
      const std::uint8_t b = in.byte();
      m = b < 160 ? 0 : b % 4;
    }
  }
  const int null_buffer = nulls ? in.byte() % 3 : -1;
  if (huge) {
    // Sizes that overflow: nothing may be read before they are rejected
    // (or before an empty step returns).
    const std::uint8_t h = in.byte();
    const std::size_t small = h >> 4;
    if (h & 1) {
      c->call_rows = dim ? kMaxObject / 4 / dim + 1 + small : kMaxObject / 4 + 1 + small;
    } else {
      c->call_dim = rows ? kMaxObject / 4 / rows + 1 + small : SIZE_MAX - small;
    }
  }

  const std::size_t bytes[kBufferCount] = {rows * dim * 4, rows * dim * 4, rows * 4};
  l->buffers.assign(kBufferCount, Buffer());
  for (int b = 0; b < kBufferCount; ++b) l->buffers[b].bytes = bytes[b];
  if (!shared) {
    for (int b = 0; b < kBufferCount; ++b) {
      if (b == null_buffer) continue;
      l->buffers[b].block = l->add_block(kGuardBytes + mis[b] + bytes[b]);
      l->buffers[b].offset = kGuardBytes + mis[b];
    }
  } else {
    int order[kBufferCount] = {0, 1, 2};
    const unsigned perm = in.byte() % 6;
    std::swap(order[0], order[perm % 3]);
    if (perm >= 3) std::swap(order[1], order[2]);
    std::size_t previous_start = kGuardBytes, previous_end = kGuardBytes, end = kGuardBytes;
    for (int b : order) {
      if (b == null_buffer) continue;
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
      if (b != null_buffer) l->buffers[b].block = block;
    }
    auto& arena = l->initial[block];
    for (std::size_t at = kGuardBytes; at + 4 <= end; at += 4) {
      const float v = data_value<float>(in, special, false);
      std::memcpy(arena.data() + at, &v, 4);
    }
  }
  for (int b = 0; b < kBufferCount; ++b) {
    if (b == null_buffer) continue;
    std::uint8_t* at = l->at(l->initial, b);
    for (std::size_t i = 0; i < bytes[b] / 4; ++i) {
      const float v = data_value<float>(in, special, b == kState);
      std::memcpy(at + 4 * i, &v, 4);
    }
  }
  l->scratch.clear();
}

StatusSet expected_statuses(const Case& c, const Layout& l) {
  Checks k;
  check_params<float>(k, c.hyper);
  if (k.done()) return k.result();
  const std::size_t bytes = product(c.call_rows, c.call_dim, 4);
  const std::size_t state_bytes = product(c.call_rows, 4);
  if (bytes > kMaxObject || state_bytes > kMaxObject) k.fail(ADAGRAD_ERROR_SIZE_OVERFLOW);
  if (c.call_rows == 0 || c.call_dim == 0) k.succeed();
  if (k.done()) return k.result();
  for (int b = 0; b < kBufferCount; ++b) {
    if (l.buffers[b].block < 0) k.fail(ADAGRAD_ERROR_NULL_POINTER);
  }
  for (int b = 0; b < kBufferCount; ++b) {
    if (l.address_mod_64(b) % 4 != 0) k.fail(ADAGRAD_ERROR_MISALIGNED);
  }
  if (l.overlap(kW, kG) || l.overlap(kW, kState) || l.overlap(kG, kState)) {
    k.fail(ADAGRAD_ERROR_OVERLAP);
  }
  return k.result();
}

Image reference_image(const Case& c, const Layout& l) {
  Image image = l.initial;
  if (c.rows == 0 || c.dim == 0) return image;
  std::vector<float> w(c.rows * c.dim), g(c.rows * c.dim), state(c.rows);
  std::memcpy(w.data(), l.at(image, kW), w.size() * 4);
  std::memcpy(g.data(), l.at(image, kG), g.size() * 4);
  std::memcpy(state.data(), l.at(image, kState), state.size() * 4);
  const Constants<float> k = constants_of<float>(c.hyper);
  for (std::size_t r = 0; r < c.rows; ++r) {
    rowwise_row(&w[r * c.dim], &g[r * c.dim], &state[r], c.dim, k);
  }
  std::memcpy(l.at(image, kW), w.data(), w.size() * 4);
  std::memcpy(l.at(image, kState), state.data(), state.size() * 4);
  return image;
}

struct Path {
  bool dispatched;
  int isa;
  adagrad_pool* pool;
};

adagrad_status call(const Case& c, Copy& copy, const Path& path) {
  copy.poison();
  const adagrad_params* p = params_of(c.hyper);
  float* w = copy.as<float>(kW);
  const float* g = copy.as<const float>(kG);
  float* state = copy.as<float>(kState);
  const adagrad_status s =
      path.dispatched
          ? adagrad_rowwise_step(w, g, state, c.call_rows, c.call_dim, p, path.pool)
          : fuzz_rowwise_step_isa(path.isa, w, g, state, c.call_rows, c.call_dim, p, path.pool);
  copy.unpoison();
  return s;
}

std::string path_name(const Path& path) {
  return (path.dispatched ? std::string("dispatched") : "_isa(" + isa_label(path.isa) + ")") +
         (path.pool ? " with a pool of 2" : "");
}

void run(Input& in) {
  Case c;
  Layout l;
  decode(in, &c, &l);
  const StatusSet allowed = expected_statuses(c, l);

  Copy first(l);
  const adagrad_status want = call(c, first, Path{false, ADAGRAD_ISA_SCALAR, nullptr});
  if (!(allowed & bit(want))) {
    fail(kName, "the scalar reference returned " + status_names(bit(want)) + "; the header says " +
                    status_names(allowed));
  }
  const Image want_image = first.image();
  if (want != ADAGRAD_OK) {
    if (want_image != l.initial) {
      fail(kName, "the scalar reference wrote on error: " +
                      compare_images(l, kNames, want_image, l.initial, false, 4, false, {}));
    }
  } else {
    const std::string d = compare_images(l, kNames, want_image, reference_image(c, l), false, 4,
                                         kReferenceNanAny, {kW, kState});
    if (!d.empty()) fail(kName, "the scalar reference and the plain reference differ: " + d);
  }

  std::vector<Path> paths;
  for (int isa : supported_isas()) {
    if (isa != ADAGRAD_ISA_SCALAR) paths.push_back({false, isa, nullptr});
    if (c.big) paths.push_back({false, isa, two_threads()});
  }
  paths.push_back({true, 0, nullptr});
  paths.push_back({true, 0, two_threads()});
  for (const Path& p : paths) {
    Copy copy(l);
    const adagrad_status got = call(c, copy, p);
    const std::string name = path_name(p);
    if (got != want) {
      fail(kName, name + " returned " + std::to_string(got) + ", the scalar reference " +
                      std::to_string(want));
    }
    const Image image = copy.image();
    const std::string d = got != ADAGRAD_OK
                              ? compare_images(l, kNames, image, l.initial, false, 4, false, {})
                              : compare_images(l, kNames, image, want_image, false, 4,
                                               nan_any_between_paths(), {kW, kState});
    if (!d.empty()) {
      fail(kName,
           name +
               (got != ADAGRAD_OK ? " wrote on error: " : " differs from the scalar reference: ") +
               d);
    }
  }

  int isa;
  if (unusable_isa(c.isa_choice, &isa)) {
    Copy copy(l);
    const Path path{false, isa, nullptr};
    const adagrad_status got = call(c, copy, path);
    if (got != ADAGRAD_ERROR_UNSUPPORTED_ISA) {
      fail(kName, path_name(path) + " returned " + std::to_string(got));
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
