// SPDX-License-Identifier: BSD-3-Clause
// adagrad_pool: the threads every threaded step runs on, and how a step
// hands its chunks to them.
//
// Why not pthreadpool, which this library used before: its parallelize call
// returns only after every worker has woken and checked in, so one worker the
// OS has descheduled holds the whole step for a time slice. With one busy
// process per core beside it, a 2-thread step at 2^20 floats ran at about
// half the speed of the 1-thread step (dense_step_bench's
// parallel_under_load rows). Here the caller and the workers take chunks from
// one counter; when none is left the caller waits only for the chunks running
// workers already took, never for a worker that has not begun. A worker that
// wakes late finds no chunk and goes back to waiting.
#include <pthread.h>
#include <unistd.h>

#include <atomic>
#include <cfenv>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <new>
#include <thread>  // std::this_thread::yield

#include "adagrad/adagrad.h"
#include "pool.h"

#if defined(__x86_64__) || defined(_M_X64) || defined(__i386__)
#include <immintrin.h>
#endif

namespace {

// How long a worker keeps looking for the next step before it sleeps: long
// enough that back-to-back steps (the calls of one optimizer step, one per
// parameter group and dtype) find it awake, short enough that a training
// loop's other work gets the core back, and that the worker has not spent its
// share of a busy core spinning when the next step needs it (the scheduler
// then preempts it in the middle of a chunk, and the step waits for it):
// dense_step_bench's parallel_under_load rows, with spins of 0, 20, 100 and
// 1000 microseconds tried.
constexpr auto kWorkerSpin = std::chrono::microseconds(20);
// The caller's wait for chunks running workers took: spin first (a chunk is
// tens of microseconds), then yield the core, in case the worker holding the
// chunk was descheduled in the middle of it.
constexpr int kCallerSpinsBeforeYield = 4096;

inline void cpu_relax() {
#if defined(__x86_64__) || defined(_M_X64) || defined(__i386__)
  _mm_pause();
#elif defined(__aarch64__)
  __asm__ __volatile__("yield");
#endif
}

// The job word: which job (generation), how many chunks it has, and the next
// chunk to take. One word, so that a chunk is taken with one compare-exchange
// that also proves the job is still the one the taker read.
constexpr std::uint64_t kCountBits = 16;
constexpr std::uint64_t kCountMask = (std::uint64_t{1} << kCountBits) - 1;

constexpr std::uint64_t job_word(std::uint64_t generation, std::uint64_t tasks) {
  return generation << (2 * kCountBits) | tasks << kCountBits;
}
constexpr std::uint64_t next_task(std::uint64_t word) { return word & kCountMask; }
constexpr std::uint64_t task_total(std::uint64_t word) { return (word >> kCountBits) & kCountMask; }
constexpr std::uint64_t generation_of(std::uint64_t word) { return word >> (2 * kCountBits); }
constexpr bool has_task(std::uint64_t word) { return next_task(word) < task_total(word); }

static_assert(ADAGRAD_POOL_MAX_THREADS * adagrad::detail::kTasksPerThread <= kCountMask,
              "a job's chunk count must fit its field of the job word");

}  // namespace

struct adagrad_pool {
  std::size_t threads = 1;  // the caller counted

  // The current job. Written by the step that owns `submitting`, before it
  // publishes the job word; read by a worker only after it took a chunk of
  // that job, which the job cannot outlive (the step waits for the chunk).
  void (*task)(const void*, std::size_t) = nullptr;
  const void* context = nullptr;
  std::fenv_t environment{};

  alignas(64) std::atomic<std::uint64_t> word{0};
  alignas(64) std::atomic<std::uint32_t> done{0};  // chunks workers finished
  alignas(64) std::atomic<bool> submitting{false};
  std::atomic<std::uint32_t> sleepers{0};
  std::atomic<bool> stopping{false};
  std::mutex sleep_mutex;
  std::condition_variable wake;
  pthread_t* workers = nullptr;  // pthreads: the library has no exceptions
  std::size_t worker_count = 0;
};

