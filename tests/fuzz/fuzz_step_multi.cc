// SPDX-License-Identifier: BSD-3-Clause
// Differential fuzzing of adagrad_step_multi and adagrad_step_multi_f64
// (libFuzzer, with ASan and UBSan).
//
// The input chooses the element type, the hyperparameters (valid or raw
// doubles), how many tensors (0 to 8) and their lengths (0 and odd lengths
// included; sometimes one that overflows; sometimes a NULL tensor list),
// and where every tensor's w, g and G lie inside one guarded arena: packed
// in an order the input picks, with gaps, overlaps (within a tensor or
// across tensors), misalignments and NULL pointers, and gradients shared
// between tensors (which the header allows). Every value comes from the
// input (special ones included). The step runs on the calling thread (no
// pool) and on a pool of two threads, and each tensor separately through
// adagrad_step; the target aborts when
//   - a status is not one the header allows (the parameters, then each
//     tensor's buffers as adagrad_step checks them, and no written buffer
//     sharing a byte with a buffer of another tensor),
//   - a separate adagrad_step's status is not the one the header gives,
//   - the two multi calls return different statuses,
//   - a failed call changed any byte (the arena with its guards, and the
//     tensor list),
//   - a successful call differs in any bit from the separate adagrad_step
//     calls, which must themselves equal the plain dense step written below
//     (any NaN equal to any NaN there: fuzz_util.h says why),
// and ASan aborts on any access outside the buffers (every byte of the
// arena outside them is poisoned during a call, granule by granule).
// ADAGRAD_FUZZ_NAN_STRICT=1 in the environment makes the multi step's NaNs
// compare bit for bit with adagrad_step's (fuzz_util.h).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "adagrad/adagrad.h"
#include "fuzz_util.h"

