// SPDX-License-Identifier: BSD-3-Clause
// Tasks on a caller-supplied adagrad_pool, shared by every threaded entry
// point: the dense, many-tensor, sparse, row-wise and mixed-precision steps.
// The pool itself (its threads, how a step hands out chunks) is in pool.cpp.
#ifndef ADAGRAD_SRC_POOL_H_
#define ADAGRAD_SRC_POOL_H_

#include <cstddef>

#include "adagrad/adagrad.h"

namespace adagrad {
namespace detail {

// Below this many elements per task the pool costs more than it saves (a
// task of 32K floats moves 640 KB), so small steps stay on the caller.
constexpr std::size_t kMinElementsPerTask = 32768;
// A few tasks per thread let a thread that got a slower core or a later
// start catch up (and let the caller take a descheduled worker's share);
// more would only add scheduling.
constexpr std::size_t kTasksPerThread = 4;

// How many tasks `elements` elements of work are worth on pool: at most a
// few per thread, none smaller than kMinElementsPerTask; 1 means "run on the
// calling thread".
inline std::size_t task_count(const adagrad_pool* pool, std::size_t elements) {
  const std::size_t threads = adagrad_pool_threads(pool);
  if (threads <= 1) return 1;
  std::size_t tasks = elements / kMinElementsPerTask + (elements % kMinElementsPerTask != 0);
  if (tasks > threads * kTasksPerThread) tasks = threads * kTasksPerThread;
  return tasks > 1 ? tasks : 1;
}

// Runs task(context, k) for every k in [0, tasks) on pool and the calling
// thread, each with the caller's floating-point environment; returns when all
// are done. tasks <= ADAGRAD_POOL_MAX_THREADS * kTasksPerThread.
void run_pool_tasks(adagrad_pool* pool, std::size_t tasks, void (*task)(const void*, std::size_t),
                    const void* context);

// Runs job.run_task(k) for every k in [0, tasks): on the calling thread when
// tasks is 1, else on pool. Returns when all are done.
template <class Job>
void run_tasks(adagrad_pool* pool, std::size_t tasks, const Job& job) {
  if (tasks > 1 && pool != nullptr) {
    run_pool_tasks(
        pool, tasks,
        [](const void* context, std::size_t k) { static_cast<const Job*>(context)->run_task(k); },
        &job);
    return;
  }
  for (std::size_t k = 0; k < tasks; ++k) job.run_task(k);
}

}  // namespace detail
}  // namespace adagrad

#endif  // ADAGRAD_SRC_POOL_H_
