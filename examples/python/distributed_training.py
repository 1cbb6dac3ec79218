#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""adagrad.torch.Adagrad in distributed training: DDP and ZeroRedundancyOptimizer.

Two processes on this machine (torch.distributed with the gloo backend on
127.0.0.1: nothing else is contacted) train a small recommendation model, a
sparse nn.EmbeddingBag and an MLP, to imitate a fixed teacher model, twice:

  ddp    DistributedDataParallel: each rank computes the gradients of its own
         batch, DDP averages them across the ranks (the embedding's sparse
         gradient included) and every rank steps the whole model with
         adagrad.torch.Adagrad, which steps the sparse gradient through the
         library's sparse step with torch's bits;
  zero   ZeroRedundancyOptimizer(optimizer_class=adagrad.torch.Adagrad) on the
         dense model: each rank keeps the optimizer state of its shard of the
         parameters only, steps that shard and broadcasts it.

Each run has a time limit (TIMEOUT_SECONDS): a process that hangs is killed
and the run fails. The script prints the loss of each run and exits with 1
unless the loss fell and both ranks ended with the same parameters, bit for
bit. tests/python/distributed_check.py runs the same training (train, run)
with torch.optim.Adagrad(foreach=False) as well, and checks that every rank's
parameters and optimizer sums are the same bits with either optimizer.

Run (from a build tree):
  PYTHONPATH=<build>/python /usr/bin/python3 examples/python/distributed_training.py
"""
import datetime
import functools
import os
import socket
import sys
import tempfile

import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch import nn
from torch.distributed.optim import ZeroRedundancyOptimizer
from torch.nn.parallel import DistributedDataParallel

import adagrad.torch

WORLD = 2
STEPS = 12
BATCH = 32
BAG = 4
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


def make_model(sparse):
    """The same initial model on every rank and in every run."""
    torch.manual_seed(0)
    return Recommender(sparse)


@functools.lru_cache(maxsize=None)
def teacher():
    """The model the student imitates: another initialisation."""
    torch.manual_seed(1)
    return Recommender(sparse=False).requires_grad_(False)


def batch(rank, step):
    """Rank rank's batch at step step: bags of BAG indices (rows repeat
    within a batch) and the teacher's outputs as targets."""
    generator = torch.Generator().manual_seed(1000 * step + rank)
    indices = torch.randint(0, ROWS, (BATCH * BAG,), generator=generator)
    offsets = torch.arange(0, BATCH * BAG, BAG)
    return indices, offsets, teacher()(indices, offsets)


def make_optimizer(name, params, zero):
    """name "adagrad": adagrad.torch.Adagrad; "torch": the optimizer it
    reproduces, torch.optim.Adagrad(foreach=False)."""
    cls = adagrad.torch.Adagrad if name == "adagrad" else torch.optim.Adagrad
    extra = {} if name == "adagrad" else dict(foreach=False)
    if zero:
        return ZeroRedundancyOptimizer(params, optimizer_class=cls, **HYPERPARAMETERS, **extra)
    return cls(params, **HYPERPARAMETERS, **extra)


def train(rank, port, name, zero, out_dir):
    """One rank's training; saves its parameters, optimizer sums (ZeRO: rank
    0's consolidated state) and losses to out_dir/<name>_<rank>.pt."""
    dist.init_process_group("gloo", init_method="tcp://127.0.0.1:%d" % port, rank=rank,
                            world_size=WORLD,
                            timeout=datetime.timedelta(seconds=TIMEOUT_SECONDS))
    model = make_model(sparse=not zero)
    ddp = DistributedDataParallel(model)
    optimizer = make_optimizer(name, ddp.parameters(), zero)
    losses = []
    for step in range(STEPS):
        indices, offsets, target = batch(rank, step)
        optimizer.zero_grad()
        loss = nn.functional.mse_loss(ddp(indices, offsets), target)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    state = {"params": [p.detach().clone() for p in model.parameters()], "losses": losses}
    if zero:
        optimizer.consolidate_state_dict(to=0)
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
    """Trains on WORLD processes; returns each rank's saved state. Raises
    TimeoutError (the processes killed) after TIMEOUT_SECONDS."""
    context = mp.start_processes(train, args=(free_port(), name, zero, out_dir), nprocs=WORLD,
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


def main():
    ok = True
    with tempfile.TemporaryDirectory() as out_dir:
        for zero in (False, True):
            ranks = run("adagrad", zero, out_dir)
            losses = ranks[0]["losses"]
            agree = all(same_bits(a, b) for a, b in zip(ranks[0]["params"], ranks[1]["params"]))
            print("%-4s loss %.4f -> %.4f over %d steps; ranks' parameters %s" % (
                "zero" if zero else "ddp", losses[0], losses[-1], STEPS,
                "equal bit for bit" if agree else "DIFFER"))
            ok = ok and agree and losses[-1] < losses[0]
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
