// SPDX-License-Identifier: BSD-3-Clause
// The sse2 double dense step. Compiled with the sse2 flags alone and holds
// nothing but this instantiation (see kernels/dense_step.hpp).
#include "dense_step.hpp"

ADAGRAD_DEFINE_DENSE_UKERNEL(sse2, xsimd::sse2, f64, double)
