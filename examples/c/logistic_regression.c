// SPDX-License-Identifier: BSD-3-Clause
/* Logistic regression on generated sparse data, trained with adagrad_step.
 *
 * The seed notebook says AdaGrad suits sparse, convex problems: rare features
 * get few gradient contributions, so their accumulators stay small and their
 * steps stay large. Each of the 4000 samples here has 12 active features out
 * of 2000, and 40 features carry the true signal. The program prints the
 * training loss as it falls and exits non-zero if it does not fall by half.
 *
 * Plain C99, no allocation beyond malloc of the data, deterministic. */
#include <adagrad/adagrad.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

enum { kSamples = 4000, kFeatures = 2000, kActivePerSample = 12, kInformative = 40, kEpochs = 60 };

static uint64_t rng_state = 12345;

static double uniform01(void) {
  rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
  return (double)(rng_state >> 11) * (1.0 / 9007199254740992.0);
}

static double sigmoid(double z) { return 1.0 / (1.0 + exp(-z)); }

int main(void) {
  static int active[kSamples][kActivePerSample];
  static float label[kSamples];
  static float truth[kFeatures], w[kFeatures], g[kFeatures], G[kFeatures];
  adagrad_params params = adagrad_params_default();
  double first_loss = 0.0, loss = 0.0;
  int s, f, k, epoch;

  /* A sparse truth, and samples whose label follows it. */
  for (f = 0; f < kInformative; ++f) truth[(f * 37) % kFeatures] = (f % 2 ? 1.5f : -1.5f);
  for (s = 0; s < kSamples; ++s) {
    double z = 0.0;
    for (k = 0; k < kActivePerSample; ++k) {
      /* Half the active features from the informative ones, so the signal is
       * learnable; the rest uniform over all features. */
      active[s][k] = k % 2 ? (int)(uniform01() * kFeatures)
                           : (int)(uniform01() * kInformative) * 37 % kFeatures;
      z += truth[active[s][k]];
    }
    label[s] = uniform01() < sigmoid(z) ? 1.0f : 0.0f;
  }

  params.lr = 0.5;
  printf("epoch  loss (mean log loss over %d samples, %d features, active on the %s path)\n",
         kSamples, kFeatures, adagrad_isa_name(adagrad_active_isa()));
  for (epoch = 0; epoch <= kEpochs; ++epoch) {
    loss = 0.0;
    for (f = 0; f < kFeatures; ++f) g[f] = 0.0f;
    for (s = 0; s < kSamples; ++s) {
      double z = 0.0, p, error;
      for (k = 0; k < kActivePerSample; ++k) z += w[active[s][k]];
      p = sigmoid(z);
      loss -= label[s] ? log(p + 1e-12) : log(1.0 - p + 1e-12);
      error = (p - label[s]) / kSamples;
      for (k = 0; k < kActivePerSample; ++k) g[active[s][k]] += (float)error;
    }
    loss /= kSamples;
    if (epoch == 0) first_loss = loss;
    if (epoch % 10 == 0) printf("%5d  %.4f\n", epoch, loss);
    if (epoch < kEpochs) {
      const adagrad_status status = adagrad_step(w, g, G, kFeatures, &params);
      if (status != ADAGRAD_OK) {
        printf("adagrad_step: %s\n", adagrad_status_string(status));
        return 1;
      }
    }
  }
  if (!(loss < 0.5 * first_loss)) {
    printf("the loss did not fall by half: %.4f -> %.4f\n", first_loss, loss);
    return 1;
  }
  printf("loss %.4f -> %.4f\n", first_loss, loss);
  return 0;
}
