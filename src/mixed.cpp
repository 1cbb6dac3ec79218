// SPDX-License-Identifier: BSD-3-Clause
// Mixed precision: validation and threading of the 16-bit steps, the master
// step with its copy, AMP's unscale pass and the conversions. Everything is
// checked before the first write.
#include <cstddef>
#include <cstdint>

#include "adagrad/adagrad.h"
#include "dispatch.h"
#include "half_reference.h"
#include "pool.h"
#include "step_constants.h"
#include "validate.h"

namespace adagrad {
namespace detail {
namespace {

bool valid_dtype(int type) {
  return type == ADAGRAD_DTYPE_F32 || type == ADAGRAD_DTYPE_BF16 || type == ADAGRAD_DTYPE_F16;
}
bool is_half(int type) { return type == ADAGRAD_DTYPE_BF16 || type == ADAGRAD_DTYPE_F16; }
std::size_t size_of(int type) { return type == ADAGRAD_DTYPE_F32 ? 4 : 2; }

// The options (NULL: defaults) into c; found_inf returned separately.
adagrad_status read_options(const adagrad_mixed_options* o, kernels::mixed_constants* c,
                            std::uint64_t* seed, const float** found_inf) {
  adagrad_mixed_options options = adagrad_mixed_options_default();
  if (o != nullptr) options = *o;
  const int rounding = enum_int(options.rounding);
  if (rounding != ADAGRAD_ROUND_NEAREST_EVEN && rounding != ADAGRAD_ROUND_STOCHASTIC) {
    return ADAGRAD_ERROR_INVALID_PARAMS;
  }
  // grad_scale: finite, > 0 and still > 0 as a float.
  if (!valid_hyperparameter<float>(options.grad_scale) ||
      !(static_cast<float>(options.grad_scale) > 0.0f)) {
    return ADAGRAD_ERROR_INVALID_PARAMS;
  }
  c->stochastic = rounding == ADAGRAD_ROUND_STOCHASTIC;
  c->grad_scale = static_cast<float>(options.grad_scale);
  c->unscale = options.grad_scale != 1.0;
  c->key = 0;
  *seed = options.seed;
  *found_inf = options.found_inf;
  return ADAGRAD_OK;
}

struct mixed_job {
  char* w;
  const char* g;
  float* G;
  char* copy;
  std::size_t w_size, g_size;
  std::size_t total;
  std::size_t elements_per_task;
  std::uint64_t seed, step;
  kernels::mixed_ukernel_fn ukernel;
  kernels::mixed_constants constants;

  // [begin, end), cut where the upper half of the index changes: the
  // stochastic-rounding counter is the lower half, keyed per segment.
  void run_range(std::size_t begin, std::size_t end) const {
    kernels::mixed_constants c = constants;
    while (begin < end) {
      const std::uint64_t upper = static_cast<std::uint64_t>(begin) >> 32;
      const std::uint64_t segment_end = (upper + 1) << 32;
      const std::size_t stop = static_cast<std::uint64_t>(end) < segment_end
                                   ? end
                                   : static_cast<std::size_t>(segment_end);
      if (c.stochastic) c.key = kernels::half::segment_key(seed, step, upper);
      ukernel(stop - begin, w + begin * w_size, g + begin * g_size, G + begin,
              copy != nullptr ? copy + begin * 2 : nullptr, static_cast<std::uint32_t>(begin), &c);
      begin = stop;
    }
  }

