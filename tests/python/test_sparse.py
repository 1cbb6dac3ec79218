# SPDX-License-Identifier: BSD-3-Clause
"""adagrad.sparse_step, adagrad.rowwise_sparse_step and adagrad.rowwise_step
against the header's semantics written out in NumPy float32
(embedding_reference.py), bit for bit: batches with repeated indices, both
duplicate modes, int64 and int32 indices, weight decay, maximize, eps inside
the root, lr decay and fma mode, on every ISA this CPU has, and with 1, 2 and
3 threads and on a ThreadPool."""
import unittest
from fractions import Fraction

import numpy as np

import adagrad
import embedding_reference as ref
from bitwise import assert_same_bits

F32 = np.float32
ISAS = [None] + adagrad.supported_isas()
INDEX_DTYPES = (np.int64, np.int32)
DUPLICATES = ("sum", "sequential")
# Below, at and past 16 lanes and every vector width; 300 crosses the 256
# columns the library sums duplicated rows in at a time.
DIMS = (1, 7, 16, 17, 40, 300)
HYPERPARAMETERS = {
    "plain": dict(lr=0.05),
    "decay_maximize_inside": dict(lr=0.1, eps=1e-7, weight_decay=0.1, lr_decay=0.01,
                                  maximize=True, eps_mode="inside"),
    "fma": dict(lr=0.1, eps=1e-10, weight_decay=0.05, lr_decay=0.02, fma=True),
}
STEPS = 3
SPARSE_FUNCTIONS = {False: adagrad.sparse_step, True: adagrad.rowwise_sparse_step}


def random_batch(rng, num_rows, num_indices, dim, index_dtype):
    """Indices with many repeats (a few hot rows take about a third of the
    batch) and one gradient row each."""
    indices = rng.integers(0, num_rows, num_indices)
    hot = rng.integers(0, num_rows, 3)
    repeated = rng.random(num_indices) < 0.35
    indices[repeated] = rng.choice(hot, int(repeated.sum()))
    grads = (rng.standard_normal((num_indices, dim)) * 0.3).astype(F32)
    return indices.astype(index_dtype), grads


def random_table(rng, num_rows, dim, rowwise):
    table = rng.standard_normal((num_rows, dim)).astype(F32)
    state_shape = (num_rows,) if rowwise else (num_rows, dim)
    # A state that earlier steps have filled, so that its old value matters.
    state = (rng.random(state_shape) * 0.5).astype(F32)
    return table, state


class FmaEmulationTest(unittest.TestCase):
    """The reference's fmaf is what fma mode is tested against: check it
    against exact rational arithmetic, and against the library's dense step,
    whose fma mode other tests tie to PyTorch."""

    @staticmethod
    def exact_fmaf(a, b, c):
        exact = Fraction(float(a)) * Fraction(float(b)) + Fraction(float(c))
        candidate = F32(float(exact))
        # The nearest float to exact among candidate and its neighbours, ties
        # to the even significand.
        options = [np.nextafter(candidate, F32(-np.inf)), candidate,
                   np.nextafter(candidate, F32(np.inf))]

        def key(x):
            distance = abs(Fraction(float(x)) - exact)
            odd = int(np.array(x, F32).view(np.int32)) & 1
            return distance, odd

        return min(options, key=key)

    def test_against_exact_arithmetic(self):
        rng = np.random.default_rng(1)
        a = rng.standard_normal(3000).astype(F32)
        b = rng.standard_normal(3000).astype(F32)
        c = (rng.standard_normal(3000) * 10.0 ** rng.integers(-12, 3, 3000)).astype(F32)
        # Sums on a float midpoint: (1 + 2^-12)^2 = 1 + 2^-11 + 2^-24 is halfway
        # between two floats; a tiny c decides, and in double it is lost.
        a = np.append(a, [F32(1 + 2.0 ** -12)] * 4)
        b = np.append(b, [F32(1 + 2.0 ** -12), F32(1 + 2.0 ** -12), F32(-1 - 2.0 ** -12),
                          F32(1 + 2.0 ** -12)])
        c = np.append(c, [F32(2.0 ** -80), F32(-2.0 ** -80), F32(-2.0 ** -80), F32(0.0)])
        got = ref.fmaf(a, b, c)
        expected = np.array([self.exact_fmaf(x, y, z) for x, y, z in zip(a, b, c)], F32)
        assert_same_bits(self, got, expected, "fmaf")
        # The midpoint cases really differ from rounding twice.
        twice = (a[-4:].astype(np.float64) * b[-4:] + c[-4:]).astype(F32)
        self.assertNotEqual(got[-4:].tobytes(), twice.tobytes())

    def test_dense_reference_matches_library_step(self):
        rng = np.random.default_rng(2)
        hyper = HYPERPARAMETERS["fma"]
        w0 = rng.standard_normal(1031).astype(F32)
        G0 = (rng.random(1031) * 0.5).astype(F32)
        for isa in ISAS:
            with self.subTest(isa=isa):
                w, G = w0.copy(), G0.copy()
                expected_w, expected_G = w0.copy(), G0.copy()
                for step in range(1, STEPS + 1):
                    grad = rng.standard_normal(1031).astype(F32)
                    adagrad.step(w, grad, G, step=step, isa=isa, **hyper)
                    ref.dense_step(expected_w, grad, expected_G, ref.Hyper(step=step, **hyper))
                    assert_same_bits(self, w, expected_w, "w after step %d" % step)
                    assert_same_bits(self, G, expected_G, "G after step %d" % step)


