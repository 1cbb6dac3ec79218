// SPDX-License-Identifier: BSD-3-Clause
// The other dense steps against the f32 step and against a memory roofline
// with their own traffic, all on the dispatched ISA, in the same run:
//
//   variant/<step>/<n>            one step on n elements:
//     dense_f32                   adagrad_step (the baseline)
//     proximal_f32, proximal_f64  adagrad_proximal_step, l1 and l2 > 0
//     da_f32                      adagrad_da_step, l1 and l2 > 0
//     mixed_bf16, mixed_f16       adagrad_step_mixed, 16-bit weights and
//                                 gradients, f32 state, nearest-even
//     mixed_bf16_sr               the same with stochastic rounding
//     master_bf16_copy            adagrad_step_master: f32 weights, bf16
//                                 gradients, bf16 copy written in the pass
//     dense_then_convert_bf16     adagrad_step, then adagrad_convert_to_half
//                                 of the weights: the two-pass alternative
//   variant_isa/<step>/<isa>/<n>  on each ISA this CPU has, so that they
//                                 compare in one run:
//     mixed_bf16                  as above, on that ISA
//     to_bf16                     adagrad_convert_to_half_isa of n floats
//   variant_roofline/<bytes>/<n>  the best ISA's roofline kernel (the dense
//                                 step's loads and stores, trivial math) on
//                                 n * bytes / 20 floats: the same bytes as a
//                                 step moving `bytes` per element, with about
//                                 the same read/write mix (3 reads to 2
//                                 writes; the 16-bit steps read 8 bytes and
//                                 write 6, the conversion reads 4 and
//                                 writes 2)
//
// Bytes per element (the counters): dense and proximal f32 20 (read w, g, G;
// write w, G); f64 40; DA 24 (read g, z, G; write w, z, G); 16-bit weights and
// gradients 14 (2 + 2 + 4 read, 2 + 4 written); master with copy 20 (read w 4,
// g 2, G 4; write w 4, G 4, copy 2); step then convert 26 (20, then read w 4,
// write 2); the conversion alone 6 (read 4, write 2).
#include <benchmark/benchmark.h>

#include <cstdint>
#include <cstring>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "adagrad/adagrad.h"
#include "harness.h"
#include "limits.h"

