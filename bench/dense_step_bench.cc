// SPDX-License-Identifier: BSD-3-Clause
// The benchmark suite behind bench/run. Every figure bench/report.py quotes is
// a ratio of two rows of the same run:
//
//   dense_step/<dtype>/<path>/<n>        the step on the scalar reference and
//                                        on every ISA this CPU can run
//   roofline/<dtype>/<path>/<n>          the same traffic with trivial math
//   ceiling/<dtype>/<path>/1024          one sqrt and one division per element
//   threads/<dtype>/<threads>/<n>        adagrad_step_parallel over a pool
//   roofline_threads/<dtype>/<threads>/<n>  the roofline spread the same way
//   parallel_under_load/<pool>/<n>/threads:<t>/busy:<b>
//                                        adagrad_step_parallel (pool adagrad)
//                                        or the same chunks on pthreadpool
//                                        (pool pthreadpool, what the library
//                                        used before), with b processes
//                                        spinning beside it
//   model/<dtype>/<multi|flat>/<threads> BERT-base's parameter list through
//                                        adagrad_step_multi, against one flat
//                                        buffer of the same total
//   call/<dtype>/<dispatched|bare>/<n>   per-call cost: the public entry
//                                        against the bare ukernel it reaches
//
// Bytes processed are the true traffic of a step: read w, g, G and write w,
// G, five element-sized accesses per element (20 bytes for f32, 40 for f64).
#include <benchmark/benchmark.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <thread>
#include <string>
#include <vector>


#include "adagrad/adagrad.h"
#include "cache_context.h"
#include "roofline_pool.h"
#include "harness.h"
#include "limits.h"
#include "step_constants.h"
#include "ukernels.h"

