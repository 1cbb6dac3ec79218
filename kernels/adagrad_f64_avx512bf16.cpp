// SPDX-License-Identifier: BSD-3-Clause
// The avx512bf16 double dense step. Compiled with the avx512bf16 flags alone and holds
// nothing but this instantiation (see kernels/dense_step.hpp).
#include "dense_step.hpp"

ADAGRAD_DEFINE_DENSE_UKERNEL(avx512bf16, xsimd::avx512bw, f64, double)
