// SPDX-License-Identifier: BSD-3-Clause
// Steps spread over a caller-supplied adagrad_pool: one tensor
// (adagrad_step_parallel) or a model's whole parameter list
// (adagrad_step_multi). Both validate everything first, then split the total
// element range, across tensors, into a few chunks per thread.
#include <algorithm>
#include <cstddef>
#include <cstdint>

#include "adagrad/adagrad.h"
#include "dispatch.h"
#include "pool.h"
#include "step_constants.h"
#include "validate.h"

namespace adagrad {
namespace detail {
namespace {

constexpr std::size_t kCacheLineBytes = 64;

template <class T>
struct tensor_of;
template <>
struct tensor_of<float> {
  using type = adagrad_tensor;
};
template <>
struct tensor_of<double> {
  using type = adagrad_tensor_f64;
};

// A place in the concatenation of all tensors.
struct position {
  std::size_t tensor;
  std::size_t offset;
};

template <class T>
struct step_job {
  using tensor = typename tensor_of<T>::type;
  const tensor* tensors;
  std::size_t count;
  std::size_t total;  // elements in all tensors
  std::size_t elements_per_task;
  adagrad_status (*ukernel)(std::size_t, T*, const T*, T*, kernels::step_constants<T>);
  kernels::step_constants<T> constants;

  // Where global element `index` falls, moved forward to the next cache-line
  // boundary of that tensor's w (or its end), so that two tasks never write
  // the same line of w. Task k ends where task k + 1 starts: both compute the
  // same boundary with this function.
  position boundary(std::size_t index) const {
    std::size_t first = 0;
    for (std::size_t t = 0; t < count; ++t) {
      const std::size_t n = tensors[t].n;
      if (index < first + n) {
        std::size_t offset = index - first;
        const auto address = reinterpret_cast<std::uintptr_t>(tensors[t].w + offset);
        const std::size_t past_line = address % kCacheLineBytes;
        if (past_line != 0) offset += (kCacheLineBytes - past_line) / sizeof(T);
        return {t, offset < n ? offset : n};
      }
      first += n;
    }
    return {count, 0};
  }

  void run_range(position begin, position end) const {
    for (std::size_t t = begin.tensor; t < count && t <= end.tensor; ++t) {
      const std::size_t lo = t == begin.tensor ? begin.offset : 0;
      const std::size_t hi = t == end.tensor ? end.offset : tensors[t].n;
      if (hi > lo) {
        ukernel(hi - lo, tensors[t].w + lo, tensors[t].g + lo, tensors[t].G + lo, constants);
      }
    }
  }