namespace {

using adagrad_bench::page_array;
using adagrad_bench::timed_loop;

using adagrad_bench::fill;  // bench/harness.h: deterministic, ordinary values

std::vector<std::uint16_t> halves(const float* values, std::size_t n, adagrad_dtype type) {
  std::vector<std::uint16_t> out(n);
  if (adagrad_convert_to_half(values, out.data(), n, type) != ADAGRAD_OK) {
    throw std::runtime_error("adagrad_convert_to_half refused the benchmark's inputs");
  }
  return out;
}

// The label is the ISA the row ran on.
void set_traffic(benchmark::State& state, std::int64_t n, std::int64_t bytes_per_element,
                 const std::string& label) {
  state.SetItemsProcessed(state.iterations() * n);
  state.SetBytesProcessed(state.iterations() * n * bytes_per_element);
  state.counters["bytes_per_element"] = static_cast<double>(bytes_per_element);
  state.SetLabel(label);
}

// The ISAs the dispatched dense element-wise steps and the other (wide)
// steps run on.
std::string dense_isa() { return adagrad_isa_name(adagrad_active_isa()); }
std::string wide_isa() { return adagrad_isa_name(adagrad_active_wide_isa()); }

// A small lr keeps the weights ordinary over millions of steps.
adagrad_params bench_params() {
  adagrad_params p = adagrad_params_default();
  p.lr = 1e-6;
  return p;
}

template <class T>
void proximal(benchmark::State& state) {
  const auto n = static_cast<std::size_t>(state.range(0));
  auto w = page_array<T>(n), g = page_array<T>(n), G = page_array<T>(n);
  fill(w.get(), n, 1, -1.0, 1.0);
  fill(g.get(), n, 2, -1e-3, 1e-3);
  fill(G.get(), n, 3, 0.5, 1.0);
  const adagrad_params p = bench_params();
  const adagrad_regularization r{1e-6, 1e-3};
  timed_loop(state, [&] {
    if constexpr (sizeof(T) == 4) {
      return adagrad_proximal_step(w.get(), g.get(), G.get(), n, &p, &r);
    } else {
      return adagrad_proximal_step_f64(w.get(), g.get(), G.get(), n, &p, &r);
    }
  });
  set_traffic(state, state.range(0), 5 * static_cast<std::int64_t>(sizeof(T)), dense_isa());
}

void dense(benchmark::State& state) {
  const auto n = static_cast<std::size_t>(state.range(0));
  auto w = page_array<float>(n), g = page_array<float>(n), G = page_array<float>(n);
  fill(w.get(), n, 1, -1.0, 1.0);
  fill(g.get(), n, 2, -1e-3, 1e-3);
  fill(G.get(), n, 3, 0.5, 1.0);
  const adagrad_params p = bench_params();
  timed_loop(state, [&] { return adagrad_step(w.get(), g.get(), G.get(), n, &p); });
  set_traffic(state, state.range(0), 20, dense_isa());
}

void dual_averaging(benchmark::State& state) {
  const auto n = static_cast<std::size_t>(state.range(0));
  auto w = page_array<float>(n), g = page_array<float>(n), z = page_array<float>(n),
       G = page_array<float>(n);
  fill(w.get(), n, 1, -1.0, 1.0);
  fill(g.get(), n, 2, -1e-3, 1e-3);
  fill(z.get(), n, 4, -1.0, 1.0);
  fill(G.get(), n, 3, 0.5, 1.0);
  adagrad_params p = bench_params();
  p.step = 100;
  const adagrad_regularization r{1e-6, 1e-3};
  timed_loop(state, [&] { return adagrad_da_step(w.get(), g.get(), z.get(), G.get(), n, &p, &r); });
  set_traffic(state, state.range(0), 24, dense_isa());
}

// On the dispatched ISA, or on isa.
void mixed(benchmark::State& state, adagrad_dtype type, adagrad_rounding rounding,
           std::optional<adagrad_isa> isa = std::nullopt) {
  const auto n = static_cast<std::size_t>(state.range(0));
  auto wf = page_array<float>(n), gf = page_array<float>(n), G = page_array<float>(n);
  fill(wf.get(), n, 1, -1.0, 1.0);
  fill(gf.get(), n, 2, -1e-3, 1e-3);
  fill(G.get(), n, 3, 0.5, 1.0);
  auto w = page_array<std::uint16_t>(n), g = page_array<std::uint16_t>(n);
  const std::vector<std::uint16_t> w16 = halves(wf.get(), n, type), g16 = halves(gf.get(), n, type);
  std::memcpy(w.get(), w16.data(), n * 2);
  std::memcpy(g.get(), g16.data(), n * 2);
  adagrad_params p = bench_params();
  adagrad_mixed_options o = adagrad_mixed_options_default();
  o.rounding = rounding;
  timed_loop(state, [&] {
    ++p.step;  // new random bits every step, as in training
    return isa ? adagrad_step_mixed_isa(*isa, w.get(), type, g.get(), type, G.get(), n, &p, &o,
                                        nullptr)
               : adagrad_step_mixed(w.get(), type, g.get(), type, G.get(), n, &p, &o, nullptr);
  });
  set_traffic(state, state.range(0), 14, isa ? adagrad_isa_name(*isa) : wide_isa());
}

// The conversion pass alone: n floats to bfloat16 on isa.
void to_bf16(benchmark::State& state, adagrad_isa isa) {
  const auto n = static_cast<std::size_t>(state.range(0));
  auto in = page_array<float>(n);
  fill(in.get(), n, 1, -1.0, 1.0);
  auto out = page_array<std::uint16_t>(n);
  timed_loop(state, [&] {
    return adagrad_convert_to_half_isa(isa, in.get(), out.get(), n, ADAGRAD_DTYPE_BF16);
  });
  set_traffic(state, state.range(0), 6, adagrad_isa_name(isa));
}

void master_copy(benchmark::State& state) {
  const auto n = static_cast<std::size_t>(state.range(0));
  auto w = page_array<float>(n), gf = page_array<float>(n), G = page_array<float>(n);
  fill(w.get(), n, 1, -1.0, 1.0);
  fill(gf.get(), n, 2, -1e-3, 1e-3);
  fill(G.get(), n, 3, 0.5, 1.0);
  auto g = page_array<std::uint16_t>(n), copy = page_array<std::uint16_t>(n);
  const std::vector<std::uint16_t> g16 = halves(gf.get(), n, ADAGRAD_DTYPE_BF16);
  std::memcpy(g.get(), g16.data(), n * 2);
  const adagrad_params p = bench_params();
  const adagrad_mixed_options o = adagrad_mixed_options_default();
  timed_loop(state, [&] {
    return adagrad_step_master(w.get(), g.get(), ADAGRAD_DTYPE_BF16, G.get(), copy.get(),
                               ADAGRAD_DTYPE_BF16, n, &p, &o, nullptr);
  });
  set_traffic(state, state.range(0), 20, wide_isa());
}

// The two-pass alternative to master_copy: an f32 step (f32 gradients: the
// framework would have widened them) and a conversion pass.
void dense_then_convert(benchmark::State& state) {
  const auto n = static_cast<std::size_t>(state.range(0));
  auto w = page_array<float>(n), g = page_array<float>(n), G = page_array<float>(n);
  fill(w.get(), n, 1, -1.0, 1.0);
  fill(g.get(), n, 2, -1e-3, 1e-3);
  fill(G.get(), n, 3, 0.5, 1.0);
  auto copy = page_array<std::uint16_t>(n);
  const adagrad_params p = bench_params();
  timed_loop(state, [&] {
    const adagrad_status status = adagrad_step(w.get(), g.get(), G.get(), n, &p);
    return status != ADAGRAD_OK
               ? status
               : adagrad_convert_to_half(w.get(), copy.get(), n, ADAGRAD_DTYPE_BF16);
  });
  set_traffic(state, state.range(0), 26, dense_isa() + " step, " + wide_isa() + " conversion");
}

// The SIMD ISAs of the one list, for the per-ISA rows.
const adagrad_isa kSimdIsas[] = {
#define ADAGRAD_ISA(ENUM, name, arch, features) ADAGRAD_ISA_##ENUM,
#include "isa_list.inc"
#undef ADAGRAD_ISA
};

// The dispatched ISA's f32 roofline kernel.
using roofline_fn = void (*)(std::size_t, float*, const float*, float*);
roofline_fn active_roofline() {
  const std::string active = adagrad_isa_name(adagrad_active_isa());
#define ADAGRAD_ISA(ENUM, name, arch, features) \
  if (active == #name) return &adagrad_bench::roofline_f32__##name;
#include "isa_list.inc"
#undef ADAGRAD_ISA
  return &adagrad_bench::roofline_f32__scalar;
}

void roofline(benchmark::State& state, std::int64_t bytes_per_element) {
  const std::int64_t n = state.range(0);
  // The same bytes in the roofline's 20-byte elements, whole 256-float blocks.
  const auto floats = static_cast<std::size_t>((n * bytes_per_element / 20 + 255) / 256 * 256);
  auto w = page_array<float>(floats), g = page_array<float>(floats), G = page_array<float>(floats);
  fill(w.get(), floats, 1, -1.0, 1.0);
  fill(g.get(), floats, 2, -1e-3, 1e-3);
  fill(G.get(), floats, 3, 0.5, 1.0);
  const roofline_fn kernel = active_roofline();
  timed_loop(state, [&] {
    kernel(floats, w.get(), g.get(), G.get());
    return ADAGRAD_OK;
  });
  set_traffic(state, n, bytes_per_element, dense_isa());
}

}  // namespace

int main(int argc, char** argv) {
  const std::int64_t lengths[] = {4096, std::int64_t{1} << 20, std::int64_t{1} << 24};
  auto add = [&](const std::string& name, auto&& function) {
    for (std::int64_t n : lengths) {
      benchmark::RegisterBenchmark(("variant/" + name).c_str(), function)->Arg(n);
    }
  };
  add("dense_f32", dense);
  add("proximal_f32", proximal<float>);
  add("proximal_f64", proximal<double>);
  add("da_f32", dual_averaging);
  add("mixed_bf16",
      [](benchmark::State& s) { mixed(s, ADAGRAD_DTYPE_BF16, ADAGRAD_ROUND_NEAREST_EVEN); });
  add("mixed_f16",
      [](benchmark::State& s) { mixed(s, ADAGRAD_DTYPE_F16, ADAGRAD_ROUND_NEAREST_EVEN); });
  add("mixed_bf16_sr",
      [](benchmark::State& s) { mixed(s, ADAGRAD_DTYPE_BF16, ADAGRAD_ROUND_STOCHASTIC); });
  add("master_bf16_copy", master_copy);
  add("dense_then_convert_bf16", dense_then_convert);
  for (adagrad_isa isa : kSimdIsas) {
    if (!adagrad_isa_supported(isa)) continue;
    const std::string suffix = std::string("/") + adagrad_isa_name(isa);
    for (std::int64_t n : lengths) {
      benchmark::RegisterBenchmark(("variant_isa/mixed_bf16" + suffix).c_str(),
                                   [isa](benchmark::State& s) {
                                     mixed(s, ADAGRAD_DTYPE_BF16, ADAGRAD_ROUND_NEAREST_EVEN, isa);
                                   })
          ->Arg(n);
      benchmark::RegisterBenchmark(("variant_isa/to_bf16" + suffix).c_str(),
                                   [isa](benchmark::State& s) { to_bf16(s, isa); })
          ->Arg(n);
    }
  }
  for (std::int64_t bytes : {6, 14, 20, 24, 26, 40}) {
    for (std::int64_t n : lengths) {
      benchmark::RegisterBenchmark(("variant_roofline/" + std::to_string(bytes)).c_str(),
                                   [bytes](benchmark::State& s) { roofline(s, bytes); })
          ->Arg(n);
    }
  }
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::AddCustomContext("adagrad_active_isa", dense_isa());
  benchmark::AddCustomContext("adagrad_active_wide_isa", wide_isa());
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
