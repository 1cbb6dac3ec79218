// SPDX-License-Identifier: BSD-3-Clause
// The sse2 float dense step. Compiled with the sse2 flags alone and holds
// nothing but this instantiation (see kernels/dense_step.hpp).
#include "dense_step.hpp"

ADAGRAD_DEFINE_DENSE_UKERNEL(sse2, xsimd::sse2, f32, float)
