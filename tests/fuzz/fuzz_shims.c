// SPDX-License-Identifier: BSD-3-Clause
/*
 * The fuzz targets pass enum arguments that hold any int (an ISA, a
 * duplicates mode), as a C caller may. In C that is an ordinary conversion;
 * in C++ a value outside an enum's range is undefined behaviour, which
 * UBSan's enum check would report in the target itself. So the C++ targets
 * hand such values over as int, and these C functions make the calls.
 */
#include "fuzz_shims.h"

#include <stddef.h>
#include <stdint.h>

#include "adagrad/adagrad.h"

int fuzz_isa_supported(int isa) { return adagrad_isa_supported((adagrad_isa)isa); }

size_t fuzz_sparse_workspace_size(size_t num_indices, size_t dim, int dup) {
  return adagrad_sparse_workspace_size(num_indices, dim, (adagrad_duplicates)dup);
}

adagrad_status fuzz_sparse_call(int entry, int isa, int rowwise, float* table, float* state,
                                size_t num_rows, size_t dim, const void* indices,
                                size_t num_indices, const float* grads, const adagrad_params* p,
                                int dup, void* workspace, size_t workspace_size,
                                adagrad_pool* pool) {
  const adagrad_duplicates d = (adagrad_duplicates)dup;
  const int64_t* i64 = (const int64_t*)indices;
  const int32_t* i32 = (const int32_t*)indices;
  switch (entry) {
    case FUZZ_SPARSE_ISA:
      return rowwise ? adagrad_rowwise_sparse_step_isa((adagrad_isa)isa, table, state, num_rows,
                                                       dim, i64, num_indices, grads, p, d,
                                                       workspace, workspace_size, pool)
                     : adagrad_sparse_step_isa((adagrad_isa)isa, table, state, num_rows, dim, i64,
                                               num_indices, grads, p, d, workspace, workspace_size,
                                               pool);
    case FUZZ_SPARSE_I64:
      return rowwise ? adagrad_rowwise_sparse_step(table, state, num_rows, dim, i64, num_indices,
                                                   grads, p, d, workspace, workspace_size, pool)
                     : adagrad_sparse_step(table, state, num_rows, dim, i64, num_indices, grads, p,
                                           d, workspace, workspace_size, pool);
    default:
      return rowwise
                 ? adagrad_rowwise_sparse_step_i32(table, state, num_rows, dim, i32, num_indices,
                                                   grads, p, d, workspace, workspace_size, pool)
                 : adagrad_sparse_step_i32(table, state, num_rows, dim, i32, num_indices, grads, p,
                                           d, workspace, workspace_size, pool);
  }
}

adagrad_status fuzz_rowwise_step_isa(int isa, float* w, const float* g, float* row_state,
                                     size_t rows, size_t dim, const adagrad_params* p,
                                     adagrad_pool* pool) {
  return adagrad_rowwise_step_isa((adagrad_isa)isa, w, g, row_state, rows, dim, p, pool);
}
