// SPDX-License-Identifier: BSD-3-Clause
// Is dispatch right on this CPU? Each kernel family's dispatched entry point
// against the same step forced onto every SIMD ISA this CPU has, in cache and
// past it, in the same run; and the seed notebook's loop as a user would
// write it instead (bench/native_loop.cc, built with -O3 -march=native).
//
//   dispatch/<family>/<path>/<n>   path: "dispatched" or an ISA name; n
//                                  elements (table and row-wise families:
//                                  n / 64 rows of 64)
//   native_loop/<dtype>/<n>        the seed's loop, plain C++
//
// bench/report.py divides each dispatched row by the fastest ISA row of the
// same family and n (the dispatch table of the report). The run's context
// records what dispatch chose per family, how (table, measured, ...), the
// CPU table row and the calibration's one-time cost.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "adagrad/adagrad.h"
#include "harness.h"
#include "native_loop.h"

namespace {

constexpr std::size_t kDim = 64;  // the table and row-wise families' rows
const std::int64_t kSizes[] = {4096, std::int64_t{1} << 20, std::int64_t{1} << 24};

using adagrad_bench::buffer;

// Every buffer any family needs for n elements. refill() gives every row the
// same starting values, whichever rows ran before it on the same buffers
// (the steps change w and G in place, and a proximal step drives weights to
// zero): each row then times the same data.
struct buffers {
  explicit buffers(std::size_t size)
      : n(size),
        rows(size / kDim),
        w32(adagrad_bench::page_array<float>(n)),
        g32(adagrad_bench::page_array<float>(n)),
        G32(adagrad_bench::page_array<float>(n)),
        w64(adagrad_bench::page_array<double>(n)),
        g64(adagrad_bench::page_array<double>(n)),
        G64(adagrad_bench::page_array<double>(n)),
        row_state(adagrad_bench::page_array<float>(rows)),
        w16(adagrad_bench::page_array<std::uint16_t>(n)),
        indices(adagrad_bench::page_array<std::int64_t>(rows)),
        workspace_size(adagrad_sparse_workspace_size(rows, kDim, ADAGRAD_DUPLICATES_SUM)),
        workspace(adagrad_bench::page_array<unsigned char>(workspace_size)) {
    // Every row once, in a fixed scattered order.
    for (std::size_t r = 0; r < rows; ++r) indices[r] = static_cast<std::int64_t>(r);
    std::uint64_t state = 7;
    for (std::size_t r = rows; r > 1; --r) {
      state = state * 6364136223846793005ull + 1442695040888963407ull;
      std::swap(indices[r - 1], indices[(state >> 33) % r]);
    }
  }
  void refill() {
    using adagrad_bench::fill;
    fill(w32.get(), n, 1, -1.0, 1.0);
    fill(g32.get(), n, 2, -0.1, 0.1);
    fill(G32.get(), n, 3, 0.5, 2.0);
    fill(w64.get(), n, 1, -1.0, 1.0);
    fill(g64.get(), n, 2, -0.1, 0.1);
    fill(G64.get(), n, 3, 0.5, 2.0);
    fill(row_state.get(), rows, 5, 0.5, 2.0);
    fill(w16.get(), n, 6, 0x3e00, 0x3f80);  // bfloat16 bit patterns in [0.125, 1)
  }
  std::size_t n, rows;
  buffer<float> w32, g32, G32;
  buffer<double> w64, g64, G64;
  buffer<float> row_state;
  buffer<std::uint16_t> w16;
  // Page-aligned too: where the sparse step's sort lands relative to the
  // table (the low 12 address bits, 4K aliasing) then no longer depends on
  // what the heap held before (a malloc'ed workspace made the first sparse
  // row of a process up to 1.6x slower than the same row later).
  buffer<std::int64_t> indices;
  std::size_t workspace_size;
  buffer<unsigned char> workspace;
};

// One step of a family, dispatched (isa ignored) or on isa.
using step_fn = adagrad_status (*)(buffers& b, bool dispatched, adagrad_isa isa);

struct family_case {
  adagrad_family family;
  int bytes_per_element;  // the traffic SetBytesProcessed counts
  step_fn step;
};

adagrad_params params(bool fma) {
  adagrad_params p = adagrad_params_default();
  p.fma = fma;
  return p;
}

adagrad_status dense_f32(buffers& b, bool dispatched, adagrad_isa isa, bool fma) {
  const adagrad_params p = params(fma);
  return dispatched ? adagrad_step(b.w32.get(), b.g32.get(), b.G32.get(), b.n, &p)
                    : adagrad_step_isa(isa, b.w32.get(), b.g32.get(), b.G32.get(), b.n, &p);
}

const family_case kFamilies[] = {
    {ADAGRAD_FAMILY_DENSE_F32, 20,
     [](buffers& b, bool d, adagrad_isa isa) { return dense_f32(b, d, isa, false); }},
    {ADAGRAD_FAMILY_DENSE_F64, 40,
     [](buffers& b, bool d, adagrad_isa isa) {
       const adagrad_params p = params(false);
       return d ? adagrad_step_f64(b.w64.get(), b.g64.get(), b.G64.get(), b.n, &p)
                : adagrad_step_f64_isa(isa, b.w64.get(), b.g64.get(), b.G64.get(), b.n, &p);
     }},
    {ADAGRAD_FAMILY_FMA, 20,
     [](buffers& b, bool d, adagrad_isa isa) { return dense_f32(b, d, isa, true); }},
    {ADAGRAD_FAMILY_COMPOSITE, 20,
     [](buffers& b, bool d, adagrad_isa isa) {
       const adagrad_params p = params(false);
       const adagrad_regularization r = {1e-4, 1e-4};
       return d ? adagrad_proximal_step(b.w32.get(), b.g32.get(), b.G32.get(), b.n, &p, &r)
                : adagrad_proximal_step_isa(isa, b.w32.get(), b.g32.get(), b.G32.get(), b.n, &p,
                                            &r);
     }},
    // Every row of the table once per step (in a scattered order): 20 bytes
    // per element plus the indices.
    {ADAGRAD_FAMILY_SPARSE, 20,
     [](buffers& b, bool d, adagrad_isa isa) {
       const adagrad_params p = params(false);
       return d ? adagrad_sparse_step(b.w32.get(), b.G32.get(), b.rows, kDim, b.indices.get(),
                                      b.rows, b.g32.get(), &p, ADAGRAD_DUPLICATES_SUM,
                                      b.workspace.get(), b.workspace_size, nullptr)
                : adagrad_sparse_step_isa(isa, b.w32.get(), b.G32.get(), b.rows, kDim,
                                          b.indices.get(), b.rows, b.g32.get(), &p,
                                          ADAGRAD_DUPLICATES_SUM, b.workspace.get(),
                                          b.workspace_size, nullptr);
     }},
    // The dense row-wise step: read w, g, write w (the row states are few).
    {ADAGRAD_FAMILY_ROWWISE, 12,
     [](buffers& b, bool d, adagrad_isa isa) {
       const adagrad_params p = params(false);
       return d ? adagrad_rowwise_step(b.w32.get(), b.g32.get(), b.row_state.get(), b.rows, kDim,
                                       &p, nullptr)
                : adagrad_rowwise_step_isa(isa, b.w32.get(), b.g32.get(), b.row_state.get(), b.rows,
                                           kDim, &p, nullptr);
     }},
    // bfloat16 weights, float gradients and state: read 2 + 4 + 4, write 2 + 4.
    {ADAGRAD_FAMILY_MIXED, 16,
     [](buffers& b, bool d, adagrad_isa isa) {
       const adagrad_params p = params(false);
       const adagrad_mixed_options o = adagrad_mixed_options_default();
       return d ? adagrad_step_mixed(b.w16.get(), ADAGRAD_DTYPE_BF16, b.g32.get(),
                                     ADAGRAD_DTYPE_F32, b.G32.get(), b.n, &p, &o, nullptr)
                : adagrad_step_mixed_isa(isa, b.w16.get(), ADAGRAD_DTYPE_BF16, b.g32.get(),
                                         ADAGRAD_DTYPE_F32, b.G32.get(), b.n, &p, &o, nullptr);
     }},
};

// One buffer set per size, shared by every row of that size: allocated and
// written once, as a training loop's tensors are.
buffers& buffers_of(std::size_t n) {
  static std::vector<std::unique_ptr<buffers>> all;
  for (auto& b : all) {
    if (b->n == n) return *b;
  }
  all.push_back(std::make_unique<buffers>(n));
  return *all.back();
}

void set_counters(benchmark::State& state, std::int64_t n, int bytes_per_element) {
  const auto elements = static_cast<std::int64_t>(state.iterations()) * n;
  state.SetItemsProcessed(elements);
  state.SetBytesProcessed(elements * bytes_per_element);
  state.counters["ns_per_element"] = benchmark::Counter(
      static_cast<double>(elements), benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}

void family_step(benchmark::State& state, const family_case& c, bool dispatched, adagrad_isa isa) {
  buffers& b = buffers_of(static_cast<std::size_t>(state.range(0)));
  b.refill();
  adagrad_bench::timed_loop(state, [&] { return c.step(b, dispatched, isa); });
  set_counters(state, state.range(0), c.bytes_per_element);
  adagrad_isa chosen = isa;
  if (dispatched && adagrad_dispatch_query(c.family, &chosen, nullptr) != ADAGRAD_OK) {
    state.SkipWithError("adagrad_dispatch_query failed");
    return;
  }
  state.SetLabel(adagrad_isa_name(chosen));
}

template <class T>
void native_loop(benchmark::State& state) {
  buffers& b = buffers_of(static_cast<std::size_t>(state.range(0)));
  b.refill();
  adagrad_bench::timed_loop(state, [&] {
    if constexpr (sizeof(T) == 4) {
      adagrad_bench::native_seed_loop_f32(b.w32.get(), b.g32.get(), b.G32.get(), b.n, 0.01f, 1e-8f);
    } else {
      adagrad_bench::native_seed_loop_f64(b.w64.get(), b.g64.get(), b.G64.get(), b.n, 0.01, 1e-8);
    }
    return ADAGRAD_OK;
  });
  set_counters(state, state.range(0), 5 * static_cast<int>(sizeof(T)));
  state.SetLabel(adagrad_bench::kNativeLoopFlags);
}

// The SIMD ISAs of this build (include/adagrad/isa_list.h).
const adagrad_isa kAllIsas[] = {
#define ADAGRAD_ISA(ENUM, name, arch, features) ADAGRAD_ISA_##ENUM,
#include "isa_list.inc"
#undef ADAGRAD_ISA
};

void register_all() {
  for (const family_case& c : kFamilies) {
    const std::string family = adagrad_family_name(c.family);
    std::vector<std::pair<std::string, adagrad_isa>> paths = {{"dispatched", ADAGRAD_ISA_SCALAR}};
    for (adagrad_isa isa : kAllIsas) {
      if (adagrad_isa_supported(isa)) paths.emplace_back(adagrad_isa_name(isa), isa);
    }
    for (const auto& [path, isa] : paths) {
      auto* b = benchmark::RegisterBenchmark(("dispatch/" + family + "/" + path).c_str(),
                                             family_step, c, path == "dispatched", isa);
      for (std::int64_t n : kSizes) b->Arg(n);
    }
  }
  auto* f32 = benchmark::RegisterBenchmark("native_loop/f32", native_loop<float>);
  auto* f64 = benchmark::RegisterBenchmark("native_loop/f64", native_loop<double>);
  for (std::int64_t n : kSizes) {
    f32->Arg(n);
    f64->Arg(n);
  }
}

void add_dispatch_context() {
  benchmark::AddCustomContext("adagrad_dispatch_cpu", adagrad_dispatch_cpu());
  benchmark::AddCustomContext("adagrad_dispatch_calibration_ns",
                              std::to_string(adagrad_dispatch_calibration_ns()));
  for (const family_case& c : kFamilies) {
    adagrad_isa isa;
    adagrad_dispatch_source source;
    if (adagrad_dispatch_query(c.family, &isa, &source) != ADAGRAD_OK) continue;
    benchmark::AddCustomContext(
        std::string("adagrad_dispatch_") + adagrad_family_name(c.family),
        std::string(adagrad_isa_name(isa)) + " (" + adagrad_dispatch_source_name(source) + ")");
  }
}

}  // namespace

int main(int argc, char** argv) {
  register_all();
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  add_dispatch_context();
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
