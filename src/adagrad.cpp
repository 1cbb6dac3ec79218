// The C API: validation, hyperparameter rounding and the call into the
// selected ukernel. Everything is checked before the first write.
#include "adagrad/adagrad.h"

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>

#include "dispatch.h"
#include "step_constants.h"

namespace adagrad {
namespace detail {
namespace {

// A hyperparameter is valid when it is finite, not negative, and not so
// large that rounding it to the element type overflows.
template <class T>
bool valid_hyperparameter(double value) {
  return std::isfinite(value) && value >= 0.0 &&
         value <= static_cast<double>(std::numeric_limits<T>::max());
}

template <class T>
adagrad_status make_constants(const adagrad_params* p, kernels::step_constants<T>* c) {
  if (p == nullptr) return ADAGRAD_ERROR_INVALID_PARAMS;
  if (!valid_hyperparameter<T>(p->lr) || !valid_hyperparameter<T>(p->eps) ||
      !valid_hyperparameter<T>(p->weight_decay) || !valid_hyperparameter<T>(p->lr_decay)) {
    return ADAGRAD_ERROR_INVALID_PARAMS;
  }
  if (p->eps_mode != ADAGRAD_EPS_OUTSIDE_SQRT && p->eps_mode != ADAGRAD_EPS_INSIDE_SQRT) {
    return ADAGRAD_ERROR_INVALID_PARAMS;
  }
  if (p->lr_decay != 0.0 && p->step == 0) return ADAGRAD_ERROR_INVALID_PARAMS;
  // torch.optim.Adagrad's clr, computed in double (Python's float) and then
  // rounded once, as every hyperparameter is. The denominator is >= 1, so
  // lr_t stays finite.
  double lr_t = p->lr;
  if (p->lr_decay != 0.0) {
    lr_t = p->lr / (1.0 + static_cast<double>(p->step - 1) * p->lr_decay);
  }
  c->lr = static_cast<T>(lr_t);
  c->eps = static_cast<T>(p->eps);
  c->weight_decay = static_cast<T>(p->weight_decay);
  c->apply_weight_decay = p->weight_decay != 0.0;
  c->maximize = p->maximize != 0;
  c->eps_inside = p->eps_mode == ADAGRAD_EPS_INSIDE_SQRT;
  return ADAGRAD_OK;
}

// True when [a, a + bytes) and [b, b + bytes) share a byte. Written with
// differences so that it cannot wrap around the address space.
bool overlap(const void* a, const void* b, std::size_t bytes) {
  const auto x = reinterpret_cast<std::uintptr_t>(a);
  const auto y = reinterpret_cast<std::uintptr_t>(b);
  return x < y ? y - x < bytes : x - y < bytes;
}

template <class T>
bool aligned(const T* p) {
  return reinterpret_cast<std::uintptr_t>(p) % alignof(T) == 0;
}

template <class T>
adagrad_status check_buffers(const T* w, const T* g, const T* G, std::size_t n) {
  // No object is larger than PTRDIFF_MAX bytes.
  if (n > static_cast<std::size_t>(PTRDIFF_MAX) / sizeof(T)) return ADAGRAD_ERROR_SIZE_OVERFLOW;
  if (n == 0) return ADAGRAD_OK;
  if (w == nullptr || g == nullptr || G == nullptr) return ADAGRAD_ERROR_NULL_POINTER;
  if (!aligned(w) || !aligned(g) || !aligned(G)) return ADAGRAD_ERROR_MISALIGNED;
  const std::size_t bytes = n * sizeof(T);
  if (overlap(w, g, bytes) || overlap(w, G, bytes) || overlap(g, G, bytes)) {
    return ADAGRAD_ERROR_OVERLAP;
  }
  return ADAGRAD_OK;
}

template <class T>
adagrad_status step(const isa_kernels* k, T* w, const T* g, T* G, std::size_t n,
                    const adagrad_params* p) {
  if (k == nullptr) return ADAGRAD_ERROR_UNSUPPORTED_ISA;
  kernels::step_constants<T> c;
  adagrad_status status = make_constants(p, &c);
  if (status != ADAGRAD_OK) return status;
  status = check_buffers(w, g, G, n);
  if (status != ADAGRAD_OK || n == 0) return status;
  ukernel_of(*k, g)(n, w, g, G, c);
  return ADAGRAD_OK;
}

}  // namespace
}  // namespace detail
}  // namespace adagrad

extern "C" {

adagrad_params adagrad_params_default(void) {
  adagrad_params p;
  p.lr = 0.01;
  p.eps = 1e-8;
  p.weight_decay = 0.0;
  p.lr_decay = 0.0;
  p.step = 1;
  p.maximize = 0;
  p.eps_mode = ADAGRAD_EPS_OUTSIDE_SQRT;
  return p;
}

adagrad_status adagrad_step(float* w, const float* g, float* G, size_t n, const adagrad_params* p) {
  return adagrad::detail::step(&adagrad::detail::active_kernels(), w, g, G, n, p);
}

adagrad_status adagrad_step_f64(double* w, const double* g, double* G, size_t n,
                                const adagrad_params* p) {
  return adagrad::detail::step(&adagrad::detail::active_kernels(), w, g, G, n, p);
}

adagrad_status adagrad_step_isa(adagrad_isa isa, float* w, const float* g, float* G, size_t n,
                                const adagrad_params* p) {
  return adagrad::detail::step(adagrad::detail::usable_kernels(isa), w, g, G, n, p);
}

adagrad_status adagrad_step_f64_isa(adagrad_isa isa, double* w, const double* g, double* G,
                                    size_t n, const adagrad_params* p) {
  return adagrad::detail::step(adagrad::detail::usable_kernels(isa), w, g, G, n, p);
}

const char* adagrad_status_string(adagrad_status status) {
  switch (status) {
    case ADAGRAD_OK: return "ok";
    case ADAGRAD_ERROR_NULL_POINTER: return "a buffer pointer is NULL while n > 0";
    case ADAGRAD_ERROR_MISALIGNED: return "a buffer is not aligned to its element size";
    case ADAGRAD_ERROR_OVERLAP: return "two of the buffers w, g and G overlap";
    case ADAGRAD_ERROR_INVALID_PARAMS:
      return "invalid hyperparameters: params is NULL, or lr, eps, weight_decay or lr_decay is "
             "NaN, infinite, negative or too large for the element type, or step is 0 while "
             "lr_decay != 0, or eps_mode is unknown";
    case ADAGRAD_ERROR_SIZE_OVERFLOW: return "n elements do not fit in the address space";
    case ADAGRAD_ERROR_UNSUPPORTED_ISA:
      return "the ISA is unknown, not built into this library or not usable on this CPU";
    case ADAGRAD_ERROR_SIZE_MISMATCH: return "the arrays passed have different lengths";
  }
  return "unknown status";
}

}  // extern "C"
