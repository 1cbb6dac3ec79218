// SPDX-License-Identifier: BSD-3-Clause
// The roofline and ceiling kernels at neon64 width. Compiled with the neon64
// flags alone.
#include "limits.hpp"

ADAGRAD_BENCH_DEFINE_LIMITS(neon64, xsimd::neon64)
