// SPDX-License-Identifier: BSD-3-Clause
// Tasks on a caller-supplied pthreadpool, shared by every threaded entry
// point: the dense, many-tensor, sparse and row-wise steps.
#ifndef ADAGRAD_SRC_POOL_H_
#define ADAGRAD_SRC_POOL_H_

#include <cfenv>
#include <cstddef>

#if ADAGRAD_HAVE_PTHREADPOOL
#include <pthreadpool.h>
#endif

struct pthreadpool;

// ThreadSanitizer cannot see how Debian's pthreadpool (built without
// -fsanitize=thread) hands a task to a worker and waits for it: its
// synchronization lives in uninstrumented code. The pool's documented order,
// "everything before pthreadpool_parallelize_1d happens before each task, and
// each task happens before it returns", is told to TSan with these two
// annotations, so a TSan build reports races in this library's code and no
// suppression is needed (tests/run --sanitize runs the pool tests under it).
#if defined(__SANITIZE_THREAD__)
#define ADAGRAD_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define ADAGRAD_TSAN 1
#endif
#endif
#if defined(ADAGRAD_TSAN)
extern "C" void __tsan_acquire(void* addr);
extern "C" void __tsan_release(void* addr);
#endif

namespace adagrad {
namespace detail {

// Below this many elements per task the pool costs more than it saves (a
// task of 32K floats moves 640 KB), so small steps stay on the caller.
constexpr std::size_t kMinElementsPerTask = 32768;
// A few tasks per thread let a thread that got a slower core or a later
// start catch up; more would only add scheduling.
constexpr std::size_t kTasksPerThread = 4;

// Threads of pool; 1 for NULL, and for every pool in a build without
// pthreadpool (a cross build that lacks it: every step runs on the caller).
inline std::size_t pool_threads(struct pthreadpool* pool) {
#if ADAGRAD_HAVE_PTHREADPOOL
  return pool != nullptr ? pthreadpool_get_threads_count(pool) : 1;
#else
  (void)pool;
  return 1;
#endif
}

// How many tasks `elements` elements of work are worth on pool: at most a
// few per thread, none smaller than kMinElementsPerTask; 1 means "run on the
// calling thread".
inline std::size_t task_count(struct pthreadpool* pool, std::size_t elements) {
  const std::size_t threads = pool_threads(pool);
  if (threads <= 1) return 1;
  std::size_t tasks = elements / kMinElementsPerTask + (elements % kMinElementsPerTask != 0);
  if (tasks > threads * kTasksPerThread) tasks = threads * kTasksPerThread;
  return tasks > 1 ? tasks : 1;
}

template <class Job>
struct pool_context {
  const Job* job;
  std::fenv_t caller_environment;

  static void run(void* context, std::size_t task) {
#if defined(ADAGRAD_TSAN)
    __tsan_acquire(context);
#endif
    const auto& self = *static_cast<const pool_context*>(context);
    // Workers run with the caller's rounding mode and FTZ/DAZ, so every
    // thread rounds as a single-threaded step would; theirs is restored.
    std::fenv_t worker_environment;
    std::fegetenv(&worker_environment);
    std::fesetenv(&self.caller_environment);
    self.job->run_task(task);
    std::fesetenv(&worker_environment);
#if defined(ADAGRAD_TSAN)
    __tsan_release(context);
#endif
  }
};

// Runs job.run_task(k) for every k in [0, tasks): on the calling thread when
// tasks is 1, else on pool. Returns when all are done.
template <class Job>
void run_tasks(struct pthreadpool* pool, std::size_t tasks, const Job& job) {
#if ADAGRAD_HAVE_PTHREADPOOL
  if (tasks > 1) {
    pool_context<Job> context;
    context.job = &job;
    std::fegetenv(&context.caller_environment);
#if defined(ADAGRAD_TSAN)
    __tsan_release(&context);
#endif
    pthreadpool_parallelize_1d(pool, &pool_context<Job>::run, &context, tasks, 0);
#if defined(ADAGRAD_TSAN)
    __tsan_acquire(&context);
#endif
    return;
  }
#else
  (void)pool;
#endif
  for (std::size_t k = 0; k < tasks; ++k) job.run_task(k);
}

}  // namespace detail
}  // namespace adagrad

#endif  // ADAGRAD_SRC_POOL_H_
