// SPDX-License-Identifier: BSD-3-Clause
// The one-time measurement behind dispatch for what the CPU table leaves
// open: each candidate ISA's kernel of a family, timed on a small in-cache
// buffer. Small on purpose: the whole resolution (every family, every
// usable ISA) is meant to stay well under a millisecond, and in cache is
// where the ISAs differ most (past the caches memory bounds them all alike:
// bench/dispatch_bench.cc compares the choice with every forced ISA at
// 4096, 2^20 and 2^24 elements).
#include <chrono>
#include <cstddef>
#include <cstdint>

#include "dispatch_rules.h"
#include "step_constants.h"

namespace adagrad {
namespace detail {

namespace {

// 4 KiB per array: the four arrays (w, g, G, and z for the 16-bit weights
// and the row-wise states) stay in any L1 data cache.
constexpr std::size_t kArrayBytes = 4096;
constexpr std::size_t kFloats = kArrayBytes / sizeof(float);
constexpr std::size_t kDoubles = kArrayBytes / sizeof(double);
constexpr std::size_t kRowDim = 64;  // the sparse and row-wise families: rows of 64
constexpr std::size_t kRows = kFloats / kRowDim;
// One untimed run (first touch, caches, the upper vector lanes powering up),
// then the best of these: the minimum filters interrupts and the other
// core's noise.
constexpr int kTimedRuns = 7;

// Only resolution touches it, inside the once-guard of
// resolve_dispatch_state (src/dispatch.cpp).
struct calibration_buffers {
  alignas(64) unsigned char w[kArrayBytes];
  alignas(64) unsigned char g[kArrayBytes];
  alignas(64) unsigned char G[kArrayBytes];
  alignas(64) unsigned char z[kArrayBytes];
};
calibration_buffers g_buffers;

// Ordinary values (no subnormals, which would time the CPU's assists):
// w in [-1, 1), g in [-0.1, 0.1), G and z in [0.5, 2).
template <class T>
void fill(unsigned char* bytes, std::size_t n, std::uint64_t seed, double low, double high) {
  T* values = reinterpret_cast<T*>(bytes);
  std::uint64_t state = seed;
  for (std::size_t i = 0; i < n; ++i) {
    state = state * 6364136223846793005ull + 1442695040888963407ull;
    const double unit = static_cast<double>(state >> 11) * 0x1.0p-53;
    values[i] = static_cast<T>(low + (high - low) * unit);
  }
}

template <class T>
void fill_all() {
  constexpr std::size_t n = kArrayBytes / sizeof(T);
  fill<T>(g_buffers.w, n, 1, -1.0, 1.0);
  fill<T>(g_buffers.g, n, 2, -0.1, 0.1);
  fill<T>(g_buffers.G, n, 3, 0.5, 2.0);
  fill<T>(g_buffers.z, n, 4, 0.5, 2.0);
}

template <class T>
T* as(unsigned char* bytes) {
  return reinterpret_cast<T*>(bytes);
}

template <class T>
kernels::step_constants<T> default_constants(bool fma) {
  kernels::step_constants<T> c = {};
  c.lr = T(0.01);
  c.eps = T(1e-8);
  c.fma = fma;
  return c;
}

// One run of family's kernel over the buffers.
void run_once(adagrad_family family, const isa_kernels& k) {
  calibration_buffers& b = g_buffers;
  switch (family) {
    case ADAGRAD_FAMILY_DENSE_F32:
    case ADAGRAD_FAMILY_FMA:
      k.f32(kFloats, as<float>(b.w), as<float>(b.g), as<float>(b.G),
            default_constants<float>(family == ADAGRAD_FAMILY_FMA));
      break;
    case ADAGRAD_FAMILY_DENSE_F64:
      k.f64(kDoubles, as<double>(b.w), as<double>(b.g), as<double>(b.G),
            default_constants<double>(false));
      break;
    case ADAGRAD_FAMILY_COMPOSITE: {
      kernels::composite_constants<float> c = {};
      c.step = default_constants<float>(false);
      c.l1 = 1e-4f;
      c.has_l1 = true;
      k.proximal_f32(kFloats, as<float>(b.w), as<float>(b.g), as<float>(b.G), &c);
      break;
    }
    case ADAGRAD_FAMILY_SPARSE:
      // A sparse step updates row by row: one ukernel call per row.
      for (std::size_t r = 0; r < kRows; ++r) {
        const std::size_t at = r * kRowDim;
        k.f32(kRowDim, as<float>(b.w) + at, as<float>(b.g) + at, as<float>(b.G) + at,
              default_constants<float>(false));
      }
      break;
    case ADAGRAD_FAMILY_ROWWISE:
      k.rowwise_rows(kRows, kRowDim, as<float>(b.w), as<float>(b.g), as<float>(b.z),
                     default_constants<float>(false));
      break;
    case ADAGRAD_FAMILY_MIXED: {
      // bfloat16 weights (the upper halves of w's floats, so ordinary
      // values), float gradients, float state.
      kernels::mixed_constants c = {};
      c.step = default_constants<float>(false);
      c.grad_scale = 1.0f;
      c.w_type = ADAGRAD_DTYPE_BF16;
      c.g_type = ADAGRAD_DTYPE_F32;
      c.copy_type = ADAGRAD_DTYPE_F32;
      k.mixed(kFloats, as<std::uint16_t>(b.z), as<float>(b.g), as<float>(b.G), nullptr, 0, &c);
      break;
    }
  }
}

}  // namespace

void prepare_family_buffers(adagrad_family family) {
  if (family == ADAGRAD_FAMILY_DENSE_F64) {
    fill_all<double>();
    return;
  }
  fill_all<float>();
  if (family == ADAGRAD_FAMILY_MIXED) {
    // z as bfloat16: the upper half of each float of w.
    const float* w = as<float>(g_buffers.w);
    std::uint16_t* z = as<std::uint16_t>(g_buffers.z);
    for (std::size_t i = 0; i < kFloats; ++i) {
      std::uint32_t bits;
      static_assert(sizeof bits == sizeof(float), "binary32");
      __builtin_memcpy(&bits, &w[i], sizeof bits);
      z[i] = static_cast<std::uint16_t>(bits >> 16);
    }
  }
}

std::uint64_t time_family_kernel(adagrad_family family, const isa_kernels& k) {
  using clock = std::chrono::steady_clock;
  run_once(family, k);
  std::uint64_t best = UINT64_MAX;
  for (int run = 0; run < kTimedRuns; ++run) {
    const clock::time_point start = clock::now();
    run_once(family, k);
    const auto elapsed = std::chrono::duration_cast<std::chrono::nanoseconds>(clock::now() - start);
    const auto ns = static_cast<std::uint64_t>(elapsed.count());
    if (ns < best) best = ns;
  }
  return best;
}

}  // namespace detail
}  // namespace adagrad
