// SPDX-License-Identifier: BSD-3-Clause
// The avx512bf16 row-wise step. Compiled with the avx512bf16 flags alone and holds
// nothing but this instantiation (see kernels/rowwise_step.hpp).
#include "rowwise_step.hpp"

ADAGRAD_DEFINE_ROWWISE_UKERNELS(avx512bf16, xsimd::avx512bw)
