#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""Times adagrad.torch.Adagrad against torch.optim.Adagrad: whole training steps and the optimizer's share.

What it measures, for every case below, on 1 and 2 threads
(torch.set_num_threads(N) for PyTorch's forward, backward and optimizer,
threads=N for the library):

  train   one whole training step: model.zero_grad(), forward, backward and
          optimizer.step() (the step-only case bert_base: the step alone,
          with the gradients already in .grad);
  step    optimizer.step() within that training step;

for three optimizers stepping the same parameters, each with its own state
(and, in the step-only case, the same-run memory limit: Stream below):

  torch_foreach_false   torch.optim.Adagrad(foreach=False), the optimizer
                        adagrad.torch.Adagrad reproduces bit for bit;
  torch_foreach_true    torch.optim.Adagrad(foreach=True);
  adagrad               adagrad.torch.Adagrad(threads=N).

The cases:

  mlp            4 Linear layers of 1024 x 1024 with ReLU, batch 32, MSE
                 loss (4.2M parameters in 8 tensors);
  bert_base      the 199 parameter tensors of BERT-base (bert-base-uncased:
                 embeddings, 12 encoder layers, pooler; 109,482,240
                 elements), written out in BERT_BASE below: the step alone;
  dlrm_uniform   a DLRM-style model: 8 nn.EmbeddingBag(1M, 64, mode="sum",
  dlrm_zipf      sparse=True) tables, a bottom MLP 13-64-64 on dense
                 features, a top MLP 576-64-1 on the concatenated
                 features, BCE loss; batch 2048, 20 indices per bag, drawn
                 uniformly or Zipf(1.05) over the rows (three batches in
                 turn; 2 GiB of tables shared by the optimizers, 2 GiB of
                 state each);
  200x1000       200 tensors of 1,000 elements (the cost per tensor), the
                 loss a sum of their dot products with fixed inputs;
  200x1000_none  the same with the gradients set to None before each
                 backward (zero_grad(set_to_none=True)), so that every step
                 has new gradient tensors.

