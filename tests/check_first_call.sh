#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
# Runs tests/first_call_test.cc's program with /proc and /sys hidden (tmpfs
# mounted over them in a private mount namespace), so that the library's
# first call cannot read them, and checks that it passes and that nothing
# reached stderr: the dispatch's resolution must neither read those files
# nor print. Skipped (exit 77) where no mount namespace can be made.
#   check_first_call.sh <first_call_test>
set -u
program=$1
if ! unshare --mount --propagation private true 2>/dev/null; then
  echo "skipped: cannot create a mount namespace here (needs root or CAP_SYS_ADMIN)"
  exit 77
fi
stderr_file=$(mktemp)
trap 'rm -f "$stderr_file"' EXIT
ADAGRAD_EXPECT_HIDDEN_PROC=1 unshare --mount --propagation private \
  sh -c 'mount -t tmpfs none /proc && mount -t tmpfs none /sys && exec "$0"' "$program" \
  2>"$stderr_file"
status=$?
if [ -s "$stderr_file" ]; then
  echo "FAILED: the first call wrote to stderr:"
  cat "$stderr_file"
  exit 1
fi
if [ "$status" -ne 0 ]; then
  echo "FAILED: exit status $status"
  exit 1
fi
echo "first call: no allocation, nothing on stderr, exact results, /proc and /sys hidden"
