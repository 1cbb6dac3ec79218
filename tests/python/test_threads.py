# SPDX-License-Identifier: BSD-3-Clause
"""adagrad.step from several Python threads at once.

step() releases the GIL while the library runs, so these threads really do
run steps concurrently. Whether they overlap cannot be observed without
timing, which this project's tests never assert on; what is checked is that
concurrent steps on disjoint arrays (sharing one read-only gradient) finish
and give the same bits as the same steps run one after the other.
"""
import threading
import unittest

import numpy as np

import adagrad
from bitwise import assert_same_bits

THREADS = 4
ELEMENTS = 1 << 20
STEPS = 4


def stepped(w0, grad, hyper):
    w = w0.copy()
    G = np.zeros_like(w)
    for step in range(1, STEPS + 1):
        adagrad.step(w, grad, G, step=step, **hyper)
    return w, G


class ThreadTest(unittest.TestCase):
    def test_concurrent_steps_equal_sequential_ones(self):
        hyper = dict(lr=0.05, weight_decay=0.01, lr_decay=0.001)
        for dtype in (np.float32, np.float64):
            rng = np.random.default_rng(5)
            grad = rng.standard_normal(ELEMENTS).astype(dtype)
            grad.setflags(write=False)
            initial = [rng.standard_normal(ELEMENTS).astype(dtype) for _ in range(THREADS)]
            expected = [stepped(w0, grad, hyper) for w0 in initial]

            results = [None] * THREADS
            start = threading.Barrier(THREADS)

            def worker(index):
                start.wait()
                results[index] = stepped(initial[index], grad, hyper)

            threads = [threading.Thread(target=worker, args=(i,)) for i in range(THREADS)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            for index in range(THREADS):
                with self.subTest(dtype=dtype.__name__, thread=index):
                    self.assertIsNotNone(results[index], "thread %d did not finish" % index)
                    assert_same_bits(self, results[index][0], expected[index][0], "w")
                    assert_same_bits(self, results[index][1], expected[index][1], "G")


if __name__ == "__main__":
    unittest.main()
