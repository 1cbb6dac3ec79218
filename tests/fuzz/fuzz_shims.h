// SPDX-License-Identifier: BSD-3-Clause
/* Calls whose enum arguments are held as int (fuzz_shims.c says why). */
#ifndef ADAGRAD_TESTS_FUZZ_FUZZ_SHIMS_H_
#define ADAGRAD_TESTS_FUZZ_FUZZ_SHIMS_H_

#include <stddef.h>

#include "adagrad/adagrad.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Which sparse entry point fuzz_sparse_call makes. */
enum {
  FUZZ_SPARSE_ISA = 0, /* adagrad_(rowwise_)sparse_step_isa, int64_t indices */
  FUZZ_SPARSE_I64 = 1, /* adagrad_(rowwise_)sparse_step, dispatched */
  FUZZ_SPARSE_I32 = 2  /* adagrad_(rowwise_)sparse_step_i32, dispatched */
};

int fuzz_isa_supported(int isa);
size_t fuzz_sparse_workspace_size(size_t num_indices, size_t dim, int dup);
adagrad_status fuzz_sparse_call(int entry, int isa, int rowwise, float* table, float* state,
                                size_t num_rows, size_t dim, const void* indices,
                                size_t num_indices, const float* grads, const adagrad_params* p,
                                int dup, void* workspace, size_t workspace_size,
                                adagrad_pool* pool);
adagrad_status fuzz_rowwise_step_isa(int isa, float* w, const float* g, float* row_state,
                                     size_t rows, size_t dim, const adagrad_params* p,
                                     adagrad_pool* pool);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* ADAGRAD_TESTS_FUZZ_FUZZ_SHIMS_H_ */
