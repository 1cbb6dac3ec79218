// SPDX-License-Identifier: BSD-3-Clause
// The roofline and ceiling kernels at avx512f width. Compiled with the avx512f
// flags alone.
#include "limits.hpp"

ADAGRAD_BENCH_DEFINE_LIMITS(avx512f, xsimd::avx512f)
