// SPDX-License-Identifier: BSD-3-Clause
// The avx512bf16 mixed-precision kernels (16-bit weights and gradients, master
// weights with a copy, AMP unscaling, conversions). Compiled with the avx512bf16
// flags alone and holds nothing but these instantiations (see
// kernels/mixed_step.hpp).
#include "mixed_step.hpp"

ADAGRAD_DEFINE_MIXED_UKERNELS(avx512bf16, xsimd::avx512bw)
