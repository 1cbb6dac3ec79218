// SPDX-License-Identifier: BSD-3-Clause
// The sse2 mixed-precision kernels (16-bit weights and gradients, master
// weights with a copy, AMP unscaling, conversions). Compiled with the sse2
// flags alone and holds nothing but these instantiations (see
// kernels/mixed_step.hpp).
#include "mixed_step.hpp"

ADAGRAD_DEFINE_MIXED_UKERNELS(sse2, xsimd::sse2)
