// SPDX-License-Identifier: BSD-3-Clause
// The neon64 double dense step. Compiled with the neon64 flags alone and holds
// nothing but this instantiation (see kernels/dense_step.hpp).
#include "dense_step.hpp"

ADAGRAD_DEFINE_DENSE_UKERNEL(neon64, xsimd::neon64, f64, double)
