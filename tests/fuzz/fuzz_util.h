// SPDX-License-Identifier: BSD-3-Clause
// Pieces shared by the embedding, row-wise and many-tensor fuzz targets:
//  - Input: the fuzz input's bytes, then a deterministic stream seeded by
//    them, so that a short input still describes a large batch;
//  - data values (ordinary ones with every mantissa bit, and the special
//    ones: signed zeros, infinities, NaNs with payloads, subnormals, values
//    whose square overflows or underflows) and hyperparameters (sane ones, or
//    raw doubles: NaN, infinite, negative, beyond float);
//  - Layout / Copy: buffers placed in heap blocks, either one block each
//    (behind a guard) or all in one guarded arena at offsets the input picks
//    (so they may overlap or be misaligned); every copy lives in memory from
//    posix_memalign of exactly its size, with every 8-byte granule that holds
//    no buffer byte poisoned for ASan during the call, so any read or write
//    outside the buffers stops the run, and the guard bytes are compared;
//  - Checks: the statuses the header documents, in its order, as a set (a
//    corner the header leaves open allows both answers);
//  - the two-thread pool.
#ifndef ADAGRAD_TESTS_FUZZ_FUZZ_UTIL_H_
#define ADAGRAD_TESTS_FUZZ_FUZZ_UTIL_H_


#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define ADAGRAD_FUZZ_ASAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define ADAGRAD_FUZZ_ASAN 1
#endif
#if ADAGRAD_FUZZ_ASAN
#include <sanitizer/asan_interface.h>
#endif

#include "adagrad/adagrad.h"
#include "fuzz_shims.h"
#include "../guarded_buffer.h"

// The harness's own loops over every byte or element (data, poisoning,
// comparison) without coverage callbacks: they would cost more than the
// steps under test and tell the fuzzer nothing about the library. (GCC,
// which builds the corpus replay, has no such attribute: nothing to leave out.)
#if defined(__clang__)
#define ADAGRAD_FUZZ_UNCOVERED __attribute__((no_sanitize("coverage")))
#else
#define ADAGRAD_FUZZ_UNCOVERED
#endif

namespace fuzz {

[[noreturn]] inline void fail(const char* target, const std::string& what) {
  std::fprintf(stderr, "%s: %s\n", target, what.c_str());
  std::abort();
}

// The input's bytes, then (once they run out) a xorshift stream seeded with a
// hash of the whole input.
class Input {
 public:
  Input(const std::uint8_t* data, std::size_t size) : data_(data), size_(size) {
    std::uint64_t h = 0xcbf29ce484222325ull;
    for (std::size_t i = 0; i < size; ++i) h = (h ^ data[i]) * 0x100000001b3ull;
    state_ = h | 1;
  }
  ADAGRAD_FUZZ_UNCOVERED std::uint8_t byte() {
    if (used_ < size_) return data_[used_++];
    if (left_ == 0) {
      state_ ^= state_ >> 12;
      state_ ^= state_ << 25;
      state_ ^= state_ >> 27;
      word_ = state_ * 0x2545f4914f6cdd1dull;
      left_ = 8;
    }
    --left_;
    const auto b = static_cast<std::uint8_t>(word_);
    word_ >>= 8;
    return b;
  }
  template <class T>
  ADAGRAD_FUZZ_UNCOVERED T take() {
    std::uint8_t bytes[sizeof(T)];
    // GCC 12 inlines byte() here and then sees a write past bytes that no
    // path makes (-Wstringop-overflow, a known false positive of its
    // inlined loops); the loop writes exactly sizeof(T) bytes.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wstringop-overflow"
#endif
    for (auto& b : bytes) b = byte();
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif
    T value;
    std::memcpy(&value, bytes, sizeof(T));
    return value;
  }

