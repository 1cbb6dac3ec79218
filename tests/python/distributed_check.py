# SPDX-License-Identifier: BSD-3-Clause
"""adagrad.torch.Adagrad under torch.distributed, gloo, two processes.

Each run starts two processes on 127.0.0.1 (a free port, nothing else
contacted) that train the same small model for a few steps and save their
parameters and optimizer sums:
  - DDP of a model with a sparse embedding and dense layers, with
    adagrad.torch.Adagrad and again with torch.optim.Adagrad(foreach=False):
    every rank must end with the same bits in both runs, and the two ranks
    with the same bits as each other;
  - ZeroRedundancyOptimizer(optimizer_class=...) on a dense model, with each
    optimizer class: the same, parameters after the ranks' broadcast.
Each process has a time limit; a run that does not finish fails.

Run by ctest as its own entry (python_distributed), apart from the unittest
discovery of test_*.py, so that it runs beside the other tests.
"""
import datetime
import os
import socket
import sys
import tempfile
import unittest

import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch import nn
from torch.distributed.optim import ZeroRedundancyOptimizer
from torch.nn.parallel import DistributedDataParallel

import adagrad.torch

WORLD = 2
STEPS = 6
BATCH = 32
ROWS, DIM = 500, 8
TIMEOUT_SECONDS = 120
HYPERPARAMETERS = dict(lr=0.05, lr_decay=0.01, weight_decay=0.0, initial_accumulator_value=0.1)


class Recommender(nn.Module):
    """A sparse embedding bag and a small MLP, as a recommendation model has."""

    def __init__(self, sparse):
        super().__init__()
        self.embedding = nn.EmbeddingBag(ROWS, DIM, mode="sum", sparse=sparse)
        self.mlp = nn.Sequential(nn.Linear(DIM, 16), nn.ReLU(), nn.Linear(16, 1))

    def forward(self, indices, offsets):
        return self.mlp(self.embedding(indices, offsets)).squeeze(1)


def batch(rank, step):
    generator = torch.Generator().manual_seed(1000 * step + rank)
    indices = torch.randint(0, ROWS, (BATCH * 4,), generator=generator)
    offsets = torch.arange(0, BATCH * 4, 4)
    target = torch.randn(BATCH, generator=generator)
    return indices, offsets, target


def optimizer_class(name):
    if name == "adagrad":
        return adagrad.torch.Adagrad
    return lambda params, **kw: torch.optim.Adagrad(params, foreach=False, **kw)


def worker(rank, port, name, zero, out_dir):
    dist.init_process_group("gloo", init_method="tcp://127.0.0.1:%d" % port, rank=rank,
                            world_size=WORLD,
                            timeout=datetime.timedelta(seconds=TIMEOUT_SECONDS))
    torch.manual_seed(0)  # the same initial model on every rank and in every run
    model = Recommender(sparse=not zero)
    ddp = DistributedDataParallel(model)
    if zero:
        cls = adagrad.torch.Adagrad if name == "adagrad" else torch.optim.Adagrad
        extra = {} if name == "adagrad" else dict(foreach=False)
        optimizer = ZeroRedundancyOptimizer(ddp.parameters(), optimizer_class=cls,
                                            **HYPERPARAMETERS, **extra)
    else:
        optimizer = optimizer_class(name)(ddp.parameters(), **HYPERPARAMETERS)
    for step in range(STEPS):
        indices, offsets, target = batch(rank, step)
        optimizer.zero_grad()
        loss = nn.functional.mse_loss(ddp(indices, offsets), target)
        loss.backward()
        optimizer.step()
    if zero:
        optimizer.consolidate_state_dict(to=0)
    state = {"params": [p.detach().clone() for p in model.parameters()]}
    if zero:
        if rank == 0:
            saved = optimizer.state_dict()["state"]
            state["sums"] = [saved[i]["sum"].clone() for i in sorted(saved)]
    else:
        state["sums"] = [optimizer.state[p]["sum"].clone() for p in model.parameters()]
    torch.save(state, os.path.join(out_dir, "%s_%d.pt" % (name, rank)))
    dist.destroy_process_group()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run(name, zero, out_dir):
    context = mp.start_processes(worker, args=(free_port(), name, zero, out_dir), nprocs=WORLD,
                                 join=False, start_method="spawn")
    deadline = datetime.datetime.now() + datetime.timedelta(seconds=TIMEOUT_SECONDS)
    while not context.join(timeout=1):
        if datetime.datetime.now() > deadline:
            for process in context.processes:
                process.kill()
            raise TimeoutError("%s run (zero=%s) took over %d s" % (name, zero, TIMEOUT_SECONDS))
    return [torch.load(os.path.join(out_dir, "%s_%d.pt" % (name, rank))) for rank in range(WORLD)]


def same_bits(a, b):
    return a.dtype == b.dtype and a.shape == b.shape and bool(
        (a.view(torch.int32) == b.view(torch.int32)).all())


class DistributedTest(unittest.TestCase):
    def check(self, zero):
        with tempfile.TemporaryDirectory() as out_dir:
            ours = run("adagrad", zero, out_dir)
            theirs = run("torch", zero, out_dir)
        for rank in range(WORLD):
            for i, (a, b) in enumerate(zip(ours[rank]["params"], theirs[rank]["params"])):
                self.assertTrue(same_bits(a, b), "rank %d parameter %d differs from torch's" %
                                (rank, i))
            for i, (a, b) in enumerate(zip(ours[0]["params"], ours[rank]["params"])):
                self.assertTrue(same_bits(a, b), "rank %d parameter %d differs from rank 0's" %
                                (rank, i))
            if "sums" in ours[rank]:
                self.assertEqual(len(ours[rank]["sums"]), len(theirs[rank]["sums"]))
                for i, (a, b) in enumerate(zip(ours[rank]["sums"], theirs[rank]["sums"])):
                    self.assertTrue(same_bits(a, b), "rank %d sum %d differs" % (rank, i))
        # The model moved: a run that stepped nothing would pass the above.
        torch.manual_seed(0)
        initial = list(Recommender(sparse=not zero).parameters())
        self.assertFalse(all(same_bits(p.detach(), q) for p, q in
                             zip(initial, ours[0]["params"])))

    def test_ddp_with_a_sparse_embedding(self):
        self.check(zero=False)

    def test_zero_redundancy_optimizer(self):
        self.check(zero=True)


if __name__ == "__main__":
    sys.exit(unittest.main())
