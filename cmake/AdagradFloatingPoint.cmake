# SPDX-License-Identifier: BSD-3-Clause
# The floating-point contract lives in the build.
#
# -ffp-contract=off: GCC contracts a*b + c into a fused multiply-add by
# default whenever the target has FMA; that rounds once instead of twice and
# the paths would drift apart. It is set for every target of this project
# (library, tests, benchmarks), never the fast-math options, which would also
# reassociate, drop NaN/Inf semantics and set FTZ/DAZ process-wide.
# -fno-math-errno: std::sqrt of a negative number then stays the one sqrt
# instruction (NaN) instead of a call that writes errno; the value is the same.
add_compile_options(-ffp-contract=off -fno-math-errno)

# Settings shared by the library's own targets.
function(adagrad_configure_target target)
  target_include_directories(${target} PRIVATE
    ${PROJECT_SOURCE_DIR}/include
    ${PROJECT_SOURCE_DIR}/kernels
    ${PROJECT_SOURCE_DIR}/src)
  target_compile_features(${target} PRIVATE cxx_std_17)
  # The C API never throws and nothing inside may: no unwind tables, no
  # personality routine referenced from the per-ISA objects.
  target_compile_options(${target} PRIVATE $<$<COMPILE_LANGUAGE:CXX>:-fno-exceptions>)
  set_target_properties(${target} PROPERTIES
    CXX_EXTENSIONS OFF
    CXX_VISIBILITY_PRESET hidden
    VISIBILITY_INLINES_HIDDEN ON
    POSITION_INDEPENDENT_CODE ON)
  adagrad_warnings(${target})
endfunction()

# -Wall -Wextra everywhere; -Werror when ADAGRAD_WERROR (tests/run, CI).
function(adagrad_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra $<$<BOOL:${ADAGRAD_WERROR}>:-Werror>)
endfunction()
