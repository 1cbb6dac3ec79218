// SPDX-License-Identifier: BSD-3-Clause
// The sse2 row-wise step. Compiled with the sse2 flags alone and holds
// nothing but this instantiation (see kernels/rowwise_step.hpp).
#include "rowwise_step.hpp"

ADAGRAD_DEFINE_ROWWISE_UKERNELS(sse2, xsimd::sse2)