Why this way: the ratios are only meaningful when both sides ran under the
same conditions, so everything runs in this one process, on the same
parameters and batches, and the implementations alternate: each round times
every (implementation, threads) once, in an order rotated from round to
round, so that the load of a shared machine falls on all of them alike. The
figures kept are the medians over the rounds of each round's mean time per
step (STEPS_PER_ROUND steps after one untimed warm-up step); the ratios are
of medians of the same run. The rest of a training step (train - step:
zero_grad, forward, backward) is compared round by round: the median over
the rounds of torch's rest minus adagrad's in the same round, so that a
slow phase of the machine falls on both sides of each difference. It is the
whole step's saving beyond the optimizer's (the whole step gains at least
the optimizer's saving when it is >= 0). bench/report_torch.py makes the
tables (here and in bench/run --compare's report).

Usage:
  PYTHONPATH=<build>/python /usr/bin/python3 bench/torch_bench.py
      [--rounds 5] [--threads 1,2] [--cases mlp,bert_base,...] [--json out.json]
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
from report_torch import IMPLEMENTATIONS, STREAM, finish_run, row_limit_name, torch_tables
from row_limit import SETTINGS, RowLimit

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


class Case:
    """A model's parameters and its training step: loss(batch_index)
    returns the loss to backpropagate, or None for a step-only case (the
    gradients set once)."""

    def __init__(self, params, loss=None, modules=(), tables=(), batch_indices=()):
        self.params = params
        self.loss = loss
        self.modules = modules
        # Sparse cases: the embedding tables' weights, each batch's indices
        # per table, and the batch of the last loss(index) (for RowLimitStep).
        self.tables = tables
        self.batch_indices = batch_indices
        self.batch = 0

    def zero_grad(self):
        for module in self.modules:
            module.zero_grad()


def step_only_case(shapes):
    generator = torch.Generator().manual_seed(18)
    params = [torch.randn(shape, generator=generator).requires_grad_() for shape in shapes]
    for param in params:
        param.grad = torch.randn(param.shape, generator=generator)
    return Case(params)


def mlp_case():
    torch.manual_seed(18)
    layers = []
    for _ in range(4):
        layers += [torch.nn.Linear(1024, 1024), torch.nn.ReLU()]
    model = torch.nn.Sequential(*layers[:-1])
    generator = torch.Generator().manual_seed(19)
    batches = [(torch.randn(32, 1024, generator=generator),
                torch.randn(32, 1024, generator=generator)) for _ in range(3)]

    def loss(index):
        inputs, targets = batches[index % len(batches)]
        return torch.nn.functional.mse_loss(model(inputs), targets)

    return Case(list(model.parameters()), loss, [model])


DLRM_TABLES, DLRM_ROWS, DLRM_DIM = 8, 1_000_000, 64
DLRM_BATCH, DLRM_BAG = 2048, 20
DLRM_DENSE_FEATURES = 13


def dlrm_case(distribution):
    torch.manual_seed(18)
    tables = torch.nn.ModuleList(
        torch.nn.EmbeddingBag(DLRM_ROWS, DLRM_DIM, mode="sum", sparse=True)
        for _ in range(DLRM_TABLES))
    # Small MLPs: with DLRM's Criteo sizes (13-512-256-64, 512-256-1) their
    # forward and backward take about 2 s a step on this benchmark's shared
    # 2-core machine, and the optimizers' difference drowns in their noise.
    bottom = torch.nn.Sequential(torch.nn.Linear(DLRM_DENSE_FEATURES, 64), torch.nn.ReLU(),
                                 torch.nn.Linear(64, DLRM_DIM), torch.nn.ReLU())
    top = torch.nn.Sequential(torch.nn.Linear((DLRM_TABLES + 1) * DLRM_DIM, 64), torch.nn.ReLU(),
                              torch.nn.Linear(64, 1))
    rng = np.random.default_rng(20)
    batches = []
    for _ in range(3):
        shape = (DLRM_TABLES, DLRM_BATCH, DLRM_BAG)
        if distribution == "zipf":
            indices = (rng.zipf(1.05, size=shape) - 1) % DLRM_ROWS
        else:
            indices = rng.integers(0, DLRM_ROWS, size=shape)
        batches.append((torch.from_numpy(indices),
                        torch.from_numpy(rng.standard_normal(
                            (DLRM_BATCH, DLRM_DENSE_FEATURES), dtype=np.float32)),
                        torch.from_numpy(rng.integers(0, 2, DLRM_BATCH).astype(np.float32))))

    def loss(index):
        case.batch = index % len(batches)
        indices, dense, labels = batches[case.batch]
        features = [bottom(dense)] + [table(indices[t]) for t, table in enumerate(tables)]
        logits = top(torch.cat(features, dim=1)).squeeze(1)
        return torch.nn.functional.binary_cross_entropy_with_logits(logits, labels)

    modules = [tables, bottom, top]
    case = Case([p for m in modules for p in m.parameters()], loss, modules,
                [table.weight for table in tables], [b[0] for b in batches])
    return case


def many_small_case(set_to_none=False):
    generator = torch.Generator().manual_seed(18)
    params = [torch.randn(1000, generator=generator).requires_grad_() for _ in range(200)]
    inputs = [torch.randn(1000, generator=generator) for _ in range(200)]

    def loss(index):
        if set_to_none:
            for param in params:
                param.grad = None
        return torch.stack([torch.dot(p, x) for p, x in zip(params, inputs)]).sum()

    return Case(params, loss)


CASES = {
    "mlp": mlp_case,
    "bert_base": lambda: step_only_case(BERT_BASE),
    "dlrm_uniform": lambda: dlrm_case("uniform"),
    "dlrm_zipf": lambda: dlrm_case("zipf"),
    "200x1000": many_small_case,
    "200x1000_none": lambda: many_small_case(set_to_none=True),
}
# Steps timed per round: about 50 ms of work or more per round.
STEPS_PER_ROUND = {"mlp": 5, "bert_base": 2, "dlrm_uniform": 2, "dlrm_zipf": 2, "200x1000": 20,
                   "200x1000_none": 20}


def make_optimizers(params):
    return {
        "torch_foreach_false": torch.optim.Adagrad(params, foreach=False),
        "torch_foreach_true": torch.optim.Adagrad(params, foreach=True),
        "adagrad": adagrad.torch.Adagrad(params),
    }


def training_step(case, optimizer, index):
    """One step; returns (whole step, optimizer.step()) in seconds."""
    start = time.perf_counter()
    if case.loss is not None:
        case.zero_grad()
        case.loss(index).backward()
    step_start = time.perf_counter()
    optimizer.step()
    end = time.perf_counter()
    return end - start, end - step_start


def time_round(case, optimizer, steps):
    training_step(case, optimizer, 0)
    train = step = 0.0
    for index in range(steps):
        whole, part = training_step(case, optimizer, index)
        train += whole
        step += part
    return train / steps, step / steps


class Stream:
    """The memory limit of a step-only case, timed in its rounds like an
    optimizer: a.add_(b) over flat float32 buffers of the case's element
    count (8 bytes read, 4 written per element, in place as a step writes:
    an out= buffer would add the reads that fetch its lines before the
    writes) on torch's threads. Its bytes per second are what this machine
    gives a streaming pass in this process; report_torch.py divides each
    step's bytes by it (20 per element for the library's step, 44 for
    torch's four passes)."""

    def __init__(self, elements):
        generator = torch.Generator().manual_seed(21)
        self.a = torch.rand(elements, generator=generator)
        self.b = torch.rand(elements, generator=generator)

    def step(self):
        self.a.add_(self.b)


class RowLimitStep:
    """The row limit of a sparse case, timed in its rounds like an
    optimizer on one thread (bench/row_limit.py): each table's unique rows
    of the batch, w += -0 and G += 0 over each row, the rows ahead
    prefetched (each of row_limit.SETTINGS), on the case's own tables and on per-table states of
    their shape (shared by the settings). The least of its times over the
    settings bounds any per-element step's time on these rows from below;
    report_torch.py divides torch's step time by it."""

    def __init__(self, limit, case, states, setting):
        self.limit, self.case, self.states, self.setting = limit, case, states, setting
        self.rows = [[limit.rows_of(table, state, indices[t])
                      for t, (table, state) in enumerate(zip(case.tables, states))]
                     for indices in case.batch_indices]

    def step(self):
        for table, state, rows in zip(self.case.tables, self.states, self.rows[self.case.batch]):
            self.limit.update(table.detach(), state, rows, self.setting)


def run_case(name, thread_counts, rounds, row_limit):
    case = CASES[name]()
    optimizers = make_optimizers(case.params)
    implementations = IMPLEMENTATIONS
    elements = sum(p.numel() for p in case.params)
    if case.loss is None:
        optimizers[STREAM] = Stream(elements)
        implementations = IMPLEMENTATIONS + (STREAM,)
    runs = [(implementation, threads) for threads in thread_counts
            for implementation in implementations]
    if case.tables and row_limit is not None:
        states = [torch.zeros_like(table) for table in case.tables]
        for setting in SETTINGS:
            optimizers[row_limit_name(setting)] = RowLimitStep(row_limit, case, states, setting)
            runs.append((row_limit_name(setting), 1))
    times = {run: [] for run in runs}
    for round_index in range(rounds):
        shift = round_index % len(runs)
        for implementation, threads in runs[shift:] + runs[:shift]:
            torch.set_num_threads(threads)
            optimizer = optimizers[implementation]
            if implementation == "adagrad":
                optimizer.threads = threads
            times[(implementation, threads)].append(
                time_round(case, optimizer, STEPS_PER_ROUND[name]))
    results = []
    for (implementation, threads), values in times.items():
        # Each round's (train, step) too, in round order: report_torch.py
        # pairs implementations round by round.
        results.append(dict(case=name, threads=threads, implementation=implementation,
                            elements=elements,
                            train_seconds=statistics.median(v[0] for v in values),
                            step_seconds=statistics.median(v[1] for v in values),
                            rounds=[list(v) for v in values]))
    return results


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--threads", default="1,2")
    parser.add_argument("--cases", default=",".join(CASES))
    parser.add_argument("--json")
    parser.add_argument("--row-limit", help="bench/row_limit.cc's module, or the directory "
                        "holding it (<build>/bench): the DLRM cases' row limit")
    args = parser.parse_args()
    row_limit = RowLimit.load(args.row_limit)
    thread_counts = [int(t) for t in args.threads.split(",")]
    context = dict(cpu=platform.processor() or platform.machine(), cpus=os.cpu_count(),
                   torch_version=torch.__version__, adagrad_version=adagrad.__version__,
                   rounds=args.rounds, load_before="%.2f" % os.getloadavg()[0],
                   row_limit_isa=row_limit.isa if row_limit else None)
    results = []
    for name in args.cases.split(","):
        print("# {} ...".format(name), flush=True)
        results += run_case(name, thread_counts, args.rounds, row_limit)
        gc.collect()
    finish_run(context, results, torch_tables, args.json)


if __name__ == "__main__":
    main()
