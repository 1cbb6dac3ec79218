// SPDX-License-Identifier: BSD-3-Clause
// Validation shared by every entry point: hyperparameters (rounded to the
// element type into the kernels' constants) and buffers. Nothing here writes
// to a buffer; the entry points call these before the first write.
#ifndef ADAGRAD_SRC_VALIDATE_H_
#define ADAGRAD_SRC_VALIDATE_H_

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <type_traits>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "adagrad/adagrad.h"
#include "step_constants.h"

namespace adagrad {
namespace detail {

// A hyperparameter is valid when it is finite, not negative, and not so
// large that rounding it to the element type overflows. NaN fails both
// comparisons, +inf the second: no separate isfinite.
template <class T>
inline bool valid_hyperparameter(double value) {
  return (value >= 0.0) & (value <= static_cast<double>(std::numeric_limits<T>::max()));
}

// lr, eps, weight_decay and lr_decay all valid: two compares per pair of
// doubles with SSE2 on x86-64 (part of its baseline); this runs on every
// call, also for n = 16.
template <class T>
inline bool valid_hyperparameters(const adagrad_params& p) {
#if defined(__SSE2__)
  static_assert(offsetof(adagrad_params, eps) == offsetof(adagrad_params, lr) + 8 &&
                    offsetof(adagrad_params, weight_decay) == offsetof(adagrad_params, lr) + 16 &&
                    offsetof(adagrad_params, lr_decay) == offsetof(adagrad_params, lr) + 24,
                "the four rates are consecutive doubles");
  const __m128d zero = _mm_setzero_pd();
  const __m128d max = _mm_set1_pd(static_cast<double>(std::numeric_limits<T>::max()));
  const __m128d lr_eps = _mm_loadu_pd(&p.lr);
  const __m128d decays = _mm_loadu_pd(&p.weight_decay);
  // Ordered compares: NaN fails both, +inf the second.
  const __m128d ok = _mm_and_pd(_mm_and_pd(_mm_cmpge_pd(lr_eps, zero), _mm_cmple_pd(lr_eps, max)),
                                _mm_and_pd(_mm_cmpge_pd(decays, zero), _mm_cmple_pd(decays, max)));
  return _mm_movemask_pd(ok) == 3;
#else
  return valid_hyperparameter<T>(p.lr) & valid_hyperparameter<T>(p.eps) &
         valid_hyperparameter<T>(p.weight_decay) & valid_hyperparameter<T>(p.lr_decay);
#endif
}

// torch.optim.Adagrad's clr, computed in double (Python's float) and then
// rounded once, as every hyperparameter is. The denominator is >= 1, so lr_t
// stays finite. Only for validated parameters: lr_decay is then not NaN, and
// "> 0" (one flag test) means "!= 0".
inline double decayed_lr(const adagrad_params& p) {
  if (!(p.lr_decay > 0.0)) return p.lr;
  return p.lr / (1.0 + static_cast<double>(p.step - 1) * p.lr_decay);
}

template <class T>
adagrad_status make_constants(const adagrad_params* p, kernels::step_constants<T>* c) {
  if (p == nullptr) return ADAGRAD_ERROR_INVALID_PARAMS;
  // A C caller may have stored any int in the enum; loading an enum object
  // whose value is outside the enumerators' range is undefined in C++, so
  // its bytes are read as the underlying integer instead.
  std::underlying_type_t<adagrad_eps_mode> eps_mode;
  std::memcpy(&eps_mode, &p->eps_mode, sizeof eps_mode);
  const bool valid = valid_hyperparameters<T>(*p) &&
                     (eps_mode == ADAGRAD_EPS_OUTSIDE_SQRT || eps_mode == ADAGRAD_EPS_INSIDE_SQRT) &&
                     !(p->lr_decay > 0.0 && p->step == 0);
  if (!valid) return ADAGRAD_ERROR_INVALID_PARAMS;
  c->lr = static_cast<T>(decayed_lr(*p));
  c->eps = static_cast<T>(p->eps);
  c->weight_decay = static_cast<T>(p->weight_decay);
  c->apply_weight_decay = p->weight_decay > 0.0;  // valid, so "!= 0" (-0.0 is 0)
  c->maximize = p->maximize != 0;
  c->eps_inside = eps_mode == ADAGRAD_EPS_INSIDE_SQRT;
  c->fma = p->fma != 0;
  c->torch_order = false;
  return ADAGRAD_OK;
}

// The composite steps' constants: the dense step's, then the regularization
// (l1, l2 valid hyperparameters), and for dual averaging the global step
// t = p->step >= 1 with t * l1 and l2 * t * lr_t, computed in double, finite
// in T. A term is applied when its coefficient is nonzero before rounding,
// as weight decay is.
template <class T>
adagrad_status make_composite_constants(const adagrad_params* p, const adagrad_regularization* r,
                                        bool dual_averaging, kernels::composite_constants<T>* c) {
  const adagrad_status status = make_constants(p, &c->step);
  if (status != ADAGRAD_OK) return status;
  if (r == nullptr || !(valid_hyperparameter<T>(r->l1) && valid_hyperparameter<T>(r->l2))) {
    return ADAGRAD_ERROR_INVALID_PARAMS;
  }
  c->l1 = static_cast<T>(r->l1);
  c->l2 = static_cast<T>(r->l2);
  c->has_l1 = r->l1 != 0.0;
  c->has_l2 = r->l2 != 0.0;
  c->da_l1 = T(0);
  c->da_l2 = T(0);
  c->neg_lr = -c->step.lr;
  if (dual_averaging) {
    if (p->step == 0) return ADAGRAD_ERROR_INVALID_PARAMS;
    const auto t = static_cast<double>(p->step);
    const double threshold = t * r->l1;
    const double offset = r->l2 * t * decayed_lr(*p);
    if (!(valid_hyperparameter<T>(threshold) && valid_hyperparameter<T>(offset))) {
      return ADAGRAD_ERROR_INVALID_PARAMS;
    }
    c->da_l1 = static_cast<T>(threshold);
    c->da_l2 = static_cast<T>(offset);
  }
  return ADAGRAD_OK;
}

// True when p is not a multiple of alignment.
inline bool misaligned(const void* p, std::size_t alignment) {
  return reinterpret_cast<std::uintptr_t>(p) % alignment != 0;
}

// True when [a, a + a_bytes) and [b, b + b_bytes) share a byte. Written with
// differences so that it cannot wrap around the address space.
inline bool overlap(const void* a, std::size_t a_bytes, const void* b, std::size_t b_bytes) {
  const auto x = reinterpret_cast<std::uintptr_t>(a);
  const auto y = reinterpret_cast<std::uintptr_t>(b);
  return x < y ? y - x < a_bytes : x - y < b_bytes;
}

// Error paths out of line, so the checks every call runs stay short and need
// no saved registers.
#if defined(__GNUC__)
#define ADAGRAD_COLD __attribute__((noinline, cold))
#else
#define ADAGRAD_COLD
#endif

// The detailed check, in the documented order of statuses.
template <class T>
ADAGRAD_COLD adagrad_status classify_buffers(const T* w, const T* g, const T* G, std::size_t n) {
  // No object is larger than PTRDIFF_MAX bytes.
  if (n > static_cast<std::size_t>(PTRDIFF_MAX) / sizeof(T)) return ADAGRAD_ERROR_SIZE_OVERFLOW;
  if (n == 0) return ADAGRAD_OK;
  if ((w == nullptr) | (g == nullptr) | (G == nullptr)) return ADAGRAD_ERROR_NULL_POINTER;
  const auto addresses = reinterpret_cast<std::uintptr_t>(w) | reinterpret_cast<std::uintptr_t>(g) |
                         reinterpret_cast<std::uintptr_t>(G);
  if (addresses % alignof(T) != 0) return ADAGRAD_ERROR_MISALIGNED;
  const std::size_t bytes = n * sizeof(T);
  if (overlap(w, bytes, g, bytes) || overlap(w, bytes, G, bytes) || overlap(g, bytes, G, bytes)) {
    return ADAGRAD_ERROR_OVERLAP;
  }
  return ADAGRAD_OK;
}

// Every call runs this, also for n = 16, so the common case is a few
// compare-and-branch pairs (each one fused micro-op, always predicted: faster
// than combining flags with `&` in the call/ rows of
// bench/dense_step_bench.cc at n = 16); only a failure pays for finding out which status (classify_buffers). Two ranges of `bytes` bytes at x and y overlap exactly
// when the wrapped difference x - y lies in (-bytes, bytes), that is when
// x - y + (bytes - 1) < 2 * bytes - 1 in unsigned arithmetic.
template <class T>
inline adagrad_status check_buffers(const T* w, const T* g, const T* G, std::size_t n) {
  const auto a = reinterpret_cast<std::uintptr_t>(w);
  const auto b = reinterpret_cast<std::uintptr_t>(g);
  const auto c = reinterpret_cast<std::uintptr_t>(G);
  const std::uintptr_t bytes = n * sizeof(T);
  const std::uintptr_t window = 2 * bytes - 1;
  const bool fine = (n - 1 < static_cast<std::size_t>(PTRDIFF_MAX) / sizeof(T)) &&  // 0 < n <= max
                    a != 0 && b != 0 && c != 0 && (a | b | c) % alignof(T) == 0 &&
                    a - b + (bytes - 1) >= window && a - c + (bytes - 1) >= window &&
                    b - c + (bytes - 1) >= window;
  return fine ? ADAGRAD_OK : classify_buffers(w, g, G, n);
}

}  // namespace detail
}  // namespace adagrad

#endif  // ADAGRAD_SRC_VALIDATE_H_
