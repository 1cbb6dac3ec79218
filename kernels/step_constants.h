// The per-call constants every dense-step kernel receives: the validated
// hyperparameters, already rounded to the element type T.
#ifndef ADAGRAD_KERNELS_STEP_CONSTANTS_H_
#define ADAGRAD_KERNELS_STEP_CONSTANTS_H_

namespace adagrad {
namespace kernels {

template <class T>
struct step_constants {
  T lr;            // lr_t: the (decayed) learning rate, rounded to T once
  T eps;           // rounded to T once
  T weight_decay;  // rounded to T once; used only when apply_weight_decay
  // The seed tests the decay coefficient before rounding (`if wd > 0` on a
  // Python float), so a coefficient that rounds to 0 in T still adds 0 * w.
  bool apply_weight_decay;
  bool maximize;    // negate the gradient first
  bool eps_inside;  // sqrt(G + eps) instead of sqrt(G) + eps
  bool fma;         // fused multiply-adds for the decay term and G + g * g
};

}  // namespace kernels
}  // namespace adagrad

#endif  // ADAGRAD_KERNELS_STEP_CONSTANTS_H_
