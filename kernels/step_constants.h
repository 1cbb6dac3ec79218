// SPDX-License-Identifier: BSD-3-Clause
// The per-call constants every dense-step kernel receives: the validated
// hyperparameters, already rounded to the element type T.
#ifndef ADAGRAD_KERNELS_STEP_CONSTANTS_H_
#define ADAGRAD_KERNELS_STEP_CONSTANTS_H_

#include <cstdint>

namespace adagrad {
namespace kernels {

template <class T>
struct step_constants {
  T lr;            // lr_t: the (decayed) learning rate, rounded to T once
  T eps;           // rounded to T once
  T weight_decay;  // rounded to T once; used only when apply_weight_decay
  // The switches are one bit each: with them the float constants fit in 16
  // bytes, which the x86-64 and AArch64 calling conventions pass in
  // registers, so an entry point ends in a tail call to its ukernel. A fifth
  // plain bool made them 20 bytes, passed on the stack, and doubled the cost
  // of a call (dense_step_bench's call/f32/dispatched rows: 11 against 23 ns).
  //
  // The seed tests the decay coefficient before rounding (`if wd > 0` on a
  // Python float), so a coefficient that rounds to 0 in T still adds 0 * w.
  bool apply_weight_decay : 1;
  bool maximize : 1;    // negate the gradient first
  bool eps_inside : 1;  // sqrt(G + eps) instead of sqrt(G) + eps
  bool fma : 1;         // fused multiply-adds for the decay term and G + g * g
  // torch.optim.Adagrad's sparse order (ADAGRAD_DUPLICATES_TORCH): G + g * g
  // never fused, w = w + (-lr) * (g / d), the update fused in fma mode.
  // Set only by the per-element sparse step.
  bool torch_order : 1;
};

static_assert(sizeof(step_constants<float>) <= 16,
              "the float constants travel in two registers (see the switches above)");

// The constants of the composite steps (proximal and dual averaging): the
// dense step's, plus the regularization rounded to T once.
template <class T>
struct composite_constants {
  step_constants<T> step;
  T l1;         // proximal: the L1 strength
  T l2;         // proximal: the L2 strength
  T da_l1;      // dual averaging: t * l1, computed in double, rounded once
  T da_l2;      // dual averaging: l2 * t * lr_t, computed in double, rounded once
  T neg_lr;     // dual averaging: -lr_t
  bool has_l1;  // l1 != 0: shrink towards zero
  bool has_l2;  // l2 != 0: divide by 1 + r * l2 (skipped otherwise: u / 1 == u)
};

// The constants of the mixed-precision steps. 16-bit types are
// adagrad_dtype values; copy_type ADAGRAD_DTYPE_F32 means "no copy".
struct mixed_constants {
  step_constants<float> step;
  float grad_scale;  // gradients are divided by it when unscale
  bool unscale;
  bool stochastic;  // round the 16-bit results stochastically
  int w_type;       // F32: master weights (w is float*); BF16, F16: 16-bit weights
  int g_type;       // F32, BF16, F16
  int copy_type;    // master only: BF16 or F16 copy of the new weights, F32 for none
  // Stochastic rounding's key for the 2^32 elements whose index has the
  // current upper half (half::segment_key); calls never cross such a
  // boundary, so the low half of the index is the counter.
  std::uint32_t key;
};

}  // namespace kernels
}  // namespace adagrad

#endif  // ADAGRAD_KERNELS_STEP_CONSTANTS_H_