  void run_task(std::size_t task) const {
    const std::size_t first = task * elements_per_task;
    if (first >= total) return;
    run_range(first, total - first > elements_per_task ? first + elements_per_task : total);
  }
};

// Shared by the 16-bit step (w of w_type) and the master step (w float,
// optional copy).
adagrad_status mixed_step(const isa_kernels* k, void* w, int w_type, const void* g, int g_type,
                          float* G, void* copy, int copy_type, std::size_t n,
                          const adagrad_params* p, const adagrad_mixed_options* o,
                          adagrad_pool* pool) {
  if (k == nullptr) return ADAGRAD_ERROR_UNSUPPORTED_ISA;
  mixed_job job;
  adagrad_status status = make_constants(p, &job.constants.step);
  if (status != ADAGRAD_OK) return status;
  const float* found_inf = nullptr;
  status = read_options(o, &job.constants, &job.seed, &found_inf);
  if (status != ADAGRAD_OK) return status;
  if (!valid_dtype(g_type) || (copy != nullptr && !is_half(copy_type))) {
    return ADAGRAD_ERROR_INVALID_PARAMS;
  }
  if (n > static_cast<std::size_t>(PTRDIFF_MAX) / sizeof(float)) {
    return ADAGRAD_ERROR_SIZE_OVERFLOW;
  }
  if (n == 0) return ADAGRAD_OK;
  if (w == nullptr || g == nullptr || G == nullptr) return ADAGRAD_ERROR_NULL_POINTER;
  const std::size_t w_size = size_of(w_type), g_size = size_of(g_type);
  if (misaligned(w, w_size) || misaligned(g, g_size) || misaligned(G, 4) ||
      (copy != nullptr && misaligned(copy, 2)) ||
      (found_inf != nullptr && misaligned(found_inf, alignof(float)))) {
    return ADAGRAD_ERROR_MISALIGNED;
  }
  const std::size_t w_bytes = n * w_size, g_bytes = n * g_size, G_bytes = n * 4, copy_bytes = n * 2;
  if (overlap(w, w_bytes, g, g_bytes) || overlap(w, w_bytes, G, G_bytes) ||
      overlap(g, g_bytes, G, G_bytes) ||
      (copy != nullptr &&
       (overlap(copy, copy_bytes, w, w_bytes) || overlap(copy, copy_bytes, g, g_bytes) ||
        overlap(copy, copy_bytes, G, G_bytes)))) {
    return ADAGRAD_ERROR_OVERLAP;
  }
  // AMP: a step whose gradients overflowed changes nothing.
  if (found_inf != nullptr && *found_inf != 0.0f) return ADAGRAD_OK;

  job.constants.w_type = w_type;
  job.constants.g_type = g_type;
  job.constants.copy_type = copy != nullptr ? copy_type : ADAGRAD_DTYPE_F32;
  job.w = static_cast<char*>(w);
  job.g = static_cast<const char*>(g);
  job.G = G;
  job.copy = static_cast<char*>(copy);
  job.w_size = w_size;
  job.g_size = g_size;
  job.total = n;
  job.step = p->step;
  job.ukernel = k->mixed;
  const std::size_t tasks = task_count(pool, n);
  // Cuts on 64-element boundaries: whole cache lines of every buffer.
  job.elements_per_task = ((n + tasks - 1) / tasks + 63) / 64 * 64;
  run_tasks(pool, tasks, job);
  return ADAGRAD_OK;
}

// 16-bit weights only: float weights are adagrad_step's (or the master's).
adagrad_status mixed_16(const isa_kernels* k, void* w, int w_type, const void* g, int g_type,
                        float* G, std::size_t n, const adagrad_params* p,
                        const adagrad_mixed_options* o, adagrad_pool* pool) {
  if (k == nullptr) return ADAGRAD_ERROR_UNSUPPORTED_ISA;
  if (!is_half(w_type)) return ADAGRAD_ERROR_INVALID_PARAMS;
  return mixed_step(k, w, w_type, g, g_type, G, nullptr, ADAGRAD_DTYPE_F32, n, p, o, pool);
}

adagrad_status unscale_check(const isa_kernels* k, void* g, int g_type, std::size_t n,
                             double inv_scale, float* found_inf) {
  if (k == nullptr) return ADAGRAD_ERROR_UNSUPPORTED_ISA;
  if (!valid_dtype(g_type) || !valid_hyperparameter<float>(inv_scale)) {
    return ADAGRAD_ERROR_INVALID_PARAMS;
  }
  if (n > static_cast<std::size_t>(PTRDIFF_MAX) / sizeof(float)) {
    return ADAGRAD_ERROR_SIZE_OVERFLOW;
  }
  if (found_inf == nullptr || (n != 0 && g == nullptr)) return ADAGRAD_ERROR_NULL_POINTER;
  const std::size_t g_size = size_of(g_type);
  if (misaligned(found_inf, alignof(float)) || misaligned(g, g_size)) {
    return ADAGRAD_ERROR_MISALIGNED;
  }
  if (n == 0) return ADAGRAD_OK;
  if (overlap(found_inf, sizeof(float), g, n * g_size)) return ADAGRAD_ERROR_OVERLAP;
  if (k->unscale(n, g, g_type, static_cast<float>(inv_scale))) *found_inf = 1.0f;
  return ADAGRAD_OK;
}

template <class In, class Out>
adagrad_status check_conversion(const isa_kernels* k, const In* in, Out* out, std::size_t n,
                                int type) {
  if (k == nullptr) return ADAGRAD_ERROR_UNSUPPORTED_ISA;
  if (!is_half(type)) return ADAGRAD_ERROR_INVALID_PARAMS;
  if (n > static_cast<std::size_t>(PTRDIFF_MAX) / sizeof(float)) {
    return ADAGRAD_ERROR_SIZE_OVERFLOW;
  }
  if (n == 0) return ADAGRAD_OK;
  if (in == nullptr || out == nullptr) return ADAGRAD_ERROR_NULL_POINTER;
  if (misaligned(in, sizeof(In)) || misaligned(out, sizeof(Out))) return ADAGRAD_ERROR_MISALIGNED;
  if (overlap(in, n * sizeof(In), out, n * sizeof(Out))) return ADAGRAD_ERROR_OVERLAP;
  return ADAGRAD_OK;
}

adagrad_status to_half(const isa_kernels* k, const float* in, std::uint16_t* out, std::size_t n,
                       int type) {
  const adagrad_status status = check_conversion(k, in, out, n, type);
  if (status != ADAGRAD_OK || n == 0) return status;
  k->to_half(n, in, out, type);
  return ADAGRAD_OK;
}

adagrad_status from_half(const isa_kernels* k, const std::uint16_t* in, float* out, std::size_t n,
                         int type) {
  const adagrad_status status = check_conversion(k, in, out, n, type);
  if (status != ADAGRAD_OK || n == 0) return status;
  k->from_half(n, in, out, type);
  return ADAGRAD_OK;
}

}  // namespace
}  // namespace detail
}  // namespace adagrad

