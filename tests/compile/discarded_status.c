// SPDX-License-Identifier: BSD-3-Clause
// Drops a step's status: must not compile with -Werror=unused-result (the
// ctests discarded_status_*), unless ADAGRAD_NO_WARN_UNUSED_RESULT is set.
#include <adagrad/adagrad.h>

void drop(float* w, const float* g, float* G, size_t n, const adagrad_params* p) {
  adagrad_step(w, g, G, n, p);
}
