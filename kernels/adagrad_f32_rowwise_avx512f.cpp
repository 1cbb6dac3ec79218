// SPDX-License-Identifier: BSD-3-Clause
// The avx512f row-wise step. Compiled with the avx512f flags alone and holds
// nothing but this instantiation (see kernels/rowwise_step.hpp).
#include "rowwise_step.hpp"

ADAGRAD_DEFINE_ROWWISE_UKERNELS(avx512f, xsimd::avx512f)
