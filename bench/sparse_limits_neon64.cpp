// SPDX-License-Identifier: BSD-3-Clause
// The sparse benchmark's streaming kernels at neon64 width. Compiled with the
// neon64 flags alone.
#include "sparse_limits.hpp"

ADAGRAD_BENCH_DEFINE_SPARSE_LIMITS(neon64, xsimd::neon64)
