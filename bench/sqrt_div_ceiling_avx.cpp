// The compute ceiling at avx width. Compiled with the avx flags alone.
#include "sqrt_div_ceiling.hpp"

ADAGRAD_DEFINE_SQRT_DIV_CEILING(avx)