class SparseStepTest(unittest.TestCase):
    def run_against_reference(self, rowwise, num_rows, num_indices, dim, hyper_name, duplicates,
                              index_dtype, isa=None, seed=0, threads=1):
        rng = np.random.default_rng(seed)
        hyper = HYPERPARAMETERS[hyper_name]
        table, state = random_table(rng, num_rows, dim, rowwise)
        expected_table, expected_state = table.copy(), state.copy()
        for step in range(1, STEPS + 1):
            indices, grads = random_batch(rng, num_rows, num_indices, dim, index_dtype)
            result = SPARSE_FUNCTIONS[rowwise](table, state, indices, grads, step=step,
                                               duplicates=duplicates, threads=threads, isa=isa,
                                               **hyper)
            self.assertIsNone(result)
            expected_table, expected_state = ref.sparse_step(
                expected_table, expected_state, indices, grads, ref.Hyper(step=step, **hyper),
                duplicates, rowwise)
            assert_same_bits(self, table, expected_table, "table after step %d" % step)
            assert_same_bits(self, state, expected_state, "state after step %d" % step)

    def test_matches_numpy(self):
        # 20 indices: the library's insertion sort; 90: its radix sort.
        for rowwise in (False, True):
            for dim in DIMS:
                for num_indices in (20, 90):
                    for hyper_name in HYPERPARAMETERS:
                        for duplicates in DUPLICATES:
                            for index_dtype in INDEX_DTYPES:
                                with self.subTest(rowwise=rowwise, dim=dim,
                                                  num_indices=num_indices, hyper=hyper_name,
                                                  duplicates=duplicates,
                                                  indices=index_dtype.__name__):
                                    self.run_against_reference(
                                        rowwise, 50, num_indices, dim, hyper_name, duplicates,
                                        index_dtype, seed=dim * 100 + num_indices)

    def test_large_table(self):
        # Rows past 2^11: two passes of the radix sort.
        for rowwise in (False, True):
            for duplicates in DUPLICATES:
                for index_dtype in INDEX_DTYPES:
                    with self.subTest(rowwise=rowwise, duplicates=duplicates,
                                      indices=index_dtype.__name__):
                        self.run_against_reference(rowwise, 5000, 400, 8, "decay_maximize_inside",
                                                   duplicates, index_dtype, seed=17)

    def test_every_isa(self):
        for isa in ISAS:
            for rowwise in (False, True):
                for dim in (17, 300):
                    for hyper_name in ("decay_maximize_inside", "fma"):
                        for duplicates in DUPLICATES:
                            for index_dtype in INDEX_DTYPES:
                                with self.subTest(isa=isa, rowwise=rowwise, dim=dim,
                                                  hyper=hyper_name, duplicates=duplicates,
                                                  indices=index_dtype.__name__):
                                    self.run_against_reference(rowwise, 40, 90, dim, hyper_name,
                                                               duplicates, index_dtype, isa=isa,
                                                               seed=dim)

    def test_unique_indices_equal_the_dense_step_on_those_rows(self):
        rng = np.random.default_rng(4)
        table, state = random_table(rng, 60, 33, rowwise=False)
        indices = rng.permutation(60)[:25]
        grads = rng.standard_normal((25, 33)).astype(F32)
        for hyper_name, hyper in HYPERPARAMETERS.items():
            for isa in ISAS:
                with self.subTest(hyper=hyper_name, isa=isa):
                    sparse_table, sparse_state = table.copy(), state.copy()
                    adagrad.sparse_step(sparse_table, sparse_state, indices, grads, isa=isa,
                                        **hyper)
                    dense_table, dense_state = table.copy(), state.copy()
                    rows, row_state = dense_table[indices], dense_state[indices]
                    adagrad.step(rows, grads, row_state, isa=isa, **hyper)
                    dense_table[indices], dense_state[indices] = rows, row_state
                    assert_same_bits(self, sparse_table, dense_table, "table")
                    assert_same_bits(self, sparse_state, dense_state, "state")

    def test_duplicate_modes_differ_only_on_repeated_rows(self):
        table = np.ones((4, 5), F32)
        indices = np.array([2, 0, 2])
        grads = np.arange(15, dtype=F32).reshape(3, 5) / F32(10)
        results = {}
        for duplicates in DUPLICATES:
            t, s = table.copy(), np.zeros_like(table)
            adagrad.sparse_step(t, s, indices, grads, lr=0.1, duplicates=duplicates)
            results[duplicates] = t, s
        assert_same_bits(self, results["sum"][0][[0, 1, 3]], results["sequential"][0][[0, 1, 3]],
                         "rows 0, 1, 3")
        self.assertFalse(np.array_equal(results["sum"][0][2], results["sequential"][0][2]))
        assert_same_bits(self, results["sum"][1][2], (grads[0] + grads[2]) ** 2, "summed state")

    def test_other_names_of_the_index_dtypes(self):
        # np.longlong and np.intc are int64 and int32 under other names here.
        rng = np.random.default_rng(6)
        table, state = random_table(rng, 10, 4, rowwise=False)
        indices, grads = random_batch(rng, 10, 12, 4, np.int64)
        expected_table, expected_state = table.copy(), state.copy()
        adagrad.sparse_step(expected_table, expected_state, indices, grads)
        for dtype in (np.longlong, np.intc, np.intp):
            with self.subTest(dtype=np.dtype(dtype).char):
                t, s = table.copy(), state.copy()
                adagrad.sparse_step(t, s, indices.astype(dtype), grads)
                assert_same_bits(self, t, expected_table, "table")
                assert_same_bits(self, s, expected_state, "state")

    def test_read_only_indices_and_grads_are_fine(self):
        rng = np.random.default_rng(7)
        for rowwise in (False, True):
            table, state = random_table(rng, 10, 4, rowwise)
            indices, grads = random_batch(rng, 10, 12, 4, np.int32)
            indices.setflags(write=False)
            grads.setflags(write=False)
            SPARSE_FUNCTIONS[rowwise](table, state, indices, grads)

    def test_empty_batch_and_empty_rows_are_no_ops(self):
        for rowwise in (False, True):
            for index_dtype in INDEX_DTYPES:
                with self.subTest(rowwise=rowwise, indices=index_dtype.__name__):
                    step = SPARSE_FUNCTIONS[rowwise]
                    table, state = random_table(np.random.default_rng(8), 6, 3, rowwise)
                    before = table.copy(), state.copy()
                    step(table, state, np.empty(0, index_dtype), np.empty((0, 3), F32),
                         weight_decay=0.5)
                    # dim 0: nothing to update once the indices are checked.
                    empty_table = np.empty((6, 0), F32)
                    empty_state = np.zeros(6, F32) if rowwise else np.empty((6, 0), F32)
                    step(empty_table, empty_state, np.array([5, 0, 5], index_dtype),
                         np.empty((3, 0), F32))
                    with self.assertRaises(IndexError):
                        step(empty_table, empty_state, np.array([6], index_dtype),
                             np.empty((1, 0), F32))
                    assert_same_bits(self, empty_state, np.zeros_like(empty_state), "state")
                    # A table of no rows with no indices.
                    step(np.empty((0, 3), F32), np.empty((0,) if rowwise else (0, 3), F32),
                         np.empty(0, index_dtype), np.empty((0, 3), F32))
                    assert_same_bits(self, table, before[0], "table")
                    assert_same_bits(self, state, before[1], "state")


