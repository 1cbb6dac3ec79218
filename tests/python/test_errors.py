# SPDX-License-Identifier: BSD-3-Clause
"""Every invalid argument of adagrad.step and adagrad.state_init raises the
right exception type, names the argument, and changes nothing."""
import unittest

import numpy as np

import adagrad
from bitwise import assert_same_bits

N = 5
ALL_ISAS = adagrad.isas()


def arrays(dtype=np.float64, n=N):
    rng = np.random.default_rng(3)
    return tuple(rng.random(n).astype(dtype) for _ in range(3))


def misaligned(dtype, n):
    """A writable C-contiguous array whose data starts one byte past an
    element boundary."""
    itemsize = np.dtype(dtype).itemsize
    buffer = bytearray(itemsize * (n + 1))
    return np.frombuffer(buffer, dtype=dtype, count=n, offset=1)


class StepErrorTest(unittest.TestCase):
    def assertRejected(self, error, argument, w, g, G, **kwargs):
        """step(w, g, G, **kwargs) raises error naming argument, and leaves the
        three arrays as they were (compared by their bytes)."""
        before = [np.array(a, copy=True) if isinstance(a, np.ndarray) else a for a in (w, g, G)]
        with self.assertRaises(error) as raised:
            adagrad.step(w, g, G, **kwargs)
        self.assertIn(argument, str(raised.exception))
        for name, array, copy in zip("wgG", (w, g, G), before):
            if isinstance(array, np.ndarray):
                assert_same_bits(self, array, copy, name)

    def test_not_arrays(self):
        w, g, G = arrays()
        self.assertRejected(TypeError, "w", w.tolist(), g, G)
        self.assertRejected(TypeError, "g", w, list(g), G)
        self.assertRejected(TypeError, "G", w, g, None)

    def test_wrong_dtypes(self):
        w, g, G = arrays()
        self.assertRejected(TypeError, "w", w.astype(np.float16), g.astype(np.float16),
                            G.astype(np.float16))
        self.assertRejected(TypeError, "w", w.astype(np.int64), g, G)
        self.assertRejected(TypeError, "w", w.astype(np.longdouble), g, G)
        self.assertRejected(TypeError, "w", w.astype(">f8"), g, G)  # byte-swapped
        self.assertRejected(TypeError, "g", w, g.astype(np.float32), G)
        self.assertRejected(TypeError, "G", w, g, G.astype(np.float32))
        w32, g32, G32 = arrays(np.float32)
        self.assertRejected(TypeError, "G", w32, g32, G)

    def test_mismatched_shapes(self):
        w, g, G = arrays(n=6)
        self.assertRejected(ValueError, "g", w, g[:5], G)
        self.assertRejected(ValueError, "G", w, g, G.reshape(2, 3))
        self.assertRejected(ValueError, "G", w.reshape(2, 3), g.reshape(2, 3), G.reshape(3, 2))

    def test_not_c_contiguous(self):
        w, g, G = arrays(n=2 * N)
        self.assertRejected(ValueError, "w", w[::2], g[:N], G[:N])
        self.assertRejected(ValueError, "g", w[:N], g[::2], G[:N])
        self.assertRejected(ValueError, "G", w[:N], g[:N], G[::2])
        self.assertRejected(ValueError, "w", np.asfortranarray(w.reshape(2, N)),
                            g.reshape(2, N), G.reshape(2, N))

    def test_read_only(self):
        for name in ("w", "G"):
            w, g, G = arrays()
            {"w": w, "G": G}[name].setflags(write=False)
            self.assertRejected(ValueError, name, w, g, G)

    def test_read_only_gradient_is_fine(self):
        w, g, G = arrays()
        g.setflags(write=False)
        adagrad.step(w, g, G)

    def test_misaligned(self):
        for dtype in (np.float32, np.float64):
            w, g, G = arrays(dtype)
            self.assertRejected(ValueError, "w", misaligned(dtype, N), g, G)
            self.assertRejected(ValueError, "g", w, misaligned(dtype, N), G)
            self.assertRejected(ValueError, "G", w, g, misaligned(dtype, N))

    def test_overlapping(self):
        w, g, G = arrays()
        self.assertRejected(ValueError, "w and g", w, w, G)
        self.assertRejected(ValueError, "w and G", w, g, w)
        self.assertRejected(ValueError, "g and G", w, g, g)
        shared = np.arange(2 * N - 1, dtype=np.float64)
        # One element in common.
        self.assertRejected(ValueError, "w and G", shared[:N], g, shared[N - 1:])
        self.assertRejected(ValueError, "g and G", w, shared[N - 1:], shared[:N])

    def test_invalid_hyperparameter_values(self):
        cases = [("lr", -0.1), ("lr", float("nan")), ("lr", float("inf")),
                 ("eps", -1e-8), ("eps", float("nan")),
                 ("weight_decay", float("inf")), ("weight_decay", -0.01),
                 ("lr_decay", -0.5), ("lr_decay", float("-inf"))]
        for dtype in (np.float64, np.float32):
            for name, value in cases:
                with self.subTest(dtype=dtype.__name__, name=name, value=value):
                    self.assertRejected(ValueError, name, *arrays(dtype), **{name: value})

    def test_hyperparameter_too_large_for_float32(self):
        self.assertRejected(ValueError, "lr", *arrays(np.float32), lr=1e39)
        self.assertRejected(ValueError, "eps", *arrays(np.float32), eps=1e39)
        self.assertRejected(ValueError, "lr", *arrays(np.float64), lr=10 ** 400)

    def test_step(self):
        self.assertRejected(ValueError, "step", *arrays(), lr_decay=0.1, step=0)
        self.assertRejected(ValueError, "step", *arrays(), step=-1)
        self.assertRejected(ValueError, "step", *arrays(), step=2 ** 64)
        self.assertRejected(TypeError, "step", *arrays(), step=1.0)
        self.assertRejected(TypeError, "step", *arrays(), step="1")

    def test_wrong_hyperparameter_types(self):
        self.assertRejected(TypeError, "lr", *arrays(), lr="0.1")
        self.assertRejected(TypeError, "eps", *arrays(), eps=None)
        self.assertRejected(TypeError, "weight_decay", *arrays(), weight_decay=[0.1])
        self.assertRejected(TypeError, "lr_decay", *arrays(), lr_decay=1j)
        self.assertRejected(TypeError, "maximize", *arrays(), maximize="yes")
        self.assertRejected(TypeError, "maximize", *arrays(), maximize=1)
        self.assertRejected(TypeError, "fma", *arrays(), fma=None)

    def test_eps_mode(self):
        self.assertRejected(ValueError, "eps_mode", *arrays(), eps_mode="middle")
        self.assertRejected(ValueError, "eps_mode", *arrays(), eps_mode="OUTSIDE")
        self.assertRejected(TypeError, "eps_mode", *arrays(), eps_mode=0)

    def test_isa(self):
        self.assertRejected(ValueError, "isa", *arrays(), isa="mmx")
        self.assertRejected(ValueError, "isa", *arrays(), isa="AVX")
        self.assertRejected(TypeError, "isa", *arrays(), isa=0)
        unsupported = [name for name in ALL_ISAS if name not in adagrad.supported_isas()]
        for name in unsupported:
            with self.subTest(isa=name):
                self.assertRejected(ValueError, "isa", *arrays(), isa=name)

    def test_positional_hyperparameters_are_refused(self):
        # Keyword-only: step(w, g, G, 0.1) must not silently mean lr=0.1.
        w, g, G = arrays()
        before = [a.copy() for a in (w, g, G)]
        with self.assertRaises(TypeError):
            adagrad.step(w, g, G, 0.1)
        for name, array, copy in zip("wgG", (w, g, G), before):
            assert_same_bits(self, array, copy, name)

    def test_unknown_keywords_are_refused(self):
        # A misspelt or foreign keyword must raise, not be ignored, even next
        # to valid ones.
        self.assertRejected(TypeError, "lrr", *arrays(), lrr=0.1)
        self.assertRejected(TypeError, "momentum", *arrays(), lr=0.1, momentum=0.9)
        self.assertRejected(TypeError, "'W'", *arrays(), W=np.zeros(N))

    def test_keywords_in_any_order_and_arrays_by_name(self):
        w, g, G = arrays()
        expected = [a.copy() for a in (w, g, G)]
        adagrad.step(*expected, lr=0.3, eps=1e-6, weight_decay=0.1, lr_decay=0.01, step=3,
                     maximize=True, eps_mode="inside", fma=True, isa="scalar")
        adagrad.step(G=G, isa="scalar", fma=True, eps_mode="inside", maximize=True, step=3,
                     lr_decay=0.01, weight_decay=0.1, eps=1e-6, lr=0.3, g=g, w=w)
        for name, array, want in zip("wgG", (w, g, G), expected):
            assert_same_bits(self, array, want, name)

    def test_signature(self):
        # help() and inspect show the keywords and defaults (test_signatures
        # checks every function).
        import inspect
        parameters = inspect.signature(adagrad.step).parameters
        self.assertEqual(["w", "g", "G", "lr", "eps", "weight_decay", "lr_decay", "step",
                          "maximize", "eps_mode", "fma", "isa"], list(parameters))
        self.assertEqual(0.01, parameters["lr"].default)
        self.assertEqual(inspect.Parameter.KEYWORD_ONLY, parameters["lr"].kind)


