#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Installs the built library into a temporary prefix, then builds and runs a
# consumer twice: with find_package(adagrad CONFIG) and with pkg-config; and
# imports the installed Python package when the build has one.
#   check_install.sh BUILD_DIR SOURCE_DIR C_COMPILER
#   check_install.sh --static SOURCE_DIR C_COMPILER
# --static first builds the library alone as a static library (a packager's
# -DADAGRAD_BUILD_SHARED=OFF) and installs that: its consumers must get its
# private dependencies and the C++ runtime from the package files.
set -euo pipefail
build=$1 source=$2 cc=$3
prefix=$(mktemp -d)
trap 'rm -rf "$prefix"' EXIT

pkg_config_static=()
if [ "$build" = --static ]; then
  build=$prefix/static-build
  cmake -S "$source" -B "$build" -DADAGRAD_BUILD_SHARED=OFF -DADAGRAD_BUILD_TESTS=OFF \
    -DADAGRAD_BUILD_BENCHMARKS=OFF -DADAGRAD_BUILD_PYTHON=OFF -DADAGRAD_BUILD_EXAMPLES=OFF \
    -DCMAKE_C_COMPILER="$cc" >/dev/null
  cmake --build "$build" --parallel "$(nproc)" >/dev/null
  pkg_config_static=(--static)
fi

cmake --install "$build" --prefix "$prefix/usr" >/dev/null
libdir=$(dirname "$(find "$prefix/usr" -name 'libadagrad.so' -o -name 'libadagrad.a' | head -n 1)")

cmake -S "$source/tests/consumer" -B "$prefix/cmake-consumer" \
  -DCMAKE_PREFIX_PATH="$prefix/usr" -DCMAKE_C_COMPILER="$cc" >/dev/null
cmake --build "$prefix/cmake-consumer" >/dev/null
"$prefix/cmake-consumer/consumer"

export PKG_CONFIG_PATH="$libdir/pkgconfig"
# The .pc file names the configured prefix; point it at the temporary one.
"$cc" -std=c99 "$source/tests/consumer/consumer.c" -o "$prefix/pc-consumer" \
  $(pkg-config "${pkg_config_static[@]}" --define-variable=prefix="$prefix/usr" --cflags --libs adagrad) \
  -Wl,-rpath,"$libdir"
"$prefix/pc-consumer"

# The Python package, when the build has it: importable from the prefix alone
# (the extension finds libadagrad through its relative RPATH).
package_init=$(find "$prefix/usr" -path '*/adagrad/__init__.py' | head -n 1)
if [ -n "$package_init" ]; then
  PYTHONPATH=$(dirname "$(dirname "$package_init")") /usr/bin/python3 -c \
    'import adagrad, numpy as np; w = np.ones(3, np.float32); G = np.zeros(3, np.float32); adagrad.step(w, np.full(3, 2, np.float32), G, lr=0.5, eps=0.0); assert (w == 0.5).all(); print("python consumer: ok on", adagrad.active_isa())'
fi
