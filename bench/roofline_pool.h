// SPDX-License-Identifier: BSD-3-Clause
// The threads the rooflines split their loops over (the steps themselves run
// on the library's adagrad_pool). pthreadpool where the build found it
// (ADAGRAD_BENCH_HAVE_PTHREADPOOL, bench/run); else a small fork-join pool of
// std::threads with the same call, for the static benchmark bundle
// (bench/bundle): Debian ships pthreadpool as a shared library only. Either
// way a call hands out tiles of [0, range) to the workers and the calling
// thread and returns when every tile is done. kName goes into the run's
// context (roofline_pool) so a report says which one measured.
#ifndef ADAGRAD_BENCH_ROOFLINE_POOL_H_
#define ADAGRAD_BENCH_ROOFLINE_POOL_H_

#include <cstddef>

#if ADAGRAD_BENCH_HAVE_PTHREADPOOL
#include <pthreadpool.h>
#else
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>
#endif

namespace adagrad_bench {

using roofline_task = void (*)(void* context, std::size_t start, std::size_t count);

#if ADAGRAD_BENCH_HAVE_PTHREADPOOL

class roofline_pool {
 public:
  static constexpr const char* kName = "pthreadpool";
  explicit roofline_pool(std::size_t threads) : pool_(pthreadpool_create(threads)) {}
  ~roofline_pool() { pthreadpool_destroy(pool_); }
  roofline_pool(const roofline_pool&) = delete;
  roofline_pool& operator=(const roofline_pool&) = delete;

  void parallelize(roofline_task task, void* context, std::size_t range, std::size_t tile) {
    pthreadpool_parallelize_1d_tile_1d(pool_, task, context, range, tile, 0);
  }

 private:
  pthreadpool_t pool_;
};

#else

class roofline_pool {
 public:
  static constexpr const char* kName = "std::thread fork-join (bench/roofline_pool.h)";
  // threads - 1 workers; the calling thread is the last one.
  explicit roofline_pool(std::size_t threads) {
    for (std::size_t i = 1; i < threads; ++i) workers_.emplace_back([this] { work(); });
  }
  ~roofline_pool() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stop_ = true;
    }
    wake_.notify_all();
    for (std::thread& worker : workers_) worker.join();
  }
  roofline_pool(const roofline_pool&) = delete;
  roofline_pool& operator=(const roofline_pool&) = delete;

  void parallelize(roofline_task task, void* context, std::size_t range, std::size_t tile) {
    if (range == 0) return;
    if (tile == 0) tile = range;
    if (workers_.empty()) {
      task(context, 0, range);
      return;
    }
    task_ = task;
    context_ = context;
    range_ = range;
    tile_ = tile;
    next_.store(0, std::memory_order_relaxed);
    pending_.store(workers_.size(), std::memory_order_relaxed);
    {
      std::lock_guard<std::mutex> lock(mutex_);
      generation_.fetch_add(1, std::memory_order_release);
    }
    wake_.notify_all();
    run_tiles();
    // The workers finish their last tile and check in; spinning here keeps
    // the wake-up of the next call off the measured time's critical path.
    while (pending_.load(std::memory_order_acquire) != 0) std::this_thread::yield();
  }

 private:
  void run_tiles() {
    for (;;) {
      const std::size_t start = next_.fetch_add(tile_, std::memory_order_relaxed);
      if (start >= range_) return;
      task_(context_, start, range_ - start < tile_ ? range_ - start : tile_);
    }
  }

  void work() {
    std::size_t seen = 0;
    for (;;) {
      // Spin briefly (a timed loop calls again at once), then sleep.
      for (int spin = 0; spin < 4096 && generation_.load(std::memory_order_acquire) == seen;
           ++spin) {
      }
      {
        std::unique_lock<std::mutex> lock(mutex_);
        wake_.wait(lock, [&] {
          return stop_ || generation_.load(std::memory_order_acquire) != seen;
        });
        if (stop_) return;
      }
      seen = generation_.load(std::memory_order_acquire);
      run_tiles();
      pending_.fetch_sub(1, std::memory_order_acq_rel);
    }
  }

  std::vector<std::thread> workers_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stop_ = false;
  std::atomic<std::size_t> generation_{0};
  std::atomic<std::size_t> next_{0};
  std::atomic<std::size_t> pending_{0};
  roofline_task task_ = nullptr;
  void* context_ = nullptr;
  std::size_t range_ = 0, tile_ = 0;
};

#endif

}  // namespace adagrad_bench

#endif  // ADAGRAD_BENCH_ROOFLINE_POOL_H_
