// SPDX-License-Identifier: BSD-3-Clause
// The roofline and ceiling kernels at sse2 width. Compiled with the sse2
// flags alone.
#include "limits.hpp"

ADAGRAD_BENCH_DEFINE_LIMITS(sse2, xsimd::sse2)
