// SPDX-License-Identifier: BSD-3-Clause
// The avx2 composite steps (proximal and dual averaging, float and double).
// Compiled with the avx2 flags alone and holds nothing but these
// instantiations (see kernels/composite_step.hpp).
#include "composite_step.hpp"

ADAGRAD_DEFINE_COMPOSITE_UKERNELS(avx2, xsimd::fma3<xsimd::avx2>)
