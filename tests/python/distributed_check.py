# SPDX-License-Identifier: BSD-3-Clause
"""adagrad.torch.Adagrad under torch.distributed, gloo, two processes.

The training is examples/python/distributed_training.py's (train, run): two
processes on 127.0.0.1 (a free port, nothing else contacted) train the same
small model and save their parameters and optimizer sums:
  - DDP of a model with a sparse embedding and dense layers, with
    adagrad.torch.Adagrad and again with torch.optim.Adagrad(foreach=False):
    every rank must end with the same bits in both runs, and the two ranks
    with the same bits as each other;
  - ZeroRedundancyOptimizer(optimizer_class=...) on a dense model, with each
    optimizer class: the same, parameters after the ranks' broadcast.
Each run has a time limit; a run that does not finish fails.

Run by ctest as its own entry (python_distributed), apart from the unittest
discovery of test_*.py, so that it runs beside the other tests.
"""
import os
import sys
import tempfile
import unittest

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir,
                                os.pardir, "examples", "python"))
from distributed_training import WORLD, make_model, run, same_bits  # noqa: E402


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
            self.assertEqual(ours[rank]["losses"], theirs[rank]["losses"])
        # The model moved: a run that stepped nothing would pass the above.
        initial = list(make_model(sparse=not zero).parameters())
        self.assertFalse(all(same_bits(p.detach(), q) for p, q in
                             zip(initial, ours[0]["params"])))

    def test_ddp_with_a_sparse_embedding(self):
        self.check(zero=False)

    def test_zero_redundancy_optimizer(self):
        self.check(zero=True)


if __name__ == "__main__":
    sys.exit(unittest.main())
