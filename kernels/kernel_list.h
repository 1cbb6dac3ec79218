// SPDX-License-Identifier: BSD-3-Clause
// The one list of kernels every ISA provides: it generates the ukernel
// declarations (kernels/ukernels.h) and the dispatch table's columns
// (src/dispatch.h, src/dispatch.cpp); CMake reads the units from it.
//
// Adding a kernel: its function type in kernels/ukernels.h, a line here,
// the scalar reference in kernels/adagrad_scalar.cpp and the vector body in
// its unit's header. Adding an ISA needs nothing here.
#ifndef ADAGRAD_KERNELS_KERNEL_LIST_H_
#define ADAGRAD_KERNELS_KERNEL_LIST_H_

// The kernel units. For each unit U and each ISA of the target, CMake
// (cmake/AdagradIsa.cmake) generates one translation unit that includes
// kernels/U_step.hpp and expands its ADAGRAD_DEFINE_<U>_UKERNELS(isa,
// xsimd_arch), which defines that unit's kernels below for the ISA.
#define ADAGRAD_KERNEL_UNITS dense rowwise sum_rows composite mixed

// ADAGRAD_FOR_EACH_KERNEL(X, isa) expands X(member, symbol, function_type,
// isa) for every kernel: member is its column of the dispatch table, and
// symbol##__##isa its ukernel, declared with function_type.
#define ADAGRAD_FOR_EACH_KERNEL(X, isa)                                      \
  /* dense: the plain step */                                                \
  X(f32, adagrad_f32_ukernel, f32_ukernel, isa)                              \
  X(f64, adagrad_f64_ukernel, f64_ukernel, isa)                              \
  /* rowwise: one accumulator per row */                                     \
  X(rowwise_reduce, adagrad_f32_rowwise_reduce_ukernel, f32_rowwise_reduce, isa) \
  X(rowwise_update, adagrad_f32_rowwise_update_ukernel, f32_rowwise_update, isa) \
  X(rowwise_rows, adagrad_f32_rowwise_rows_ukernel, f32_rowwise_rows, isa)   \
  /* sum_rows: a run of gradient rows added (sparse and embedding bags) */   \
  X(sum_rows, adagrad_f32_sum_rows_ukernel, f32_sum_rows, isa)               \
  /* composite: proximal and dual averaging */                               \
  X(proximal_f32, adagrad_f32_proximal_ukernel, proximal_ukernel<float>, isa) \
  X(proximal_f64, adagrad_f64_proximal_ukernel, proximal_ukernel<double>, isa) \
  X(da_f32, adagrad_f32_da_ukernel, da_ukernel<float>, isa)                  \
  X(da_f64, adagrad_f64_da_ukernel, da_ukernel<double>, isa)                 \
  /* mixed: 16-bit weights and gradients, conversions */                     \
  X(mixed, adagrad_mixed_ukernel, mixed_ukernel, isa)                        \
  X(unscale, adagrad_unscale_ukernel, unscale_ukernel, isa)                  \
  X(to_half, adagrad_to_half_ukernel, to_half_ukernel, isa)                  \
  X(from_half, adagrad_from_half_ukernel, from_half_ukernel, isa)

#endif  // ADAGRAD_KERNELS_KERNEL_LIST_H_
