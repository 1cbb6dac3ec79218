# SPDX-License-Identifier: BSD-3-Clause
# ISA hygiene of the built objects (run by ctest as `cmake -P`).
#
#  ISA_OBJECTS       list of "<isa>/<arch>=<obj>|<obj>..." for each per-ISA
#                    object library, <arch> naming the xsimd architecture its
#                    kernels are instantiated for (the ISA's own name but for
#                    avx512bf16, whose kernels are xsimd::avx512bw's)
#  BASELINE_OBJECTS  "<obj>|<obj>..." compiled with the baseline flags
#
# 1. Every symbol a per-ISA object defines globally (strong or weak) names its
#    ISA (a ukernel, or anything in the ISA's namespace adagrad::kernels::
#    isa_<isa>, kernels/isa_namespace.h) or its xsimd architecture. An
#    inline function not keyed on the ISA
#    (std::sqrt, a helper) is emitted there as a weak symbol, and the linker
#    may keep that copy for the whole program: an older CPU would then die
#    with SIGILL in baseline code.
# 2. The baseline objects use no AVX register (ymm/zmm): none of their code may
#    need more than the x86-64 baseline.
cmake_minimum_required(VERSION 3.21)

set(failures 0)
foreach(entry IN LISTS ISA_OBJECTS)
  string(REGEX MATCH "^([a-z0-9_]+)/([a-z0-9_]+)=(.*)$" _ "${entry}")
  set(isa "${CMAKE_MATCH_1}")
  set(arch "${CMAKE_MATCH_2}")
  string(REPLACE "|" ";" objects "${CMAKE_MATCH_3}")
  foreach(object IN LISTS objects)
    execute_process(COMMAND ${NM} --defined-only --extern-only --demangle ${object}
                    OUTPUT_VARIABLE symbols RESULT_VARIABLE nm_result)
    if(NOT nm_result EQUAL 0)
      message(SEND_ERROR "${NM} failed on ${object}")
      math(EXPR failures "${failures} + 1")
    endif()
    string(REPLACE "\n" ";" lines "${symbols}")
    set(keyed 0)
    foreach(line IN LISTS lines)
      if(line STREQUAL "")
        continue()
      endif()
      # Keyed: the ukernel name (…__<isa>), the ISA's namespace or the xsimd
      # architecture type.
      if(line MATCHES "(__${isa}|xsimd::${arch})([^a-z0-9_]|$)" OR
         line MATCHES "adagrad::kernels::isa_${isa}::")
        math(EXPR keyed "${keyed} + 1")
      else()
        message(SEND_ERROR "${object}: symbol not keyed on ${isa}: ${line}")
        math(EXPR failures "${failures} + 1")
      endif()
    endforeach()
    if(keyed EQUAL 0)
      message(SEND_ERROR "${object}: defines no ${isa} symbol at all")
      math(EXPR failures "${failures} + 1")
    endif()
    message(STATUS "${isa}: ${object}: ${keyed} global symbols, all keyed on ${isa} or xsimd::${arch}")
  endforeach()
endforeach()

string(REPLACE "|" ";" baseline "${BASELINE_OBJECTS}")
foreach(object IN LISTS baseline)
  execute_process(COMMAND ${OBJDUMP} -d ${object} OUTPUT_VARIABLE listing RESULT_VARIABLE od_result)
  if(NOT od_result EQUAL 0)
    message(SEND_ERROR "${OBJDUMP} failed on ${object}")
    math(EXPR failures "${failures} + 1")
  elseif(listing MATCHES "%[yz]mm")
    message(SEND_ERROR "${object}: baseline code uses an AVX register")
    math(EXPR failures "${failures} + 1")
  else()
    message(STATUS "baseline: ${object}: no ymm/zmm register")
  endif()
endforeach()

if(failures GREATER 0)
  message(FATAL_ERROR "${failures} ISA hygiene problem(s)")
endif()