namespace fuzz {
namespace {

constexpr char kName[] = "fuzz_step_multi";

template <class T>
using tensor_of = std::conditional_t<sizeof(T) == 4, adagrad_tensor, adagrad_tensor_f64>;

enum { kW, kG, kStateG };  // a tensor's buffers: 3 * tensor + this

struct Case {
  Hyper hyper;
  std::size_t count = 0;
  bool tensors_null = false;
  std::vector<std::size_t> n;       // the buffers' lengths
  std::vector<std::size_t> call_n;  // as passed (one may overflow)
  std::vector<std::string> names;
};

template <class T>
void decode(Input& in, std::uint8_t mode, Case* c, Layout* l) {
  bool big = (mode & 0x06) == 0x06;
  const bool misalign = (mode & 0x08) != 0;
  const bool nulls = (mode & 0x10) != 0;
  const bool shuffle = (mode & 0x20) != 0;
  const bool share = (mode & 0x40) != 0;
  c->hyper = decode_hyper(in);
  const std::uint8_t rare = in.byte();
  big = big && (rare & 0x0c) == 0x0c;  // one input in 16: the pool splits it
  c->count = rare % 9;
  c->tensors_null = c->count > 0 && (rare & 0xf0) == 0xf0;
  const bool huge = (rare & 0xf0) == 0xe0;
  const unsigned special = in.byte() / 4;
  for (std::size_t t = 0; t < c->count; ++t) {
    const std::uint16_t v = in.take<std::uint16_t>();
    c->n.push_back(big ? 1000 + v % 12000 : (v & 0x8000) ? v % 300 : v % 40);
  }
  c->call_n = c->n;
  if (huge && c->count > 0) {
    const std::uint8_t h = in.byte();
    const std::size_t choices[] = {SIZE_MAX, kMaxObject / sizeof(T) + 1, SIZE_MAX / 2};
    c->call_n[h % c->count] = choices[(h >> 4) % 3];
  }

  const std::size_t buffers = 3 * c->count;
  l->buffers.assign(buffers, Buffer());
  std::vector<std::size_t> mis(buffers, 0);
  std::vector<bool> null(buffers, false);
  std::vector<int> shares(buffers, -1);  // a gradient placed at another one's start
  for (std::size_t t = 0; t < c->count; ++t) {
    for (int k = kW; k <= kStateG; ++k) {
      l->buffers[3 * t + k].bytes = c->n[t] * sizeof(T);
      static const char* const kBufferNames[] = {"w", "g", "G"};
      c->names.push_back(std::string(kBufferNames[k]) + "[tensor " + std::to_string(t) + "]");
    }
    if (misalign) {
      for (int k = kW; k <= kStateG; ++k) {
        const std::uint8_t m = in.byte();
        mis[3 * t + k] = m < 240 ? 0 : m % sizeof(T);
      }
    }
    if (nulls) {
      const std::uint8_t b = in.byte();
      if (b >= 224) null[3 * t + b % 3] = true;
    }
    if (share && t > 0) {
      const std::uint8_t b = in.byte();
      if (b < 96) shares[3 * t + kG] = static_cast<int>(3 * (b % t) + kG);
    }
  }
  std::vector<std::size_t> order(buffers);
  for (std::size_t i = 0; i < buffers; ++i) order[i] = i;
  if (shuffle) {
    for (std::size_t i = buffers; i > 1; --i) std::swap(order[i - 1], order[in.byte() % i]);
  }

  const int block = l->add_block(0);
  const bool tidy = in.byte() < 160;  // most inputs: only gaps, no overlap by placement
  std::size_t previous_start = kGuardBytes, previous_end = kGuardBytes, end = kGuardBytes;
  for (std::size_t b : order) {
    if (null[b] || shares[b] >= 0) continue;
    std::size_t start = arena_offset(in, previous_start, previous_end, tidy);
    if (start < kGuardBytes) start = kGuardBytes;
    start += mis[b];
    l->buffers[b].block = block;
    l->buffers[b].offset = start;
    previous_start = start;
    previous_end = start + l->buffers[b].bytes;
    if (previous_end > end) end = previous_end;
  }
  for (std::size_t b = 0; b < buffers; ++b) {
    if (shares[b] < 0 || null[b]) continue;
    const Buffer& other = l->buffers[shares[b]];
    l->buffers[b].block = block;
    l->buffers[b].offset = other.block < 0 ? kGuardBytes : other.offset;
    const std::size_t stop = l->buffers[b].offset + l->buffers[b].bytes;
    if (stop > end) end = stop;
  }
  auto& arena = l->initial[block];
  arena.assign(end + kGuardBytes, kGuardByte);
  for (std::size_t at = kGuardBytes; at + sizeof(T) <= end; at += sizeof(T)) {
    const T v = data_value<T>(in, special, false);
    std::memcpy(arena.data() + at, &v, sizeof(T));
  }
  // Each tensor's contents, tensor by tensor (an overlapped byte keeps the
  // later buffer's value).
  for (std::size_t b = 0; b < buffers; ++b) {
    if (l->buffers[b].block < 0) continue;
    std::uint8_t* at = l->at(l->initial, static_cast<int>(b));
    for (std::size_t i = 0; i < c->n[b / 3]; ++i) {
      const T v = data_value<T>(in, special, b % 3 == kStateG);
      std::memcpy(at + i * sizeof(T), &v, sizeof(T));
    }
  }
  l->scratch.clear();
}

// Whether two buffers share a byte at the lengths passed (saturated).
bool meet(const Layout& l, std::size_t a, std::size_t a_bytes, std::size_t b, std::size_t b_bytes) {
  const Buffer& x = l.buffers[a];
  const Buffer& y = l.buffers[b];
  if (x.block < 0 || y.block < 0 || x.block != y.block || a_bytes == 0 || b_bytes == 0) {
    return false;
  }
  return x.offset < y.offset ? y.offset - x.offset < a_bytes : x.offset - y.offset < b_bytes;
}

// Tensor t's buffers as adagrad_step checks them (after the parameters).
template <class T>
void check_tensor(Checks& k, const Case& c, const Layout& l, std::size_t t) {
  const std::size_t n = c.call_n[t];
  const std::size_t bytes = product(n, sizeof(T));
  if (bytes > kMaxObject) return k.fail(ADAGRAD_ERROR_SIZE_OVERFLOW);
  if (n == 0) return;
  for (int b = kW; b <= kStateG; ++b) {
    if (l.buffers[3 * t + b].block < 0) return k.fail(ADAGRAD_ERROR_NULL_POINTER);
  }
  for (int b = kW; b <= kStateG; ++b) {
    if (l.address_mod_64(static_cast<int>(3 * t + b)) % sizeof(T) != 0) {
      return k.fail(ADAGRAD_ERROR_MISALIGNED);
    }
  }
  if (meet(l, 3 * t + kW, bytes, 3 * t + kG, bytes) ||
      meet(l, 3 * t + kW, bytes, 3 * t + kStateG, bytes) ||
      meet(l, 3 * t + kG, bytes, 3 * t + kStateG, bytes)) {
    k.fail(ADAGRAD_ERROR_OVERLAP);
  }
}

template <class T>
StatusSet expected_multi(const Case& c, const Layout& l) {
  Checks k;
  check_params<T>(k, c.hyper);
  if (c.tensors_null) k.fail(ADAGRAD_ERROR_NULL_POINTER);
  if (k.done()) return k.result();
  // A written buffer (w, G) of one tensor against any buffer of another;
  // two gradients may share memory.
  bool across = false;
  for (std::size_t s = 0; s < c.count; ++s) {
    for (std::size_t t = s + 1; t < c.count; ++t) {
      const std::size_t s_bytes = product(c.call_n[s], sizeof(T));
      const std::size_t t_bytes = product(c.call_n[t], sizeof(T));
      for (int a = kW; a <= kStateG; ++a) {
        for (int b = kW; b <= kStateG; ++b) {
          if (a == kG && b == kG) continue;
          across |= meet(l, 3 * s + a, s_bytes, 3 * t + b, t_bytes);
        }
      }
    }
  }
  // Each tensor's own checks and the checks across tensors: the header does
  // not order them, so a failure of each kind is an answer.
  Checks own;
  for (std::size_t t = 0; t < c.count && !own.done(); ++t) check_tensor<T>(own, c, l, t);
  if (own.done()) {
    if (across) k.maybe(ADAGRAD_ERROR_OVERLAP);
    for (unsigned s = 1; s < 16; ++s) {
      if (own.result() >> s & 1u) k.fail(static_cast<adagrad_status>(s));
    }
  }
  if (across) k.fail(ADAGRAD_ERROR_OVERLAP);
  return k.result();
}

template <class T>
adagrad_status step_one(T* w, const T* g, T* G, std::size_t n, const adagrad_params* p) {
  if constexpr (sizeof(T) == 4) {
    return adagrad_step(w, g, G, n, p);
  } else {
    return adagrad_step_f64(w, g, G, n, p);
  }
}

template <class T>
adagrad_status step_multi(const tensor_of<T>* tensors, std::size_t count, const adagrad_params* p,
                          adagrad_pool* pool) {
  if constexpr (sizeof(T) == 4) {
    return adagrad_step_multi(tensors, count, p, pool);
  } else {
    return adagrad_step_multi_f64(tensors, count, p, pool);
  }
}

// The tensor list a call gets, in memory of exactly its size.
template <class T>
struct TensorList {
  tensor_of<T>* tensors = nullptr;
  std::vector<std::uint8_t> before;