class StateInitErrorTest(unittest.TestCase):
    def assertRejected(self, error, argument, G, value):
        before = np.array(G, copy=True) if isinstance(G, np.ndarray) else None
        with self.assertRaises(error) as raised:
            adagrad.state_init(G, value)
        self.assertIn(argument, str(raised.exception))
        if before is not None:
            assert_same_bits(self, G, before, "G")

    def test_bad_value(self):
        for dtype in (np.float64, np.float32):
            G = np.ones(N, dtype=dtype)
            self.assertRejected(ValueError, "value", G, -0.1)
            self.assertRejected(ValueError, "value", G, float("nan"))
            self.assertRejected(ValueError, "value", G, float("inf"))
            self.assertRejected(TypeError, "value", G, "0.1")
        self.assertRejected(ValueError, "value", np.ones(N, dtype=np.float32), 1e39)

    def test_bad_array(self):
        self.assertRejected(TypeError, "G", [0.0] * N, 0.1)
        self.assertRejected(TypeError, "G", np.ones(N, dtype=np.int32), 0.1)
        read_only = np.ones(N)
        read_only.setflags(write=False)
        self.assertRejected(ValueError, "G", read_only, 0.1)
        self.assertRejected(ValueError, "G", np.ones(2 * N)[::2], 0.1)
        self.assertRejected(ValueError, "G", misaligned(np.float64, N), 0.1)


if __name__ == "__main__":
    unittest.main()
