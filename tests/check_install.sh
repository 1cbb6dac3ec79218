#!/usr/bin/env bash
# Installs the built library into a temporary prefix, then builds and runs a
# consumer twice: with find_package(adagrad CONFIG) and with pkg-config.
#   check_install.sh BUILD_DIR SOURCE_DIR C_COMPILER
set -euo pipefail
build=$1 source=$2 cc=$3
prefix=$(mktemp -d)
trap 'rm -rf "$prefix"' EXIT

cmake --install "$build" --prefix "$prefix/usr" >/dev/null
libdir=$(dirname "$(find "$prefix/usr" -name 'libadagrad.so' | head -n 1)")

cmake -S "$source/tests/consumer" -B "$prefix/cmake-consumer" \
  -DCMAKE_PREFIX_PATH="$prefix/usr" -DCMAKE_C_COMPILER="$cc" >/dev/null
cmake --build "$prefix/cmake-consumer" >/dev/null
"$prefix/cmake-consumer/consumer"

export PKG_CONFIG_PATH="$libdir/pkgconfig"
# The .pc file names the configured prefix; point it at the temporary one.
"$cc" -std=c99 "$source/tests/consumer/consumer.c" -o "$prefix/pc-consumer" \
  $(pkg-config --define-variable=prefix="$prefix/usr" --cflags --libs adagrad) \
  -Wl,-rpath,"$libdir"
"$prefix/pc-consumer"
