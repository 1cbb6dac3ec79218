#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""Times the embedding backward + AdaGrad step of one 1M-row table: PyTorch's against the library's.

What it measures, for one table of ROWS x dim (dim 32, 64, 128, 256), a
batch of 2048 bags of mode="sum" with pooling factor 1 or 20, the indices
drawn uniformly or Zipf(1.05) over the rows (ranks scattered by a fixed
permutation, as bench/embedding_bag_bench.cc draws them), on 1 and 2
threads: the time from the bags' output gradient to the updated table, the
forward pass (the pooled lookups, the same work for all) left out:

  torch_sparse     nn.EmbeddingBag(sparse=True): out.backward(grad_output)
                   (the sparse gradient materialised), then
                   torch.optim.Adagrad(foreach=False).step() and
                   zero_grad(set_to_none=True): the PyTorch way;
  adagrad_sparse   the same nn.EmbeddingBag and backward, then
                   adagrad.torch.Adagrad's step (the library's sparse step
                   through the drop-in) and zero_grad;
  fused            adagrad.torch.EmbeddingBag(mode="sum"): out.backward(
                   grad_output) is the whole update (the fused step in the
                   backward pass), per-element state;
  fused_rowwise    the same with rowwise=True (one accumulator per row);
  fused_call       adagrad.embedding_bag_step called directly on the fused
                   module's arrays, no autograd: the library's part of
                   `fused`, so that the rest is the module's overhead.

Each implementation is timed as users get it by default: the
nn.EmbeddingBag's table and both optimizers' states are PyTorch's
allocations, the fused modules' tables and states the library's
(adagrad.table_array, advised for transparent huge pages); the results
record how much of each table and state huge pages hold. The two
nn.EmbeddingBag optimizers share its table (each has its own state), the two
fused modules share one table (each its own state), so that dim 256 needs
about 5 GiB rather than 6; every implementation updates its table as it
would alone. One dim at a time: its tables are freed before the next.

torch_sparse and adagrad_sparse also record their optimizer's share
(step_seconds: optimizer.step() and zero_grad, without the backward).

Why this way: the same as bench/torch_bench.py's. The ratios are only
meaningful when all ran under the same conditions, so everything runs in
this one process on the same batches, and the implementations alternate:
each round times every (implementation, threads) once, in an order rotated
from round to round, so that the load of a shared machine falls on all of
them alike. The figures kept are the medians over the rounds of each
round's mean time per step (the steps of STEPS_PER_ROUND, after one untimed
warm-up step); the ratios are of medians of the same run.
bench/report_torch.py makes the table (here and in bench/run --compare's
report).

Usage:
  PYTHONPATH=<build>/python /usr/bin/python3 bench/embedding_torch_bench.py
      [--rounds 3] [--threads 1,2] [--dims 32,64,128,256] [--poolings 1,20]
      [--distributions uniform,zipf] [--steps N] [--quick] [--json out.json]
  --quick: dims 32 and 128, 2 rounds, one thread, fewer steps (a check that
  it runs, not figures to quote).