 private:
  const std::uint8_t* data_;
  std::size_t size_;
  std::size_t used_ = 0;
  std::uint64_t state_;
  std::uint64_t word_ = 0;
  unsigned left_ = 0;
};

// Bit views of floats and their printing: the unit tests' helpers.
using adagrad_test::bits_of;
using adagrad_test::from_bits;
using adagrad_test::hex;
using adagrad_test::to_bits;

// Bit patterns every kernel must handle: signed zeros and infinities, quiet
// and signalling NaNs with payloads and either sign, subnormals, the extremes,
// and values whose square overflows or underflows.
inline float special_float(std::uint8_t k) {
  static const std::uint32_t kBits[] = {
      0x00000000, 0x80000000, 0x7f800000, 0xff800000, 0x7fc00000, 0xffc00000, 0x7fa00001,
      0x7fc12345, 0xffe54321, 0x00000001, 0x807fffff, 0x00800000, 0x7f7fffff, 0xff7fffff,
      0x5f800000, 0xdf800000, 0x1f800000, 0x3f800000, 0xbf800000, 0x20000000, 0x60000000};
  return from_bits<float>(kBits[k % (sizeof kBits / sizeof kBits[0])]);
}

inline double special_double(std::uint8_t k) {
  static const std::uint64_t kBits[] = {
      0x0000000000000000ull, 0x8000000000000000ull, 0x7ff0000000000000ull, 0xfff0000000000000ull,
      0x7ff8000000000000ull, 0xfff8000000000000ull, 0x7ff4000000000001ull, 0x7ff8dead0000beefull,
      0xfffc000000012345ull, 0x0000000000000001ull, 0x800fffffffffffffull, 0x0010000000000000ull,
      0x7fefffffffffffffull, 0xffefffffffffffffull, 0x5ff0000000000000ull, 0xdff0000000000000ull,
      0x1ff0000000000000ull, 0x3ff0000000000000ull, 0xbff0000000000000ull, 0x47efffffe0000000ull};
  return from_bits<double>(kBits[k % (sizeof kBits / sizeof kBits[0])]);
}

// One data element. special_rate (0..255) out of 256 are special values,
// three more are raw bit patterns; the rest are ordinary values of
// magnitude 2^-6 .. 2^6 with random mantissas (non-negative for state).
template <class T>
ADAGRAD_FUZZ_UNCOVERED T data_value(Input& in, unsigned special_rate, bool nonnegative) {
  const unsigned kind = in.byte();
  if (kind < special_rate) {
    return sizeof(T) == 4 ? static_cast<T>(special_float(in.byte()))
                          : static_cast<T>(special_double(in.byte()));
  }
  if (kind < special_rate + 3) return from_bits<T>(in.take<bits_of<T>>());
  const bits_of<T> random = in.take<bits_of<T>>();
  const unsigned exponent = in.byte() % 12;
  bits_of<T> bits;
  if constexpr (sizeof(T) == 4) {
    bits = (random & 0x807fffffu) | (static_cast<std::uint32_t>(127 - 6 + exponent) << 23);
  } else {
    bits =
        (random & 0x800fffffffffffffull) | (static_cast<std::uint64_t>(1023 - 6 + exponent) << 52);
  }
  if (nonnegative) bits &= ~(bits_of<T>(1) << (8 * sizeof(T) - 1));
  return from_bits<T>(bits);
}

// A raw hyperparameter: a value on an edge of the contract, or any bits.
inline double raw_hyperparameter(Input& in) {
  static const double kEdges[] = {
      0.0,
      -0.0,
      std::numeric_limits<double>::quiet_NaN(),
      -std::numeric_limits<double>::quiet_NaN(),
      std::numeric_limits<double>::infinity(),
      -std::numeric_limits<double>::infinity(),
      -1e-300,
      5e-324,
      1e-46,  // rounds to 0 as a float: weight decay then adds 0 * w
      1e-40,  // a float subnormal
      1.0,
      0.5,
      1e30,
      3.4028234663852886e38,  // FLT_MAX
      3.4028234663852890e38,  // above FLT_MAX, rounds to FLT_MAX
      3.4028235677973362e38,  // just below the midpoint: rounds to FLT_MAX
      3.4028235677973366e38,  // the midpoint: rounds to infinity
      1.7976931348623157e308,
      1e-8,
      0.1,
      100.0};
  const std::uint8_t k = in.byte();
  if (k < 160) return kEdges[k % (sizeof kEdges / sizeof kEdges[0])];
  return in.take<double>();
}

struct Hyper {
  adagrad_params p;
  int eps_mode;  // what p.eps_mode holds (any int; never read as the enum here)
  bool null_params;
};

// Two switch bytes, then the values: each sane or raw.
inline Hyper decode_hyper(Input& in) {
  Hyper h;
  h.p = adagrad_params_default();
  const std::uint8_t s = in.byte();
  const std::uint8_t raw = in.byte();
  h.p.maximize = (s & 1) ? ((s & 0x40) ? -3 : 1) : 0;
  h.p.fma = (s & 4) ? ((s & 0x20) ? 256 : 1) : 0;
  h.eps_mode = (s & 2) ? ADAGRAD_EPS_INSIDE_SQRT : ADAGRAD_EPS_OUTSIDE_SQRT;
  if ((s & 0x18) == 0x18) h.eps_mode = in.take<std::int8_t>();  // often not a mode at all
  std::memcpy(&h.p.eps_mode, &h.eps_mode, sizeof h.eps_mode);
  static_assert(sizeof(h.p.eps_mode) == sizeof(int), "an enum is an int here");
  h.p.lr = (raw & 1) ? raw_hyperparameter(in) : 0.01 * (1 + in.byte());
  h.p.eps = (raw & 2) ? raw_hyperparameter(in) : 1e-8 * in.byte();
  h.p.weight_decay = (raw & 4) ? raw_hyperparameter(in) : 0.01 * (in.byte() % 4);
  h.p.lr_decay = (raw & 8) ? raw_hyperparameter(in) : 0.01 * (in.byte() % 2);
  h.p.step = (raw & 16) ? in.take<std::uint64_t>() : in.byte();
  h.null_params = (s & 0x80) && (raw & 0xe0) == 0xe0;
  return h;
}

// ---- The documented statuses ----------------------------------------------

using StatusSet = unsigned;
inline StatusSet bit(adagrad_status s) { return 1u << static_cast<unsigned>(s); }

inline std::string status_names(StatusSet set) {
  std::string text;
  for (unsigned s = 0; s < 16; ++s) {
    if (set >> s & 1u) {
      if (!text.empty()) text += " or ";
      text +=
          std::to_string(s) + " (" + adagrad_status_string(static_cast<adagrad_status>(s)) + ")";
    }
  }
  return text.empty() ? "nothing" : text;
}

// The checks in the header's order: the first certain failure decides; a
// corner the header leaves open ("maybe") adds its status as an allowed
// answer and the checks go on.
class Checks {
 public:
  void fail(adagrad_status s) {
    if (done_) return;
    allowed_ |= bit(s);
    done_ = true;
  }
  void maybe(adagrad_status s) {
    if (!done_) allowed_ |= bit(s);
  }
  void succeed() { fail(ADAGRAD_OK); }
  bool done() const { return done_; }
  StatusSet result() const { return done_ ? allowed_ : allowed_ | bit(ADAGRAD_OK); }

