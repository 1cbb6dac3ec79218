// SPDX-License-Identifier: BSD-3-Clause
// How dispatch chooses an ISA per kernel family: the table of CPU models
// (src/dispatch_rules.cpp) and the one-time measurement for what the table
// leaves open (src/dispatch_calibrate.cpp). Used only by src/dispatch.cpp.
#ifndef ADAGRAD_SRC_DISPATCH_RULES_H_
#define ADAGRAD_SRC_DISPATCH_RULES_H_

#include <cstdint>

#include "dispatch.h"

namespace adagrad {
namespace detail {

// What the table says of one family on one CPU model.
enum class family_rule : std::uint8_t {
  measure,     // the table does not know: time the candidates
  widest,      // the widest usable ISA
  widest_256,  // the widest usable ISA of at most 256-bit vectors
  widest_fixed,  // the widest usable ISA whose vector length is fixed (not SVE)
};

struct cpu_rule {
  const char* name;                            // adagrad_dispatch_cpu()
  family_rule families[ADAGRAD_FAMILY_COUNT];  // indexed by adagrad_family
};

// The table row of the CPU this runs on (x86-64: CPUID vendor, family and
// model; AArch64: the SVE rule, by the vector length), or nullptr for a CPU
// the table does not list (and on any other target).
const cpu_rule* match_cpu_rule();

// The vector width of table entry `index` of kIsaTable in bytes (0 for the
// scalar reference; an SVE entry's is the CPU's, 0 on a CPU without SVE).
unsigned vector_bytes(unsigned index);

// Whether table entry `index` has a vector length the CPU chooses (SVE).
bool scalable_vector(unsigned index);

// Fills the calibration buffers with ordinary values for family's kernels.
void prepare_family_buffers(adagrad_family family);

// After prepare_family_buffers(family): the best (smallest) time in nanoseconds of a few runs of family's kernel
// of `kernels` on a small in-cache buffer. Called only during resolution,
// which holds the once-guard, so its static buffer is never shared.
std::uint64_t time_family_kernel(adagrad_family family, const isa_kernels& kernels);

}  // namespace detail
}  // namespace adagrad

#endif  // ADAGRAD_SRC_DISPATCH_RULES_H_
