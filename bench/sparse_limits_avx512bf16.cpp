// SPDX-License-Identifier: BSD-3-Clause
// The sparse benchmark's streaming kernels at avx512bf16 width. Compiled with the
// avx512bf16 flags alone.
#include "sparse_limits.hpp"

ADAGRAD_BENCH_DEFINE_SPARSE_LIMITS(avx512bf16, xsimd::avx512bw)
