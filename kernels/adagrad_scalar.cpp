// SPDX-License-Identifier: BSD-3-Clause
// The scalar reference dense step: the test oracle, the fallback and the tail
// handler of every vector kernel. Compiled with the baseline flags and
// -fno-tree-vectorize, so it really is one element at a time.
#include <cmath>
#include <cstddef>
#include <cstdint>

#include "half_reference.h"
#include "ukernels.h"

namespace adagrad {
namespace kernels {
namespace {

// The seed notebook's order, one IEEE operation at a time. -ffp-contract=off
// (set for the whole build) keeps the compiler from fusing g*g + G or
// weight_decay*w + g into an FMA, which would round once instead of twice.

// g', step 1 of the documented order: the gradient negated if maximize, then
// weight decay added (fma mode: fused). Every reference step starts with it;
// the vector kernels' twin is modified_gradient in kernels/step_parts.hpp.
template <class T>
inline T modified_gradient(T grad, T w, const step_constants<T>& c) {
  if (c.maximize) grad = -grad;
  if (c.apply_weight_decay) {
    grad = c.fma ? std::fma(c.weight_decay, w, grad) : grad + c.weight_decay * w;
  }
  return grad;
}

// One element: the new weight and accumulator from w, g and G.
template <class T>
inline void dense_element(T& w, T g, T& G, const step_constants<T>& c) {
  const T grad = modified_gradient(g, w, c);
  if (c.torch_order) {
    // torch.optim.Adagrad's sparse path (ADAGRAD_DUPLICATES_TORCH): pow and
    // add_ apart (two roundings, also in fma mode), then add_(g / d,
    // alpha=-lr), one fused operation where torch's kernels fuse it.
    const T sum_sq = G + grad * grad;
    const T denom = c.eps_inside ? std::sqrt(sum_sq + c.eps) : std::sqrt(sum_sq) + c.eps;
    const T quotient = grad / denom;
    const T neg_lr = -c.lr;
    w = c.fma ? std::fma(neg_lr, quotient, w) : w + neg_lr * quotient;
    G = sum_sq;
    return;
  }
  const T sum_sq = c.fma ? std::fma(grad, grad, G) : G + grad * grad;
  const T denom = c.eps_inside ? std::sqrt(sum_sq + c.eps) : std::sqrt(sum_sq) + c.eps;
  w = w - (c.lr * grad) / denom;
  G = sum_sq;
}

template <class T>
void reference_dense_step(std::size_t n, T* w, const T* g, T* G, const step_constants<T>& c) {
  for (std::size_t i = 0; i < n; ++i) dense_element(w[i], g[i], G[i], c);
}

// ---- Mixed precision ----

float load_float(const void* p, std::size_t i, int type) {
  switch (type) {
    case ADAGRAD_DTYPE_BF16: return half::bf16_to_f32(static_cast<const std::uint16_t*>(p)[i]);
    case ADAGRAD_DTYPE_F16: return half::f16_to_f32(static_cast<const std::uint16_t*>(p)[i]);
    default: return static_cast<const float*>(p)[i];
  }
}

std::uint16_t round_to_half(float x, int type, bool stochastic, std::uint32_t random) {
  if (type == ADAGRAD_DTYPE_BF16) {
    return stochastic ? half::f32_to_bf16_stochastic(x, random) : half::f32_to_bf16(x);
  }
  return stochastic ? half::f32_to_f16_stochastic(x, random) : half::f32_to_f16(x);
}

void reference_mixed_step(std::size_t n, void* w, const void* g, float* G, void* copy,
                          std::uint32_t first_low, const mixed_constants& c) {
  const bool master = c.w_type == ADAGRAD_DTYPE_F32;
  for (std::size_t i = 0; i < n; ++i) {
    float grad = load_float(g, i, c.g_type);
    if (c.unscale) grad = grad / c.grad_scale;
    float weight = load_float(w, i, c.w_type);
    dense_element(weight, grad, G[i], c.step);
    const std::uint32_t random =
        c.stochastic ? half::random_bits(c.key, first_low + static_cast<std::uint32_t>(i)) : 0;
    if (master) {
      static_cast<float*>(w)[i] = weight;
      if (c.copy_type != ADAGRAD_DTYPE_F32) {
        static_cast<std::uint16_t*>(copy)[i] =
            round_to_half(weight, c.copy_type, c.stochastic, random);
      }
    } else {
      static_cast<std::uint16_t*>(w)[i] = round_to_half(weight, c.w_type, c.stochastic, random);
    }
  }
}


// copysign(max(|v| - threshold, 0), v), with NaN kept (NaN < 0 is false).
template <class T>
inline T shrink(T v, T threshold) {
  T m = std::fabs(v) - threshold;
  m = m < T(0) ? T(0) : m;
  return std::copysign(m, v);
}

template <class T>
void reference_proximal_step(std::size_t n, T* w, const T* g, T* G,
                             const composite_constants<T>& c) {
  const step_constants<T>& s = c.step;
  for (std::size_t i = 0; i < n; ++i) {
    const T grad = modified_gradient(g[i], w[i], s);
    const T sum_sq = s.fma ? std::fma(grad, grad, G[i]) : G[i] + grad * grad;
    const T denom = s.eps_inside ? std::sqrt(sum_sq + s.eps) : std::sqrt(sum_sq) + s.eps;
    const T rate = s.lr / denom;
    const T v = w[i] - rate * grad;
    const T u = c.has_l1 ? shrink(v, rate * c.l1) : v;
    w[i] = c.has_l2 ? u / (T(1) + rate * c.l2) : u;
    G[i] = sum_sq;
  }
}

template <class T>
void reference_da_step(std::size_t n, T* w, const T* g, T* z, T* G,
                       const composite_constants<T>& c) {
  const step_constants<T>& s = c.step;
  for (std::size_t i = 0; i < n; ++i) {
    // Weight decay reads w before it is overwritten.
    const T grad = modified_gradient(g[i], w[i], s);
    const T sum = z[i] + grad;
    const T sum_sq = s.fma ? std::fma(grad, grad, G[i]) : G[i] + grad * grad;
    const T denom = s.eps_inside ? std::sqrt(sum_sq + s.eps) : std::sqrt(sum_sq) + s.eps;
    const T u = c.has_l1 ? shrink(sum, c.da_l1) : sum;
    w[i] = (c.neg_lr * u) / (c.da_l2 + denom);
    z[i] = sum;
    G[i] = sum_sq;
  }
}

}  // namespace

void adagrad_mixed_ukernel__scalar(std::size_t n, void* w, const void* g, float* G, void* copy,
                                   std::uint32_t first_low, const mixed_constants* c) {
  reference_mixed_step(n, w, g, G, copy, first_low, *c);
}

bool adagrad_unscale_ukernel__scalar(std::size_t n, void* g, int g_type, float inv_scale) {
  bool found = false;
  for (std::size_t i = 0; i < n; ++i) {
    const float x = load_float(g, i, g_type);
    // Not finite: the exponent bits all ones (also under DAZ, which a
    // comparison with infinity would not survive for NaN).
    found |= (half::bits_of(x) & 0x7f800000u) == 0x7f800000u;
    const float y = x * inv_scale;
    if (g_type == ADAGRAD_DTYPE_F32) {
      static_cast<float*>(g)[i] = y;
    } else {
      static_cast<std::uint16_t*>(g)[i] = round_to_half(y, g_type, false, 0);
    }
  }
  return found;
}

void adagrad_to_half_ukernel__scalar(std::size_t n, const float* in, std::uint16_t* out,
                                     int type) {
  for (std::size_t i = 0; i < n; ++i) out[i] = round_to_half(in[i], type, false, 0);
}

void adagrad_from_half_ukernel__scalar(std::size_t n, const std::uint16_t* in, float* out,
                                       int type) {
  for (std::size_t i = 0; i < n; ++i) out[i] = load_float(in, i, type);
}

void adagrad_f32_proximal_ukernel__scalar(std::size_t n, float* w, const float* g, float* G,
                                          const composite_constants<float>* c) {
  reference_proximal_step(n, w, g, G, *c);
}
void adagrad_f64_proximal_ukernel__scalar(std::size_t n, double* w, const double* g, double* G,
                                          const composite_constants<double>* c) {
  reference_proximal_step(n, w, g, G, *c);
}
void adagrad_f32_da_ukernel__scalar(std::size_t n, float* w, const float* g, float* z, float* G,
                                    const composite_constants<float>* c) {
  reference_da_step(n, w, g, z, G, *c);
}
void adagrad_f64_da_ukernel__scalar(std::size_t n, double* w, const double* g, double* z, double* G,
                                    const composite_constants<double>* c) {
  reference_da_step(n, w, g, z, G, *c);
}

void adagrad_f32_rowwise_reduce_ukernel__scalar(std::size_t n, const float* w, const float* g,
                                                float* partial, step_constants<float> c) {
  for (std::size_t j = 0; j < n; ++j) {
    const float grad = modified_gradient(g[j], w[j], c);
    float& sum = partial[j % kRowwiseLanes];
    sum = c.fma ? std::fma(grad, grad, sum) : sum + grad * grad;
  }
}

void adagrad_f32_rowwise_update_ukernel__scalar(std::size_t n, float* w, const float* g, float rate,
                                                step_constants<float> c) {
  for (std::size_t j = 0; j < n; ++j) w[j] = w[j] - rate * modified_gradient(g[j], w[j], c);
}

float adagrad_f32_rowwise_rate(float* partial, std::size_t dim, float* G,
                               const step_constants<float>& c) {
  // The fixed tree: halves folded onto the lower lanes, as a vector register
  // folds its upper half onto its lower one, for any width up to 16 lanes.
  for (std::size_t half = kRowwiseLanes / 2; half > 0; half /= 2) {
    for (std::size_t k = 0; k < half; ++k) partial[k] = partial[k] + partial[k + half];
  }
  return adagrad_f32_rowwise_rate_of_sum(partial[0], dim, G, c);
}

float adagrad_f32_rowwise_rate_of_sum(float sum, std::size_t dim, float* G,
                                      const step_constants<float>& c) {
  // The mean, as FBGEMM and TorchRec take it: the sum divided by dim.
  const float sum_sq = *G + sum / static_cast<float>(dim);
  *G = sum_sq;
  const float denom = c.eps_inside ? std::sqrt(sum_sq + c.eps) : std::sqrt(sum_sq) + c.eps;
  return c.lr / denom;
}

void adagrad_f32_rowwise_rows_ukernel__scalar(std::size_t rows, std::size_t dim, float* w,
                                              const float* g, float* state,
                                              step_constants<float> c) {
  for (std::size_t r = 0; r < rows; ++r) {
    float partial[kRowwiseLanes] = {};
    adagrad_f32_rowwise_reduce_ukernel__scalar(dim, w, g, partial, c);
    const float rate = adagrad_f32_rowwise_rate(partial, dim, state + r, c);
    adagrad_f32_rowwise_update_ukernel__scalar(dim, w, g, rate, c);
    w += dim;
    g += dim;
  }
}

void adagrad_f32_sum_rows_ukernel__scalar(std::size_t n, std::size_t count,
                                          const float* const* rows, std::size_t column,
                                          const float* scales, float* out, bool accumulate) {
  for (std::size_t t = 0; t < n; ++t) {
    auto term = [&](std::size_t r) {
      const float x = rows[r][column + t];
      return scales != nullptr ? scales[r] * x : x;
    };
    std::size_t r = 0;
    float sum = accumulate ? out[t] : term(r++);
    for (; r < count; ++r) sum = sum + term(r);
    out[t] = sum;
  }
}

adagrad_status adagrad_f32_ukernel__scalar(std::size_t n, float* w, const float* g, float* G,
                                           step_constants<float> c) {
  reference_dense_step(n, w, g, G, c);
  return ADAGRAD_OK;
}

adagrad_status adagrad_f64_ukernel__scalar(std::size_t n, double* w, const double* g, double* G,
                                           step_constants<double> c) {
  reference_dense_step(n, w, g, G, c);
  return ADAGRAD_OK;
}

}  // namespace kernels
}  // namespace adagrad
