// SPDX-License-Identifier: BSD-3-Clause
// The roofline and ceiling kernels at avx2 width. Compiled with the avx2
// flags alone.
#include "limits.hpp"

ADAGRAD_BENCH_DEFINE_LIMITS(avx2, xsimd::avx2)
