# SPDX-License-Identifier: BSD-3-Clause
"""Builds the extension module adagrad._adagrad (and adagrad._torch_replay,
where torch and libtorch's headers are found) with CMake for pip.

pyproject.toml holds the metadata; this file only says how the one
extension is built: the CMake project configured for the Python module
alone, with libadagrad static, so the extension carries the library and the
installed package needs nothing beside it. CMAKE_BUILD_PARALLEL_LEVEL sets the build's jobs (default: every
CPU).
"""
import os
import pathlib
import subprocess
import sys

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

ROOT = pathlib.Path(__file__).parent.resolve()


class CMakeExtension(Extension):
    def __init__(self, name):
        super().__init__(name, sources=[])


class CMakeBuild(build_ext):
    def build_extension(self, ext):
        # The directory setuptools packs: the extension goes there directly.
        package_dir = pathlib.Path(self.get_ext_fullpath(ext.name)).parent.resolve()
        build_dir = pathlib.Path(self.build_temp).resolve() / "cmake"
        configure = [
            "cmake", "-S", str(ROOT), "-B", str(build_dir),
            "-DCMAKE_BUILD_TYPE=Release",
            "-DADAGRAD_BUILD_PYTHON=ON",
            "-DADAGRAD_BUILD_SHARED=OFF",
            "-DADAGRAD_BUILD_TESTS=OFF",
            "-DADAGRAD_BUILD_BENCHMARKS=OFF",
            "-DADAGRAD_BUILD_EXAMPLES=OFF",
            "-DADAGRAD_INSTALL=OFF",
            "-DADAGRAD_PYTHON=" + sys.executable,
            "-DADAGRAD_PYTHON_OUTPUT_DIR=" + str(package_dir),
        ]
        jobs = os.environ.get("CMAKE_BUILD_PARALLEL_LEVEL", str(os.cpu_count() or 1))
        subprocess.run(configure, check=True)
        # adagrad_python_modules: _adagrad, and _torch_replay where CMake
        # found torch with libtorch's headers (python/CMakeLists.txt).
        subprocess.run(["cmake", "--build", str(build_dir), "--target", "adagrad_python_modules",
                        "--parallel", jobs], check=True)


setup(ext_modules=[CMakeExtension("adagrad._adagrad")], cmdclass={"build_ext": CMakeBuild})
