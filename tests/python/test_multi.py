# SPDX-License-Identifier: BSD-3-Clause
"""adagrad.step_multi: many tensors in one library call (adagrad_step_multi).

Every tensor must get the bits adagrad.step gives it alone, for float32 and
float64, on 1, 2 and 3 threads (threads= and a ThreadPool), with tensors of
every size from none to more than the library's threading threshold; every
refused call must raise the documented error, naming the array, with no
array changed.
"""
import unittest

import numpy as np

import adagrad
from bitwise import assert_same_bits

# Lengths below, at and above the vector widths, a prime, empty, and enough
# in all (more than 64K elements) that the library splits the work.
SIZES = [0, 1, 7, 16, 17, 1031, 4096, 65537, 3, 100003]
HYPERPARAMETERS = dict(lr=0.05, eps=1e-10, weight_decay=0.01, lr_decay=0.001, step=3,
                       maximize=True)


def make_tensors(dtype, seed, sizes=SIZES):
    rng = np.random.default_rng(seed)
    return [(rng.standard_normal(n).astype(dtype), rng.standard_normal(n).astype(dtype),
             rng.random(n).astype(dtype)) for n in sizes]


def copies(tensors):
    return [tuple(a.copy() for a in tensor) for tensor in tensors]


def lists(tensors):
    return [list(arrays) for arrays in zip(*tensors)] if tensors else [[], [], []]


class StepMultiTest(unittest.TestCase):
    def test_same_bits_as_step_on_each_tensor(self):
        for dtype in (np.float32, np.float64):
            for fma in (False, True):
                tensors = make_tensors(dtype, 1)
                expected = copies(tensors)
                for w, g, G in expected:
                    adagrad.step(w, g, G, fma=fma, **HYPERPARAMETERS)
                for where in (dict(threads=1), dict(threads=2), dict(threads=3),
                              dict(pool=adagrad.ThreadPool(2)), dict(pool=adagrad.ThreadPool(3))):
                    with self.subTest(dtype=dtype.__name__, fma=fma, **{
                            k: getattr(v, "threads", v) for k, v in where.items()}):
                        actual = copies(tensors)
                        adagrad.step_multi(*lists(actual), fma=fma, **where, **HYPERPARAMETERS)
                        for index, (a, b) in enumerate(zip(actual, expected)):
                            assert_same_bits(self, a[0], b[0], "w[{}]".format(index))
                            assert_same_bits(self, a[2], b[2], "G[{}]".format(index))

    def test_shared_gradient_and_no_tensors(self):
        grad = np.ones(5, np.float32)
        w = [np.zeros(5, np.float32), np.ones(5, np.float32)]
        G = [np.zeros(5, np.float32), np.zeros(5, np.float32)]
        adagrad.step_multi(w, [grad, grad], G, lr=0.5)
        expected_w, expected_G = np.zeros(5, np.float32), np.zeros(5, np.float32)
        adagrad.step(expected_w, grad, expected_G, lr=0.5)
        assert_same_bits(self, w[0], expected_w, "w[0]")
        adagrad.step_multi([], [], [], lr=0.5)
        adagrad.step_multi((), (), (), lr=0.5)  # any sequence

    def assertRefused(self, error, message, w, g, G, **options):
        before = [[a.copy() for a in arrays] for arrays in (w, g, G)]
        with self.assertRaisesRegex(error, message):
            adagrad.step_multi(w, g, G, **options)
        for arrays, saved in zip((w, g, G), before):
            for a, b in zip(arrays, saved):
                assert_same_bits(self, a, b, "unchanged")

    def test_refused_calls_change_nothing(self):
        w, g, G = lists(make_tensors(np.float32, 2, [5, 6, 7]))
        self.assertRefused(ValueError, "same length", w, g[:2], G)
        self.assertRefused(TypeError, r"g\[1\] must be a numpy.ndarray, not list", w,
                           [g[0], [1.0] * 6, g[2]], G)
        self.assertRefused(TypeError, r"G\[2\] has dtype float64", w, g,
                           G[:2] + [G[2].astype(np.float64)])
        self.assertRefused(TypeError, r"w\[0\] must have dtype float32 or float64",
                           [w[0].astype(np.int32)] + w[1:], g, G)
        self.assertRefused(ValueError, r"g\[1\] has shape \(5,\) but w\[1\] has \(6,\)", w,
                           [g[0], g[0], g[2]], G)
        strided = np.zeros(14, np.float32)[::2]
        self.assertRefused(ValueError, r"w\[2\] must be C-contiguous", w[:2] + [strided], g, G)
        read_only = G[1].copy()
        read_only.setflags(write=False)
        self.assertRefused(ValueError, r"G\[1\] is read-only", w, g, [G[0], read_only, G[2]])
        misaligned = np.frombuffer(bytearray(4 * 7 + 2), np.float32, count=7, offset=2)
        self.assertRefused(ValueError, r"g\[2\] is not aligned", w, [g[0], g[1], misaligned], G)
        self.assertRefused(ValueError, r"w\[0\] and G\[2\] share memory", [G[2][:5]] + w[1:], g,
                           G)
        self.assertRefused(ValueError, "lr = -1.0 is invalid", w, g, G, lr=-1.0)
        self.assertRefused(TypeError, "maximize must be a bool", w, g, G, maximize=1)
        self.assertRefused(ValueError, "threads must be an int in", w, g, G, threads=0)
        self.assertRefused(ValueError, "threads and pool are both given", w, g, G, threads=2,
                           pool=adagrad.ThreadPool(2))


if __name__ == "__main__":
    unittest.main()
