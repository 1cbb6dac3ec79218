/* SPDX-License-Identifier: BSD-3-Clause */
/* tests/enums_as_int.c: calls that take an enum by value, with an int, as C
 * passes it. */
#ifndef ADAGRAD_TESTS_ENUMS_AS_INT_H_
#define ADAGRAD_TESTS_ENUMS_AS_INT_H_

#include "adagrad/adagrad.h"

#ifdef __cplusplus
extern "C" {
#endif

const char* field_name_as_int(int field);
const char* isa_name_as_int(int isa);
adagrad_field sparse_params_check_as_int(const adagrad_params* p, int dup);
adagrad_status empty_sparse_step_as_int(const adagrad_params* p, int dup);
adagrad_status empty_rowwise_sparse_step_i32_as_int(const adagrad_params* p, int dup);
adagrad_status empty_sparse_proximal_step_as_int(const adagrad_params* p,
                                                 const adagrad_regularization* r, int dup);
adagrad_status empty_sparse_da_step_as_int(const adagrad_params* p,
                                           const adagrad_regularization* r, int dup);
/* adagrad_sparse_step (rowwise: adagrad_rowwise_sparse_step), or its _isa
 * form on isa when isa >= 0, on the calling thread. */
adagrad_status sparse_step_as_int(int rowwise, int isa, float* table, float* state,
                                  size_t num_rows, size_t dim, const int64_t* indices,
                                  size_t num_indices, const float* grads, const adagrad_params* p,
                                  int dup, void* workspace, size_t workspace_size);
/* adagrad_embedding_bag_step (rowwise: the row-wise one) with any int as
 * the index type, on the calling thread. */
adagrad_status embedding_bag_step_as_int(int rowwise, const adagrad_embedding_table* tables,
                                         size_t num_tables, size_t num_bags, int index_type,
                                         const adagrad_params* p, void* workspace,
                                         size_t workspace_size);

/* The _isa entry points with any int as the ISA (an out-of-range value in a
 * C++ enum is undefined; in C it is an int like any other). */
adagrad_status proximal_step_isa_as_int(int isa, float* w, const float* g, float* G, size_t n,
                                        const adagrad_params* p, const adagrad_regularization* r);
adagrad_status rowwise_step_isa_as_int(int isa, float* w, const float* g, float* row_state,
                                       size_t rows, size_t dim, const adagrad_params* p);
adagrad_status step_mixed_isa_as_int(int isa, void* w, adagrad_dtype w_type, const void* g,
                                     adagrad_dtype g_type, float* G, size_t n,
                                     const adagrad_params* p, const adagrad_mixed_options* o);
/* adagrad_embedding_bag_step_isa (rowwise: the row-wise one), on the calling
 * thread. */
adagrad_status embedding_bag_step_isa_as_int(int rowwise, int isa,
                                             const adagrad_embedding_table* tables,
                                             size_t num_tables, size_t num_bags,
                                             adagrad_index_type index_type,
                                             const adagrad_params* p, void* workspace,
                                             size_t workspace_size);

#ifdef __cplusplus
}
#endif

#endif /* ADAGRAD_TESTS_ENUMS_AS_INT_H_ */
