// SPDX-License-Identifier: BSD-3-Clause
// One step through the static library adagrad built inside its parent.
#include <adagrad/adagrad.h>
#include <stdio.h>

int parent_library_answer(void);

int main(void) {
  float w[5] = {1, 2, 3, 4, 5}, g[5] = {1, 1, 1, 1, 1}, G[5] = {0};
  const adagrad_params p = adagrad_params_default();
  const adagrad_status status = adagrad_step(w, g, G, 5, &p);
  if (status != ADAGRAD_OK || parent_library_answer() != 42 || !(w[0] < 1.0f)) {
    fprintf(stderr, "parent_app: %s\n", adagrad_status_string(status));
    return 1;
  }
  printf("parent_app: adagrad %s inside its parent, w[0] = %.9g\n",
         adagrad_isa_name(adagrad_active_isa()), (double)w[0]);
  return 0;
}
