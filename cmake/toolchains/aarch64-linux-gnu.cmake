# SPDX-License-Identifier: BSD-3-Clause
# Cross-compiling for AArch64 with Debian's g++-aarch64-linux-gnu; the tests
# then run under qemu-aarch64 (Debian's qemu-user).
#   cmake -S . -B build/aarch64 -DCMAKE_TOOLCHAIN_FILE=cmake/toolchains/aarch64-linux-gnu.cmake
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
set(CMAKE_CXX_COMPILER aarch64-linux-gnu-g++)
set(CMAKE_FIND_ROOT_PATH /usr/aarch64-linux-gnu)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
# Headers only: xsimd is architecture independent, so /usr/include serves.
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE BOTH)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE BOTH)
# qemu's default CPU model ("max") has SVE at 512 bits; the suite's plain
# entries run without it, as on a NEON-only CPU, and tests/CMakeLists.txt
# adds the SVE entries, one model per vector length.
set(CMAKE_CROSSCOMPILING_EMULATOR qemu-aarch64 -L /usr/aarch64-linux-gnu -cpu max,sve=off)
# xsimd is header-only; its package config sits in the host's multiarch
# directory, which the target's find root does not cover.
file(GLOB _adagrad_xsimd_configs /usr/lib/*/cmake/xsimd/xsimdConfig.cmake)
if(_adagrad_xsimd_configs)
  list(GET _adagrad_xsimd_configs 0 _adagrad_xsimd_config)
  get_filename_component(xsimd_DIR "${_adagrad_xsimd_config}" DIRECTORY)
  set(xsimd_DIR "${xsimd_DIR}" CACHE PATH "xsimd package config directory")
endif()
