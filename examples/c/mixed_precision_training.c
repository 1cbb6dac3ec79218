// SPDX-License-Identifier: BSD-3-Clause
/* Mixed precision: a small MLP trained with AdaGrad on f32 weights, on bf16
 * weights rounded to nearest-even, and on bf16 weights rounded
 * stochastically.
 *
 * The problem is two interleaved spirals in the plane (one turn each,
 * Gaussian noise of 0.03), 4,096 training and 4,096 held-out points, and the
 * model a 2-32-32-1 tanh MLP (1,185 parameters) with a logistic output,
 * trained on the mean log loss with mini-batches of 64 for 4,000 steps. The
 * three runs start from the same weights (drawn in float, then rounded to
 * bf16 so that all three can hold them exactly) and see the same batches:
 *
 *   fp32      adagrad_step on float weights
 *   bf16 RNE  adagrad_step_mixed, w_type BF16, g_type F32, nearest-even
 *   bf16 SR   the same with ADAGRAD_ROUND_STOCHASTIC, a fixed seed, and
 *             p.step = 1, 2, ... so every step draws new random bits
 *
 * The forward and backward passes compute in float; the bf16 runs widen their
 * weights with adagrad_convert_from_half before each step. Gradients stay f32
 * and the accumulator G is f32 in all three runs: only the weights' storage
 * differs.
 *
 * What it shows: bf16 keeps 8 significant bits, so a weight w moves only when
 * its update exceeds half an ulp, between |w| / 512 and |w| / 256. AdaGrad's
 * steps shrink like lr / sqrt(t). At PyTorch's default lr of 0.01, counted
 * on the fp32 run, a third of the updates are below half a bf16 ulp of their
 * weight in the first 200 steps, half of them at step 500 and 93% at the
 * end. With nearest-even rounding those updates are rounded away, every
 * time, and the loss stalls. Stochastic rounding goes to the upper neighbour
 * with probability (distance from the lower one) / ulp, so the rounded weight
 * equals the exact one in expectation: the small updates survive on average
 * and the loss follows the fp32 run.
 *
 * Usage: mixed_precision_training [CSV]
 * writes the full-training-set loss of the three runs every kEvery steps as
 * CSV (step,fp32,bf16_rne,bf16_sr) to the file CSV, or to stdout when it is
 * absent or "-", then prints a table of the final results. It exits non-zero
 * on an error status, or when the runs do not show the effect: fp32 must
 * learn the problem, bf16 SR must end close to fp32, and bf16 RNE well above
 * bf16 SR. examples/python/plot_mixed_precision.py plots the CSV.
 *
 * Plain C99, deterministic (splitmix64 with fixed seeds; the library's steps,
 * the stochastic rounding included, give the same bits on every ISA). */
#include <adagrad/adagrad.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum {
  kIn = 2,           /* input features: a point in the plane */
  kHidden = 32,      /* units in each of the two hidden layers */
  kTrain = 4096,     /* training points */
  kTest = 4096,      /* held-out points */
  kBatch = 64,       /* points per step, drawn with replacement */
  kSteps = 4000,     /* AdaGrad steps per run */
  kEvery = 50,       /* steps between two rows of the CSV */
  kFrozenFrom = 3000 /* "frozen": weights with the same bits at this step and at the end */
};

/* All parameters in one flat vector, so one step call updates them all and
 * the stochastic rounding's element index (its key with seed and step)
 * differs for every parameter: separate calls per tensor with the same seed
 * and step would reuse the same random bits for element 0 of each tensor. */
enum {
  kW1 = 0,                       /* [kHidden][kIn] */
  kB1 = kW1 + kHidden * kIn,     /* [kHidden] */
  kW2 = kB1 + kHidden,           /* [kHidden][kHidden] */
  kB2 = kW2 + kHidden * kHidden, /* [kHidden] */
  kW3 = kB2 + kHidden,           /* [kHidden] */
  kB3 = kW3 + kHidden,           /* [1] */
  kParams = kB3 + 1
};

/* PyTorch's default learning rate (torch.optim.Adagrad), with the library's
 * default eps (1e-8) and accumulators starting at 0. How much nearest-even
 * loses depends on the size of the updates relative to the weights, so on
 * lr. Measured with this program (final training loss, fp32 / bf16 RNE /
 * bf16 SR): lr 0.003: 0.294 / 0.449 / 0.296 (RNE flat at 0.45 from step 500
 * on); lr 0.01: 0.029 / 0.274 / 0.029; lr 0.03: 0.013 / 0.041 / 0.013;
 * lr 0.1: 0.0045 / 0.011 / 0.0041. A larger lr fits this problem faster and
 * keeps the steps above half an ulp for longer, so RNE falls behind less. */