 private:
  StatusSet allowed_ = 0;
  bool done_ = false;
};

enum class Verdict { kPass, kMaybe, kFail };

// A hyperparameter of element type T: NaN, infinite or negative fails;
// beyond T's largest finite value fails when it rounds to infinity, and is
// an open corner when it rounds to the largest finite value ("not
// representable as a finite value" vs "beyond the range"). -0.0 is not
// negative.
template <class T>
Verdict hyperparameter_verdict(double v) {
  if (!(v >= 0.0) || std::isinf(v)) return Verdict::kFail;
  if constexpr (sizeof(T) == 4) {
    if (v >= 3.4028235677973366e38) return Verdict::kFail;
    if (v > 3.4028234663852886e38) return Verdict::kMaybe;
  }
  return Verdict::kPass;
}

template <class T>
void check_params(Checks& c, const Hyper& h) {
  if (h.null_params) return c.fail(ADAGRAD_ERROR_INVALID_PARAMS);
  const adagrad_params& p = h.p;
  Verdict worst = Verdict::kPass;
  for (double v : {p.lr, p.eps, p.weight_decay, p.lr_decay}) {
    const Verdict verdict = hyperparameter_verdict<T>(v);
    if (verdict == Verdict::kFail || (verdict == Verdict::kMaybe && worst == Verdict::kPass)) {
      worst = verdict;
    }
  }
  if (worst == Verdict::kFail || (p.lr_decay != 0.0 && p.step == 0) ||
      (h.eps_mode != ADAGRAD_EPS_OUTSIDE_SQRT && h.eps_mode != ADAGRAD_EPS_INSIDE_SQRT)) {
    return c.fail(ADAGRAD_ERROR_INVALID_PARAMS);
  }
  if (worst == Verdict::kMaybe) c.maybe(ADAGRAD_ERROR_INVALID_PARAMS);
}

inline const adagrad_params* params_of(const Hyper& h) { return h.null_params ? nullptr : &h.p; }

// a * b * c bytes, or SIZE_MAX when the product does not fit.
inline std::size_t product(std::size_t a, std::size_t b, std::size_t c = 1) {
  std::size_t ab, abc;
  if (__builtin_mul_overflow(a, b, &ab) || __builtin_mul_overflow(ab, c, &abc)) return SIZE_MAX;
  return abc;
}

constexpr std::size_t kMaxObject = static_cast<std::size_t>(PTRDIFF_MAX);

// ---- The independent reference ---------------------------------------------

// The hyperparameters as the header says each step uses them: lr_t in
// double, then everything rounded once to the element type.
template <class T>
struct Constants {
  T lr, eps, weight_decay;
  bool apply_weight_decay, maximize, eps_inside, fma;
};

template <class T>
Constants<T> constants_of(const Hyper& h) {
  const adagrad_params& p = h.p;
  Constants<T> c;
  double lr_t = p.lr;
  if (p.lr_decay != 0.0) lr_t = p.lr / (1.0 + static_cast<double>(p.step - 1) * p.lr_decay);
  c.lr = static_cast<T>(lr_t);
  c.eps = static_cast<T>(p.eps);
  c.weight_decay = static_cast<T>(p.weight_decay);
  c.apply_weight_decay = p.weight_decay != 0.0;
  c.maximize = p.maximize != 0;
  c.eps_inside = h.eps_mode == ADAGRAD_EPS_INSIDE_SQRT;
  c.fma = p.fma != 0;
  return c;
}

// Step 1 of the header: maximize, then weight decay.
template <class T>
T effective_gradient(T g, T w, const Constants<T>& c) {
  if (c.maximize) g = -g;
  if (c.apply_weight_decay) g = c.fma ? std::fma(c.weight_decay, w, g) : g + c.weight_decay * w;
  return g;
}

// The dense step on one element, in the header's order.
template <class T>
void dense_element(T* w, T g, T* G, const Constants<T>& c) {
  const T grad = effective_gradient(g, *w, c);
  const T sum = c.fma ? std::fma(grad, grad, *G) : *G + grad * grad;
  const T denom = c.eps_inside ? std::sqrt(sum + c.eps) : std::sqrt(sum) + c.eps;
  *w = *w - (c.lr * grad) / denom;
  *G = sum;
}

// Row-wise AdaGrad on one row, as the header's steps 1 to 5 say.
inline void rowwise_row(float* w, const float* g, float* G, std::size_t dim,
                        const Constants<float>& c) {
  float partial[16];
  for (float& p : partial) p = +0.0f;
  for (std::size_t j = 0; j < dim; ++j) {
    const float grad = effective_gradient(g[j], w[j], c);
    float& p = partial[j % 16];
    p = c.fma ? std::fma(grad, grad, p) : p + grad * grad;
  }
  for (std::size_t k = 0; k < 8; ++k) partial[k] = partial[k] + partial[k + 8];
  for (std::size_t k = 0; k < 4; ++k) partial[k] = partial[k] + partial[k + 4];
  for (std::size_t k = 0; k < 2; ++k) partial[k] = partial[k] + partial[k + 2];
  const float s = partial[0] + partial[1];
  const float sum = *G + s / static_cast<float>(dim);
  *G = sum;
  const float rate = c.eps_inside ? c.lr / std::sqrt(sum + c.eps) : c.lr / (std::sqrt(sum) + c.eps);
  for (std::size_t j = 0; j < dim; ++j) {
    const float grad = effective_gradient(g[j], w[j], c);
    w[j] = w[j] - rate * grad;
  }
}

// The plain reference may carry another NaN than the library where two NaNs
// meet in one operation (G + g * g with G and g both NaN): IEEE 754 leaves
// open whose payload and sign the result keeps, x86 keeps the first
// operand's, and a compiler may swap the operands of a commutative operation
// (it does: G + g * g kept one NaN in the library and the other in this
// reference, built by the same compiler; and -g * -g may become g * g, which
// drops the sign). So against it any NaN equals any NaN. Between the
// library's own paths NaN equals NaN too (see nan_any_between_paths).
constexpr bool kReferenceNanAny = true;

// ---- Buffers in guarded heap blocks ----------------------------------------

constexpr std::size_t kGuardBytes = 64;
constexpr std::uint8_t kGuardByte = 0xa5;

struct Buffer {
  int block = -1;  // -1: the pointer is NULL
  std::size_t offset = 0;
  std::size_t bytes = 0;
};

using Image = std::vector<std::vector<std::uint8_t>>;

// Where the buffers lie and what every block holds before the call.
struct Layout {
  Image initial;
  std::vector<Buffer> buffers;
  // Per block: bytes whose contents are unspecified after a successful call
  // (a workspace's bytes that belong to no other buffer).
  std::vector<std::vector<bool>> scratch;

