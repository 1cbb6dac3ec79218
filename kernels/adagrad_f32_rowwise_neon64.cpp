// SPDX-License-Identifier: BSD-3-Clause
// The neon64 row-wise step. Compiled with the neon64 flags alone and holds
// nothing but this instantiation (see kernels/rowwise_step.hpp).
#include "rowwise_step.hpp"

ADAGRAD_DEFINE_ROWWISE_UKERNELS(neon64, xsimd::neon64)
