# SPDX-License-Identifier: BSD-3-Clause
# A source's software prefetches survive compilation (run by ctest, and by
# bench/CMakeLists.txt after each build, as `cmake -P`).
#
#  OBJDUMP  the toolchain's objdump
#  OBJECTS  "<obj>|<obj>..." of a target; the one built from SOURCE is checked
#  SOURCE   the source's file name (default sparse.cpp: src/sparse.cpp of the
#           library; bench/CMakeLists.txt checks its gather and row limits)
#
# GCC 12 once deleted every prefetch of src/sparse.cpp without a word: a small
# function that only prefetches looks pure to its IPA pure-const pass, and an
# unused call of a pure function is dead code (see prefetch_span there). The
# results stay right, so no functional test can notice; this one reads the
# object's code and wants at least one prefetch instruction in it (x86
# prefetcht0/prefetchw/..., AArch64 prfm).
cmake_minimum_required(VERSION 3.21)

if(NOT DEFINED SOURCE)
  set(SOURCE sparse.cpp)
endif()
string(REPLACE "|" ";" objects "${OBJECTS}")
string(REPLACE "." "\\." source_pattern "${SOURCE}")
set(checked_object "")
foreach(object IN LISTS objects)
  if(object MATCHES "[/\\\\]${source_pattern}\\.o(bj)?$")
    set(checked_object "${object}")
  endif()
endforeach()
if(checked_object STREQUAL "")
  message(FATAL_ERROR "no object built from ${SOURCE} among: ${OBJECTS}")
endif()

execute_process(COMMAND ${OBJDUMP} -d ${checked_object} OUTPUT_VARIABLE listing
                RESULT_VARIABLE od_result)
if(NOT od_result EQUAL 0)
  message(FATAL_ERROR "${OBJDUMP} failed on ${checked_object}")
endif()
string(REGEX MATCHALL "[ \t](prefetch[a-z0-9]*|prfm)[ \t]" prefetches "${listing}")
list(LENGTH prefetches count)
if(count EQUAL 0)
  message(FATAL_ERROR "${checked_object}: no prefetch instruction; the compiler dropped its "
                      "prefetches (see prefetch_span in src/sparse_sort.h)")
endif()
message(STATUS "${checked_object}: ${count} prefetch instructions")