extern "C" {

adagrad_mixed_options adagrad_mixed_options_default(void) {
  adagrad_mixed_options o;
  o.rounding = ADAGRAD_ROUND_NEAREST_EVEN;
  o.seed = 0;
  o.grad_scale = 1.0;
  o.found_inf = NULL;
  return o;
}

adagrad_status adagrad_step_mixed(void* w, adagrad_dtype w_type, const void* g,
                                  adagrad_dtype g_type, float* G, size_t n, const adagrad_params* p,
                                  const adagrad_mixed_options* o, adagrad_pool* pool) {
  using namespace adagrad::detail;
  return mixed_16(&family_kernels(ADAGRAD_FAMILY_MIXED), w, enum_int(w_type), g, enum_int(g_type),
                  G, n, p, o, pool);
}

adagrad_status adagrad_step_mixed_isa(adagrad_isa isa, void* w, adagrad_dtype w_type, const void* g,
                                      adagrad_dtype g_type, float* G, size_t n,
                                      const adagrad_params* p, const adagrad_mixed_options* o,
                                      adagrad_pool* pool) {
  using namespace adagrad::detail;
  return mixed_16(usable_kernels(isa), w, enum_int(w_type), g, enum_int(g_type), G, n, p, o, pool);
}

adagrad_status adagrad_step_master(float* w, const void* g, adagrad_dtype g_type, float* G,
                                   void* w_copy, adagrad_dtype copy_type, size_t n,
                                   const adagrad_params* p, const adagrad_mixed_options* o,
                                   adagrad_pool* pool) {
  using namespace adagrad::detail;
  return mixed_step(&family_kernels(ADAGRAD_FAMILY_MIXED), w, ADAGRAD_DTYPE_F32, g,
                    enum_int(g_type), G, w_copy, enum_int(copy_type), n, p, o, pool);
}

adagrad_status adagrad_step_master_isa(adagrad_isa isa, float* w, const void* g,
                                       adagrad_dtype g_type, float* G, void* w_copy,
                                       adagrad_dtype copy_type, size_t n, const adagrad_params* p,
                                       const adagrad_mixed_options* o, adagrad_pool* pool) {
  using namespace adagrad::detail;
  return mixed_step(usable_kernels(isa), w, ADAGRAD_DTYPE_F32, g, enum_int(g_type), G, w_copy,
                    enum_int(copy_type), n, p, o, pool);
}

adagrad_status adagrad_unscale_check(void* g, adagrad_dtype g_type, size_t n, double inv_scale,
                                     float* found_inf) {
  using namespace adagrad::detail;
  return unscale_check(&family_kernels(ADAGRAD_FAMILY_MIXED), g, enum_int(g_type), n, inv_scale,
                       found_inf);
}

adagrad_status adagrad_unscale_check_isa(adagrad_isa isa, void* g, adagrad_dtype g_type, size_t n,
                                         double inv_scale, float* found_inf) {
  using namespace adagrad::detail;
  return unscale_check(usable_kernels(isa), g, enum_int(g_type), n, inv_scale, found_inf);
}

adagrad_status adagrad_convert_to_half(const float* in, uint16_t* out, size_t n,
                                       adagrad_dtype type) {
  using namespace adagrad::detail;
  return to_half(&family_kernels(ADAGRAD_FAMILY_MIXED), in, out, n, enum_int(type));
}

adagrad_status adagrad_convert_to_half_isa(adagrad_isa isa, const float* in, uint16_t* out,
                                           size_t n, adagrad_dtype type) {
  using namespace adagrad::detail;
  return to_half(usable_kernels(isa), in, out, n, enum_int(type));
}

adagrad_status adagrad_convert_from_half(const uint16_t* in, float* out, size_t n,
                                         adagrad_dtype type) {
  using namespace adagrad::detail;
  return from_half(&family_kernels(ADAGRAD_FAMILY_MIXED), in, out, n, enum_int(type));
}

adagrad_status adagrad_convert_from_half_isa(adagrad_isa isa, const uint16_t* in, float* out,
                                             size_t n, adagrad_dtype type) {
  using namespace adagrad::detail;
  return from_half(usable_kernels(isa), in, out, n, enum_int(type));
}

}  // extern "C"
