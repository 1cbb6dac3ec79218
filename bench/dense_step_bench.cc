// Dense AdaGrad step: one registration per (element type, path, n), for the
// scalar reference and every ISA of kernels/isa_list.inc this CPU can run;
// beside it the compute ceiling (bench/sqrt_div_ceiling.h) of each path.
// Bytes processed are the true traffic of one step: read w, g, G and write w,
// G, five element-sized accesses per element (20 bytes for f32, 40 for f64).
// bench/report.py turns the JSON into the table with same-run ratios.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "adagrad/adagrad.h"
#include "sqrt_div_ceiling.h"

namespace {

constexpr std::int64_t kMinLength = 256;
constexpr std::int64_t kMaxLength = std::int64_t{1} << 24;
constexpr int kAccessesPerElement = 5;  // loads of w, g, G; stores of w, G

struct FreeDeleter {
  void operator()(void* p) const { std::free(p); }
};

// Every buffer starts on its own 4 KiB page, as large tensors from an
// allocator do, so the buffers' relative placement (which decides whether
// loads collide with in-flight stores in the low 12 address bits, "4K
// aliasing") is the same in every run rather than whatever malloc returned.
constexpr std::size_t kBufferAlignment = 4096;

template <class T>
std::unique_ptr<T[], FreeDeleter> aligned_array(std::size_t n) {
  const std::size_t bytes =
      (n * sizeof(T) + kBufferAlignment - 1) / kBufferAlignment * kBufferAlignment;
  return std::unique_ptr<T[], FreeDeleter>(
      static_cast<T*>(std::aligned_alloc(kBufferAlignment, bytes)));
}

// Deterministic inputs in ordinary ranges (no subnormals, which would
// measure the CPU's microcode assists rather than the kernel).
template <class T>
void fill(T* values, std::size_t n, std::uint64_t seed, double low, double high) {
  std::uint64_t state = seed;
  for (std::size_t i = 0; i < n; ++i) {
    state = state * 6364136223846793005ull + 1442695040888963407ull;
    const double unit = static_cast<double>(state >> 11) * 0x1.0p-53;
    values[i] = static_cast<T>(low + (high - low) * unit);
  }
}

adagrad_status step_on(adagrad_isa isa, float* w, const float* g, float* G, std::size_t n,
                       const adagrad_params* p) {
  return adagrad_step_isa(isa, w, g, G, n, p);
}
adagrad_status step_on(adagrad_isa isa, double* w, const double* g, double* G, std::size_t n,
                       const adagrad_params* p) {
  return adagrad_step_f64_isa(isa, w, g, G, n, p);
}

template <class T>
void dense_step(benchmark::State& state, adagrad_isa isa) {
  const auto n = static_cast<std::size_t>(state.range(0));
  auto w = aligned_array<T>(n), g = aligned_array<T>(n), G = aligned_array<T>(n);
  fill(w.get(), n, 1, -1.0, 1.0);
  fill(g.get(), n, 2, -0.1, 0.1);
  fill(G.get(), n, 3, 0.5, 2.0);
  const adagrad_params p = adagrad_params_default();
  for (auto _ : state) {
    // The step updates w and G in place; repeating it is what training does.
    if (step_on(isa, w.get(), g.get(), G.get(), n, &p) != ADAGRAD_OK) {
      state.SkipWithError("step failed");
      break;
    }
    benchmark::ClobberMemory();
  }
  const auto elements = static_cast<std::int64_t>(state.iterations()) * state.range(0);
  state.SetItemsProcessed(elements);
  state.SetBytesProcessed(elements * kAccessesPerElement * static_cast<std::int64_t>(sizeof(T)));
  state.counters["ns_per_element"] = benchmark::Counter(
      static_cast<double>(elements), benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
  state.SetLabel(adagrad_isa_name(isa));
}

// The ceiling loop of one path: sqrt and division only, on L1-resident data.
constexpr std::int64_t kCeilingLength = 1024;

struct CeilingPath {
  adagrad_isa isa;
  adagrad_bench::f32_ceiling_fn f32;
  adagrad_bench::f64_ceiling_fn f64;
};

const CeilingPath kCeilingPaths[] = {
    {ADAGRAD_ISA_SCALAR, adagrad_bench::sqrt_div_ceiling_f32__scalar,
     adagrad_bench::sqrt_div_ceiling_f64__scalar},
#define ADAGRAD_ISA(ENUM, name, arch, usable)                       \
  {ADAGRAD_ISA_##ENUM, adagrad_bench::sqrt_div_ceiling_f32__##name, \
   adagrad_bench::sqrt_div_ceiling_f64__##name},
#include "isa_list.inc"
#undef ADAGRAD_ISA
};

template <class T, class Fn>
void sqrt_div_ceiling(benchmark::State& state, Fn kernel, adagrad_isa isa) {
  const auto n = static_cast<std::size_t>(state.range(0));
  auto in = aligned_array<T>(n), out = aligned_array<T>(n);
  fill(in.get(), n, 4, 0.5, 2.0);
  for (auto _ : state) {
    kernel(n, in.get(), out.get());
    benchmark::ClobberMemory();
  }
  const auto elements = static_cast<std::int64_t>(state.iterations()) * state.range(0);
  state.SetItemsProcessed(elements);
  state.counters["ns_per_element"] = benchmark::Counter(
      static_cast<double>(elements), benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
  state.SetLabel(adagrad_isa_name(isa));
}

void register_all() {
  std::vector<adagrad_isa> paths = {ADAGRAD_ISA_SCALAR};
  for (adagrad_isa isa : {
#define ADAGRAD_ISA(ENUM, name, arch, usable) ADAGRAD_ISA_##ENUM,
#include "isa_list.inc"
#undef ADAGRAD_ISA
       }) {
    if (adagrad_isa_supported(isa)) paths.push_back(isa);
  }
  for (adagrad_isa isa : paths) {
    const std::string name = adagrad_isa_name(isa);
    benchmark::RegisterBenchmark(("dense_step/f32/" + name).c_str(), dense_step<float>, isa)
        ->RangeMultiplier(4)
        ->Range(kMinLength, kMaxLength);
    benchmark::RegisterBenchmark(("dense_step/f64/" + name).c_str(), dense_step<double>, isa)
        ->RangeMultiplier(4)
        ->Range(kMinLength, kMaxLength);
  }
  for (const CeilingPath& path : kCeilingPaths) {
    if (!adagrad_isa_supported(path.isa)) continue;
    const std::string name = adagrad_isa_name(path.isa);
    benchmark::RegisterBenchmark(("sqrt_div_ceiling/f32/" + name).c_str(),
                                 sqrt_div_ceiling<float, adagrad_bench::f32_ceiling_fn>, path.f32,
                                 path.isa)
        ->Arg(kCeilingLength);
    benchmark::RegisterBenchmark(("sqrt_div_ceiling/f64/" + name).c_str(),
                                 sqrt_div_ceiling<double, adagrad_bench::f64_ceiling_fn>, path.f64,
                                 path.isa)
        ->Arg(kCeilingLength);
  }
}

}  // namespace

int main(int argc, char** argv) {
  register_all();
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::AddCustomContext("adagrad_active_isa", adagrad_isa_name(adagrad_active_isa()));
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
