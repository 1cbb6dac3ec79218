# SPDX-License-Identifier: BSD-3-Clause
"""A DLRM-style click model trained with the fused embedding backward.

Synthetic click data: each sample has dense features and one bag of ids per
sparse feature; a hidden "true" model (its own embeddings and weights)
decides the click probability, so there is something to learn. The model is
DLRM's shape: a bottom MLP for the dense features, one pooled embedding bag
per sparse feature, pairwise dot products of those vectors, a top MLP.

The embedding tables are one adagrad.torch.EmbeddingBagCollection: its
backward pass updates every table in place with AdaGrad (no gradient tensor
for the tables, the optimizer state in the module). The MLPs use
adagrad.torch.Adagrad. Run as a test (ctest example_dlrm_fused): the exit
code is 0 when the loss of the last 20 steps is well below that of the
first 20.

    PYTHONPATH=build/dev/python /usr/bin/python3 examples/python/dlrm_fused.py
"""
import argparse
import sys

import torch

import adagrad.torch as at

TABLES = [(20000, "sum"), (5000, "sum"), (1000, "mean"), (50000, "sum")]
DIM = 16
DENSE = 13
BATCH = 256
BAG = 8


class ClickData:
    """Batches drawn from a fixed hidden model (seeded: the same every run)."""

    def __init__(self, seed):
        self.generator = torch.Generator().manual_seed(seed)
        g = self.generator
        self.true_tables = [torch.randn(rows, 4, generator=g) for rows, _ in TABLES]
        self.true_dense = torch.randn(DENSE, 4, generator=g)
        self.true_out = torch.randn(4 * (len(TABLES) + 1), generator=g)

    def batch(self):
        g = self.generator
        dense = torch.randn(BATCH, DENSE, generator=g)
        indices, offsets, pooled = [], [], []
        for (rows, mode), table in zip(TABLES, self.true_tables):
            lengths = torch.randint(1, BAG + 1, (BATCH,), generator=g)
            # Skewed ids, as real categorical features are.
            ids = (torch.rand(int(lengths.sum()), generator=g) ** 3 * rows).long()
            starts = torch.cat([torch.zeros(1, dtype=torch.int64), lengths.cumsum(0)[:-1]])
            indices.append(ids)
            offsets.append(starts)
            pooled.append(torch.nn.functional.embedding_bag(ids, table, starts, mode=mode))
        features = torch.cat([dense @ self.true_dense] + pooled, dim=1)
        clicks = torch.bernoulli(torch.sigmoid(features @ self.true_out / 2), generator=g)
        return dense, indices, offsets, clicks


class DLRM(torch.nn.Module):
    def __init__(self, threads):
        super().__init__()
        self.bottom = torch.nn.Sequential(torch.nn.Linear(DENSE, 64), torch.nn.ReLU(),
                                          torch.nn.Linear(64, DIM), torch.nn.ReLU())
        self.embeddings = at.EmbeddingBagCollection(
            [(rows, DIM, mode) for rows, mode in TABLES], lr=0.05,
            initial_accumulator_value=0.1, threads=threads)
        pairs = (len(TABLES) + 1) * len(TABLES) // 2
        self.top = torch.nn.Sequential(torch.nn.Linear(DIM + pairs, 64), torch.nn.ReLU(),
                                       torch.nn.Linear(64, 1))

    def forward(self, dense, indices, offsets):
        x = self.bottom(dense)
        vectors = [x] + self.embeddings(indices, offsets)
        stacked = torch.stack(vectors, dim=1)  # (batch, features, DIM)
        dots = stacked @ stacked.transpose(1, 2)
        rows, cols = torch.triu_indices(len(vectors), len(vectors), offset=1)
        return self.top(torch.cat([x, dots[:, rows, cols]], dim=1)).squeeze(1)


def train(steps, threads, seed=0):
    torch.manual_seed(seed)
    data = ClickData(seed)
    model = DLRM(threads)
    optimizer = at.Adagrad([p for p in model.parameters() if p.requires_grad], lr=0.02)
    losses = []
    for _ in range(steps):
        dense, indices, offsets, clicks = data.batch()
        loss = torch.nn.functional.binary_cross_entropy_with_logits(
            model(dense, indices, offsets), clicks)
        optimizer.zero_grad()
        loss.backward()  # also steps the embedding tables
        optimizer.step()
        losses.append(loss.item())
    return losses


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    losses = train(args.steps, args.threads)
    first, last = sum(losses[:20]) / 20, sum(losses[-20:]) / 20
    for k in range(0, len(losses), max(len(losses) // 10, 1)):
        print("step %4d  loss %.4f" % (k + 1, losses[k]))
    print("mean loss of the first 20 steps %.4f, of the last 20 %.4f" % (first, last))
    return 0 if last < 0.9 * first else 1


if __name__ == "__main__":
    sys.exit(main())
