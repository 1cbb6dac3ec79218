// SPDX-License-Identifier: BSD-3-Clause
// The sparse benchmark's streaming kernels at avx2 width. Compiled with the
// avx2 flags alone.
#include "sparse_limits.hpp"

ADAGRAD_BENCH_DEFINE_SPARSE_LIMITS(avx2, xsimd::avx2)