  int add_block(std::size_t bytes) {
    initial.emplace_back(bytes, kGuardByte);
    return static_cast<int>(initial.size()) - 1;
  }
  // The address a buffer would have in a block that starts on a 64-byte
  // boundary, as every Copy's blocks do: for the alignment checks.
  std::size_t address_mod_64(int buffer) const { return buffers[buffer].offset % 64; }
  bool overlap(int a, int b) const {
    const Buffer& x = buffers[a];
    const Buffer& y = buffers[b];
    if (x.block < 0 || y.block < 0 || x.block != y.block || x.bytes == 0 || y.bytes == 0) {
      return false;
    }
    return x.offset < y.offset + y.bytes && y.offset < x.offset + x.bytes;
  }
  std::uint8_t* at(Image& image, int buffer) const {
    return image[buffers[buffer].block].data() + buffers[buffer].offset;
  }
  ADAGRAD_FUZZ_UNCOVERED void mark_scratch(int buffer) {
    scratch.assign(initial.size(), std::vector<bool>());
    for (std::size_t b = 0; b < initial.size(); ++b) scratch[b].assign(initial[b].size(), false);
    const Buffer& s = buffers[buffer];
    if (s.block < 0) return;
    auto& mask = scratch[s.block];
    std::fill(mask.begin() + s.offset, mask.begin() + s.offset + s.bytes, true);
    for (std::size_t o = 0; o < buffers.size(); ++o) {
      const Buffer& x = buffers[o];
      if (static_cast<int>(o) == buffer || x.block != s.block) continue;
      std::fill(mask.begin() + x.offset, mask.begin() + x.offset + x.bytes, false);
    }
  }
};

// One path's copy of a layout: blocks from posix_memalign(64) of exactly
// their size, so ASan also stops any access past a block's end.
class Copy {
 public:
  explicit Copy(const Layout& layout) : layout_(layout) {
    for (const auto& block : layout.initial) {
      void* memory = nullptr;
      if (posix_memalign(&memory, 64, block.empty() ? 1 : block.size()) != 0) std::abort();
      if (!block.empty()) std::memcpy(memory, block.data(), block.size());
      blocks_.push_back(static_cast<std::uint8_t*>(memory));
    }
  }
  ~Copy() {
    unpoison();
    for (auto* block : blocks_) std::free(block);
  }
  Copy(const Copy&) = delete;
  Copy& operator=(const Copy&) = delete;

