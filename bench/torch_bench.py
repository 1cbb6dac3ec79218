#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""Times optimizer.step() of adagrad.torch.Adagrad against torch.optim.Adagrad.

What it measures: the time of one optimizer step (only optimizer.step(),
with the gradients already in .grad) over a whole list of float32
parameters, for

  torch_foreach_false   torch.optim.Adagrad(foreach=False), the optimizer
                        adagrad.torch.Adagrad reproduces bit for bit;
  torch_foreach_true    torch.optim.Adagrad(foreach=True);
  adagrad               adagrad.torch.Adagrad(threads=N);

on 1 and 2 threads (torch.set_num_threads(N) for PyTorch, threads=N for the
library), on two parameter lists:

  200x1000              200 tensors of 1,000 elements: the cost per tensor;
  bert_base             the 199 parameter tensors of BERT-base (bert-base-
                        uncased: embeddings, 12 encoder layers, pooler;
                        109,482,240 elements), written out in BERT_BASE below.

Why this way: the ratios are only meaningful when both sides ran under the
same conditions, so every optimizer runs in this one process, on the same
parameters and gradients (each optimizer with its own state), and the
implementations alternate: each round times every (implementation, threads)
once, in an order rotated from round to round, so that the load of a shared
machine falls on all of them alike. The figure kept is the median over the
rounds of each round's time per step (the mean of STEPS_PER_ROUND steps
after one untimed warm-up step); the ratios are of medians of the same run.

Usage:
  PYTHONPATH=<build>/python /usr/bin/python3 bench/torch_bench.py
      [--rounds 9] [--threads 1,2] [--cases 200x1000,bert_base] [--json out.json]
"""
import argparse
import json
import os
import platform
import statistics
import time

import torch

import adagrad
import adagrad.torch

HIDDEN = 768
INTERMEDIATE = 3072
VOCABULARY = 30522
POSITIONS = 512
LAYERS = 12

# BERT-base's parameter shapes, in the order of model.parameters().
BERT_BASE = ([(VOCABULARY, HIDDEN), (POSITIONS, HIDDEN), (2, HIDDEN), (HIDDEN,), (HIDDEN,)]
             + LAYERS * [
                 (HIDDEN, HIDDEN), (HIDDEN,),              # attention.self.query
                 (HIDDEN, HIDDEN), (HIDDEN,),              # attention.self.key
                 (HIDDEN, HIDDEN), (HIDDEN,),              # attention.self.value
                 (HIDDEN, HIDDEN), (HIDDEN,),              # attention.output.dense
                 (HIDDEN,), (HIDDEN,),                     # attention.output.LayerNorm
                 (INTERMEDIATE, HIDDEN), (INTERMEDIATE,),  # intermediate.dense
                 (HIDDEN, INTERMEDIATE), (HIDDEN,),        # output.dense
                 (HIDDEN,), (HIDDEN,),                     # output.LayerNorm
             ]
             + [(HIDDEN, HIDDEN), (HIDDEN,)])              # pooler.dense

CASES = {"200x1000": [(1000,)] * 200, "bert_base": BERT_BASE}
# Steps timed per round: about 50 ms of work or more per round.
STEPS_PER_ROUND = {"200x1000": 50, "bert_base": 2}
IMPLEMENTATIONS = ("torch_foreach_false", "torch_foreach_true", "adagrad")


def make_optimizers(shapes):
    generator = torch.Generator().manual_seed(18)
    params = [torch.randn(shape, generator=generator).requires_grad_() for shape in shapes]
    for param in params:
        param.grad = torch.randn(param.shape, generator=generator)
    return {
        "torch_foreach_false": torch.optim.Adagrad(params, foreach=False),
        "torch_foreach_true": torch.optim.Adagrad(params, foreach=True),
        "adagrad": adagrad.torch.Adagrad(params),
    }


def time_round(optimizer, steps):
    optimizer.step()
    start = time.perf_counter()
    for _ in range(steps):
        optimizer.step()
    return (time.perf_counter() - start) / steps


def run_case(case, thread_counts, rounds):
    optimizers = make_optimizers(CASES[case])
    runs = [(name, threads) for threads in thread_counts for name in IMPLEMENTATIONS]
    times = {run: [] for run in runs}
    for round_index in range(rounds):
        shift = round_index % len(runs)
        for name, threads in runs[shift:] + runs[:shift]:
            torch.set_num_threads(threads)
            optimizer = optimizers[name]
            if name == "adagrad":
                optimizer.threads = threads
            times[(name, threads)].append(time_round(optimizer, STEPS_PER_ROUND[case]))
    return {run: statistics.median(values) for run, values in times.items()}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--threads", default="1,2")
    parser.add_argument("--cases", default=",".join(CASES))
    parser.add_argument("--json")
    args = parser.parse_args()
    thread_counts = [int(t) for t in args.threads.split(",")]

    print("# {} ({}), PyTorch {}, adagrad {}, {} rounds, load average {:.2f}".format(
        platform.processor() or platform.machine(), os.cpu_count(), torch.__version__,
        adagrad.__version__, args.rounds, os.getloadavg()[0]))
    print("| case | tensors | elements | threads | implementation | ms/step | "
          "vs foreach=False | vs foreach=True |")
    print("|---|---:|---:|---:|---|---:|---:|---:|")
    results = []
    for case in args.cases.split(","):
        medians = run_case(case, thread_counts, args.rounds)
        elements = sum(torch.Size(shape).numel() for shape in CASES[case])
        for threads in thread_counts:
            for name in IMPLEMENTATIONS:
                seconds = medians[(name, threads)]
                versus_false = medians[("torch_foreach_false", threads)] / seconds
                versus_true = medians[("torch_foreach_true", threads)] / seconds
                print("| {} | {} | {} | {} | {} | {:.3f} | {:.2f}x | {:.2f}x |".format(
                    case, len(CASES[case]), elements, threads, name, seconds * 1e3,
                    versus_false, versus_true))
                results.append(dict(case=case, threads=threads, implementation=name,
                                    seconds_per_step=seconds))
        if len(thread_counts) > 1:
            one, most = thread_counts[0], thread_counts[-1]
            print("| {} | | | {} vs {} | adagrad | | {:.2f}x faster | |".format(
                case, most, one, medians[("adagrad", one)] / medians[("adagrad", most)]))
    print("# load average after: {:.2f}".format(os.getloadavg()[0]))
    if args.json:
        with open(args.json, "w") as out:
            json.dump(results, out, indent=1)


if __name__ == "__main__":
    main()
