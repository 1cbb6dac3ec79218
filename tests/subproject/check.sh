#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
# Configures, builds and runs tests/subproject in a scratch directory.
#   check.sh SOURCE_DIR BUILD_DIR CMAKE
set -eu
source_dir=$1
build_dir=$2
cmake=$3
rm -rf "$build_dir"
"$cmake" -S "$source_dir/tests/subproject" -B "$build_dir" -DADAGRAD_SOURCE_DIR="$source_dir"
"$cmake" --build "$build_dir" --target parent_app --parallel 2
"$build_dir/parent_app"
