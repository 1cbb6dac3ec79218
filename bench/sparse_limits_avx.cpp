// SPDX-License-Identifier: BSD-3-Clause
// The sparse benchmark's streaming kernels at avx width. Compiled with the
// avx flags alone.
#include "sparse_limits.hpp"

ADAGRAD_BENCH_DEFINE_SPARSE_LIMITS(avx, xsimd::avx)