namespace {

// Takes chunks of the job in `word` (and of later jobs it finds) until there
// is none.
void take_chunks(adagrad_pool* pool) {
  std::uint64_t word = pool->word.load(std::memory_order_acquire);
  while (has_task(word)) {
    if (pool->word.compare_exchange_weak(word, word + 1, std::memory_order_acq_rel,
                                         std::memory_order_acquire)) {
      std::fenv_t own;
      std::fegetenv(&own);
      std::fesetenv(&pool->environment);
      pool->task(pool->context, static_cast<std::size_t>(next_task(word)));
      std::fesetenv(&own);
      pool->done.fetch_add(1, std::memory_order_release);
      word = pool->word.load(std::memory_order_acquire);
    }
  }
}

void* worker_main(void* argument) {
  auto* pool = static_cast<adagrad_pool*>(argument);
  for (;;) {
    take_chunks(pool);
    if (pool->stopping.load(std::memory_order_acquire)) return nullptr;
    const std::uint64_t idle = pool->word.load(std::memory_order_acquire);
    if (has_task(idle)) continue;
    // Nothing to take: look for the next job a while, then sleep.
    bool woke = false;
    const auto until = std::chrono::steady_clock::now() + kWorkerSpin;
    for (unsigned spin = 1; !woke; ++spin) {
      cpu_relax();
      woke = pool->word.load(std::memory_order_relaxed) != idle ||
             pool->stopping.load(std::memory_order_relaxed);
      if (spin % 64 == 0 && std::chrono::steady_clock::now() > until) break;
    }
    if (woke) continue;
    // Sleep until the word changes. The count goes up before the word is read
    // again under the lock, and a step reads the count after it publishes its
    // word (both sequentially consistent), so either this worker sees the new
    // word or the step sees a sleeper and notifies under the same lock.
    pool->sleepers.fetch_add(1, std::memory_order_seq_cst);
    {
      std::unique_lock<std::mutex> lock(pool->sleep_mutex);
      pool->wake.wait(lock, [pool, idle] {
        return pool->word.load(std::memory_order_seq_cst) != idle ||
               pool->stopping.load(std::memory_order_seq_cst);
      });
    }
    pool->sleepers.fetch_sub(1, std::memory_order_relaxed);
  }
}

void wake_sleepers(adagrad_pool* pool) {
  if (pool->sleepers.load(std::memory_order_seq_cst) == 0) return;
  { const std::lock_guard<std::mutex> lock(pool->sleep_mutex); }
  pool->wake.notify_all();
}

void stop_workers(adagrad_pool* pool) {
  pool->stopping.store(true, std::memory_order_seq_cst);
  {
    const std::lock_guard<std::mutex> lock(pool->sleep_mutex);
  }
  pool->wake.notify_all();
  for (std::size_t k = 0; k < pool->worker_count; ++k) pthread_join(pool->workers[k], nullptr);
  delete[] pool->workers;
  pool->workers = nullptr;
  pool->worker_count = 0;
}

}  // namespace

namespace adagrad {
namespace detail {

void run_pool_tasks(adagrad_pool* pool, std::size_t tasks, void (*task)(const void*, std::size_t),
                    const void* context) {
  // Another step holds the pool: run this one on its own thread rather than
  // queue behind it (same bits: the chunks do not depend on who runs them).
  if (pool->worker_count == 0 || pool->submitting.exchange(true, std::memory_order_acquire)) {
    for (std::size_t k = 0; k < tasks; ++k) task(context, k);
    return;
  }
  pool->task = task;
  pool->context = context;
  std::fegetenv(&pool->environment);
  pool->done.store(0, std::memory_order_relaxed);
  const std::uint64_t generation =
      generation_of(pool->word.load(std::memory_order_relaxed)) + 1;
  std::uint64_t word = job_word(generation, tasks);
  pool->word.store(word, std::memory_order_seq_cst);
  wake_sleepers(pool);

  // The caller takes chunks like any worker, in its own environment.
  std::uint32_t taken_here = 0;
  while (has_task(word)) {
    if (pool->word.compare_exchange_weak(word, word + 1, std::memory_order_acq_rel,
                                         std::memory_order_relaxed)) {
      task(context, static_cast<std::size_t>(next_task(word)));
      ++taken_here;
      word = pool->word.load(std::memory_order_relaxed);
    }
  }
  // Every chunk is taken; wait for the ones running workers took.
  const std::uint32_t by_workers = static_cast<std::uint32_t>(tasks) - taken_here;
  for (int spin = 0; pool->done.load(std::memory_order_acquire) != by_workers; ++spin) {
    if (spin < kCallerSpinsBeforeYield) {
      cpu_relax();
    } else {
      std::this_thread::yield();
    }
  }
  pool->submitting.store(false, std::memory_order_release);
}

}  // namespace detail
}  // namespace adagrad

extern "C" {

adagrad_pool* adagrad_pool_create(size_t threads) {
  if (threads == 0) {
    const long online = sysconf(_SC_NPROCESSORS_ONLN);
    threads = online > 0 ? static_cast<std::size_t>(online) : 1;
    if (threads > ADAGRAD_POOL_MAX_THREADS) threads = ADAGRAD_POOL_MAX_THREADS;
  }
  if (threads > ADAGRAD_POOL_MAX_THREADS) return nullptr;
  auto* pool = new (std::nothrow) adagrad_pool;
  if (pool == nullptr) return nullptr;
  pool->threads = threads;
  if (threads == 1) return pool;
  pool->workers = new (std::nothrow) pthread_t[threads - 1];
  if (pool->workers == nullptr) {
    delete pool;
    return nullptr;
  }
  for (; pool->worker_count < threads - 1; ++pool->worker_count) {
    if (pthread_create(&pool->workers[pool->worker_count], nullptr, worker_main, pool) != 0) {
      stop_workers(pool);  // the ones started so far
      delete pool;
      return nullptr;
    }
  }
  return pool;
}

void adagrad_pool_destroy(adagrad_pool* pool) {
  if (pool == nullptr) return;
  stop_workers(pool);
  delete pool;
}

size_t adagrad_pool_threads(const adagrad_pool* pool) { return pool != nullptr ? pool->threads : 1; }

}  // extern "C"