  void* ptr(int buffer) const {
    const Buffer& b = layout_.buffers[buffer];
    return b.block < 0 ? nullptr : blocks_[b.block] + b.offset;
  }
  template <class T>
  T* as(int buffer) const {
    return static_cast<T*>(ptr(buffer));
  }

  // Poisons every whole 8-byte granule of every block that holds no buffer
  // byte (the partial granule at a block's end is ASan's own redzone).
  ADAGRAD_FUZZ_UNCOVERED void poison() {
#if ADAGRAD_FUZZ_ASAN
    for (std::size_t b = 0; b < blocks_.size(); ++b) {
      // Live granule ranges [first, last], sorted; the gaps between them.
      std::vector<std::pair<std::size_t, std::size_t>> live;
      for (const Buffer& x : layout_.buffers) {
        if (x.block == static_cast<int>(b) && x.bytes != 0) {
          live.emplace_back(x.offset / 8, (x.offset + x.bytes - 1) / 8);
        }
      }
      std::sort(live.begin(), live.end());
      const std::size_t granules = layout_.initial[b].size() / 8;
      std::size_t next = 0;  // the first granule not yet known live or poisoned
      auto poison_to = [&](std::size_t end) {
        if (end > granules) end = granules;
        if (end > next) ASAN_POISON_MEMORY_REGION(blocks_[b] + 8 * next, 8 * (end - next));
      };
      for (const auto& range : live) {
        poison_to(range.first);
        if (range.second + 1 > next) next = range.second + 1;
      }
      poison_to(granules);
    }
    poisoned_ = true;
#endif
  }
  void unpoison() {
#if ADAGRAD_FUZZ_ASAN
    if (!poisoned_) return;
    for (std::size_t b = 0; b < blocks_.size(); ++b) {
      ASAN_UNPOISON_MEMORY_REGION(blocks_[b], layout_.initial[b].size());
    }
    poisoned_ = false;
#endif
  }

