// Runtime ISA selection: the table of built kernels, what this CPU can run,
// and the once-resolved default.
#ifndef ADAGRAD_SRC_DISPATCH_H_
#define ADAGRAD_SRC_DISPATCH_H_

#include "adagrad/adagrad.h"
#include "ukernels.h"

namespace adagrad {
namespace detail {

struct isa_kernels {
  adagrad_isa isa;
  const char* name;
  kernels::f32_ukernel_fn f32;
  kernels::f64_ukernel_fn f64;
};

inline kernels::f32_ukernel_fn ukernel_of(const isa_kernels& k, const float*) { return k.f32; }
inline kernels::f64_ukernel_fn ukernel_of(const isa_kernels& k, const double*) { return k.f64; }

// The kernels adagrad_step runs: resolved once, thread-safely.
const isa_kernels& active_kernels();

// The kernels of isa, or nullptr when isa is unknown, not built into this
// library or not usable on this CPU.
const isa_kernels* usable_kernels(adagrad_isa isa);

}  // namespace detail
}  // namespace adagrad

#endif  // ADAGRAD_SRC_DISPATCH_H_
