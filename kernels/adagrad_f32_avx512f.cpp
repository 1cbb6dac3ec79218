// SPDX-License-Identifier: BSD-3-Clause
// The avx512f float dense step. Compiled with the avx512f flags alone and holds
// nothing but this instantiation (see kernels/dense_step.hpp).
#include "dense_step.hpp"

ADAGRAD_DEFINE_DENSE_UKERNEL(avx512f, xsimd::avx512f, f32, float)
