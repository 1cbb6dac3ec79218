// The compute ceiling at avx512f width. Compiled with the avx512f flags alone.
#include "sqrt_div_ceiling.hpp"

ADAGRAD_DEFINE_SQRT_DIV_CEILING(avx512f)