class ThreadsTest(unittest.TestCase):
    """Batches large enough that the library splits them over the pool
    (num_indices * dim well past its 32K elements per task)."""
    NUM_ROWS = 3000
    NUM_INDICES = 2500
    DIM = 64

    @classmethod
    def setUpClass(cls):
        cls.pool = adagrad.ThreadPool(2)

    def test_pool(self):
        self.assertEqual(self.pool.threads, 2)
        self.assertEqual(repr(self.pool), "adagrad.ThreadPool(%d)" % self.pool.threads)
        self.assertEqual(adagrad.ThreadPool(1).threads, 1)

    def test_same_bits_for_every_thread_count(self):
        for rowwise in (False, True):
            for duplicates in DUPLICATES:
                for index_dtype in INDEX_DTYPES:
                    rng = np.random.default_rng(9)
                    table, state = random_table(rng, self.NUM_ROWS, self.DIM, rowwise)
                    indices, grads = random_batch(rng, self.NUM_ROWS, self.NUM_INDICES, self.DIM,
                                                  index_dtype)
                    hyper = HYPERPARAMETERS["decay_maximize_inside"]
                    results = {}
                    for threads in (1, 2, 3, "pool of 2"):
                        t, s = table.copy(), state.copy()
                        where = (dict(pool=self.pool) if threads == "pool of 2" else
                                 dict(threads=threads))
                        SPARSE_FUNCTIONS[rowwise](t, s, indices, grads, duplicates=duplicates,
                                                  **where, **hyper)
                        results[threads] = t, s
                    expected = ref.sparse_step(table, state, indices, grads, ref.Hyper(**hyper),
                                               duplicates, rowwise)
                    for threads, (t, s) in results.items():
                        with self.subTest(rowwise=rowwise, duplicates=duplicates,
                                          indices=index_dtype.__name__, threads=threads):
                            assert_same_bits(self, t, expected[0], "table")
                            assert_same_bits(self, s, expected[1], "state")

    def test_threads_with_an_isa(self):
        rng = np.random.default_rng(10)
        table, state = random_table(rng, self.NUM_ROWS, self.DIM, rowwise=True)
        indices, grads = random_batch(rng, self.NUM_ROWS, self.NUM_INDICES, self.DIM, np.int32)
        expected = ref.sparse_step(table, state, indices, grads, ref.Hyper(fma=True), "sum", True)
        for isa in ISAS:
            with self.subTest(isa=isa):
                t, s = table.copy(), state.copy()
                adagrad.rowwise_sparse_step(t, s, indices, grads, fma=True, threads=2, isa=isa)
                assert_same_bits(self, t, expected[0], "table")
                assert_same_bits(self, s, expected[1], "state")

    def test_dense_rowwise_same_bits_for_every_thread_count(self):
        rng = np.random.default_rng(11)
        w0 = rng.standard_normal((4000, 33)).astype(F32)
        g = rng.standard_normal((4000, 33)).astype(F32)
        state0 = (rng.random(4000) * 0.5).astype(F32)
        hyper = HYPERPARAMETERS["decay_maximize_inside"]
        expected_w, expected_state = w0.copy(), state0.copy()
        ref.rowwise_step(expected_w, g, expected_state, ref.Hyper(**hyper))
        for threads in (1, 2, 3, "pool of 2"):
            with self.subTest(threads=threads):
                w, state = w0.copy(), state0.copy()
                where = dict(pool=self.pool) if threads == "pool of 2" else dict(threads=threads)
                adagrad.rowwise_step(w, g, state, **where, **hyper)
                assert_same_bits(self, w, expected_w, "w")
                assert_same_bits(self, state, expected_state, "row_state")


