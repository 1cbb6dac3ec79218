// SPDX-License-Identifier: BSD-3-Clause
// The C API: validation, hyperparameter rounding and the call into the
// selected ukernel. Everything is checked before the first write.
#include "adagrad/adagrad.h"

#include <cstddef>
#include <cstdint>

#include "dispatch.h"
#include "step_constants.h"
#include "validate.h"

namespace adagrad {
namespace detail {
namespace {

// k is the pinned ISA's kernels, or nullptr for the dispatched ones (the
// dense family of T, or the fma family when params.fma asks for it).
template <class T>
adagrad_status step(const isa_kernels* k, T* w, const T* g, T* G, std::size_t n,
                    const adagrad_params* p) {
  kernels::step_constants<T> c;
  adagrad_status status = make_constants(p, &c);
  if (status != ADAGRAD_OK) return status;
  if (n == 0) return classify_buffers(w, g, G, n);
  status = check_buffers(w, g, G, n);
  if (status != ADAGRAD_OK) return status;
  // A tail call: nothing of this frame is needed afterwards.
  return (k != nullptr ? ukernel_of(*k, g) : dense_step_ukernel<T>(c.fma))(n, w, g, G, c);
}

template <class T>
adagrad_status step_isa(const adagrad_isa& isa, T* w, const T* g, T* G, std::size_t n,
                        const adagrad_params* p) {
  const isa_kernels* k = usable_kernels(isa);
  if (k == nullptr) return ADAGRAD_ERROR_UNSUPPORTED_ISA;
  return step(k, w, g, G, n, p);
}

template <class T>
adagrad_status state_init(T* G, std::size_t n, double value) {
  if (!valid_hyperparameter<T>(value)) return ADAGRAD_ERROR_INVALID_PARAMS;
  if (n > static_cast<std::size_t>(PTRDIFF_MAX) / sizeof(T)) return ADAGRAD_ERROR_SIZE_OVERFLOW;
  if (n == 0) return ADAGRAD_OK;
  if (G == nullptr) return ADAGRAD_ERROR_NULL_POINTER;
  if (misaligned(G, alignof(T))) return ADAGRAD_ERROR_MISALIGNED;
  const T rounded = static_cast<T>(value);
  for (std::size_t i = 0; i < n; ++i) G[i] = rounded;
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
  p.fma = 0;
  return p;
}

adagrad_params adagrad_params_preset(adagrad_preset preset) {
  adagrad_params p = adagrad_params_default();
  switch (adagrad::detail::enum_int(preset)) {
    case ADAGRAD_PRESET_SEED: break;
    case ADAGRAD_PRESET_PYTORCH: p.eps = 1e-10; break;
    case ADAGRAD_PRESET_KERAS:
      p.lr = 0.001;
      p.eps = 1e-7;
      p.eps_mode = ADAGRAD_EPS_INSIDE_SQRT;
      break;
    case ADAGRAD_PRESET_TENSORFLOW:
      p.lr = 0.001;
      p.eps = 1e-7;
      break;
  }
  return p;
}

double adagrad_preset_initial_accumulator(adagrad_preset preset) {
  switch (adagrad::detail::enum_int(preset)) {
    case ADAGRAD_PRESET_SEED:
    case ADAGRAD_PRESET_PYTORCH: return 0.0;
    case ADAGRAD_PRESET_KERAS:
    case ADAGRAD_PRESET_TENSORFLOW: return 0.1;
  }
  return -1.0;
}

adagrad_status adagrad_state_init(float* G, size_t n, double value) {
  return adagrad::detail::state_init(G, n, value);
}

adagrad_status adagrad_state_init_f64(double* G, size_t n, double value) {
  return adagrad::detail::state_init(G, n, value);
}

adagrad_status adagrad_step(float* w, const float* g, float* G, size_t n, const adagrad_params* p) {
  return adagrad::detail::step(static_cast<const adagrad::detail::isa_kernels*>(nullptr), w, g, G,
                               n, p);
}

adagrad_status adagrad_step_f64(double* w, const double* g, double* G, size_t n,
                                const adagrad_params* p) {
  return adagrad::detail::step(static_cast<const adagrad::detail::isa_kernels*>(nullptr), w, g, G,
                               n, p);
}

adagrad_status adagrad_step_isa(adagrad_isa isa, float* w, const float* g, float* G, size_t n,
                                const adagrad_params* p) {
  return adagrad::detail::step_isa(isa, w, g, G, n, p);
}

adagrad_status adagrad_step_f64_isa(adagrad_isa isa, double* w, const double* g, double* G,
                                    size_t n, const adagrad_params* p) {
  return adagrad::detail::step_isa(isa, w, g, G, n, p);
}

#define ADAGRAD_STRINGIFY_(x) #x
#define ADAGRAD_STRINGIFY(x) ADAGRAD_STRINGIFY_(x)
const char* adagrad_version(void) {
  return ADAGRAD_STRINGIFY(ADAGRAD_VERSION_MAJOR) "." ADAGRAD_STRINGIFY(
      ADAGRAD_VERSION_MINOR) "." ADAGRAD_STRINGIFY(ADAGRAD_VERSION_PATCH);
}
#undef ADAGRAD_STRINGIFY
#undef ADAGRAD_STRINGIFY_

const char* adagrad_status_string(adagrad_status status) {
  switch (adagrad::detail::enum_int(status)) {
    case ADAGRAD_OK: return "ok";
    case ADAGRAD_ERROR_NULL_POINTER: return "a buffer pointer is NULL while n > 0";
    case ADAGRAD_ERROR_MISALIGNED: return "a buffer is not aligned to its element size";
    case ADAGRAD_ERROR_OVERLAP:
      return "two buffers overlap (w, g and G; or a buffer a sparse step writes and any other)";
    case ADAGRAD_ERROR_INVALID_PARAMS:
      return "invalid hyperparameters: params is NULL, or lr, eps, weight_decay or lr_decay is "
             "NaN, infinite, negative or too large for the element type, or step is 0 while "
             "lr_decay != 0, or eps_mode (or a sparse step's duplicates mode) is unknown";
    case ADAGRAD_ERROR_SIZE_OVERFLOW: return "n elements do not fit in the address space";
    case ADAGRAD_ERROR_UNSUPPORTED_ISA:
      return "the ISA is unknown, not built into this library or not usable on this CPU";
    case ADAGRAD_ERROR_SIZE_MISMATCH: return "the arrays passed have different lengths";
    case ADAGRAD_ERROR_INDEX_OUT_OF_RANGE:
      return "an index of the sparse batch is negative or not below num_rows";
    case ADAGRAD_ERROR_WORKSPACE_TOO_SMALL:
      return "the workspace is NULL or smaller than adagrad_sparse_workspace_size()";
    case ADAGRAD_ERROR_INVALID_OFFSETS:
      return "an embedding-bag step's offsets do not start at 0, decrease, or do not end at "
             "num_indices";
    case ADAGRAD_ERROR_UNAVAILABLE: return "the operating system does not say (no /proc/self/smaps)";
  }
  return "unknown status";
}

}  // extern "C"
