// SPDX-License-Identifier: BSD-3-Clause
// The roofline and ceiling kernels at avx width. Compiled with the avx
// flags alone.
#include "limits.hpp"

ADAGRAD_BENCH_DEFINE_LIMITS(avx, xsimd::avx)