class RowwiseStepTest(unittest.TestCase):
    def test_matches_numpy_on_every_isa(self):
        for dim in (1, 2, 15, 16, 17, 31, 32, 33, 100, 300):
            for hyper_name, hyper in HYPERPARAMETERS.items():
                rng = np.random.default_rng(dim)
                w0 = rng.standard_normal((7, dim)).astype(F32)
                state0 = (rng.random(7) * 0.5).astype(F32)
                grads = [rng.standard_normal((7, dim)).astype(F32) for _ in range(STEPS)]
                for isa in ISAS:
                    with self.subTest(dim=dim, hyper=hyper_name, isa=isa):
                        w, state = w0.copy(), state0.copy()
                        expected_w, expected_state = w0.copy(), state0.copy()
                        for step, grad in enumerate(grads, start=1):
                            result = adagrad.rowwise_step(w, grad, state, step=step, isa=isa,
                                                          **hyper)
                            self.assertIsNone(result)
                            ref.rowwise_step(expected_w, grad, expected_state,
                                             ref.Hyper(step=step, **hyper))
                            assert_same_bits(self, w, expected_w, "w after step %d" % step)
                            assert_same_bits(self, state, expected_state,
                                             "row_state after step %d" % step)

    def test_equals_the_sparse_step_naming_every_row_once(self):
        rng = np.random.default_rng(12)
        w0 = rng.standard_normal((9, 40)).astype(F32)
        g = rng.standard_normal((9, 40)).astype(F32)
        state0 = (rng.random(9) * 0.5).astype(F32)
        w, state = w0.copy(), state0.copy()
        adagrad.rowwise_step(w, g, state, weight_decay=0.1)
        order = rng.permutation(9)
        sparse_w, sparse_state = w0.copy(), state0.copy()
        adagrad.rowwise_sparse_step(sparse_w, sparse_state, order, g[order], weight_decay=0.1)
        assert_same_bits(self, sparse_w, w, "table")
        assert_same_bits(self, sparse_state, state, "state")

    def test_empty_is_a_no_op(self):
        adagrad.rowwise_step(np.empty((0, 4), F32), np.empty((0, 4), F32), np.empty(0, F32))
        state = np.full(3, 0.25, F32)
        adagrad.rowwise_step(np.empty((3, 0), F32), np.empty((3, 0), F32), state)
        assert_same_bits(self, state, np.full(3, 0.25, F32), "row_state")


if __name__ == "__main__":
    unittest.main()
