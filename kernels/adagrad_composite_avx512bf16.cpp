// SPDX-License-Identifier: BSD-3-Clause
// The avx512bf16 composite steps (proximal and dual averaging, float and double).
// Compiled with the avx512bf16 flags alone and holds nothing but these
// instantiations (see kernels/composite_step.hpp).
#include "composite_step.hpp"

ADAGRAD_DEFINE_COMPOSITE_UKERNELS(avx512bf16, xsimd::avx512bw)
