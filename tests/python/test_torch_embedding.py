# SPDX-License-Identifier: BSD-3-Clause
"""adagrad.torch.EmbeddingBag and EmbeddingBagCollection: the backward pass
that steps the tables (python/adagrad/torch/_embedding.py).

Bitwise: every step equals materializing nn.EmbeddingBag(sparse=True)'s
gradient rows and calling adagrad.sparse_step / rowwise_sparse_step with
duplicates="sum"; a collection equals its tables stepped one by one; 1 and 2
threads agree. Against nn.EmbeddingBag(sparse=True) + torch.optim.Adagrad,
which sums duplicates in coalesce's order and divides in another order, the
difference stays within the bound measured here (a few units in the last
place of the weights).
"""
import unittest

import numpy as np
import torch

import adagrad
from adagrad.torch import EmbeddingBag, EmbeddingBagCollection

ROWS, DIM, BAGS = 500, 24, 40
LR = 0.1


def batch(generator, rows=ROWS, bags=BAGS, dtype=torch.int64, max_length=6):
    lengths = torch.randint(0, max_length, (bags,), generator=generator)
    offsets = torch.cat([torch.zeros(1, dtype=torch.int64), torch.cumsum(lengths, 0)[:-1]])
    indices = torch.randint(0, rows, (int(lengths.sum()),), generator=generator)
    return indices.to(dtype), offsets.to(dtype)


def materialized_step(weight, state, indices, offsets, grad_output, mode, psw, rowwise, step):
    """The reference: nn.EmbeddingBag's gradient rows, then the sparse step."""
    csr = torch.cat([offsets.long(), torch.tensor([indices.numel()])])
    lengths = csr[1:] - csr[:-1]
    bag_of = torch.repeat_interleave(torch.arange(lengths.numel()), lengths)
    rows = grad_output[bag_of].clone()
    if mode == "mean":
        # (float)(1 / L), rounded once, as torch's backward forms the scale.
        rows *= (1.0 / lengths[bag_of].double()).float()[:, None]
    if psw is not None:
        rows *= psw[:, None]
    call = adagrad.rowwise_sparse_step if rowwise else adagrad.sparse_step
    call(weight.numpy(), state.numpy(), indices.numpy(), rows.numpy(), lr=LR, eps=1e-10,
         step=step, duplicates="sum")


class FusedAgainstMaterialized(unittest.TestCase):
    def run_case(self, mode, rowwise, dtype, weighted):
        generator = torch.Generator().manual_seed(7)
        init = torch.randn(ROWS, DIM, generator=generator)
        module = EmbeddingBag(ROWS, DIM, mode, _weight=init, lr=LR, rowwise=rowwise, threads=1)
        weight = init.clone()
        state = torch.zeros(ROWS) if rowwise else torch.zeros(ROWS, DIM)
        for step in range(1, 4):
            indices, offsets = batch(generator, dtype=dtype)
            psw = torch.rand(indices.numel(), generator=generator) if weighted else None
            out = module(indices, offsets, per_sample_weights=psw)
            grad_output = torch.randn(out.shape, generator=generator)
            out.backward(grad_output)
            materialized_step(weight, state, indices, offsets, grad_output, mode, psw, rowwise,
                              step)
            self.assertTrue(torch.equal(module.weight, weight), (mode, rowwise, step))
            self.assertTrue(torch.equal(module.sum, state), (mode, rowwise, step))
            self.assertEqual(int(module.step), step)

    def test_every_mode_state_and_index_type(self):
        for mode in ("sum", "mean"):
            for rowwise in (False, True):
                for dtype in (torch.int64, torch.int32):
                    self.run_case(mode, rowwise, dtype, weighted=False)

    def test_per_sample_weights(self):
        for rowwise in (False, True):
            self.run_case("sum", rowwise, torch.int64, weighted=True)


class AgainstTorch(unittest.TestCase):
    def test_close_to_embedding_bag_and_torch_adagrad(self):
        # Largest differences seen: 2.4e-07 in the weights (values ~1) and
        # 6.1e-05 in the sums (values ~10) after 3 steps.
        generator = torch.Generator().manual_seed(3)
        init = torch.randn(ROWS, DIM, generator=generator)
        for mode in ("sum", "mean"):
            fused = EmbeddingBag(ROWS, DIM, mode, _weight=init, lr=LR, threads=1)
            ref = torch.nn.EmbeddingBag(ROWS, DIM, mode=mode, sparse=True, _weight=init.clone())
            opt = torch.optim.Adagrad(ref.parameters(), lr=LR)
            for _ in range(3):
                indices, offsets = batch(generator)
                (fused(indices, offsets) ** 2).sum().backward()
                (ref(indices, offsets) ** 2).sum().backward()
                opt.step()
                opt.zero_grad()
            torch.testing.assert_close(fused.weight, ref.weight, rtol=0, atol=1e-6)
            torch.testing.assert_close(fused.sum, opt.state[ref.weight]["sum"], rtol=1e-5,
                                       atol=1e-6)

    def test_per_sample_weight_gradients_are_torchs(self):
        generator = torch.Generator().manual_seed(4)
        init = torch.randn(ROWS, DIM, generator=generator)
        fused = EmbeddingBag(ROWS, DIM, "sum", _weight=init, lr=LR)
        ref = torch.nn.EmbeddingBag(ROWS, DIM, mode="sum", _weight=init.clone())
        indices, offsets = batch(generator)
        psw = torch.rand(indices.numel(), generator=generator)
        a, b = psw.clone().requires_grad_(), psw.clone().requires_grad_()
        grad_output = torch.randn(BAGS, DIM, generator=generator)
        fused(indices, offsets, a).backward(grad_output)
        ref(indices, offsets, b).backward(grad_output)
        self.assertTrue(torch.equal(a.grad, b.grad))

    def test_lookups_are_torchs(self):
        generator = torch.Generator().manual_seed(5)
        init = torch.randn(ROWS, DIM, generator=generator)
        for mode in ("sum", "mean"):
            fused = EmbeddingBag(ROWS, DIM, mode, _weight=init)
            ref = torch.nn.EmbeddingBag(ROWS, DIM, mode=mode, _weight=init.clone())
            indices, offsets = batch(generator)
            self.assertTrue(torch.equal(fused(indices, offsets), ref(indices, offsets)))
            fixed = torch.randint(0, ROWS, (BAGS, 3), generator=generator)
            self.assertTrue(torch.equal(fused(fixed), ref(fixed)))
            last = torch.cat([offsets, torch.tensor([indices.numel()])])
            fused_last = EmbeddingBag(ROWS, DIM, mode, _weight=init, include_last_offset=True)
            self.assertTrue(torch.equal(fused_last(indices, last), ref(indices, offsets)))


