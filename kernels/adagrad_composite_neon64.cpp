// SPDX-License-Identifier: BSD-3-Clause
// The neon64 composite steps (proximal and dual averaging, float and double).
// Compiled with the neon64 flags alone and holds nothing but these
// instantiations (see kernels/composite_step.hpp).
#include "composite_step.hpp"

ADAGRAD_DEFINE_COMPOSITE_UKERNELS(neon64, xsimd::neon64)
