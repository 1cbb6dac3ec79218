# SPDX-License-Identifier: BSD-3-Clause
"""adagrad.step against the seed notebook's NumPy class, bit for bit, on every
ISA this CPU has; the other hyperparameters against NumPy written in the
contract's order; state_init and the ISA queries."""
import os
import sys
import unittest

import numpy as np

import adagrad
from bitwise import assert_same_bits

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir))
from seed_reference import AdaGrad as SeedAdaGrad  # noqa: E402 (needs the path above)

# 1-D lengths below, at and past every vector width (and a prime), and 2-D.
SHAPES = [(1,), (7,), (37,), (1031,), (3, 5), (16, 65)]
# (lr, eps, weight_decay): the notebook's settings and heavier decay.
HYPERPARAMETERS = [(0.01, 1e-8, 0.0), (0.1, 1e-8, 0.01), (0.05, 1e-8, 0.5)]
STEPS = 8
ISAS = [None] + adagrad.supported_isas()


def random_run(dtype, shape, seed):
    """Initial weights and one fresh gradient per step."""
    rng = np.random.default_rng(seed)
    w0 = rng.standard_normal(shape).astype(dtype)
    grads = [(rng.standard_normal(shape) * 0.3).astype(dtype) for _ in range(STEPS)]
    return w0, grads


class SeedEquivalenceTest(unittest.TestCase):
    def test_matches_seed_class_on_every_isa(self):
        for dtype in (np.float64, np.float32):
            for shape in SHAPES:
                for lr, eps, weight_decay in HYPERPARAMETERS:
                    w0, grads = random_run(dtype, shape, seed=len(shape) * 1000 + shape[-1])
                    seed_w = w0.copy()
                    seed = SeedAdaGrad(lr=lr, eps=eps, weight_decay=weight_decay)
                    seed_trajectory = []
                    for grad in grads:
                        seed.step(seed_w, grad)
                        seed_trajectory.append((seed_w.copy(), seed.G[id(seed_w)].copy()))
                    for isa in ISAS:
                        with self.subTest(dtype=dtype.__name__, shape=shape, lr=lr,
                                          weight_decay=weight_decay, isa=isa):
                            w = w0.copy()
                            G = np.zeros_like(w)
                            for step, (grad, (seed_w_t, seed_G_t)) in enumerate(
                                    zip(grads, seed_trajectory), start=1):
                                adagrad.step(w, grad, G, lr=lr, eps=eps,
                                             weight_decay=weight_decay, isa=isa)
                                assert_same_bits(self, w, seed_w_t, "w after step %d" % step)
                                assert_same_bits(self, G, seed_G_t, "G after step %d" % step)


class HyperparameterTest(unittest.TestCase):
    """The terms the seed class does not have, against NumPy in the contract's
    order (each hyperparameter rounded once to the dtype)."""

    def numpy_step(self, w, g, G, lr, eps, weight_decay, lr_decay, step, maximize, eps_mode):
        dtype = w.dtype.type
        if maximize:
            g = -g
        if weight_decay != 0:
            g = g + dtype(weight_decay) * w
        G[...] = G + g * g
        lr_t = dtype(lr / (1 + (step - 1) * lr_decay))
        if eps_mode == "outside":
            denominator = np.sqrt(G) + dtype(eps)
        else:
            denominator = np.sqrt(G + dtype(eps))
        w[...] = w - (lr_t * g) / denominator

    def test_lr_decay_maximize_eps_mode(self):
        for dtype in (np.float64, np.float32):
            for maximize in (False, True):
                for eps_mode in ("outside", "inside"):
                    hyper = dict(lr=0.1, eps=1e-7, weight_decay=0.1, lr_decay=0.01,
                                 maximize=maximize, eps_mode=eps_mode)
                    w0, grads = random_run(dtype, (1031,), seed=7)
                    for isa in ISAS:
                        with self.subTest(dtype=dtype.__name__, maximize=maximize,
                                          eps_mode=eps_mode, isa=isa):
                            expected_w, expected_G = w0.copy(), np.zeros_like(w0)
                            w, G = w0.copy(), np.zeros_like(w0)
                            for step, grad in enumerate(grads, start=1):
                                self.numpy_step(expected_w, grad, expected_G, step=step, **hyper)
                                adagrad.step(w, grad, G, step=step, isa=isa, **hyper)
                                assert_same_bits(self, w, expected_w, "w after step %d" % step)
                                assert_same_bits(self, G, expected_G, "G after step %d" % step)

    def test_fma_mode_same_bits_on_every_isa(self):
        for dtype in (np.float64, np.float32):
            w0, grads = random_run(dtype, (16, 65), seed=11)
            hyper = dict(lr=0.1, eps=1e-10, weight_decay=0.1, lr_decay=0.01, fma=True)
            results = {}
            for isa in ISAS:
                w, G = w0.copy(), np.zeros_like(w0)
                for step, grad in enumerate(grads, start=1):
                    adagrad.step(w, grad, G, step=step, isa=isa, **hyper)
                results[isa] = (w, G)
            for isa in ISAS:
                with self.subTest(dtype=dtype.__name__, isa=isa):
                    assert_same_bits(self, results[isa][0], results[None][0], "w")
                    assert_same_bits(self, results[isa][1], results[None][1], "G")

    def test_empty_arrays_are_a_no_op(self):
        for dtype in (np.float64, np.float32):
            empty = [np.empty((0, 3), dtype=dtype) for _ in range(3)]
            adagrad.step(*empty)


class StateInitTest(unittest.TestCase):
    def test_fills_with_value_rounded_to_dtype(self):
        for dtype in (np.float64, np.float32):
            with self.subTest(dtype=dtype.__name__):
                G = np.full((4, 9), np.nan, dtype=dtype)
                adagrad.state_init(G, 0.1)
                assert_same_bits(self, G, np.full((4, 9), dtype(0.1)), "G")


class IsaTest(unittest.TestCase):
    def test_queries(self):
        supported = adagrad.supported_isas()
        self.assertIn("scalar", supported)
        self.assertIn(adagrad.active_isa(), supported)
        self.assertIn(adagrad.active_wide_isa(), supported)
        self.assertLessEqual(set(supported), set(adagrad.isas()))
        self.assertEqual("scalar", adagrad.isas()[0])
        self.assertEqual(len(set(adagrad.isas())), len(adagrad.isas()))

    def test_dispatch(self):
        info = adagrad.dispatch()
        self.assertEqual(["dense_f32", "dense_f64", "fma", "composite", "sparse", "rowwise",
                          "mixed"], list(info["families"]))
        for family, (isa, how) in info["families"].items():
            self.assertIn(isa, adagrad.supported_isas(), family)
            self.assertIn(how, {"table", "measured", "widest", "forced"}, family)
        self.assertEqual(adagrad.active_isa(), info["families"]["dense_f32"][0])
        self.assertEqual(adagrad.active_wide_isa(), info["families"]["sparse"][0])
        self.assertIsInstance(info["cpu"], str)
        measured = any(how == "measured" for _, how in info["families"].values())
        self.assertEqual(measured, info["calibration_ns"] > 0)


if __name__ == "__main__":
    unittest.main()