static const double kLr = 0.01;
static const uint64_t kDataSeed = 1;    /* points and initial weights */
static const uint64_t kBatchSeed = 777; /* the batches, the same in every run */
static const uint64_t kRoundingSeed = 42;

/* ---- Data --------------------------------------------------------------- */

static uint64_t splitmix64(uint64_t* state) {
  uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

/* Uniform in [0, 1) with 53 random bits. */
static double uniform01(uint64_t* state) {
  return (double)(splitmix64(state) >> 11) * (1.0 / 9007199254740992.0);
}

/* Standard normal (Box-Muller). 1 - u is in (0, 1], so the log is finite. */
static double normal(uint64_t* state) {
  const double u = 1.0 - uniform01(state), v = uniform01(state);
  return sqrt(-2.0 * log(u)) * cos(6.283185307179586 * v);
}

/* n points of two spirals: the points of class 0 wind from the centre out
 * to radius 1 in one turn, those of class 1 lie on the same spiral turned by
 * half a turn. The radius is the square root of a uniform number, so that
 * the points spread about evenly along the arc (whose length grows like the
 * radius). */
static void generate(float* x, float* y, int n, uint64_t* rng) {
  const double pi = 3.14159265358979324, turns = 1.0;
  int i;
  for (i = 0; i < n; ++i) {
    const int c = uniform01(rng) < 0.5;
    const double r = sqrt(uniform01(rng));
    const double angle = r * turns * 2.0 * pi + c * pi;
    x[2 * i] = (float)(r * cos(angle) + 0.03 * normal(rng));
    x[2 * i + 1] = (float)(r * sin(angle) + 0.03 * normal(rng));
    y[i] = (float)c;
  }
}

/* ---- Model -------------------------------------------------------------- */

/* Weights ~ N(0, 1 / fan_in) (LeCun), biases 0. */
static void init_weights(float* w, uint64_t* rng) {
  int j;
  for (j = 0; j < kParams; ++j) {
    double scale = 0.0;
    if (j < kB1) scale = 1.0 / sqrt((double)kIn);
    if ((j >= kW2 && j < kB2) || (j >= kW3 && j < kB3)) scale = 1.0 / sqrt((double)kHidden);
    w[j] = (float)(scale * normal(rng));
  }
}

/* The mean log loss of the MLP w on the n points x[idx[i]] (x[i] when idx is
 * NULL), in float. When grad is not NULL it receives the gradient of that
 * mean; when correct is not NULL, how many points the sign of the output
 * classifies right. */
static double loss_and_gradient(const float* w, const float* x, const float* y, const int* idx,
                                int n, float* grad, int* correct) {
  float h1[kHidden], h2[kHidden], d1[kHidden], d2[kHidden];
  double loss = 0.0;
  int i, j, k, right = 0;
  if (grad) memset(grad, 0, sizeof(float) * kParams);
  for (i = 0; i < n; ++i) {
    const int s = idx ? idx[i] : i;
    const float* xs = x + 2 * s;
    const int label = y[s] != 0.0f;
    float z = w[kB3], margin, dz;
    for (j = 0; j < kHidden; ++j) {
      h1[j] = tanhf(w[kW1 + j * kIn] * xs[0] + w[kW1 + j * kIn + 1] * xs[1] + w[kB1 + j]);
    }
    for (j = 0; j < kHidden; ++j) {
      float a = w[kB2 + j];
      for (k = 0; k < kHidden; ++k) a += w[kW2 + j * kHidden + k] * h1[k];
      h2[j] = tanhf(a);
    }
    for (j = 0; j < kHidden; ++j) z += w[kW3 + j] * h2[j];
    /* log(1 + exp(-margin)) with margin = z for label 1, -z for label 0,
     * written so that exp never overflows. */
    margin = label ? z : -z;
    loss += (margin < 0.0f ? -margin : 0.0f) + log1pf(expf(-fabsf(margin)));
    right += (z > 0.0f) == label;
    if (!grad) continue;
    dz = (1.0f / (1.0f + expf(-z)) - (float)label) / (float)n;
    grad[kB3] += dz;
    for (j = 0; j < kHidden; ++j) {
      grad[kW3 + j] += dz * h2[j];
      d2[j] = dz * w[kW3 + j] * (1.0f - h2[j] * h2[j]);
      grad[kB2 + j] += d2[j];
    }
    for (k = 0; k < kHidden; ++k) d1[k] = 0.0f;
    for (j = 0; j < kHidden; ++j) {
      for (k = 0; k < kHidden; ++k) {
        grad[kW2 + j * kHidden + k] += d2[j] * h1[k];
        d1[k] += d2[j] * w[kW2 + j * kHidden + k];
      }
    }
    for (k = 0; k < kHidden; ++k) {
      const float d = d1[k] * (1.0f - h1[k] * h1[k]);
      grad[kW1 + k * kIn] += d * xs[0];
      grad[kW1 + k * kIn + 1] += d * xs[1];
      grad[kB1 + k] += d;
    }
  }
  if (correct) *correct = right;
  return loss / n;
}

/* ---- Training ----------------------------------------------------------- */

typedef enum method { kFp32, kBf16Nearest, kBf16Stochastic, kMethods } method;

static const char* const kNames[kMethods] = {"fp32", "bf16 nearest-even", "bf16 stochastic"};

typedef struct dataset {
  float x[2 * kTrain]; /* kTest <= kTrain points fit */
  float y[kTrain];
  int n;
} dataset;

typedef struct result {
  double curve[kSteps / kEvery + 1]; /* training loss at steps 0, kEvery, ... */
  double train_loss, test_loss, test_accuracy;
  double frozen; /* fraction of the parameters with the same bits at kFrozenFrom and kSteps */
} result;

/* Trains from the bf16-representable weights w0 with method m. */
static adagrad_status train(method m, const float* w0, const dataset* train_set,
                            const dataset* test_set, result* out) {
  static float w[kParams], g[kParams], G[kParams], snapshot[kParams];
  static uint16_t w16[kParams];
  adagrad_params p = adagrad_params_default();
  adagrad_mixed_options o = adagrad_mixed_options_default();
  uint64_t batch_rng = kBatchSeed;
  int idx[kBatch], t, i, correct = 0, frozen = 0;
  adagrad_status status = ADAGRAD_OK;

  p.lr = kLr;
  o.rounding = m == kBf16Stochastic ? ADAGRAD_ROUND_STOCHASTIC : ADAGRAD_ROUND_NEAREST_EVEN;
  o.seed = kRoundingSeed;
  memcpy(w, w0, sizeof w);
  if (m != kFp32) status = adagrad_convert_to_half(w0, w16, kParams, ADAGRAD_DTYPE_BF16);
  if (status == ADAGRAD_OK) status = adagrad_state_init(G, kParams, 0.0);
  for (t = 0; status == ADAGRAD_OK; ++t) {
    /* The model in float: the bf16 weights widened (exactly). */
    if (m != kFp32) {
      status = adagrad_convert_from_half(w16, w, kParams, ADAGRAD_DTYPE_BF16);
      if (status != ADAGRAD_OK) break;
    }
    if (t % kEvery == 0) {
      out->curve[t / kEvery] =
          loss_and_gradient(w, train_set->x, train_set->y, NULL, train_set->n, NULL, NULL);
    }
    if (t == kFrozenFrom) memcpy(snapshot, w, sizeof snapshot);
    if (t == kSteps) break;
    for (i = 0; i < kBatch; ++i) idx[i] = (int)(uniform01(&batch_rng) * train_set->n);
    loss_and_gradient(w, train_set->x, train_set->y, idx, kBatch, g, NULL);
    /* lr_decay is 0, so p.step is read only as the stochastic rounding's
     * key: a new step number gives every element new random bits. */
    p.step = (uint64_t)t + 1;
    if (m == kFp32) {
      status = adagrad_step(w, g, G, kParams, &p);
    } else {
      status = adagrad_step_mixed(w16, ADAGRAD_DTYPE_BF16, g, ADAGRAD_DTYPE_F32, G, kParams, &p, &o,
                                  NULL);
    }
  }
  if (status != ADAGRAD_OK) return status;
  out->train_loss = out->curve[kSteps / kEvery];
  out->test_loss =
      loss_and_gradient(w, test_set->x, test_set->y, NULL, test_set->n, NULL, &correct);
  out->test_accuracy = (double)correct / test_set->n;
  for (i = 0; i < kParams; ++i) frozen += memcmp(&w[i], &snapshot[i], sizeof(float)) == 0;
  out->frozen = (double)frozen / kParams;
  return ADAGRAD_OK;
}

/* ---- Report ------------------------------------------------------------- */

int main(int argc, char** argv) {
  static dataset train_set, test_set;
  static result results[kMethods];
  static float w0[kParams];
  static uint16_t w0_16[kParams];
  const result* fp32 = &results[kFp32];
  const result* nearest = &results[kBf16Nearest];
  const result* stochastic = &results[kBf16Stochastic];
  uint64_t rng = kDataSeed;
  FILE* csv = stdout;
  adagrad_status status;
  int m, r, failed = 0;

  if (argc > 2) {
    printf("usage: %s [CSV file, or - for stdout]\n", argv[0]);
    return 2;
  }
  train_set.n = kTrain;
  test_set.n = kTest;
  generate(train_set.x, train_set.y, kTrain, &rng);
  generate(test_set.x, test_set.y, kTest, &rng);
  init_weights(w0, &rng);
  /* Round the initial weights to bf16 once, so that all three runs start
   * from exactly the same values. */
  status = adagrad_convert_to_half(w0, w0_16, kParams, ADAGRAD_DTYPE_BF16);
  if (status == ADAGRAD_OK)
    status = adagrad_convert_from_half(w0_16, w0, kParams, ADAGRAD_DTYPE_BF16);
  if (status != ADAGRAD_OK) {
    printf("initial weights: %s\n", adagrad_status_string(status));
    return 1;
  }
  for (m = 0; m < kMethods; ++m) {
    status = train((method)m, w0, &train_set, &test_set, &results[m]);
    if (status != ADAGRAD_OK) {
      printf("%s: %s\n", kNames[m], adagrad_status_string(status));
      return 1;
    }
  }

  if (argc == 2 && strcmp(argv[1], "-") != 0) {
    csv = fopen(argv[1], "w");
    if (!csv) {
      printf("cannot write %s\n", argv[1]);
      return 1;
    }
  }
  fprintf(csv, "step,fp32,bf16_rne,bf16_sr\n");
  for (r = 0; r <= kSteps / kEvery; ++r) {
    fprintf(csv, "%d,%.6f,%.6f,%.6f\n", r * kEvery, fp32->curve[r], nearest->curve[r],
            stochastic->curve[r]);
  }
  if (csv != stdout && fclose(csv) != 0) {
    printf("cannot write %s\n", argv[1]);
    return 1;
  }
  if (csv == stdout) printf("\n");

  printf(
      "two spirals, %d training and %d held-out points; MLP %d-%d-%d-1 (tanh), %d parameters;\n"
      "AdaGrad lr %g, %d steps of %d points, %s path\n\n",
      kTrain, kTest, kIn, kHidden, kHidden, kParams, kLr, kSteps, kBatch,
      adagrad_isa_name(adagrad_active_isa()));
  printf("%-18s %10s %10s %9s %8s\n", "weights", "train loss", "test loss", "test acc", "frozen");
  for (m = 0; m < kMethods; ++m) {
    printf("%-18s %10.4f %10.4f %8.2f%% %7.1f%%\n", kNames[m], results[m].train_loss,
           results[m].test_loss, 100.0 * results[m].test_accuracy, 100.0 * results[m].frozen);
  }
  printf("(frozen: parameters whose bits did not change over steps %d to %d)\n", kFrozenFrom,
         kSteps);

  /* What the run is meant to show, each with a wide margin over what was
   * measured with 13 combinations of data, batch and rounding seeds: fp32
   * ends at 0.024 to 0.042 (0.75 at step 0 here); bf16 SR within 0.0015 of
   * fp32 and within 0.05 point of its accuracy; bf16 RNE 0.20 to 0.26 above
   * bf16 SR; 36% to 53% of the parameters frozen with RNE, 1% to 3% with SR
   * (which leaves a weight alone in a step with probability 1 - |update| /
   * ulp, so a weight with tiny updates may sit still for 1,000 steps). */
  if (!(fp32->train_loss < 0.1)) {
    printf("fp32: final training loss %.4f, expected < 0.1 (the problem is not learnt)\n",
           fp32->train_loss);
    failed = 1;
  }
  if (!(fabs(stochastic->train_loss - fp32->train_loss) < 0.01)) {
    printf("bf16 stochastic: final training loss %.4f is not within 0.01 of fp32's %.4f\n",
           stochastic->train_loss, fp32->train_loss);
    failed = 1;
  }
  if (!(stochastic->test_accuracy > fp32->test_accuracy - 0.01)) {
    printf("bf16 stochastic: test accuracy %.4f is more than 1 point below fp32's %.4f\n",
           stochastic->test_accuracy, fp32->test_accuracy);
    failed = 1;
  }
  if (!(nearest->train_loss > stochastic->train_loss + 0.1)) {
    printf("bf16 nearest-even: final training loss %.4f is not 0.1 above stochastic's %.4f\n",
           nearest->train_loss, stochastic->train_loss);
    failed = 1;
  }
  if (!(nearest->frozen > 0.2 && stochastic->frozen < 0.1)) {
    printf(
        "frozen parameters: %.3f with nearest-even (expected > 0.2), %.3f with stochastic"
        " rounding (expected < 0.1)\n",
        nearest->frozen, stochastic->frozen);
    failed = 1;
  }
  printf(failed ? "\nFAILED\n" : "\nok\n");
  return failed;
}
