#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""Runs the seed notebook's own NumPy AdaGrad and writes what it computes.

The class below is the notebook's (../shared/seed/adagrad_numpy_notebook.txt),
unchanged but for its docstrings. The cases are the notebook's examples, in
float64 as the notebook runs them, plus longer random runs in float64 and in
float32 (NumPy then rounds each Python-float hyperparameter to float32, the
library's rule). tests/seed_notebook_test.cc replays every case through the
library and compares bit patterns.

Output, one record per line, all floats as hexadecimal bit patterns:
  case <name> <float32|float64> <n> <lr> <eps> <weight_decay> <steps>
  w0 <n patterns>                      initial weights
  G0 <n patterns>                      initial accumulator
  step <g patterns> | <w patterns> | <G patterns>   gradient, then results
"""
import sys

import numpy as np


class AdaGrad:
    def __init__(self, lr=0.01, eps=1e-8, weight_decay=0.0):
        self.lr = lr
        self.eps = eps
        self.weight_decay = weight_decay
        self.G = {}

    def step(self, params, grads):
        param_id = id(params)
        if param_id not in self.G:
            self.G[param_id] = np.zeros_like(params)
        if self.weight_decay > 0:
            grads = grads + self.weight_decay * params
        self.G[param_id] = self.G[param_id] + (grads ** 2)
        params[:] = params - self.lr * grads / (np.sqrt(self.G[param_id]) + self.eps)


def patterns(array):
    bits = array.view(np.uint32 if array.dtype == np.float32 else np.uint64).ravel()
    width = 8 if array.dtype == np.float32 else 16
    return " ".join(format(int(b), "0%dx" % width) for b in bits)


def run(out, name, W, gradient_for_step, steps, **hyper):
    opt = AdaGrad(**hyper)
    opt_defaults = AdaGrad()
    lr = hyper.get("lr", opt_defaults.lr)
    eps = hyper.get("eps", opt_defaults.eps)
    wd = hyper.get("weight_decay", opt_defaults.weight_decay)
    out.write("case %s %s %d %r %r %r %d\n" % (name, W.dtype, W.size, lr, eps, wd, steps))
    out.write("w0 %s\n" % patterns(W))
    out.write("G0 %s\n" % patterns(np.zeros_like(W)))
    for s in range(steps):
        grads = gradient_for_step(s)
        opt.step(W, grads)
        out.write("step %s | %s | %s\n" % (patterns(grads), patterns(W), patterns(opt.G[id(W)])))


def main(path):
    with open(path, "w") as out:
        # "Numerical Example" and "Detailed Example": lr 0.01, 5 steps.
        np.random.seed(42)
        W = np.random.randn(2, 2)
        grads = np.random.randn(2, 2)
        run(out, "numerical_example", W, lambda s: grads, 5, lr=0.01, eps=1e-8)

        # "Decreasing learning rates" and the closing cell: lr 0.1, 5 steps.
        np.random.seed(42)
        W = np.random.randn(2, 2)
        grads = np.random.randn(2, 2)
        run(out, "decreasing_lr", W, lambda s: grads, 5, lr=0.1, eps=1e-8)

        # "AdaGrad with Weight Decay": 0.0 and 0.01, 3 steps each.
        np.random.seed(42)
        W = np.random.randn(2, 2)
        grads = np.random.randn(2, 2)
        run(out, "no_decay", W.copy(), lambda s: grads, 3, lr=0.01, eps=1e-8, weight_decay=0.0)
        run(out, "with_decay", W.copy(), lambda s: grads, 3, lr=0.01, eps=1e-8, weight_decay=0.01)

        # "Comparing Different Learning Rates": two weight sets, 3 steps.
        np.random.seed(42)
        W_1 = np.random.randn(2, 2)
        W_2 = np.random.randn(2, 2)
        grads = np.random.randn(2, 2)
        run(out, "lr_0_01", W_1, lambda s: grads, 3, lr=0.01, eps=1e-8)
        run(out, "lr_0_1", W_2, lambda s: grads, 3, lr=0.1, eps=1e-8)

        # Longer runs with a fresh gradient per step, in both precisions, over
        # lengths that leave vector tails on every ISA.
        rng = np.random.default_rng(2011)
        for dtype in (np.float64, np.float32):
            for n, wd, lr in ((1, 0.0, 0.01), (37, 0.01, 0.1), (1000, 0.5, 0.05), (4099, 0.0, 1.0)):
                W = rng.standard_normal(n).astype(dtype)
                grads = [rng.standard_normal(n).astype(dtype) * dtype(0.3) for _ in range(50)]
                run(out, "random_n%d" % n, W, lambda s: grads[s], 50, lr=lr, eps=1e-8,
                    weight_decay=wd)


if __name__ == "__main__":
    main(sys.argv[1])
