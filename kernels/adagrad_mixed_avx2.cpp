// SPDX-License-Identifier: BSD-3-Clause
// The avx2 mixed-precision kernels (16-bit weights and gradients, master
// weights with a copy, AMP unscaling, conversions). Compiled with the avx2
// flags alone and holds nothing but these instantiations (see
// kernels/mixed_step.hpp).
#include "mixed_step.hpp"

ADAGRAD_DEFINE_MIXED_UKERNELS(avx2, xsimd::fma3<xsimd::avx2>)
