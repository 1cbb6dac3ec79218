// SPDX-License-Identifier: BSD-3-Clause
/* The public header as a C99 translation unit: it must compile with
 * -std=c99 -pedantic and the API must be callable from C. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "adagrad/adagrad.h"

static int failures = 0;

static void expect(int condition, const char* what) {
  if (!condition) {
    printf("FAILED: %s\n", what);
    ++failures;
  }
}

int main(void) {
  float w[5] = {1.0f, 1.0f, 1.0f, 1.0f, 1.0f};
  const float g[5] = {2.0f, 2.0f, 2.0f, 2.0f, 2.0f};
  float G[5] = {0.0f, 0.0f, 0.0f, 0.0f, 0.0f};
  double wd[3] = {1.0, 1.0, 1.0};
  const double gd[3] = {2.0, 2.0, 2.0};
  double Gd[3] = {0.0, 0.0, 0.0};
  adagrad_params p = adagrad_params_default();
  adagrad_isa isa;
  size_t i;

  p.lr = 0.5;
  p.eps = 0.0;
  expect(adagrad_step(w, g, G, 5, &p) == ADAGRAD_OK, "adagrad_step returns ADAGRAD_OK");
  for (i = 0; i < 5; ++i) expect(w[i] == 0.5f && G[i] == 4.0f, "float step values");
  expect(adagrad_step_f64(wd, gd, Gd, 3, &p) == ADAGRAD_OK, "adagrad_step_f64 returns ADAGRAD_OK");
  for (i = 0; i < 3; ++i) expect(wd[i] == 0.5 && Gd[i] == 4.0, "double step values");

  expect(adagrad_step(w, g, G, 5, NULL) == ADAGRAD_ERROR_INVALID_PARAMS, "NULL params rejected");
  expect(adagrad_step(w, w, G, 5, &p) == ADAGRAD_ERROR_OVERLAP, "aliasing rejected");
  expect(w[0] == 0.5f, "nothing written on error");
  expect(adagrad_step(NULL, NULL, NULL, 0, &p) == ADAGRAD_OK, "n == 0 is a no-op");

  {
    adagrad_tensor tensors[2];
    tensors[0].w = w;
    tensors[0].g = g;
    tensors[0].G = G;
    tensors[0].n = 2;
    tensors[1].w = w + 2;
    tensors[1].g = g + 2;
    tensors[1].G = G + 2;
    tensors[1].n = 3;
    expect(adagrad_step_parallel(NULL, w, g, G, 5, &p) == ADAGRAD_OK, "parallel on the caller");
    expect(adagrad_step_multi(tensors, 2, &p, NULL) == ADAGRAD_OK, "two tensors");
    expect(adagrad_step_parallel_f64(NULL, wd, gd, Gd, 3, &p) == ADAGRAD_OK, "parallel f64");
  }

  {
    /* An embedding table of 4 rows x 2; rows 1 and 3 touched, row 1 twice. */
    float table[8] = {1, 1, 1, 1, 1, 1, 1, 1};
    float state[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    float row_state[4] = {0, 0, 0, 0};
    const float grads[6] = {1, 1, 1, 1, 1, 1};
    const int64_t indices[3] = {1, 3, 1};
    const int32_t indices32[3] = {1, 3, 1};
    unsigned char workspace[1024];
    const size_t bytes = adagrad_sparse_workspace_size(3, 2, ADAGRAD_DUPLICATES_SUM);
    expect(bytes <= sizeof workspace, "workspace size");
    expect(adagrad_sparse_step(table, state, 4, 2, indices, 3, grads, &p, ADAGRAD_DUPLICATES_SUM,
                               workspace, bytes, NULL) == ADAGRAD_OK,
           "sparse step");
    expect(state[2] == 4.0f && state[6] == 1.0f && state[0] == 0.0f, "duplicates summed");
    expect(adagrad_rowwise_sparse_step_i32(table, row_state, 4, 2, indices32, 3, grads, &p,
                                           ADAGRAD_DUPLICATES_SEQUENTIAL, workspace, bytes,
                                           NULL) == ADAGRAD_OK,
           "row-wise sparse step");
    expect(row_state[1] == 2.0f && row_state[3] == 1.0f, "occurrences applied in turn");
    expect(adagrad_sparse_step(table, state, 3, 2, indices, 3, grads, &p, ADAGRAD_DUPLICATES_SUM,
                               workspace, bytes, NULL) == ADAGRAD_ERROR_INDEX_OUT_OF_RANGE,
           "index out of range");
    expect(adagrad_rowwise_step(table, grads, row_state, 3, 2, &p, NULL) == ADAGRAD_OK,
           "row-wise dense step");
  }

  {
    /* An embedding bag from C: 3 rows x 2, bags {0, 2, 0} and {2}, SUM. */
    float weights[6] = {1, 1, 1, 1, 1, 1};
    float state[6] = {0, 0, 0, 0, 0, 0};
    const int32_t indices[4] = {0, 2, 0, 2};
    const int32_t offsets[3] = {0, 3, 4};
    const float grad_output[4] = {1, 2, 3, 4};
    unsigned char workspace[1024];
    adagrad_embedding_table table;
    memset(&table, 0, sizeof table);
    table.weights = weights;
    table.state = state;
    table.num_rows = 3;
    table.dim = 2;
    table.params = NULL;
    table.pooling = ADAGRAD_POOLING_SUM;
    table.indices = indices;
    table.offsets = offsets;
    table.num_indices = 4;
    table.per_sample_weights = NULL;
    table.grad_output = grad_output;
    table.grad_output_stride = 0;
    expect(adagrad_embedding_bag_workspace_size(4, 2) <= sizeof workspace, "bag workspace size");
    expect(adagrad_embedding_bag_step(&table, 1, 2, ADAGRAD_INDEX_INT32, &p, workspace,
                                      sizeof workspace, NULL) == ADAGRAD_OK,
           "embedding-bag step");
    /* Row 0: g = 2 * (1, 2); row 2: g = (1, 2) + (3, 4); row 1 untouched. */
    expect(state[0] == 4.0f && state[1] == 16.0f && state[2] == 0.0f && state[4] == 16.0f &&
               state[5] == 36.0f,
           "bag gradients summed per row");
    expect(adagrad_rowwise_embedding_bag_step(&table, 1, 1, ADAGRAD_INDEX_INT32, &p, workspace,
                                              sizeof workspace,
                                              NULL) == ADAGRAD_ERROR_INVALID_OFFSETS,
           "offsets must end at num_indices");
  }

  {
    /* Composite steps and mixed precision from C. */
    float pw[4] = {1, -1, 0.5f, 0}, pg[4] = {0.5f, -0.5f, 0, 1}, pz[4] = {0, 0, 0, 0};
    float pG[4] = {0, 0, 0, 0};
    adagrad_regularization r = {0.01, 0.0};
    uint16_t w16[4], g16[4];
    float G16[4] = {0, 0, 0, 0}, widened[4];
    const float found = 1.0f;
    adagrad_mixed_options o = adagrad_mixed_options_default();
    expect(adagrad_proximal_step(pw, pg, pG, 4, &p, &r) == ADAGRAD_OK, "proximal step");
    expect(adagrad_da_step(pw, pg, pz, pG, 4, &p, &r) == ADAGRAD_OK, "dual averaging step");
    expect(pz[0] == 0.5f, "DA sums the gradient");
    expect(adagrad_convert_to_half(pw, w16, 4, ADAGRAD_DTYPE_BF16) == ADAGRAD_OK, "to bf16");
    expect(adagrad_convert_to_half(pg, g16, 4, ADAGRAD_DTYPE_BF16) == ADAGRAD_OK, "to bf16");
    o.rounding = ADAGRAD_ROUND_STOCHASTIC;
    expect(adagrad_step_mixed(w16, ADAGRAD_DTYPE_BF16, g16, ADAGRAD_DTYPE_BF16, G16, 4, &p, &o,
                              NULL) == ADAGRAD_OK,
           "bf16 step");
    expect(adagrad_convert_from_half(w16, widened, 4, ADAGRAD_DTYPE_BF16) == ADAGRAD_OK, "widen");
    expect(G16[0] == 0.25f, "f32 state of the bf16 step");
    o.found_inf = &found;
    expect(adagrad_step_mixed(w16, ADAGRAD_DTYPE_BF16, g16, ADAGRAD_DTYPE_BF16, G16, 4, &p, &o,
                              NULL) == ADAGRAD_OK &&
               G16[0] == 0.25f,
           "found_inf skips the step");
  }

  {
    /* Which parameter a step refuses, and ISAs by name. */
    adagrad_params bad = adagrad_params_default();
    adagrad_regularization reg = {0.0, -1.0};
    adagrad_mixed_options mo = adagrad_mixed_options_default();
    adagrad_isa named = ADAGRAD_ISA_SCALAR;
    int k;
    bad.eps = -1.0;
    expect(adagrad_params_check(&bad) == ADAGRAD_FIELD_EPS, "the check names eps");
    expect(adagrad_step(w, g, G, 5, &bad) == ADAGRAD_ERROR_INVALID_PARAMS, "the step refuses it");
    expect(strcmp(adagrad_field_name(adagrad_params_check(&bad)), "eps") == 0, "field name");
    expect(adagrad_params_check(NULL) == ADAGRAD_FIELD_PARAMS, "NULL params named");
    expect(adagrad_params_check_f64(&p) == ADAGRAD_FIELD_NONE, "valid params");
    expect(adagrad_proximal_params_check(&p, &reg) == ADAGRAD_FIELD_L2, "l2 named");
    expect(adagrad_proximal_params_check_f64(&p, NULL) == ADAGRAD_FIELD_REGULARIZATION,
           "NULL regularization named");
    reg.l2 = 0.0;
    expect(adagrad_da_params_check(&p, &reg) == ADAGRAD_FIELD_NONE, "valid DA parameters");
    bad = p;
    bad.step = 0;
    expect(adagrad_da_params_check_f64(&bad, &reg) == ADAGRAD_FIELD_STEP, "DA step 0 named");
    expect(adagrad_sparse_params_check(&p, ADAGRAD_DUPLICATES_SEQUENTIAL) == ADAGRAD_FIELD_NONE,
           "valid sparse parameters");
    mo.grad_scale = 0.0;
    expect(adagrad_mixed_params_check(&p, &mo) == ADAGRAD_FIELD_GRAD_SCALE, "grad_scale named");
    expect(adagrad_mixed_params_check(&p, NULL) == ADAGRAD_FIELD_NONE, "NULL options: defaults");
    for (k = 0; k < ADAGRAD_ISA_COUNT; ++k) {
      expect(adagrad_isa_from_name(adagrad_isa_name((adagrad_isa)k), &named) == ADAGRAD_OK &&
                 (int)named == k,
             "every ISA by its name");
    }
    expect(adagrad_isa_from_name("mmx", &named) == ADAGRAD_ERROR_UNSUPPORTED_ISA, "unknown name");
  }

  isa = adagrad_active_isa();
  expect(adagrad_isa_supported(isa), "active ISA is supported");
  expect(adagrad_isa_supported(adagrad_active_wide_isa()), "active wide ISA is supported");
  expect(adagrad_step_isa(ADAGRAD_ISA_SCALAR, w, g, G, 5, &p) == ADAGRAD_OK, "explicit scalar");
  printf("C99 consumer: active ISA %s, status text \"%s\", version %d.%d.%d\n",
         adagrad_isa_name(isa), adagrad_status_string(ADAGRAD_ERROR_OVERLAP), ADAGRAD_VERSION_MAJOR,
         ADAGRAD_VERSION_MINOR, ADAGRAD_VERSION_PATCH);
  return failures == 0 ? 0 : 1;
}
