// SPDX-License-Identifier: BSD-3-Clause
// The avx2 double dense step. Compiled with the avx2 flags alone and holds
// nothing but this instantiation (see kernels/dense_step.hpp).
#include "dense_step.hpp"

ADAGRAD_DEFINE_DENSE_UKERNEL(avx2, xsimd::fma3<xsimd::avx2>, f64, double)