  Image image() const {
    Image result;
    for (std::size_t b = 0; b < blocks_.size(); ++b) {
      result.emplace_back(blocks_[b], blocks_[b] + layout_.initial[b].size());
    }
    return result;
  }

 private:
  const Layout& layout_;
  std::vector<std::uint8_t*> blocks_;
  bool poisoned_ = false;
};

// A difference between two images: what lies there.
inline std::string describe_difference(const Layout& layout, const char* const* names,
                                       const Image& got, const Image& want, std::size_t block,
                                       std::size_t offset, std::size_t element_size) {
  std::string where = "block " + std::to_string(block) + " byte " + std::to_string(offset);
  for (std::size_t i = 0; i < layout.buffers.size(); ++i) {
    const Buffer& x = layout.buffers[i];
    if (x.block != static_cast<int>(block) || offset < x.offset || offset >= x.offset + x.bytes) {
      continue;
    }
    const std::size_t element = (offset - x.offset) / element_size;
    where += std::string(", in ") + names[i] + "[" + std::to_string(element) + "]";
    const std::size_t start = x.offset + element * element_size;
    if (start + element_size <= x.offset + x.bytes) {
      if (element_size == 4) {
        float a, b;
        std::memcpy(&a, got[block].data() + start, 4);
        std::memcpy(&b, want[block].data() + start, 4);
        where += ": got " + hex(a) + ", want " + hex(b);
      } else if (element_size == 8) {
        double a, b;
        std::memcpy(&a, got[block].data() + start, 8);
        std::memcpy(&b, want[block].data() + start, 8);
        where += ": got " + hex(a) + ", want " + hex(b);
      }
    }
  }
  char bytes[64];
  std::snprintf(bytes, sizeof bytes, " (byte 0x%02x, want 0x%02x)", got[block][offset],
                want[block][offset]);
  return where + bytes;
}

// Compares two images byte for byte, outside the scratch bytes when
// skip_scratch. With nan_any, a float or double element of one of the
// buffers in `elements` where both images hold some NaN counts as equal.
// Returns an empty string when they agree.
ADAGRAD_FUZZ_UNCOVERED inline std::string compare_images(const Layout& layout,
                                                         const char* const* names, const Image& got,
                                                         const Image& want, bool skip_scratch,
                                                         std::size_t element_size, bool nan_any,
                                                         const std::vector<int>& elements) {
  for (std::size_t b = 0; b < got.size(); ++b) {
    if (got[b] == want[b]) continue;
    const bool use_scratch = skip_scratch && b < layout.scratch.size();
    for (std::size_t i = 0; i < got[b].size(); ++i) {
      if (got[b][i] == want[b][i] || (use_scratch && layout.scratch[b][i])) continue;
      if (nan_any) {
        bool both_nan = false;
        for (int e : elements) {
          const Buffer& x = layout.buffers[e];
          if (x.block != static_cast<int>(b) || i < x.offset || i >= x.offset + x.bytes) continue;
          const std::size_t start = x.offset + (i - x.offset) / element_size * element_size;
          if (start + element_size > x.offset + x.bytes) continue;
          if (element_size == 4) {
            float u, v;
            std::memcpy(&u, got[b].data() + start, 4);
            std::memcpy(&v, want[b].data() + start, 4);
            both_nan = std::isnan(u) && std::isnan(v);
          } else {
            double u, v;
            std::memcpy(&u, got[b].data() + start, 8);
            std::memcpy(&v, want[b].data() + start, 8);
            both_nan = std::isnan(u) && std::isnan(v);
          }
        }
        if (both_nan) continue;
      }
      return describe_difference(layout, names, got, want, b, i, element_size);
    }
  }
  return std::string();
}

// Which NaN a path returns (its sign and payload) is not part of the
// library's contract (include/adagrad/adagrad.h): IEEE 754 leaves it open and
// the compiler may reorder commutative operands or drop a double negation
// (this fuzzer found both). So between the library's own paths too, a NaN
// must be where the other path has a NaN, and any NaN equals any NaN;
// ADAGRAD_FUZZ_NAN_STRICT=1 in the environment compares every bit.
inline bool nan_any_between_paths() {
  static const bool any = [] {
    const char* v = std::getenv("ADAGRAD_FUZZ_NAN_STRICT");
    return !(v != nullptr && v[0] == '1');
  }();
  return any;
}

// ADAGRAD_FUZZ_IN_RANGE_ENUMS=1 in the environment: pass only enum values
// inside each enum's range of values (ISA 7, which no enumerator names,
// but no -1 or 100, and no unknown duplicates mode, whose enum has
// no spare value), for fuzzing past a finding about the others.
inline bool in_range_enums_only() {
  static const bool only = [] {
    const char* v = std::getenv("ADAGRAD_FUZZ_IN_RANGE_ENUMS");
    return v != nullptr && v[0] == '1';
  }();
  return only;
}

// Placement of one buffer after the previous one in an arena, from a code
// byte: adjacent or a small gap (most often), a byte-exact gap, an overlap
// by a few elements, the previous buffer's very start, or anywhere inside it.
// The caller keeps the result clear of the arena's leading guard. tidy:
// only the first kind (for layouts of many buffers, which would otherwise
// hardly ever be valid).
inline std::size_t arena_offset(Input& in, std::size_t previous_start, std::size_t previous_end,
                                bool tidy = false) {
  const std::uint8_t code = tidy ? in.byte() % 160 : in.byte();
  const auto up8 = [](std::size_t x) { return (x + 7) & ~std::size_t{7}; };
  std::size_t start;
  if (code < 160) {
    start = up8(previous_end) + 8 * (code % 3);
  } else if (code < 200) {
    start = previous_end + (code - 160);
  } else if (code < 230) {
    const std::size_t back = 8 * (1 + (code - 200) % 8);
    start = previous_end > back ? up8(previous_end - back) : 0;
  } else if (code < 245) {
    start = previous_start;
  } else {
    const std::size_t span = previous_end - previous_start;
    start = previous_start + (span ? in.take<std::uint16_t>() % span : 0);
  }
  return start;
}

// A pool of two threads, created once.
inline adagrad_pool* two_threads() {
  static adagrad_pool* const pool = adagrad_pool_create(2);
  return pool;
}

// Every ISA this library and CPU run, scalar first.
inline std::vector<int> supported_isas() {
  std::vector<int> isas;
  for (int isa = ADAGRAD_ISA_SCALAR; isa < ADAGRAD_ISA_COUNT; ++isa) {
    if (fuzz_isa_supported(isa)) isas.push_back(isa);
  }
  return isas;
}

// An ISA value that may not be usable here: an enumerator of the other
// architecture or of an extension this CPU may lack, or no enumerator at
// all. False when the choice is usable. (With ADAGRAD_FUZZ_IN_RANGE_ENUMS,
// only the first four, enumerators all: since sve took 7, every value of the
// enum's range is one.)
inline bool unusable_isa(std::uint8_t k, int* isa) {
  static const int kValues[] = {ADAGRAD_ISA_NEON64, ADAGRAD_ISA_SSE2, ADAGRAD_ISA_AVX512BF16,
                                ADAGRAD_ISA_SVE,    ADAGRAD_ISA_COUNT, 100,
                                -1,                 0x7fffffff};
  *isa = kValues[k % (in_range_enums_only() ? 4 : sizeof kValues / sizeof kValues[0])];
  return !fuzz_isa_supported(*isa);
}

inline std::string isa_label(int isa) {
  return isa >= ADAGRAD_ISA_SCALAR && isa < ADAGRAD_ISA_COUNT
             ? adagrad_isa_name(static_cast<adagrad_isa>(isa))
             : "isa " + std::to_string(isa);
}

}  // namespace fuzz

#endif  // ADAGRAD_TESTS_FUZZ_FUZZ_UTIL_H_
