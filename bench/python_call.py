#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""Per-call cost of the Python binding, A/B in one run.

    /usr/bin/python3 bench/python_call.py [--rounds N] DIR [DIR ...]

Each DIR holds an importable `adagrad` package (a build's `python`
directory, e.g. build/tests/python). The builds run alternately, each in a
fresh process, round after round (a noisy machine drifts; alternating spreads
the drift over all of them). Each process times every case as the best of 7
repeats of 100,000 calls on one-element arrays, where the call itself is
nearly all of the time; the table gives, per case and build, the median and
the minimum over the rounds in ns per call, and each build's median against
the first build's.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys

CASES = {
    "step(w, g, G, lr=0.01)": "step(w, g, G, lr=0.01)",
    "step(w, g, G)": "step(w, g, G)",
    "step, 7 keywords (adagrad.torch)":
        "step(w, g, G, lr=0.01, eps=1e-10, weight_decay=0.0, lr_decay=0.0, step=5, "
        "maximize=False, fma=False)",
    "proximal_step(w, g, G, l1=0.01, lr=0.01)": "proximal_step(w, g, G, l1=0.01, lr=0.01)",
    "sparse_step(4x4 table, 1 index, lr=0.01)": "sparse_step(table, state, indices, grads, lr=0.01)",
}


def child():
    import timeit

    import numpy as np

    import adagrad
    f32 = np.float32
    env = {
        "step": adagrad.step, "proximal_step": adagrad.proximal_step,
        "sparse_step": adagrad.sparse_step,
        "w": np.ones(1, f32), "g": np.ones(1, f32), "G": np.ones(1, f32),
        "table": np.ones((4, 4), f32), "state": np.zeros((4, 4), f32),
        "indices": np.array([2], np.int64), "grads": np.ones((1, 4), f32),
    }
    number = 100000
    result = {}
    for name, statement in CASES.items():
        timer = timeit.Timer(statement, globals=env)
        result[name] = min(timer.repeat(7, number)) / number * 1e9
    print(json.dumps(result))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("dirs", nargs="+")
    args = parser.parse_args()
    times = {d: {name: [] for name in CASES} for d in args.dirs}
    for _ in range(args.rounds):
        for d in args.dirs:
            env = dict(os.environ, PYTHONPATH=os.path.abspath(d))
            out = subprocess.run([sys.executable, __file__, "--child"], env=env, check=True,
                                 capture_output=True, text=True).stdout
            for name, ns in json.loads(out).items():
                times[d][name].append(ns)
    first = args.dirs[0]
    print("ns per call, median (min) of %d rounds, one element, float32" % args.rounds)
    for name in CASES:
        print(name)
        base = statistics.median(times[first][name])
        for d in args.dirs:
            median = statistics.median(times[d][name])
            print("  %-40s %7.1f (%6.1f)  %+6.1f%%" % (d, median, min(times[d][name]),
                                                     (median / base - 1) * 100))


if __name__ == "__main__":
    if sys.argv[1:] == ["--child"]:
        child()
    else:
        main()