"""
import argparse
import gc
import os
import platform
import statistics
import time

import numpy as np
import torch

import adagrad
import adagrad.torch
from report_torch import (EMBEDDING_IMPLEMENTATIONS, embedding_tables, finish_run,
                          row_limit_name)
from row_limit import SETTINGS, RowLimit

ROWS = 1_000_000
BAGS = 2048
ZIPF_EXPONENT = 1.05
BATCHES = 3  # in turn, so that no step finds the previous one's rows in cache
DIMS = (32, 64, 128, 256)
POOLINGS = (1, 20)
DISTRIBUTIONS = ("uniform", "zipf")
# Steps timed per round, by pooling factor: fewer where a step touches 20
# times the rows, so that the whole comparison with default arguments stays
# within a few minutes.
STEPS_PER_ROUND = {1: 8, 20: 3}


def draw_indices(distribution, pooling, rng, permutation, cdf):
    """BATCHES x BAGS x pooling row numbers."""
    shape = (BATCHES, BAGS, pooling)
    if distribution == "uniform":
        return rng.integers(0, ROWS, size=shape)
    # A truncated Zipf over the ranks 1..ROWS (numpy's zipf is unbounded),
    # rank r at a fixed random row, as embedding_bag_bench.cc draws them:
    # the hot rows are scattered over the table, not its first pages.
    ranks = np.searchsorted(cdf, rng.random(size=shape) * cdf[-1], side="right")
    return permutation[np.minimum(ranks, ROWS - 1)]


class Implementations:
    """One dim's tables, optimizers and modules; time(name, batch) runs one
    step of one implementation and returns (seconds, optimizer seconds)."""

    def __init__(self, dim, row_limit):
        self.row_limit = row_limit
        self.limit_rows = {}  # id(inputs) -> the batch's unique rows
        torch.manual_seed(18)
        self.table = torch.nn.EmbeddingBag(ROWS, dim, mode="sum", sparse=True)
        # The same starting values as the nn.EmbeddingBag (copied, which is
        # quicker than drawing them again).
        self.fused = adagrad.torch.EmbeddingBag(ROWS, dim, mode="sum",
                                                _weight=self.table.weight.detach())
        self.rowwise = adagrad.torch.EmbeddingBag(ROWS, dim, mode="sum", rowwise=True,
                                                  _weight=torch.zeros(1, dim).expand(ROWS, dim))
        self.rowwise.weight = self.fused.weight  # its own table freed: see the docstring
        gc.collect()
        # The optimizers' states after that table is gone: a lower peak.
        self.optimizers = {
            "torch_sparse": torch.optim.Adagrad(self.table.parameters(), foreach=False),
            "adagrad_sparse": adagrad.torch.Adagrad(self.table.parameters()),
        }
        self.pools = {}
        # adagrad.torch.Adagrad makes its state at its first step: one
        # untimed step of each optimizer before the huge-page census.
        for name in self.optimizers:
            self.sparse_step(name, self.table(torch.zeros(1, 1, dtype=torch.int64)),
                             torch.zeros(1, dim))

    def huge_pages(self):
        """{implementation: (table fraction, state fraction) on huge pages}."""
        def fraction(tensor):
            array = tensor.detach().numpy()
            return min(adagrad.huge_page_bytes(array) / array.nbytes, 1.0)

        weight = fraction(self.table.weight)
        result = {name: (weight, fraction(optimizer.state[self.table.weight]["sum"]))
                  for name, optimizer in self.optimizers.items()}
        result["fused"] = result["fused_call"] = (fraction(self.fused.weight),
                                                  fraction(self.fused.sum))
        result["fused_rowwise"] = (fraction(self.rowwise.weight), fraction(self.rowwise.sum))
        return result

    def set_threads(self, threads):
        torch.set_num_threads(threads)
        self.optimizers["adagrad_sparse"].threads = threads
        self.fused.threads = self.rowwise.threads = threads
        # A pool kept across calls, as the module keeps its own.
        if threads not in self.pools:
            self.pools[threads] = adagrad.ThreadPool(threads) if threads > 1 else None
        self.pool = self.pools[threads]

    def sparse_step(self, name, out, grad_output):
        optimizer = self.optimizers[name]
        start = time.perf_counter()
        out.backward(grad_output)
        step_start = time.perf_counter()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        end = time.perf_counter()
        return end - start, end - step_start

    def time(self, name, batch):
        inputs, grad_output = batch
        if name.startswith("row_limit:"):
            return self.limit_step(name.split(":", 1)[1], inputs)
        if name in self.optimizers:
            return self.sparse_step(name, self.table(inputs), grad_output)
        if name == "fused_call":
            return self.fused_call(inputs, grad_output)
        module = self.fused if name == "fused" else self.rowwise
        out = module(inputs)
        start = time.perf_counter()
        out.backward(grad_output)
        end = time.perf_counter()
        return end - start, end - start

    def limit_step(self, setting, inputs):
        """bench/row_limit.py on the fused module's table and state: the
        least time a per-element step on the batch's rows can take."""
        weight = self.fused.weight.detach()
        rows = self.limit_rows.get(id(inputs))
        if rows is None:
            rows = self.limit_rows[id(inputs)] = self.row_limit.rows_of(
                weight, self.fused.sum, inputs.numpy())
        start = time.perf_counter()
        self.row_limit.update(weight, self.fused.sum, rows, setting)
        end = time.perf_counter()
        return end - start, end - start

    def fused_call(self, inputs, grad_output):
        """The module's step (EmbeddingBagCollection._step) without it:
        the CSR offsets made outside the timing, the module's step count
        advanced as its own would be."""
        module = self.fused
        bags, pooling = inputs.shape
        indices = inputs.reshape(-1).numpy()
        offsets = np.arange(0, bags * pooling + 1, pooling, dtype=np.int64)
        step = int(module.step) + 1
        start = time.perf_counter()
        adagrad.embedding_bag_step(
            [module.weight.detach().numpy()], [module.sum.numpy()], [indices], [offsets],
            [grad_output.numpy()], pooling=["sum"], lr=module.lr, eps=module.eps,
            step=step, eps_mode="outside", pool=self.pool)
        end = time.perf_counter()
        module.step.fill_(step)
        return end - start, end - start


