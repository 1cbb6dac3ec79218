// The compute ceiling at neon64 width. Compiled with the neon64 flags alone.
#include "sqrt_div_ceiling.hpp"

ADAGRAD_DEFINE_SQRT_DIV_CEILING(neon64)
