// SPDX-License-Identifier: BSD-3-Clause
// The avx512f composite steps (proximal and dual averaging, float and double).
// Compiled with the avx512f flags alone and holds nothing but these
// instantiations (see kernels/composite_step.hpp).
#include "composite_step.hpp"

ADAGRAD_DEFINE_COMPOSITE_UKERNELS(avx512f, xsimd::avx512f)
