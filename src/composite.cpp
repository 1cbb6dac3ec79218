// SPDX-License-Identifier: BSD-3-Clause
// The dense composite steps: proximal AdaGrad and AdaGrad dual averaging
// (the sparse ones are in sparse.cpp). Everything is checked before the
// first write.
#include <cstddef>
#include <cstdint>

#include "adagrad/adagrad.h"
#include "dispatch.h"
#include "step_constants.h"
#include "validate.h"

namespace adagrad {
namespace detail {
namespace {

template <class T>
adagrad_status proximal_step(const isa_kernels* k, T* w, const T* g, T* G, std::size_t n,
                             const adagrad_params* p, const adagrad_regularization* r) {
  if (k == nullptr) return ADAGRAD_ERROR_UNSUPPORTED_ISA;
  kernels::composite_constants<T> c;
  adagrad_status status = make_composite_constants(p, r, false, &c);
  if (status != ADAGRAD_OK) return status;
  if (n == 0) return classify_buffers(w, g, G, n);
  status = check_buffers(w, g, G, n);
  if (status != ADAGRAD_OK) return status;
  proximal_of(*k, g)(n, w, g, G, &c);
  return ADAGRAD_OK;
}

// Four buffers (w, g, z, G): the dense step's checks on w, g and G, then z
// against each, in the same order of statuses.
template <class T>
adagrad_status check_da_buffers(const T* w, const T* g, const T* z, const T* G, std::size_t n) {
  adagrad_status status = classify_buffers(w, g, G, n);
  if (status != ADAGRAD_OK || n == 0) return status;
  if (z == nullptr) return ADAGRAD_ERROR_NULL_POINTER;
  if (misaligned(z, alignof(T))) return ADAGRAD_ERROR_MISALIGNED;
  const std::size_t bytes = n * sizeof(T);
  if (overlap(z, bytes, w, bytes) || overlap(z, bytes, g, bytes) || overlap(z, bytes, G, bytes)) {
    return ADAGRAD_ERROR_OVERLAP;
  }
  return ADAGRAD_OK;
}

template <class T>
adagrad_status da_step(const isa_kernels* k, T* w, const T* g, T* z, T* G, std::size_t n,
                       const adagrad_params* p, const adagrad_regularization* r) {
  if (k == nullptr) return ADAGRAD_ERROR_UNSUPPORTED_ISA;
  kernels::composite_constants<T> c;
  adagrad_status status = make_composite_constants(p, r, true, &c);
  if (status != ADAGRAD_OK) return status;
  status = check_da_buffers(w, g, z, G, n);
  if (status != ADAGRAD_OK || n == 0) return status;
  da_of(*k, g)(n, w, g, z, G, &c);
  return ADAGRAD_OK;
}

}  // namespace
}  // namespace detail
}  // namespace adagrad

extern "C" {

adagrad_status adagrad_proximal_step(float* w, const float* g, float* G, size_t n,
                                     const adagrad_params* p, const adagrad_regularization* r) {
  return adagrad::detail::proximal_step(&adagrad::detail::family_kernels(ADAGRAD_FAMILY_COMPOSITE),
                                        w, g, G, n, p, r);
}

adagrad_status adagrad_proximal_step_f64(double* w, const double* g, double* G, size_t n,
                                         const adagrad_params* p, const adagrad_regularization* r) {
  return adagrad::detail::proximal_step(&adagrad::detail::family_kernels(ADAGRAD_FAMILY_COMPOSITE),
                                        w, g, G, n, p, r);
}

adagrad_status adagrad_da_step(float* w, const float* g, float* z, float* G, size_t n,
                               const adagrad_params* p, const adagrad_regularization* r) {
  return adagrad::detail::da_step(&adagrad::detail::family_kernels(ADAGRAD_FAMILY_COMPOSITE), w, g,
                                  z, G, n, p, r);
}

adagrad_status adagrad_da_step_f64(double* w, const double* g, double* z, double* G, size_t n,
                                   const adagrad_params* p, const adagrad_regularization* r) {
  return adagrad::detail::da_step(&adagrad::detail::family_kernels(ADAGRAD_FAMILY_COMPOSITE), w, g,
                                  z, G, n, p, r);
}

adagrad_status adagrad_proximal_step_isa(adagrad_isa isa, float* w, const float* g, float* G,
                                         size_t n, const adagrad_params* p,
                                         const adagrad_regularization* r) {
  return adagrad::detail::proximal_step(adagrad::detail::usable_kernels(isa), w, g, G, n, p, r);
}

adagrad_status adagrad_proximal_step_f64_isa(adagrad_isa isa, double* w, const double* g, double* G,
                                             size_t n, const adagrad_params* p,
                                             const adagrad_regularization* r) {
  return adagrad::detail::proximal_step(adagrad::detail::usable_kernels(isa), w, g, G, n, p, r);
}

adagrad_status adagrad_da_step_isa(adagrad_isa isa, float* w, const float* g, float* z, float* G,
                                   size_t n, const adagrad_params* p,
                                   const adagrad_regularization* r) {
  return adagrad::detail::da_step(adagrad::detail::usable_kernels(isa), w, g, z, G, n, p, r);
}

adagrad_status adagrad_da_step_f64_isa(adagrad_isa isa, double* w, const double* g, double* z,
                                       double* G, size_t n, const adagrad_params* p,
                                       const adagrad_regularization* r) {
  return adagrad::detail::da_step(adagrad::detail::usable_kernels(isa), w, g, z, G, n, p, r);
}

}  // extern "C"
