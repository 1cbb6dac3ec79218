# SPDX-License-Identifier: BSD-3-Clause
"""adagrad.embedding_bag_step, table_array and huge_page_bytes (the binding
of the fused embedding-bag steps, python/src/embedding.cpp).

Results: bitwise the materialized gradient through sparse_step with
duplicates="sum", for both poolings, both states, both index dtypes, with
per-sample weights, with grad_output rows apart (a column slice), on 1 and 2
threads. Errors: every refused call names the array and changes nothing.
"""
import unittest

import numpy as np

import adagrad

F32 = np.float32
ROWS, DIM, BAGS = 300, 12, 25


def make_table(seed, rowwise=False, index_dtype=np.int64, weighted=False):
    rng = np.random.default_rng(seed)
    lengths = rng.integers(0, 5, BAGS)
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(index_dtype)
    indices = rng.integers(0, ROWS, int(offsets[-1])).astype(index_dtype)
    return dict(
        weights=rng.standard_normal((ROWS, DIM)).astype(F32),
        states=rng.random(ROWS if rowwise else (ROWS, DIM)).astype(F32),
        indices=indices, offsets=offsets, lengths=lengths,
        grad_outputs=rng.standard_normal((BAGS, DIM)).astype(F32),
        per_sample_weights=rng.random(indices.size).astype(F32) if weighted else None)


def materialized(t, pooling, rowwise):
    bag_of = np.repeat(np.arange(BAGS), t["lengths"])
    rows = t["grad_outputs"][bag_of].copy()
    if pooling == "mean":
        rows *= (1.0 / t["lengths"][bag_of]).astype(F32)[:, None]
    if t["per_sample_weights"] is not None:
        rows *= t["per_sample_weights"][:, None]
    w, G = t["weights"].copy(), t["states"].copy()
    step = adagrad.rowwise_sparse_step if rowwise else adagrad.sparse_step
    step(w, G, t["indices"].astype(np.int64), rows, lr=0.1, duplicates="sum")
    return w, G


def fused(tables, pooling, rowwise, **kwargs):
    copies = [(t["weights"].copy(), t["states"].copy()) for t in tables]
    adagrad.embedding_bag_step(
        [w for w, _ in copies], [G for _, G in copies], [t["indices"] for t in tables],
        [t["offsets"] for t in tables], [t["grad_outputs"] for t in tables],
        per_sample_weights=[t["per_sample_weights"] for t in tables], pooling=pooling,
        rowwise=rowwise, lr=0.1, **kwargs)
    return copies


class Results(unittest.TestCase):
    def test_equals_the_materialized_sparse_step(self):
        for pooling in ("sum", "mean"):
            for rowwise in (False, True):
                for index_dtype in (np.int64, np.int32):
                    for threads in (1, 2):
                        tables = [make_table(s, rowwise, index_dtype, pooling == "sum")
                                  for s in (1, 2, 3)]
                        got = fused(tables, pooling, rowwise, threads=threads)
                        for t, (w, G) in zip(tables, got):
                            want_w, want_G = materialized(t, pooling, rowwise)
                            np.testing.assert_array_equal(w, want_w)
                            np.testing.assert_array_equal(G, want_G)

    def test_grad_output_columns_of_one_array(self):
        tables = [make_table(4), make_table(5)]
        wide = np.concatenate([t["grad_outputs"] for t in tables], axis=1)
        want = fused(tables, "sum", False)
        tables[0]["grad_outputs"] = wide[:, :DIM]
        tables[1]["grad_outputs"] = wide[:, DIM:]
        got = fused(tables, "sum", False)
        for (w, G), (v, H) in zip(got, want):
            np.testing.assert_array_equal(w, v)
            np.testing.assert_array_equal(G, H)

    def test_table_memory(self):
        array = adagrad.table_array((1024, 1024), "float32")
        self.assertEqual(array.shape, (1024, 1024))
        self.assertEqual(array.ctypes.data % (2 << 20), 0)
        self.assertFalse(array.any())
        array[:] = 1
        self.assertLessEqual(adagrad.huge_page_bytes(array), 6 << 20)


class Errors(unittest.TestCase):
    def expect(self, exception, pattern, tables, **kwargs):
        before = [(t["weights"].copy(), t["states"].copy()) for t in tables]
        with self.assertRaisesRegex(exception, pattern):
            adagrad.embedding_bag_step(
                [t["weights"] for t in tables], [t["states"] for t in tables],
                [t["indices"] for t in tables], [t["offsets"] for t in tables],
                [t["grad_outputs"] for t in tables], **kwargs)
        for t, (w, G) in zip(tables, before):
            np.testing.assert_array_equal(t["weights"], w)
            np.testing.assert_array_equal(t["states"], G)

    def test_bad_offsets(self):
        tables = [make_table(1), make_table(2)]
        tables[1]["offsets"] = tables[1]["offsets"].copy()
        tables[1]["offsets"][3] = tables[1]["offsets"][2] - 1
        self.expect(ValueError, r"offsets\[1\] must be nondecreasing", tables)
        tables[1]["offsets"] = make_table(2)["offsets"] + 1
        self.expect(ValueError, r"offsets\[1\]\[0\] must be 0", tables)

    def test_index_out_of_range(self):
        tables = [make_table(1), make_table(2)]
        tables[1]["indices"] = tables[1]["indices"].copy()
        tables[1]["indices"][-1] = ROWS
        self.expect(IndexError, r"indices\[1\]\[%d\] = %d" % (tables[1]["indices"].size - 1, ROWS),
                    tables)

    def test_types_and_shapes(self):
        tables = [make_table(1), make_table(2, index_dtype=np.int32)]
        self.expect(TypeError, "one index type per call", tables)
        tables = [make_table(1), make_table(2)]
        tables[1]["grad_outputs"] = tables[1]["grad_outputs"][:-1]
        self.expect(ValueError, r"grad_outputs\[1\] must have shape", tables)
        tables = [make_table(1)]
        self.expect(ValueError, "every list has one item per table", tables,
                    pooling=["sum", "sum"])
        self.expect(ValueError, "pooling", tables, pooling="max")
        self.expect(ValueError, "lr", tables, lr=-1.0)

    def test_overlap(self):
        tables = [make_table(1), make_table(2)]
        tables[1]["states"] = tables[0]["states"]
        self.expect(ValueError, "share memory", tables)


if __name__ == "__main__":
    unittest.main()
