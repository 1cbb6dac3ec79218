// SPDX-License-Identifier: BSD-3-Clause
// The sparse benchmark's streaming kernels at avx512f width. Compiled with the
// avx512f flags alone.
#include "sparse_limits.hpp"

ADAGRAD_BENCH_DEFINE_SPARSE_LIMITS(avx512f, xsimd::avx512f)
