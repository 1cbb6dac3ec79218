/* SPDX-License-Identifier: BSD-3-Clause */
/* Library functions that take an enum by value, called with any int, as a
 * C caller may call them. A C++ test cannot: an enum value outside the
 * enumerators' range is undefined behaviour there (GCC's -fsanitize=enum
 * reports loading one), while C converts any int. The empty_ steps' buffers
 * are empty (NULL, 0): tests/params_check_test.cc checks the parameters; the
 * others take real buffers (tests/embedding_test.cc: nothing written). */
#include "enums_as_int.h"

const char* field_name_as_int(int field) { return adagrad_field_name(field); }

const char* isa_name_as_int(int isa) { return adagrad_isa_name(isa); }

adagrad_field sparse_params_check_as_int(const adagrad_params* p, int dup) {
  return adagrad_sparse_params_check(p, dup);
}

adagrad_status empty_sparse_step_as_int(const adagrad_params* p, int dup) {
  return adagrad_sparse_step(NULL, NULL, 0, 0, NULL, 0, NULL, p, dup, NULL, 0, NULL);
}

adagrad_status empty_rowwise_sparse_step_i32_as_int(const adagrad_params* p, int dup) {
  return adagrad_rowwise_sparse_step_i32(NULL, NULL, 0, 0, NULL, 0, NULL, p, dup, NULL, 0, NULL);
}

adagrad_status empty_sparse_proximal_step_as_int(const adagrad_params* p,
                                                 const adagrad_regularization* r, int dup) {
  return adagrad_sparse_proximal_step(NULL, NULL, 0, 0, NULL, 0, NULL, p, r, dup, NULL, 0, NULL);
}

adagrad_status empty_sparse_da_step_as_int(const adagrad_params* p,
                                           const adagrad_regularization* r, int dup) {
  return adagrad_sparse_da_step(NULL, NULL, NULL, 0, 0, NULL, 0, NULL, p, r, dup, NULL, 0, NULL);
}

adagrad_status sparse_step_as_int(int rowwise, int isa, float* table, float* state,
                                  size_t num_rows, size_t dim, const int64_t* indices,
                                  size_t num_indices, const float* grads, const adagrad_params* p,
                                  int dup, void* workspace, size_t workspace_size) {
  if (isa < 0) {
    return (rowwise ? adagrad_rowwise_sparse_step : adagrad_sparse_step)(
        table, state, num_rows, dim, indices, num_indices, grads, p, dup, workspace,
        workspace_size, NULL);
  }
  return (rowwise ? adagrad_rowwise_sparse_step_isa : adagrad_sparse_step_isa)(
      isa, table, state, num_rows, dim, indices, num_indices, grads, p, dup, workspace,
      workspace_size, NULL);
}

adagrad_status embedding_bag_step_as_int(int rowwise, const adagrad_embedding_table* tables,
                                         size_t num_tables, size_t num_bags, int index_type,
                                         const adagrad_params* p, void* workspace,
                                         size_t workspace_size) {
  return (rowwise ? adagrad_rowwise_embedding_bag_step : adagrad_embedding_bag_step)(
      tables, num_tables, num_bags, index_type, p, workspace, workspace_size, NULL);
}

adagrad_status proximal_step_isa_as_int(int isa, float* w, const float* g, float* G, size_t n,
                                        const adagrad_params* p, const adagrad_regularization* r) {
  return adagrad_proximal_step_isa(isa, w, g, G, n, p, r);
}

adagrad_status rowwise_step_isa_as_int(int isa, float* w, const float* g, float* row_state,
                                       size_t rows, size_t dim, const adagrad_params* p) {
  return adagrad_rowwise_step_isa(isa, w, g, row_state, rows, dim, p, NULL);
}

adagrad_status step_mixed_isa_as_int(int isa, void* w, adagrad_dtype w_type, const void* g,
                                     adagrad_dtype g_type, float* G, size_t n,
                                     const adagrad_params* p, const adagrad_mixed_options* o) {
  return adagrad_step_mixed_isa(isa, w, w_type, g, g_type, G, n, p, o, NULL);
}

adagrad_status embedding_bag_step_isa_as_int(int rowwise, int isa,
                                             const adagrad_embedding_table* tables,
                                             size_t num_tables, size_t num_bags,
                                             adagrad_index_type index_type,
                                             const adagrad_params* p, void* workspace,
                                             size_t workspace_size) {
  return (rowwise ? adagrad_rowwise_embedding_bag_step_isa : adagrad_embedding_bag_step_isa)(
      isa, tables, num_tables, num_bags, index_type, p, workspace, workspace_size, NULL);
}
