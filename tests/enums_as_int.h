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

#ifdef __cplusplus
}
#endif

#endif /* ADAGRAD_TESTS_ENUMS_AS_INT_H_ */
