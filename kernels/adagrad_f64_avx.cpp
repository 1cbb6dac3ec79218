// SPDX-License-Identifier: BSD-3-Clause
// The avx double dense step. Compiled with the avx flags alone and holds
// nothing but this instantiation (see kernels/dense_step.hpp).
#include "dense_step.hpp"

ADAGRAD_DEFINE_DENSE_UKERNEL(avx, xsimd::avx, f64, double)
