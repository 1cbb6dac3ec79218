// SPDX-License-Identifier: BSD-3-Clause
// The roofline and ceiling kernels at avx512bf16 width. Compiled with the avx512bf16
// flags alone.
#include "limits.hpp"

ADAGRAD_BENCH_DEFINE_LIMITS(avx512bf16, xsimd::avx512bw)
