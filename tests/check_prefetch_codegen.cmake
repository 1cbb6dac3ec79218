# SPDX-License-Identifier: BSD-3-Clause
# The sparse driver's software prefetches survive compilation (run by ctest
# as `cmake -P`).
#
#  OBJDUMP  the toolchain's objdump
#  OBJECTS  "<obj>|<obj>..." of the library; the one built from src/sparse.cpp
#           is checked
#
# GCC 12 once deleted every prefetch of src/sparse.cpp without a word: a small
# function that only prefetches looks pure to its IPA pure-const pass, and an
# unused call of a pure function is dead code (see prefetch_span there). The
# results stay right, so no functional test can notice; this one reads the
# object's code and wants at least one prefetch instruction in it (x86
# prefetcht0/prefetchw/..., AArch64 prfm).
cmake_minimum_required(VERSION 3.21)

string(REPLACE "|" ";" objects "${OBJECTS}")
set(sparse_object "")
foreach(object IN LISTS objects)
  if(object MATCHES "[/\\\\]sparse\\.cpp\\.o(bj)?$")
    set(sparse_object "${object}")
  endif()
endforeach()
if(sparse_object STREQUAL "")
  message(FATAL_ERROR "no object built from src/sparse.cpp among: ${OBJECTS}")
endif()

execute_process(COMMAND ${OBJDUMP} -d ${sparse_object} OUTPUT_VARIABLE listing
                RESULT_VARIABLE od_result)
if(NOT od_result EQUAL 0)
  message(FATAL_ERROR "${OBJDUMP} failed on ${sparse_object}")
endif()
string(REGEX MATCHALL "[ \t](prefetch[a-z0-9]*|prfm)[ \t]" prefetches "${listing}")
list(LENGTH prefetches count)
if(count EQUAL 0)
  message(FATAL_ERROR "${sparse_object}: no prefetch instruction; the compiler dropped the sparse "
                      "driver's prefetches (see prefetch_span in src/sparse.cpp)")
endif()
message(STATUS "${sparse_object}: ${count} prefetch instructions")