  void run_task(std::size_t task) const {
    const std::size_t first = task * elements_per_task;
    if (first >= total) return;
    const std::size_t last = total - first > elements_per_task ? first + elements_per_task : total;
    // The first task starts at the very beginning, whatever w's alignment.
    const position begin = task == 0 ? position{0, 0} : boundary(first);
    run_range(begin, boundary(last));
  }
};

// One buffer of a tensor list, for the sorted overlap check: the bytes
// [begin, end) and whether the step writes them.
struct extent {
  std::uintptr_t begin;
  std::uintptr_t end;
  bool written;
  bool operator<(const extent& other) const { return begin < other.begin; }
};

// Lists of up to this many tensors are checked for overlap by sorting their
// buffers in an array on the stack (18 KiB): O(count log count). Comparing
// every pair made the check of 200 tensors of 1,000 elements take twice as
// long as their step (180 us against 56 us for one tensor of 200,000,
// bench/torch_bench.py's 200x1000 case); longer lists still compare pairs,
// so no list needs an allocation.
constexpr std::size_t kSortedOverlapTensors = 256;

// Whether a written buffer (a w or G) of the nonempty tensors shares a byte
// with any other buffer of the list (two gradients may): sorted by start,
// each buffer is compared with the furthest end reached so far by any
// buffer (if it is written) or by a written one (if it is read).
template <class T, class Tensor>
bool written_buffer_overlaps_sorted(const Tensor* tensors, std::size_t count) {
  extent extents[3 * kSortedOverlapTensors];
  std::size_t used = 0;
  for (std::size_t i = 0; i < count; ++i) {
    const Tensor& t = tensors[i];
    if (t.n == 0) continue;
    const std::size_t bytes = t.n * sizeof(T);
    const auto w = reinterpret_cast<std::uintptr_t>(t.w);
    const auto g = reinterpret_cast<std::uintptr_t>(t.g);
    const auto G = reinterpret_cast<std::uintptr_t>(t.G);
    extents[used++] = {w, w + bytes, true};
    extents[used++] = {g, g + bytes, false};
    extents[used++] = {G, G + bytes, true};
  }
  std::sort(extents, extents + used);
  std::uintptr_t any_end = 0;
  std::uintptr_t written_end = 0;
  for (std::size_t i = 0; i < used; ++i) {
    const extent& e = extents[i];
    if (e.begin < (e.written ? any_end : written_end)) return true;
    if (e.written) written_end = std::max(written_end, e.end);
    any_end = std::max(any_end, e.end);
  }
  return false;
}

template <class T, class Tensor>
adagrad_status check_tensors(const Tensor* tensors, std::size_t count, std::size_t* total) {
  if (count > 0 && tensors == nullptr) return ADAGRAD_ERROR_NULL_POINTER;
  std::size_t sum = 0;
  for (std::size_t i = 0; i < count; ++i) {
    const Tensor& t = tensors[i];
    const adagrad_status status = check_buffers(t.w, t.g, t.G, t.n);
    if (status != ADAGRAD_OK) return status;
    if (t.n > static_cast<std::size_t>(PTRDIFF_MAX) / sizeof(T) - sum) {
      return ADAGRAD_ERROR_SIZE_OVERFLOW;
    }
    sum += t.n;
  }
  // The descriptors are read again while the tasks run (boundary(),
  // run_range()), after the first writes: no written buffer may hold them.
  const std::size_t descriptor_bytes = count * sizeof(Tensor);
  for (std::size_t i = 0; i < count; ++i) {
    const Tensor& t = tensors[i];
    if (t.n == 0) continue;
    if (overlap(t.w, t.n * sizeof(T), tensors, descriptor_bytes) ||
        overlap(t.G, t.n * sizeof(T), tensors, descriptor_bytes)) {
      return ADAGRAD_ERROR_OVERLAP;
    }
  }
  // Every pair of tensors: a written buffer (w, G) of one may not touch any
  // buffer of the other; two gradients may be the same memory. (Within a
  // tensor, check_buffers refused any overlap already.)
  if (count <= kSortedOverlapTensors) {
    if (written_buffer_overlaps_sorted<T>(tensors, count)) return ADAGRAD_ERROR_OVERLAP;
    *total = sum;
    return ADAGRAD_OK;
  }
  for (std::size_t i = 0; i < count; ++i) {
    const Tensor& a = tensors[i];
    if (a.n == 0) continue;
    const std::size_t a_bytes = a.n * sizeof(T);
    for (std::size_t j = i + 1; j < count; ++j) {
      const Tensor& b = tensors[j];
      if (b.n == 0) continue;
      const std::size_t b_bytes = b.n * sizeof(T);
      const void* a_written[] = {a.w, a.G};
      const void* b_written[] = {b.w, b.G};
      for (const void* x : a_written) {
        if (overlap(x, a_bytes, b.w, b_bytes) || overlap(x, a_bytes, b.g, b_bytes) ||
            overlap(x, a_bytes, b.G, b_bytes)) {
          return ADAGRAD_ERROR_OVERLAP;
        }
      }
      for (const void* y : b_written) {
        if (overlap(a.g, a_bytes, y, b_bytes)) return ADAGRAD_ERROR_OVERLAP;
      }
    }
  }
  *total = sum;
  return ADAGRAD_OK;
}

template <class T>
adagrad_status step_tensors(const typename tensor_of<T>::type* tensors, std::size_t count,
                            const adagrad_params* p, adagrad_pool* pool) {
  step_job<T> job;
  adagrad_status status = make_constants(p, &job.constants);
  if (status != ADAGRAD_OK) return status;
  status = check_tensors<T>(tensors, count, &job.total);
  if (status != ADAGRAD_OK) return status;
  job.tensors = tensors;
  job.count = count;
  job.ukernel = dense_step_ukernel<T>(job.constants.fma);

  const std::size_t tasks = task_count(pool, job.total);
  job.elements_per_task = (job.total + tasks - 1) / tasks;
  if (tasks == 1) {
    job.run_range({0, 0}, {count, 0});
    return ADAGRAD_OK;
  }
  run_tasks(pool, tasks, job);
  return ADAGRAD_OK;
}

template <class T>
adagrad_status step_parallel(adagrad_pool* pool, T* w, const T* g, T* G, std::size_t n,
                             const adagrad_params* p) {
  const typename tensor_of<T>::type one = {w, g, G, n};
  return step_tensors<T>(&one, 1, p, pool);
}

}  // namespace
}  // namespace detail
}  // namespace adagrad

extern "C" {

adagrad_status adagrad_step_parallel(adagrad_pool* pool, float* w, const float* g, float* G,
                                     size_t n, const adagrad_params* p) {
  return adagrad::detail::step_parallel(pool, w, g, G, n, p);
}

adagrad_status adagrad_step_parallel_f64(adagrad_pool* pool, double* w, const double* g,
                                         double* G, size_t n, const adagrad_params* p) {
  return adagrad::detail::step_parallel(pool, w, g, G, n, p);
}

adagrad_status adagrad_step_multi(const adagrad_tensor* tensors, size_t count,
                                  const adagrad_params* p, adagrad_pool* pool) {
  return adagrad::detail::step_tensors<float>(tensors, count, p, pool);
}

adagrad_status adagrad_step_multi_f64(const adagrad_tensor_f64* tensors, size_t count,
                                      const adagrad_params* p, adagrad_pool* pool) {
  return adagrad::detail::step_tensors<double>(tensors, count, p, pool);
}

}  // extern "C"