def time_round(implementations, name, batches, steps):
    implementations.time(name, batches[-1])
    total = part = 0.0
    for index in range(steps):
        whole, share = implementations.time(name, batches[index % len(batches)])
        total += whole
        part += share
    return total / steps, part / steps


def run_dim(dim, args, thread_counts, rng, permutation, cdf, row_limit):
    implementations = Implementations(dim, row_limit)
    huge = implementations.huge_pages()
    results = []
    generator = torch.Generator().manual_seed(dim)
    for pooling in args.poolings:
        for distribution in args.distributions:
            print("# dim %d, pooling %d, %s ..." % (dim, pooling, distribution), flush=True)
            indices = draw_indices(distribution, pooling, rng, permutation, cdf)
            batches = [(torch.from_numpy(indices[b]), torch.randn(BAGS, dim, generator=generator))
                       for b in range(BATCHES)]
            unique_rows = statistics.mean(len(np.unique(i)) for i in indices)
            runs = [(name, threads) for threads in thread_counts
                    for name in EMBEDDING_IMPLEMENTATIONS]
            if row_limit is not None:
                runs += [(row_limit_name(setting), 1) for setting in SETTINGS]
            times = {run: [] for run in runs}
            steps = args.steps or STEPS_PER_ROUND[pooling]
            for round_index in range(args.rounds):
                shift = round_index % len(runs)
                for name, threads in runs[shift:] + runs[:shift]:
                    implementations.set_threads(threads)
                    times[(name, threads)].append(
                        time_round(implementations, name, batches, steps))
            for (name, threads), values in times.items():
                results.append(dict(
                    dim=dim, pooling=pooling, distribution=distribution, threads=threads,
                    implementation=name, unique_rows=unique_rows,
                    seconds=statistics.median(v[0] for v in values),
                    step_seconds=statistics.median(v[1] for v in values),
                    table_huge_fraction=huge.get(name, huge["fused"])[0],
                    state_huge_fraction=huge.get(name, huge["fused"])[1]))
    return results


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int)
    parser.add_argument("--threads")
    parser.add_argument("--dims")
    parser.add_argument("--poolings", default=",".join(map(str, POOLINGS)))
    parser.add_argument("--distributions", default=",".join(DISTRIBUTIONS))
    parser.add_argument("--steps", type=int, help="steps per round (default: by pooling)")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--json")
    parser.add_argument("--row-limit", help="bench/row_limit.cc's module, or the directory "
                        "holding it (<build>/bench): the fused step's row limit")
    args = parser.parse_args()
    row_limit = RowLimit.load(args.row_limit)
    # --quick changes the defaults only: what is given stays.
    defaults = (dict(dims="32,128", rounds=2, threads="1", steps=2) if args.quick else
                dict(dims=",".join(map(str, DIMS)), rounds=3, threads="1,2", steps=None))
    for name, value in defaults.items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    args.poolings = [int(p) for p in args.poolings.split(",")]
    args.distributions = args.distributions.split(",")
    thread_counts = [int(t) for t in args.threads.split(",")]
    context = dict(cpu=platform.processor() or platform.machine(), cpus=os.cpu_count(),
                   torch_version=torch.__version__, adagrad_version=adagrad.__version__,
                   rounds=args.rounds, rows=ROWS, bags=BAGS,
                   thp=_thp_setting(), load_before="%.2f" % os.getloadavg()[0],
                   row_limit_isa=row_limit.isa if row_limit else None)
    rng = np.random.default_rng(20)
    permutation = rng.permutation(ROWS)
    cdf = np.cumsum(np.arange(1, ROWS + 1, dtype=np.float64) ** -ZIPF_EXPONENT)
    results = []
    for dim in (int(d) for d in args.dims.split(",")):
        results += run_dim(dim, args, thread_counts, rng, permutation, cdf, row_limit)
        gc.collect()
    finish_run(context, results, embedding_tables, args.json)


def _thp_setting():
    """The kernel's THP mode (the bracketed word), or "unknown"."""
    try:
        with open("/sys/kernel/mm/transparent_hugepage/enabled") as f:
            text = f.read()
    except OSError:
        return "unknown"
    start, end = text.find("["), text.find("]")
    return text[start + 1:end] if 0 <= start < end else "unknown"


if __name__ == "__main__":
    main()
