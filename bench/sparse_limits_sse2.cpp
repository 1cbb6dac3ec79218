// SPDX-License-Identifier: BSD-3-Clause
// The sparse benchmark's streaming kernels at sse2 width. Compiled with the
// sse2 flags alone.
#include "sparse_limits.hpp"

ADAGRAD_BENCH_DEFINE_SPARSE_LIMITS(sse2, xsimd::sse2)
