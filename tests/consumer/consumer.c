// SPDX-License-Identifier: BSD-3-Clause
/* Built against an installed adagrad, by CMake and by pkg-config. */
#include <adagrad/adagrad.h>
#include <stdio.h>

int main(void) {
  float w[3] = {1.0f, 1.0f, 1.0f};
  const float g[3] = {2.0f, 2.0f, 2.0f};
  float G[3] = {0.0f, 0.0f, 0.0f};
  adagrad_params p = adagrad_params_default();
  p.lr = 0.5;
  p.eps = 0.0;
  if (adagrad_step(w, g, G, 3, &p) != ADAGRAD_OK || w[2] != 0.5f || G[2] != 4.0f) {
    printf("consumer: wrong result\n");
    return 1;
  }
  printf("consumer: ok on %s\n", adagrad_isa_name(adagrad_active_isa()));
  return 0;
}
