#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
# The Python package as pip builds and installs it: a wheel from a copy of
# the source tree (pip wheel --no-build-isolation, setup.py drives CMake),
# installed into a fresh virtual environment (with the system's site
# packages, for Debian's NumPy), then imported from outside the source tree:
# its metadata version is the library's, it steps bit for bit as the scalar
# path, the extension links no libadagrad (the library is inside it), and a
# copy of the installed package elsewhere imports too.
#   check_python_wheel.sh SOURCE_DIR WORK_DIR PYTHON
set -eu
source_dir=$1
work=$2
python=$3
rm -rf "$work"
mkdir -p "$work/src"
# The tracked files only: no build trees, no stale egg-info.
git -C "$source_dir" ls-files -z | (cd "$source_dir" && xargs -0 cp --parents -t "$work/src")
"$python" -m pip wheel --no-build-isolation --no-deps --no-index -w "$work/dist" "$work/src"
"$python" -m venv --system-site-packages "$work/venv"
"$work/venv/bin/python" -m pip install --no-index --no-deps "$work"/dist/adagrad-*.whl
cd "$work"
"$work/venv/bin/python" - <<'PY'
import importlib.metadata, os, shutil, subprocess, sys
import numpy as np
import adagrad

assert "venv" in adagrad.__file__, adagrad.__file__
assert importlib.metadata.version("adagrad") == adagrad.__version__, (
    importlib.metadata.version("adagrad"), adagrad.__version__)
w = np.linspace(-1, 1, 1001, dtype=np.float32); g = np.cos(w); G = np.zeros_like(w)
w2, G2 = w.copy(), G.copy()
adagrad.step(w, g, G, lr=0.1)
adagrad.step(w2, g, G2, lr=0.1, isa="scalar")
assert w.tobytes() == w2.tobytes() and G.tobytes() == G2.tobytes()
package = os.path.dirname(adagrad.__file__)
# The subpackage adagrad.torch (its modules) is in the wheel too.
import adagrad.torch
assert os.path.dirname(adagrad.torch.__file__) == os.path.join(package, "torch"), adagrad.torch.__file__
assert adagrad.torch.Adagrad.__module__ == "adagrad.torch._optimizer", adagrad.torch.Adagrad.__module__
# adagrad._torch_replay is in the wheel, and used, when the build found
# libtorch's headers (ctest says whether its own build did).
import adagrad.torch._optimizer
expected = os.environ.get("ADAGRAD_TORCH_REPLAY_BUILT")
if expected is not None:
    replay = adagrad.torch._optimizer._torch_replay
    assert (replay is not None) == (expected == "1"), (expected, replay)
extension = [f for f in os.listdir(package) if f.startswith("_adagrad")][0]
libraries = subprocess.run(["ldd", os.path.join(package, extension)], capture_output=True,
                           text=True, check=True).stdout
assert "libadagrad" not in libraries, libraries
# The installed package is self-contained: a copy of it imports.
shutil.copytree(package, "copied/adagrad")
out = subprocess.run([sys.executable, "-c", "import adagrad; print(adagrad.__file__, adagrad.active_isa())"],
                     cwd="copied", capture_output=True, text=True, check=True).stdout
assert "copied" in out, out
print("wheel", importlib.metadata.version("adagrad"), "installed, imported, copied:", out.strip())
PY
