// SPDX-License-Identifier: BSD-3-Clause
// The function types of the microkernels and their declarations: the
// scalar reference and one per ISA of include/adagrad/isa_list.h, for every
// kernel of kernels/kernel_list.h, named by the XNNPACK rule
// <kernel>__<isa>.
//
// Every ukernel updates n elements in the order documented in
// include/adagrad/adagrad.h. It trusts its caller: the pointers are valid for
// n elements, aligned to the element size and pairwise disjoint. It takes the
// constants by value (16 bytes: two registers) and returns ADAGRAD_OK, so
// that an entry point can end in a tail call to it.
#ifndef ADAGRAD_KERNELS_UKERNELS_H_
#define ADAGRAD_KERNELS_UKERNELS_H_

#include <cstddef>
#include <cstdint>

#include "adagrad/adagrad.h"
#include "kernel_list.h"
#include "step_constants.h"

namespace adagrad {
namespace kernels {

using f32_ukernel = adagrad_status(std::size_t n, float* w, const float* g, float* G,
                                   step_constants<float> c);
using f64_ukernel = adagrad_status(std::size_t n, double* w, const double* g, double* G,
                                   step_constants<double> c);
using f32_ukernel_fn = f32_ukernel*;
using f64_ukernel_fn = f64_ukernel*;

// Composite steps (documented in include/adagrad/adagrad.h): proximal AdaGrad
// (state G) and AdaGrad dual averaging (states z and G, w only written).
template <class T>
using proximal_ukernel = void(std::size_t n, T* w, const T* g, T* G,
                              const composite_constants<T>* c);
template <class T>
using da_ukernel = void(std::size_t n, T* w, const T* g, T* z, T* G,
                        const composite_constants<T>* c);
template <class T>
using proximal_ukernel_fn = proximal_ukernel<T>*;
template <class T>
using da_ukernel_fn = da_ukernel<T>*;

// Mixed precision (include/adagrad/adagrad.h): the step on n elements whose
// indices are first_low + [0, n) within the current 2^32 segment (the
// counter of stochastic rounding); w is float* (master) or uint16_t*, g of
// c->g_type, copy uint16_t* or unused. unscale: g *= inv_scale in place,
// returns whether any input was not finite. Conversions to and from 16 bits,
// nearest-even.
using mixed_ukernel = void(std::size_t n, void* w, const void* g, float* G, void* copy,
                           std::uint32_t first_low, const mixed_constants* c);
using unscale_ukernel = bool(std::size_t n, void* g, int g_type, float inv_scale);
using to_half_ukernel = void(std::size_t n, const float* in, std::uint16_t* out, int type);
using from_half_ukernel = void(std::size_t n, const std::uint16_t* in, float* out, int type);
using mixed_ukernel_fn = mixed_ukernel*;
using unscale_ukernel_fn = unscale_ukernel*;
using to_half_ukernel_fn = to_half_ukernel*;
using from_half_ukernel_fn = from_half_ukernel*;

// Row-wise AdaGrad (one accumulator per row; the order and the canonical
// sixteen-lane reduction are documented in include/adagrad/adagrad.h), in
// three ukernels so that a caller can also feed a row in column chunks (the
// sparse step sums duplicate gradients chunk by chunk):
//  - reduce: partial[j % 16] += g'_j * g'_j for j in [0, n), where g' is the
//    gradient after maximize and weight decay; lane 0 is the first element,
//    so every chunk but the last must hold a multiple of 16 elements;
//  - update: w_j = w_j - rate * g'_j for j in [0, n);
//  - rows: `rows` whole contiguous rows of dim elements, each reduced,
//    finished (rowwise_rate) and updated, with state[r] the row's accumulator.
using f32_rowwise_reduce = void(std::size_t n, const float* w, const float* g, float* partial,
                                step_constants<float> c);
using f32_rowwise_update = void(std::size_t n, float* w, const float* g, float rate,
                                step_constants<float> c);
using f32_rowwise_rows = void(std::size_t rows, std::size_t dim, float* w, const float* g,
                              float* state, step_constants<float> c);
using f32_rowwise_reduce_fn = f32_rowwise_reduce*;
using f32_rowwise_update_fn = f32_rowwise_update*;
using f32_rowwise_rows_fn = f32_rowwise_rows*;

// The sum of a run of gradient rows, as the sparse and embedding-bag steps
// add the occurrences of one table row (include/adagrad/adagrad.h): for t in
// [0, n),
//   out[t] = x_0[t] + x_1[t] + ... + x_{count-1}[t], added left to right,
// where x_r[t] is rows[r][column + t], or scales[r] * rows[r][column + t]
// (the product rounded, then added) when scales is not null. With
// accumulate the sum goes on from out[t] (out[t] + x_0[t] + ...), so that a
// caller can hand a long run over in batches. count >= 1.
using f32_sum_rows = void(std::size_t n, std::size_t count, const float* const* rows,
                          std::size_t column, const float* scales, float* out, bool accumulate);
using f32_sum_rows_fn = f32_sum_rows*;

// The number of partial sums of the canonical row reduction.
constexpr std::size_t kRowwiseLanes = 16;

// The end of a row's update, shared by every path (one copy, in the
// reference's translation unit): folds partial[0 .. 16) by the fixed tree
// (destroying it), adds the mean to *G and returns the row's rate
// lr_t / (sqrt(G) + eps) (or lr_t / sqrt(G + eps)).
float adagrad_f32_rowwise_rate(float* partial, std::size_t dim, float* G,
                               const step_constants<float>& c);
// The same after the fold: sum is the tree's result (partial[0] above). The
// vector paths fold their registers by the same tree and call this, so the
// partial sums never go through memory (kernels/rowwise_step.hpp says why).
float adagrad_f32_rowwise_rate_of_sum(float sum, std::size_t dim, float* G,
                                      const step_constants<float>& c);

// Every kernel of kernels/kernel_list.h: the reference, the test oracle and
// the fallback when no SIMD ISA is usable (the dense and composite vector
// kernels also hand it their tails, so tails round identically by
// construction and nothing is read or written past n), then one per ISA.
#define ADAGRAD_DECLARE_UKERNEL(member, symbol, function_type, isa) function_type symbol##__##isa;
ADAGRAD_FOR_EACH_KERNEL(ADAGRAD_DECLARE_UKERNEL, scalar)
#define ADAGRAD_ISA(ENUM, name, arch, features) \
  ADAGRAD_FOR_EACH_KERNEL(ADAGRAD_DECLARE_UKERNEL, name)
#include "isa_list.inc"
#undef ADAGRAD_ISA
#undef ADAGRAD_DECLARE_UKERNEL

}  // namespace kernels
}  // namespace adagrad

#endif  // ADAGRAD_KERNELS_UKERNELS_H_