namespace {

constexpr std::int64_t kMinLength = 256;
constexpr std::int64_t kMaxLength = std::int64_t{1} << 24;
constexpr std::int64_t kCeilingLength = 1024;  // two arrays, well inside L1
constexpr int kAccessesPerElement = 5;         // loads of w, g, G; stores of w, G

using adagrad_bench::buffer;
using adagrad_bench::page_array;
using adagrad_bench::timed_loop;

using adagrad_bench::fill;  // bench/harness.h: deterministic, ordinary values

// w, g, G of one tensor, filled.
template <class T>
struct step_buffers {
  explicit step_buffers(std::size_t size)
      : n(size), w(page_array<T>(size)), g(page_array<T>(size)), G(page_array<T>(size)) {
    fill(w.get(), n, 1, -1.0, 1.0);
    fill(g.get(), n, 2, -0.1, 0.1);
    fill(G.get(), n, 3, 0.5, 2.0);
  }
  std::size_t n;
  buffer<T> w, g, G;
};

// The buffers of one length, shared by every benchmark of that length and
// dtype until one of another length asks: a training loop steps the same
// tensors again and again, and Google Benchmark calls a benchmark once per
// repetition (and per trial of its iteration count), which would otherwise
// allocate and fill them each time. One length at a time: the largest three
// buffers are the most ever alive.
template <class T>
step_buffers<T>& buffers_of(std::size_t n) {
  static std::unique_ptr<step_buffers<T>> current;
  if (!current || current->n != n) {
    current.reset();  // free the previous length first
    current = std::make_unique<step_buffers<T>>(n);
  }
  return *current;
}

void set_traffic(benchmark::State& state, std::int64_t elements_per_iteration, std::size_t size) {
  const auto elements = static_cast<std::int64_t>(state.iterations()) * elements_per_iteration;
  state.SetItemsProcessed(elements);
  state.SetBytesProcessed(elements * kAccessesPerElement * static_cast<std::int64_t>(size));
  state.counters["ns_per_element"] = benchmark::Counter(
      static_cast<double>(elements), benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}

// The traffic of one step over b, and where b's pages came from.
template <class T>
void set_traffic(benchmark::State& state, const step_buffers<T>& b) {
  set_traffic(state, static_cast<std::int64_t>(b.n), sizeof(T));
  adagrad_bench::count_huge_pages<T>(state, {b.w.get(), b.g.get(), b.G.get()}, b.n);
}

adagrad_status step_on(adagrad_isa isa, float* w, const float* g, float* G, std::size_t n,
                       const adagrad_params* p) {
  return adagrad_step_isa(isa, w, g, G, n, p);
}
adagrad_status step_on(adagrad_isa isa, double* w, const double* g, double* G, std::size_t n,
                       const adagrad_params* p) {
  return adagrad_step_f64_isa(isa, w, g, G, n, p);
}
adagrad_status step_parallel(adagrad_pool* pool, float* w, const float* g, float* G, std::size_t n,
                             const adagrad_params* p) {
  return adagrad_step_parallel(pool, w, g, G, n, p);
}
adagrad_status step_parallel(adagrad_pool* pool, double* w, const double* g, double* G,
                             std::size_t n, const adagrad_params* p) {
  return adagrad_step_parallel_f64(pool, w, g, G, n, p);
}

// The steps run on the library's pool; the rooflines split their loops over
// bench/roofline_pool.h.
struct PoolDeleter {
  void operator()(adagrad_pool* pool) const { adagrad_pool_destroy(pool); }
};
using pool_ptr = std::unique_ptr<adagrad_pool, PoolDeleter>;
using adagrad_bench::roofline_pool;

// ---- the step and its two limits, per path -------------------------------

template <class T>
void dense_step(benchmark::State& state, adagrad_isa isa) {
  step_buffers<T>& b = buffers_of<T>(static_cast<std::size_t>(state.range(0)));
  const adagrad_params p = adagrad_params_default();
  // The step updates w and G in place; repeating it is what training does.
  timed_loop(state, [&] { return step_on(isa, b.w.get(), b.g.get(), b.G.get(), b.n, &p); });
  set_traffic(state, b);
  state.SetLabel(adagrad_isa_name(isa));
}

template <class T>
void roofline(benchmark::State& state, adagrad_bench::limit_kernels<T> kernels, adagrad_isa isa) {
  step_buffers<T>& b = buffers_of<T>(static_cast<std::size_t>(state.range(0)));
  timed_loop(state, [&] {
    kernels.roofline(b.n, b.w.get(), b.g.get(), b.G.get());
    return ADAGRAD_OK;
  });
  set_traffic(state, b);
  state.SetLabel(adagrad_isa_name(isa));
}

template <class T>
void ceiling(benchmark::State& state, adagrad_bench::limit_kernels<T> kernels, adagrad_isa isa) {
  const auto n = static_cast<std::size_t>(state.range(0));
  buffer<T> in = page_array<T>(n), out = page_array<T>(n);
  fill(in.get(), n, 4, 0.5, 2.0);
  timed_loop(state, [&] {
    kernels.ceiling(n, in.get(), out.get());
    return ADAGRAD_OK;
  });
  const auto elements = static_cast<std::int64_t>(state.iterations()) * state.range(0);
  state.SetItemsProcessed(elements);
  state.counters["ns_per_element"] = benchmark::Counter(
      static_cast<double>(elements), benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
  state.SetLabel(adagrad_isa_name(isa));
}

struct path {
  adagrad_isa isa;
  adagrad_bench::limit_kernels<float> f32;
  adagrad_bench::limit_kernels<double> f64;
  adagrad::kernels::f32_ukernel_fn f32_ukernel;
  adagrad::kernels::f64_ukernel_fn f64_ukernel;
};

const path kPaths[] = {
    {ADAGRAD_ISA_SCALAR,
     {adagrad_bench::roofline_f32__scalar, adagrad_bench::ceiling_f32__scalar},
     {adagrad_bench::roofline_f64__scalar, adagrad_bench::ceiling_f64__scalar},
     adagrad::kernels::adagrad_f32_ukernel__scalar,
     adagrad::kernels::adagrad_f64_ukernel__scalar},
#define ADAGRAD_ISA(ENUM, name, arch, features)                                 \
  {ADAGRAD_ISA_##ENUM,                                                        \
   {adagrad_bench::roofline_f32__##name, adagrad_bench::ceiling_f32__##name}, \
   {adagrad_bench::roofline_f64__##name, adagrad_bench::ceiling_f64__##name}, \
   adagrad::kernels::adagrad_f32_ukernel__##name,                             \
   adagrad::kernels::adagrad_f64_ukernel__##name},
#include "isa_list.inc"
#undef ADAGRAD_ISA
};

const path& active_path() {
  for (const path& p : kPaths) {
    if (p.isa == adagrad_active_isa()) return p;
  }
  return kPaths[0];
}

const adagrad_bench::limit_kernels<float>& limits_of(const path& p, float*) { return p.f32; }
const adagrad_bench::limit_kernels<double>& limits_of(const path& p, double*) { return p.f64; }

// ---- threads --------------------------------------------------------------

template <class T>
void threads(benchmark::State& state) {
  step_buffers<T>& b = buffers_of<T>(static_cast<std::size_t>(state.range(0)));
  pool_ptr pool(adagrad_pool_create(static_cast<std::size_t>(state.range(1))));
  const adagrad_params p = adagrad_params_default();
  timed_loop(state,
             [&] { return step_parallel(pool.get(), b.w.get(), b.g.get(), b.G.get(), b.n, &p); });
  set_traffic(state, b);
  state.SetLabel(adagrad_isa_name(adagrad_active_isa()));
}

// The roofline of the active ISA split over the same pool in the same way
// (a few cache-line-aligned chunks per thread).
template <class T>
void roofline_threads(benchmark::State& state) {
  step_buffers<T>& b = buffers_of<T>(static_cast<std::size_t>(state.range(0)));
  const std::size_t thread_count = static_cast<std::size_t>(state.range(1));
  roofline_pool pool(thread_count);
  struct job {
    step_buffers<T>* b;
    void (*kernel)(std::size_t, T*, const T*, T*);
  } j{&b, limits_of(active_path(), static_cast<T*>(nullptr)).roofline};
  const std::size_t lines = b.n * sizeof(T) / 64;
  const std::size_t tile = (lines + thread_count * 4 - 1) / (thread_count * 4) * (64 / sizeof(T));
  timed_loop(state, [&] {
    pool.parallelize(
        [](void* context, std::size_t start, std::size_t count) {
          auto* jj = static_cast<job*>(context);
          jj->kernel(count, jj->b->w.get() + start, jj->b->g.get() + start, jj->b->G.get() + start);
        },
        &j, b.n, tile);
    return ADAGRAD_OK;
  });
  set_traffic(state, b);
  state.SetLabel(adagrad_isa_name(adagrad_active_isa()));
}

// ---- threads on a busy machine ------------------------------------------------

// Processes that each spin on a core while a benchmark runs: a data loader or
// another job beside the training loop. They die with the benchmark process.
class busy_processes {
 public:
  explicit busy_processes(std::int64_t count) {
    for (std::int64_t k = 0; k < count; ++k) {
      const pid_t pid = fork();
      if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        for (volatile unsigned spin = 0;; spin = spin + 1) {
        }
      }
      if (pid > 0) children_.push_back(pid);
    }
    // Let the scheduler see them before the first timed call.
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ~busy_processes() {
    for (pid_t pid : children_) {
      kill(pid, SIGKILL);
      waitpid(pid, nullptr, 0);
    }
  }
  busy_processes(const busy_processes&) = delete;
  busy_processes& operator=(const busy_processes&) = delete;
  std::size_t started() const { return children_.size(); }

 private:
  std::vector<pid_t> children_;
};

// The f32 step spread over `threads` threads with busy processes beside it:
// on adagrad_pool (the library), or in the same cache-line-aligned chunks
// (kTasksPerThread = 4 per thread) on pthreadpool, whose call waits for every
// worker to check in.
void parallel_under_load(benchmark::State& state, bool on_pthreadpool) {
  step_buffers<float>& b = buffers_of<float>(static_cast<std::size_t>(state.range(0)));
  const auto thread_count = static_cast<std::size_t>(state.range(1));
  const adagrad_params p = adagrad_params_default();
  const busy_processes busy(state.range(2));
  if (busy.started() != static_cast<std::size_t>(state.range(2))) {
    state.SkipWithError("fork failed");
    return;
  }
  if (!on_pthreadpool) {
    pool_ptr pool(adagrad_pool_create(thread_count));
    timed_loop(state, [&] { return adagrad_step_parallel(pool.get(), b.w.get(), b.g.get(),
                                                         b.G.get(), b.n, &p); });
  } else {
    roofline_pool pool(thread_count);
    struct job {
      step_buffers<float>* b;
      const adagrad_params* p;
      std::atomic<int> failed;
    } j{&b, &p, {0}};
    const std::size_t tasks = thread_count * 4;
    const std::size_t tile = (b.n / 16 + tasks - 1) / tasks * 16;  // whole cache lines
    timed_loop(state, [&] {
      pool.parallelize(
          [](void* context, std::size_t start, std::size_t count) {
            auto* jj = static_cast<job*>(context);
            if (adagrad_step(jj->b->w.get() + start, jj->b->g.get() + start,
                             jj->b->G.get() + start, count, jj->p) != ADAGRAD_OK) {
              jj->failed.store(1, std::memory_order_relaxed);
            }
          },
          &j, b.n, tile);
      return j.failed.load(std::memory_order_relaxed) ? ADAGRAD_ERROR_INVALID_PARAMS : ADAGRAD_OK;
    });
  }
  set_traffic(state, b);
  state.SetLabel(adagrad_isa_name(adagrad_active_isa()));
}

// ---- a whole model ----------------------------------------------------------

// BERT-base (uncased): embeddings, 12 encoder layers, pooler. 199 tensors,
// from 2 x 768 to 30522 x 768, 109.5 million parameters.
std::vector<std::size_t> bert_base_shapes() {
  const std::size_t hidden = 768, intermediate = 3072;
  std::vector<std::size_t> sizes = {30522 * hidden, 512 * hidden, 2 * hidden, hidden, hidden};
  for (int layer = 0; layer < 12; ++layer) {
    for (int projection = 0; projection < 4; ++projection) {  // query, key, value, output
      sizes.push_back(hidden * hidden);
      sizes.push_back(hidden);
    }
    sizes.insert(sizes.end(), {hidden, hidden});  // attention LayerNorm
    sizes.insert(sizes.end(), {hidden * intermediate, intermediate, intermediate * hidden, hidden});
    sizes.insert(sizes.end(), {hidden, hidden});  // output LayerNorm
  }
  sizes.insert(sizes.end(), {hidden * hidden, hidden});  // pooler
  return sizes;
}

template <class T>
struct tensor_type;
template <>
struct tensor_type<float> {
  using type = adagrad_tensor;
  static constexpr auto multi = adagrad_step_multi;
};
template <>
struct tensor_type<double> {
  using type = adagrad_tensor_f64;
  static constexpr auto multi = adagrad_step_multi_f64;
};

template <class T>
void model(benchmark::State& state, bool flat) {
  const std::vector<std::size_t> shapes = bert_base_shapes();
  std::size_t total = 0;
  for (std::size_t n : shapes) total += n;
  pool_ptr pool(adagrad_pool_create(static_cast<std::size_t>(state.range(0))));
  const adagrad_params p = adagrad_params_default();
  std::vector<step_buffers<T>> parameters;
  std::vector<typename tensor_type<T>::type> tensors;
  if (flat) {
    parameters.emplace_back(total);
  } else {
    for (std::size_t n : shapes) parameters.emplace_back(n);
  }
  for (auto& b : parameters) tensors.push_back({b.w.get(), b.g.get(), b.G.get(), b.n});
  timed_loop(state,
             [&] { return tensor_type<T>::multi(tensors.data(), tensors.size(), &p, pool.get()); });
  set_traffic(state, static_cast<std::int64_t>(total), sizeof(T));
  state.counters["tensors"] = static_cast<double>(tensors.size());
}

// ---- per-call overhead ------------------------------------------------------

template <class T>
void call_dispatched(benchmark::State& state) {
  step_buffers<T> b(static_cast<std::size_t>(state.range(0)));
  const adagrad_params p = adagrad_params_default();
  for (auto _ : state) {
    adagrad_status status;
    if constexpr (sizeof(T) == 4) {
      status = adagrad_step(b.w.get(), b.g.get(), b.G.get(), b.n, &p);
    } else {
      status = adagrad_step_f64(b.w.get(), b.g.get(), b.G.get(), b.n, &p);
    }
    benchmark::DoNotOptimize(status);
    benchmark::ClobberMemory();
  }
  set_traffic(state, b);
  state.SetLabel(adagrad_isa_name(adagrad_active_isa()));
}

// The ukernel the dispatched entry ends in, called directly with constants
// made once: what the call would cost without validation and dispatch.
template <class T>
void call_bare(benchmark::State& state) {
  step_buffers<T> b(static_cast<std::size_t>(state.range(0)));
  // Every flag off (no weight decay, maximize, eps inside or fma), whatever
  // fields the struct gains.
  adagrad::kernels::step_constants<T> c = {};
  c.lr = T(0.01);
  c.eps = T(1e-8);
  const path& active = active_path();
  auto* ukernel = [&] {
    if constexpr (sizeof(T) == 4) {
      return active.f32_ukernel;
    } else {
      return active.f64_ukernel;
    }
  }();
  benchmark::DoNotOptimize(ukernel);
  for (auto _ : state) {
    benchmark::DoNotOptimize(ukernel(b.n, b.w.get(), b.g.get(), b.G.get(), c));
    benchmark::ClobberMemory();
  }
  set_traffic(state, b);
  state.SetLabel(adagrad_isa_name(adagrad_active_isa()));
}

// ---- registration -----------------------------------------------------------

template <class T>
void register_type(const std::string& dtype) {
  for (const path& p : kPaths) {
    if (!adagrad_isa_supported(p.isa)) continue;
    const std::string isa = adagrad_isa_name(p.isa);
    const auto& limits = limits_of(p, static_cast<T*>(nullptr));
    benchmark::RegisterBenchmark(("dense_step/" + dtype + "/" + isa).c_str(), dense_step<T>, p.isa)
        ->RangeMultiplier(4)
        ->Range(kMinLength, kMaxLength);
    benchmark::RegisterBenchmark(("roofline/" + dtype + "/" + isa).c_str(), roofline<T>, limits,
                                 p.isa)
        ->RangeMultiplier(4)
        ->Range(kMinLength, kMaxLength);
    benchmark::RegisterBenchmark(("ceiling/" + dtype + "/" + isa).c_str(), ceiling<T>, limits,
                                 p.isa)
        ->Arg(kCeilingLength);
  }
  for (std::int64_t thread_count : {1, 2}) {
    for (std::int64_t n : {std::int64_t{1} << 16, std::int64_t{1} << 20, std::int64_t{1} << 22,
                           std::int64_t{1} << 24}) {
      benchmark::RegisterBenchmark(("threads/" + dtype).c_str(), threads<T>)
          ->Args({n, thread_count})
          ->ArgNames({"", "threads"})
          ->UseRealTime();
      benchmark::RegisterBenchmark(("roofline_threads/" + dtype).c_str(), roofline_threads<T>)
          ->Args({n, thread_count})
          ->ArgNames({"", "threads"})
          ->UseRealTime();
    }
  }
  if (dtype == "f32") {
    for (const bool on_pthreadpool : {false, true}) {
      // The comparison with pthreadpool needs pthreadpool (not in the
      // static bundle, whose roofline pool is the bench's own).
      if (on_pthreadpool && !ADAGRAD_BENCH_HAVE_PTHREADPOOL) continue;
      for (std::int64_t busy : {0, 1, 2}) {
        for (std::int64_t thread_count : {1, 2}) {
          benchmark::RegisterBenchmark(
              on_pthreadpool ? "parallel_under_load/pthreadpool" : "parallel_under_load/adagrad",
              parallel_under_load, on_pthreadpool)
              ->Args({std::int64_t{1} << 20, thread_count, busy})
              ->ArgNames({"", "threads", "busy"})
              ->UseRealTime();
        }
      }
    }
  }
  for (bool flat : {false, true}) {
    benchmark::RegisterBenchmark(("model/" + dtype + (flat ? "/flat" : "/multi")).c_str(), model<T>,
                                 flat)
        ->Arg(1)
        ->Arg(2)
        ->ArgName("threads")
        ->UseRealTime()
        // One step takes 50 to 250 ms: a longer minimum keeps several steps
        // in every repetition.
        ->MinTime(1.0)
        ->Unit(benchmark::kMillisecond);
  }
  for (std::int64_t n : {1, 4, 16, 64, 256}) {
    benchmark::RegisterBenchmark(("call/" + dtype + "/dispatched").c_str(), call_dispatched<T>)
        ->Arg(n);
    benchmark::RegisterBenchmark(("call/" + dtype + "/bare").c_str(), call_bare<T>)->Arg(n);
  }
}

}  // namespace

int main(int argc, char** argv) {
  register_type<float>("f32");
  register_type<double>("f64");
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::AddCustomContext("adagrad_active_isa", adagrad_isa_name(adagrad_active_isa()));
  adagrad_bench::add_cache_context();
  benchmark::AddCustomContext("roofline_pool", roofline_pool::kName);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
