// Declarations of every dense-step microkernel: the scalar reference and one
// per ISA of kernels/isa_list.inc, named by the XNNPACK rule
// adagrad_<dtype>_ukernel__<isa>.
//
// Every ukernel updates n elements in the order documented in
// include/adagrad/adagrad.h. It trusts its caller: the pointers are valid for
// n elements, aligned to the element size and pairwise disjoint. It takes the
// constants by value (16 bytes: two registers) and returns ADAGRAD_OK, so
// that an entry point can end in a tail call to it.
#ifndef ADAGRAD_KERNELS_UKERNELS_H_
#define ADAGRAD_KERNELS_UKERNELS_H_

#include <cstddef>

#include "adagrad/adagrad.h"
#include "step_constants.h"

namespace adagrad {
namespace kernels {

using f32_ukernel_fn = adagrad_status (*)(std::size_t n, float* w, const float* g, float* G,
                                          step_constants<float> c);
using f64_ukernel_fn = adagrad_status (*)(std::size_t n, double* w, const double* g, double* G,
                                          step_constants<double> c);

// The reference: the test oracle, the fallback when no SIMD ISA is usable,
// and the tail handler of every vector kernel (so tails round identically by
// construction and nothing is read or written past n).
adagrad_status adagrad_f32_ukernel__scalar(std::size_t n, float* w, const float* g, float* G,
                                           step_constants<float> c);
adagrad_status adagrad_f64_ukernel__scalar(std::size_t n, double* w, const double* g, double* G,
                                           step_constants<double> c);

#define ADAGRAD_ISA(ENUM, name, arch, usable)                                                      \
  adagrad_status adagrad_f32_ukernel__##name(std::size_t n, float* w, const float* g, float* G,    \
                                             step_constants<float> c);                             \
  adagrad_status adagrad_f64_ukernel__##name(std::size_t n, double* w, const double* g, double* G, \
                                             step_constants<double> c);
#include "isa_list.inc"
#undef ADAGRAD_ISA

}  // namespace kernels
}  // namespace adagrad

#endif  // ADAGRAD_KERNELS_UKERNELS_H_