  TensorList(const Case& c, const Copy& copy) {
    if (c.tensors_null || c.count == 0) return;
    tensors = static_cast<tensor_of<T>*>(std::malloc(c.count * sizeof(tensor_of<T>)));
    for (std::size_t t = 0; t < c.count; ++t) {
      tensors[t].w = copy.as<T>(static_cast<int>(3 * t + kW));
      tensors[t].g = copy.as<const T>(static_cast<int>(3 * t + kG));
      tensors[t].G = copy.as<T>(static_cast<int>(3 * t + kStateG));
      tensors[t].n = c.call_n[t];
    }
    const auto* bytes = reinterpret_cast<const std::uint8_t*>(tensors);
    before.assign(bytes, bytes + c.count * sizeof(tensor_of<T>));
  }
  ~TensorList() { std::free(tensors); }
  TensorList(const TensorList&) = delete;
  TensorList& operator=(const TensorList&) = delete;
  bool unchanged() const {
    return tensors == nullptr || std::memcmp(tensors, before.data(), before.size()) == 0;
  }
};

template <class T>
void run(Input& in, std::uint8_t mode) {
  Case c;
  Layout l;
  decode<T>(in, mode, &c, &l);
  std::vector<const char*> names;
  for (const auto& name : c.names) names.push_back(name.c_str());
  std::vector<int> elements;
  for (std::size_t b = 0; b < 3 * c.count; ++b) {
    if (b % 3 != kG) elements.push_back(static_cast<int>(b));
  }
  const adagrad_params* p = params_of(c.hyper);

  // Each tensor separately, in order, through adagrad_step.
  Copy separate(l);
  bool all_ok = !c.tensors_null;
  separate.poison();
  for (std::size_t t = 0; t < c.count; ++t) {
    Checks k;
    check_params<T>(k, c.hyper);
    if (!k.done()) check_tensor<T>(k, c, l, t);
    const StatusSet allowed = k.result();
    const adagrad_status s =
        step_one<T>(separate.as<T>(static_cast<int>(3 * t + kW)),
                    separate.as<const T>(static_cast<int>(3 * t + kG)),
                    separate.as<T>(static_cast<int>(3 * t + kStateG)), c.call_n[t], p);
    if (!(allowed & bit(s))) {
      separate.unpoison();
      fail(kName, "adagrad_step on tensor " + std::to_string(t) + " returned " +
                      status_names(bit(s)) + "; the header says " + status_names(allowed));
    }
    all_ok &= s == ADAGRAD_OK;
  }
  separate.unpoison();
  const Image separate_image = separate.image();

  const StatusSet allowed = expected_multi<T>(c, l);
  const bool ok_expected = allowed == bit(ADAGRAD_OK);
  if (ok_expected) {
    if (!all_ok) fail(kName, "internal: the separate steps failed, the multi step may not");
    // The separate steps against the plain dense step, tensor by tensor.
    Image reference = l.initial;
    const Constants<T> k = constants_of<T>(c.hyper);
    for (std::size_t t = 0; t < c.count; ++t) {
      if (c.n[t] == 0) continue;
      std::vector<T> w(c.n[t]), g(c.n[t]), G(c.n[t]);
      std::memcpy(w.data(), l.at(reference, static_cast<int>(3 * t + kW)), c.n[t] * sizeof(T));
      std::memcpy(g.data(), l.at(reference, static_cast<int>(3 * t + kG)), c.n[t] * sizeof(T));
      std::memcpy(G.data(), l.at(reference, static_cast<int>(3 * t + kStateG)), c.n[t] * sizeof(T));
      for (std::size_t i = 0; i < c.n[t]; ++i) dense_element(&w[i], g[i], &G[i], k);
      std::memcpy(l.at(reference, static_cast<int>(3 * t + kW)), w.data(), c.n[t] * sizeof(T));
      std::memcpy(l.at(reference, static_cast<int>(3 * t + kStateG)), G.data(), c.n[t] * sizeof(T));
    }
    const std::string d = compare_images(l, names.data(), separate_image, reference, false,
                                         sizeof(T), kReferenceNanAny, elements);
    if (!d.empty()) fail(kName, "adagrad_step and the plain dense step differ: " + d);
  }

  adagrad_status first = ADAGRAD_OK;
  for (adagrad_pool* pool : {static_cast<adagrad_pool*>(nullptr), two_threads()}) {
    Copy copy(l);
    TensorList<T> list(c, copy);
    copy.poison();
    const adagrad_status got = step_multi<T>(list.tensors, c.count, p, pool);
    copy.unpoison();
    const std::string name = pool ? "the multi step with a pool of 2" : "the multi step";
    if (!(allowed & bit(got))) {
      fail(kName, name + " returned " + status_names(bit(got)) + "; the header says " +
                      status_names(allowed));
    }
    if (pool == nullptr) {
      first = got;
    } else if (got != first) {
      fail(kName,
           name + " returned " + std::to_string(got) + ", without a pool " + std::to_string(first));
    }
    if (!list.unchanged()) fail(kName, name + " wrote to the tensor list");
    if (got == ADAGRAD_OK && !all_ok) {
      fail(kName, name + " succeeded where adagrad_step on some tensor failed");
    }
    const Image image = copy.image();
    if (got != ADAGRAD_OK) {
      const std::string d =
          compare_images(l, names.data(), image, l.initial, false, sizeof(T), false, {});
      if (!d.empty()) fail(kName, name + " wrote on error: " + d);
      continue;
    }
    const std::string d = compare_images(l, names.data(), image, separate_image, false, sizeof(T),
                                         nan_any_between_paths(), elements);
    if (!d.empty()) fail(kName, name + " differs from adagrad_step on each tensor: " + d);
  }
}

}  // namespace
}  // namespace fuzz

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  fuzz::Input in(data, size);
  const std::uint8_t mode = in.byte();
  if (mode & 1) {
    fuzz::run<double>(in, mode);
  } else {
    fuzz::run<float>(in, mode);
  }
  return 0;
}
