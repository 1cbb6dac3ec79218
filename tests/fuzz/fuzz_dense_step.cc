// SPDX-License-Identifier: BSD-3-Clause
// Differential fuzzing of the dense step (libFuzzer, with ASan and UBSan).
//
// The input chooses the element type, the switches, the hyperparameters
// (valid or not: raw doubles), the length, where the three buffers lie (apart,
// or in one shared arena where they may overlap or be misaligned) and every
// element's bit pattern. The step then runs on the scalar reference, on every
// ISA this CPU has, on the dispatched entry and through the pool entry; the
// target aborts when
//   - two paths return different statuses,
//   - two paths that succeeded differ in any bit of w or G (NaN equals NaN),
//   - a failed call changed any byte,
// and ASan aborts on any read or write outside the buffers, which are heap
// blocks of exactly the size the input asks for.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "adagrad/adagrad.h"

namespace {

class Input {
 public:
  Input(const std::uint8_t* data, std::size_t size) : data_(data), size_(size) {}
  template <class T>
  T take() {
    T value{};
    const std::size_t n = size_ - used_ < sizeof(T) ? size_ - used_ : sizeof(T);
    std::memcpy(&value, data_ + used_, n);
    used_ += n;
    return value;
  }
  std::size_t left() const { return size_ - used_; }

 private:
  const std::uint8_t* data_;
  std::size_t size_;
  std::size_t used_ = 0;
};

void fail(const char* what) {
  std::fprintf(stderr, "fuzz_dense_step: %s\n", what);
  std::abort();
}

template <class T>
adagrad_status run(int path, T* w, const T* g, T* G, std::size_t n, const adagrad_params* p) {
  // path: -2 pool entry (no pool), -1 dispatched, >= 0 an explicit ISA.
  if constexpr (sizeof(T) == 4) {
    if (path == -2) return adagrad_step_parallel(nullptr, w, g, G, n, p);
    if (path == -1) return adagrad_step(w, g, G, n, p);
    return adagrad_step_isa(static_cast<adagrad_isa>(path), w, g, G, n, p);
  } else {
    if (path == -2) return adagrad_step_parallel_f64(nullptr, w, g, G, n, p);
    if (path == -1) return adagrad_step_f64(w, g, G, n, p);
    return adagrad_step_f64_isa(static_cast<adagrad_isa>(path), w, g, G, n, p);
  }
}

template <class T>
bool same(T a, T b) {
  if (a != a && b != b) return true;
  return std::memcmp(&a, &b, sizeof(T)) == 0;
}

template <class T>
void fuzz(Input& in, std::uint8_t switches) {
  adagrad_params p = adagrad_params_default();
  p.maximize = switches & 1;
  p.eps_mode = (switches & 2) ? ADAGRAD_EPS_INSIDE_SQRT : ADAGRAD_EPS_OUTSIDE_SQRT;
  p.fma = (switches >> 2) & 1;
  const std::uint8_t hyper = in.take<std::uint8_t>();
  // Mostly sane hyperparameters, sometimes raw bit patterns (NaN, inf,
  // negative, huge, subnormal) that must be rejected or handled.
  p.lr = (hyper & 1) ? in.take<double>() : 0.01 * (1 + in.take<std::uint8_t>());
  p.eps = (hyper & 2) ? in.take<double>() : 1e-8 * in.take<std::uint8_t>();
  p.weight_decay = (hyper & 4) ? in.take<double>() : 0.01 * (in.take<std::uint8_t>() % 4);
  p.lr_decay = (hyper & 8) ? in.take<double>() : 0.01 * (in.take<std::uint8_t>() % 2);
  p.step = (hyper & 16) ? in.take<std::uint64_t>() : in.take<std::uint8_t>();

  const std::size_t n = in.take<std::uint16_t>() % 300;
  const bool shared = (switches & 8) != 0;
  // Byte offsets: element-aligned, or not at all when the input says so.
  const std::size_t misalign = (switches & 16) ? in.take<std::uint8_t>() % sizeof(T) : 0;
  const std::size_t ow = in.take<std::uint16_t>() % 1024, og = in.take<std::uint16_t>() % 1024,
                    oG = in.take<std::uint16_t>() % 1024;

  // Either three separate heap blocks of exactly n elements, or one arena
  // holding all three at the chosen byte offsets (overlaps possible).
  const std::size_t bytes = n * sizeof(T);
  const std::size_t arena_bytes = shared ? 3 * 1024 + bytes + sizeof(T) : 3 * bytes;
  // One spare byte: an empty step still has a valid (non-null) buffer.
  std::vector<std::uint8_t> initial(arena_bytes + 1);
  for (auto& b : initial) b = in.left() ? in.take<std::uint8_t>() : 0x3c;

  auto place = [&](std::uint8_t* arena, T** w, T** g, T** G) {
    if (shared) {
      *w = reinterpret_cast<T*>(arena + ow * sizeof(T) % 3072 + misalign);
      *g = reinterpret_cast<T*>(arena + og * sizeof(T) % 3072);
      *G = reinterpret_cast<T*>(arena + oG * sizeof(T) % 3072);
    } else {
      *w = reinterpret_cast<T*>(arena);
      *g = reinterpret_cast<T*>(arena + bytes);
      *G = reinterpret_cast<T*>(arena + 2 * bytes);
    }
  };

  // The reference first.
  std::uint8_t* reference = static_cast<std::uint8_t*>(std::malloc(arena_bytes ? arena_bytes : 1));
  std::memcpy(reference, initial.data(), arena_bytes);
  T *rw, *rg, *rG;
  place(reference, &rw, &rg, &rG);
  const adagrad_status want = run<T>(ADAGRAD_ISA_SCALAR, rw, rg, rG, n, &p);
  if (want != ADAGRAD_OK && std::memcmp(reference, initial.data(), arena_bytes) != 0) {
    fail("the reference wrote on error");
  }

  for (int path = -2; path < ADAGRAD_ISA_COUNT; ++path) {
    if (path >= 0 && !adagrad_isa_supported(static_cast<adagrad_isa>(path))) continue;
    std::uint8_t* arena = static_cast<std::uint8_t*>(std::malloc(arena_bytes ? arena_bytes : 1));
    std::memcpy(arena, initial.data(), arena_bytes);
    T *w, *g, *G;
    place(arena, &w, &g, &G);
    const adagrad_status got = run<T>(path, w, g, G, n, &p);
    if (got != want) fail("statuses differ between paths");
    if (got != ADAGRAD_OK) {
      if (std::memcmp(arena, initial.data(), arena_bytes) != 0) fail("a path wrote on error");
    } else if (!shared) {
      for (std::size_t i = 0; i < n; ++i) {
        if (!same(w[i], rw[i]) || !same(G[i], rG[i])) fail("a path differs from the reference");
      }
      if (std::memcmp(g, rg, bytes) != 0) fail("g was written");
    } else if (std::memcmp(arena, reference, arena_bytes) != 0) {
      // Disjoint buffers in one arena: every byte must match, except that
      // NaN payloads may differ, which a byte comparison cannot tell.
      for (std::size_t i = 0; i < n; ++i) {
        if (!same(w[i], rw[i]) || !same(G[i], rG[i])) fail("a path differs from the reference");
      }
    }
    std::free(arena);
  }
  std::free(reference);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  Input in(data, size);
  const std::uint8_t switches = in.take<std::uint8_t>();
  if (switches & 0x80) {
    fuzz<double>(in, switches);
  } else {
    fuzz<float>(in, switches);
  }
  return 0;
}
