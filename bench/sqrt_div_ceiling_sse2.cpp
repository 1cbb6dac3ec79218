// The compute ceiling at sse2 width. Compiled with the sse2 flags alone.
#include "sqrt_div_ceiling.hpp"

ADAGRAD_DEFINE_SQRT_DIV_CEILING(sse2)
