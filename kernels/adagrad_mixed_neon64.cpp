// SPDX-License-Identifier: BSD-3-Clause
// The neon64 mixed-precision kernels (16-bit weights and gradients, master
// weights with a copy, AMP unscaling, conversions). Compiled with the neon64
// flags alone and holds nothing but these instantiations (see
// kernels/mixed_step.hpp).
#include "mixed_step.hpp"

ADAGRAD_DEFINE_MIXED_UKERNELS(neon64, xsimd::neon64)