class Collection(unittest.TestCase):
    def test_tables_in_one_call_equal_tables_one_by_one(self):
        generator = torch.Generator().manual_seed(9)
        specs = [(300, 8, "sum"), (700, 32, "mean"), (50, 4, "sum")]
        inits = [torch.randn(r, d, generator=generator) for r, d, _ in specs]
        for rowwise in (False, True):
            for threads in (1, 2):
                collection = EmbeddingBagCollection(specs, _weights=inits, lr=LR,
                                                    rowwise=rowwise, threads=threads)
                singles = [EmbeddingBag(r, d, m, _weight=w, lr=LR, rowwise=rowwise, threads=1)
                           for (r, d, m), w in zip(specs, inits)]
                for _ in range(2):
                    batches = [batch(generator, rows=r) for r, _, _ in specs]
                    outs = collection([i for i, _ in batches], [o for _, o in batches])
                    loss = sum((out * (k + 1)).sum() for k, out in enumerate(outs))
                    loss.backward()
                    for k, (module, (i, o)) in enumerate(zip(singles, batches)):
                        (module(i, o) * (k + 1)).sum().backward()
                for k, module in enumerate(singles):
                    self.assertTrue(torch.equal(getattr(collection, "weight_%d" % k),
                                                module.weight))
                    self.assertTrue(torch.equal(getattr(collection, "sum_%d" % k), module.sum))
                self.assertEqual(int(collection.step), 2)


class Contract(unittest.TestCase):
    def test_no_grad_forward_does_not_step(self):
        module = EmbeddingBag(ROWS, DIM, "sum")
        before = module.weight.clone()
        with torch.no_grad():
            module(torch.tensor([1, 2]), torch.tensor([0]))
        self.assertTrue(torch.equal(module.weight, before))
        self.assertEqual(int(module.step), 0)

    def test_a_bad_batch_changes_nothing(self):
        module = EmbeddingBag(ROWS, DIM, "sum")
        state = {k: v.clone() for k, v in module.state_dict().items()}
        with self.assertRaises((IndexError, RuntimeError)):
            module(torch.tensor([1, ROWS]), torch.tensor([0])).sum().backward()
        for k, v in module.state_dict().items():
            self.assertTrue(torch.equal(v, state[k]), k)

    def test_state_dict_round_trip(self):
        generator = torch.Generator().manual_seed(11)
        a = EmbeddingBag(ROWS, DIM, "mean", lr=LR)
        indices, offsets = batch(generator)
        a(indices, offsets).sum().backward()
        b = EmbeddingBag(ROWS, DIM, "mean", lr=LR)
        b.load_state_dict(a.state_dict())
        for module in (a, b):
            module(indices, offsets).sum().backward()
        for k, v in a.state_dict().items():
            self.assertTrue(torch.equal(v, b.state_dict()[k]), k)

    def test_the_table_is_no_optimizers(self):
        module = EmbeddingBag(ROWS, DIM, "sum")
        self.assertFalse(any(p.requires_grad for p in module.parameters()))
        module(torch.tensor([3]), torch.tensor([0])).sum().backward()
        self.assertIsNone(module.weight.grad)

    def test_a_graph_that_saved_the_table_sees_the_step(self):
        module = EmbeddingBag(ROWS, DIM, "sum")
        x = torch.ones(DIM, requires_grad=True)
        saved = (x * module.weight[0]).sum()  # saves a view of the table
        module(torch.tensor([0]), torch.tensor([0])).sum().backward()
        with self.assertRaisesRegex(RuntimeError, "modified by an inplace operation"):
            saved.backward()

    def test_unsupported_arguments_raise(self):
        with self.assertRaises(NotImplementedError):
            EmbeddingBag(ROWS, DIM, padding_idx=0)
        with self.assertRaises(ValueError):
            EmbeddingBag(ROWS, DIM, "max")
        with self.assertRaises(ValueError):
            EmbeddingBag(ROWS, DIM, lr=-1)

    def test_tables_on_table_memory(self):
        module = EmbeddingBag(4096, 512, "sum")  # 8 MiB: room for huge pages
        huge = adagrad.huge_page_bytes(module.weight.numpy())
        self.assertLessEqual(huge, 16 << 20)
        with open("/sys/kernel/mm/transparent_hugepage/enabled") as f:
            mode = f.read()
        if "[never]" not in mode:
            self.assertGreater(huge, 0, "THP is %s but the table got no huge page" % mode.strip())


if __name__ == "__main__":
    unittest.main()
