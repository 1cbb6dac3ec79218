# SPDX-License-Identifier: BSD-3-Clause
"""adagrad.proximal_step, adagrad.da_step, adagrad.sparse_proximal_step and
adagrad.sparse_da_step: bit for bit against the header's formulas written out
in NumPy (composite_reference.py), float32 and float64, on every ISA this CPU
has; exact zeros from l1; the sparse steps against the dense ones applied row
by row (duplicates summed in batch order, or applied one by one), lazily, on
threads; and every invalid argument raising, naming it, with nothing
changed."""
import unittest
import zlib

import numpy as np

import adagrad
import composite_reference as ref
from bitwise import assert_same_bits, difference_report
from test_errors import ALL_ISAS, misaligned

F32 = np.float32
F64 = np.float64
DTYPES = (F32, F64)
ISAS = [None] + adagrad.supported_isas()
INDEX_DTYPES = (np.int64, np.int32)
DUPLICATES = ("sum", "sequential")
# 1-D lengths below, at and past every vector width (and primes), and 2-D.
SHAPES = [(1,), (7,), (37,), (1031,), (16, 65)]
HYPERPARAMETERS = {
    "l1": dict(lr=0.1, l1=0.05),
    "l2": dict(lr=0.1, l2=0.3),
    "l1_l2": dict(lr=0.2, l1=0.02, l2=0.1),
    "unregularized": dict(lr=0.1),
    "decay_maximize_inside": dict(lr=0.1, eps=1e-7, weight_decay=0.1, lr_decay=0.01,
                                  maximize=True, eps_mode="inside", l1=0.01, l2=0.05),
    # TensorFlow's formulas (no eps).
    "eps_0": dict(lr=0.5, eps=0.0, l1=0.01, l2=0.01),
    # Nonzero l1 that rounds to 0 in float32: still applied, as weight decay.
    "tiny_l1": dict(lr=0.1, l1=1e-50, l2=1e-50),
}
STEPS = 4
KINDS = ("proximal", "da")


def rng_for(*key):
    """A generator seeded by key, the same in every process (str's hash is
    salted per process; crc32 is not)."""
    return np.random.default_rng(zlib.crc32(repr(key).encode()))


def start(kind, dtype, shape, rng):
    """The arrays a run starts from: w, and the states (G; or z, G)."""
    w = rng.standard_normal(shape).astype(dtype)
    G = (rng.random(shape) * 0.5).astype(dtype)
    if kind == "proximal":
        return w, (G,)
    z = (rng.standard_normal(shape) * 0.2).astype(dtype)
    return w, (z, G)


def library_step(kind, w, g, states, step, isa=None, **hyper):
    """One dense composite step of the library, in place."""
    if kind == "proximal":
        return adagrad.proximal_step(w, g, *states, step=step, isa=isa, **hyper)
    return adagrad.da_step(w, g, *states, step=step, isa=isa, **hyper)


def reference_step(kind, w, g, states, step, **hyper):
    h = ref.Hyper(w.dtype, step=step, **hyper)
    if kind == "proximal":
        ref.proximal_step(w, g, *states, h)
    else:
        ref.da_step(w, g, *states, h)


def state_names(kind):
    return ("G",) if kind == "proximal" else ("z", "G")


def assert_same_bits_nan(testcase, actual, expected, what):
    """Bitwise equality, except that any NaN equals any NaN (sign and
    payload of a NaN the hardware makes are not part of the contract)."""
    actual_nan, expected_nan = np.isnan(actual), np.isnan(expected)
    if not np.array_equal(actual_nan, expected_nan):
        testcase.fail("{}: NaN at {} but expected at {}".format(
            what, np.flatnonzero(actual_nan).tolist(), np.flatnonzero(expected_nan).tolist()))
    report = difference_report(np.where(actual_nan, 0, actual).astype(actual.dtype),
                               np.where(expected_nan, 0, expected).astype(expected.dtype))
    if report is not None:
        testcase.fail("{}: {}".format(what, report))


class DenseCompositeTest(unittest.TestCase):
    def run_against_reference(self, kind, dtype, shape, hyper, isas, first_step=1,
                              steps=STEPS, seed=0):
        rng = rng_for(kind, dtype.__name__, shape, seed)
        w0, states0 = start(kind, dtype, shape, rng)
        grads = [(rng.standard_normal(shape) * 0.3).astype(dtype) for _ in range(steps)]
        expected_w, expected_states = w0.copy(), [s.copy() for s in states0]
        trajectory = []
        for t, grad in enumerate(grads, start=first_step):
            reference_step(kind, expected_w, grad, expected_states, t, **hyper)
            trajectory.append((expected_w.copy(), [s.copy() for s in expected_states]))
        for isa in isas:
            with self.subTest(kind=kind, dtype=dtype.__name__, shape=shape, isa=isa):
                w, states = w0.copy(), [s.copy() for s in states0]
                for t, (grad, (tw, tstates)) in enumerate(zip(grads, trajectory),
                                                          start=first_step):
                    self.assertIsNone(library_step(kind, w, grad, states, t, isa=isa, **hyper))
                    assert_same_bits(self, w, tw, "w after step %d" % t)
                    for name, state, expected in zip(state_names(kind), states, tstates):
                        assert_same_bits(self, state, expected, "%s after step %d" % (name, t))

    def test_matches_numpy_on_every_isa(self):
        for kind in KINDS:
            for dtype in DTYPES:
                for shape in SHAPES:
                    for name, hyper in HYPERPARAMETERS.items():
                        with self.subTest(hyper=name):
                            self.run_against_reference(kind, dtype, shape, hyper, ISAS)

    def test_dual_averaging_late_global_step(self):
        # t in the thousands: c1 = t * l1 and c2 = l2 * t * lr_t grow, lr_t
        # decays with the same t.
        hyper = dict(lr=0.3, l1=1e-4, l2=1e-3, lr_decay=1e-3, weight_decay=0.01)
        for dtype in DTYPES:
            self.run_against_reference("da", dtype, (1031,), hyper, ISAS, first_step=4097)

    def test_fma_mode(self):
        # float64's reference fma is exact rational arithmetic: small arrays.
        hyper = dict(lr=0.1, eps=1e-10, weight_decay=0.05, lr_decay=0.02, fma=True, l1=0.01,
                     l2=0.1)
        for kind in KINDS:
            for dtype in DTYPES:
                self.run_against_reference(kind, dtype, (3, 67), hyper, ISAS, steps=3)

    def test_float64_fma_reference_matches_library_step(self):
        # The float64 fma of the reference against the library's dense step in
        # fma mode, which other tests tie to PyTorch.
        rng = np.random.default_rng(21)
        w, G = rng.standard_normal(257), rng.random(257) * 0.5
        g = rng.standard_normal(257)
        expected_w, expected_G = w.copy(), G.copy()
        adagrad.step(w, g, G, lr=0.1, eps=1e-10, weight_decay=0.3, fma=True)
        h = ref.Hyper(F64, lr=0.1, eps=1e-10, weight_decay=0.3, fma=True)
        grad = ref.gradient(expected_w, g, h)
        d = ref.accumulate_and_denominator(grad, expected_G, h)
        expected_w[...] = expected_w - (h.lr_t * grad) / d
        assert_same_bits(self, G, expected_G, "G")
        assert_same_bits(self, w, expected_w, "w")
        unfused = w.copy()
        adagrad.step(unfused, g, G.copy(), lr=0.1, eps=1e-10, weight_decay=0.3)
        self.assertNotEqual(unfused.tobytes(), w.tobytes())

    def test_special_values(self):
        for dtype in DTYPES:
            info = np.finfo(dtype)
            specials = np.array([0.0, -0.0, info.tiny / 4, -info.tiny / 4, info.tiny, 1.0, -1.0,
                                 np.sqrt(info.max) * 2, -np.sqrt(info.max) * 2, info.max,
                                 -info.max, np.inf, -np.inf, np.nan], dtype)
            # Each special value in w against each in g, with G and z mixed.
            w0 = np.repeat(specials, specials.size)
            g = np.tile(specials, specials.size)
            G0 = np.abs(np.roll(w0, 3))
            z0 = np.roll(g, 5)
            for kind in KINDS:
                for hyper in (dict(l1=0.01, l2=0.1), dict(l1=0.5, weight_decay=0.1, eps=0.0)):
                    expected_w = w0.copy()
                    expected_states = [G0.copy()] if kind == "proximal" else [z0.copy(), G0.copy()]
                    reference_step(kind, expected_w, g, expected_states, 3, **hyper)
                    for isa in ISAS:
                        with self.subTest(dtype=dtype.__name__, kind=kind, hyper=hyper, isa=isa):
                            w = w0.copy()
                            states = [G0.copy()] if kind == "proximal" else [z0.copy(), G0.copy()]
                            library_step(kind, w, g, states, 3, isa=isa, **hyper)
                            assert_same_bits_nan(self, w, expected_w, "w")
                            for name, state, expected in zip(state_names(kind), states,
                                                             expected_states):
                                assert_same_bits_nan(self, state, expected, name)

    def test_g_is_not_written_and_may_be_read_only(self):
        for kind in KINDS:
            for dtype in DTYPES:
                w, states = start(kind, dtype, (33,), np.random.default_rng(1))
                g = np.random.default_rng(2).standard_normal(33).astype(dtype)
                g.setflags(write=False)
                before = g.copy()
                library_step(kind, w, g, states, 1, l1=0.1, weight_decay=0.1)
                assert_same_bits(self, g, before, "g")

    def test_empty_arrays_are_a_no_op(self):
        for dtype in DTYPES:
            adagrad.proximal_step(*[np.empty((0, 3), dtype) for _ in range(3)], l1=0.1)
            adagrad.da_step(*[np.empty((4, 0), dtype) for _ in range(4)], step=1, l2=0.1)


class ExactZerosTest(unittest.TestCase):
    def test_proximal_by_hand(self):
        # lr 1, eps 0, g 1, G 0: G = 1, d = 1, r = 1, v = w - 1; every value
        # below is exact in binary.
        for dtype in DTYPES:
            for isa in ISAS:
                with self.subTest(dtype=dtype.__name__, isa=isa):
                    w = np.array([1.25, 0.75, 0.5, -3.0, 1.0], dtype)
                    G = np.zeros(5, dtype)
                    adagrad.proximal_step(w, np.ones(5, dtype), G, lr=1.0, eps=0.0, l1=0.25,
                                          isa=isa)
                    # v = 0.25, -0.25, -0.5, -4, +0: |v| - 0.25 = 0, 0, 0.25, 3.75, -0.25
                    assert_same_bits(self, w, np.array([0.0, -0.0, -0.25, -3.75, 0.0], dtype),
                                     "w")
                    assert_same_bits(self, G, np.ones(5, dtype), "G")
                    w = np.array([1.25, 0.75, 0.5, -3.0, 1.0], dtype)
                    adagrad.proximal_step(w, np.ones(5, dtype), np.zeros(5, dtype), lr=1.0,
                                          eps=0.0, l1=0.25, l2=1.0, isa=isa)
                    assert_same_bits(self, w, np.array([0.0, -0.0, -0.125, -1.875, 0.0], dtype),
                                     "w with l2 = 1")

    def test_dual_averaging_by_hand(self):
        # t 1, lr 1, eps 0, z 0, G 0: z = g, d = |g|, c1 = l1, c2 = l2;
        # w = (-1 * u) / (c2 + |g|).
        for dtype in DTYPES:
            for isa in ISAS:
                with self.subTest(dtype=dtype.__name__, isa=isa):
                    g = np.array([0.25, -0.25, 0.5, -4.0], dtype)
                    w, z, G = np.full(4, 7.0, dtype), np.zeros(4, dtype), np.zeros(4, dtype)
                    adagrad.da_step(w, g, z, G, step=1, lr=1.0, eps=0.0, l1=0.25, isa=isa)
                    # u = +0, -0, 0.25, -3.75: -lr * u flips the zeros' signs.
                    assert_same_bits(self, w, np.array([-0.0, 0.0, -0.5, 0.9375], dtype), "w")
                    assert_same_bits(self, z, g, "z")
                    assert_same_bits(self, G, g * g, "G")

    def test_l1_zeroes_most_weights(self):
        for kind in KINDS:
            for dtype in DTYPES:
                rng = np.random.default_rng(5)
                w0, states0 = start(kind, dtype, (4099,), rng)
                g = (rng.standard_normal(4099) * 0.1).astype(dtype)
                hyper = dict(lr=0.1, l1=0.2) if kind == "da" else dict(lr=0.5, l1=2.0)
                expected_w, expected_states = w0.copy(), [s.copy() for s in states0]
                reference_step(kind, expected_w, g, expected_states, 1, **hyper)
                zeros = np.count_nonzero(expected_w == 0)
                self.assertGreater(zeros, 1000)
                self.assertLess(zeros, 4099)
                # Both signs of zero occur.
                self.assertTrue(np.any((expected_w == 0) & np.signbit(expected_w)))
                self.assertTrue(np.any((expected_w == 0) & ~np.signbit(expected_w)))
                for isa in ISAS:
                    with self.subTest(kind=kind, dtype=dtype.__name__, isa=isa):
                        w, states = w0.copy(), [s.copy() for s in states0]
                        library_step(kind, w, g, states, 1, isa=isa, **hyper)
                        assert_same_bits(self, w, expected_w, "w")
                        self.assertEqual(np.count_nonzero(w == 0), zeros)


# ---- Sparse, lazy steps on float32 tables ---------------------------------

SPARSE_HYPERPARAMETERS = {
    "l1_l2": dict(lr=0.2, l1=0.02, l2=0.1),
    "decay_maximize_inside": HYPERPARAMETERS["decay_maximize_inside"],
    "fma": dict(lr=0.1, eps=1e-10, weight_decay=0.05, lr_decay=0.02, fma=True, l1=0.01, l2=0.1),
}
SPARSE_DIMS = (1, 7, 16, 17, 300)


def sparse_start(kind, num_rows, dim, rng):
    return start(kind, F32, (num_rows, dim), rng)


def random_batch(rng, num_rows, num_indices, dim, index_dtype):
    """Indices with many repeats (a few hot rows) and a gradient row each."""
    indices = rng.integers(0, num_rows, num_indices)
    hot = rng.integers(0, num_rows, 3)
    repeated = rng.random(num_indices) < 0.35
    indices[repeated] = rng.choice(hot, int(repeated.sum()))
    grads = (rng.standard_normal((num_indices, dim)) * 0.3).astype(F32)
    return indices.astype(index_dtype), grads


def library_sparse_step(kind, table, states, indices, grads, step, **kwargs):
    if kind == "proximal":
        return adagrad.sparse_proximal_step(table, *states, indices, grads, step=step, **kwargs)
    return adagrad.sparse_da_step(table, *states, indices, grads, step=step, **kwargs)


def per_row(kind, table, states, indices, grads, step, duplicates, dense, **hyper):
    """The sparse step as the dense one applied row by row, on copies:
    dense(kind, w_row, g_row, state_rows, step, **hyper) in place."""
    table = table.copy()
    states = [s.copy() for s in states]

    def update(row, gradient):
        dense(kind, table[row], gradient, [s[row] for s in states], step, **hyper)

    if duplicates == "sequential":
        for k, row in enumerate(indices.tolist()):
            update(row, grads[k])
        return table, states
    occurrences = {}
    for k, row in enumerate(indices.tolist()):
        occurrences.setdefault(row, []).append(k)
    for row, positions in occurrences.items():
        summed = grads[positions[0]].copy()
        for k in positions[1:]:
            summed = summed + grads[k]
        ref.check_dtype(F32, summed)
        update(row, summed)
    return table, states


class SparseCompositeTest(unittest.TestCase):
    def assert_tables(self, kind, table, states, expected_table, expected_states, what):
        assert_same_bits(self, table, expected_table, "table " + what)
        for name, state, expected in zip(state_names(kind), states, expected_states):
            assert_same_bits(self, state, expected, name + " " + what)

    def run_against_dense(self, kind, num_rows, num_indices, dim, hyper, duplicates,
                          index_dtype, isa=None, seed=0, dense=library_step, **where):
        rng = rng_for(kind, num_rows, num_indices, dim, seed)
        table, states = sparse_start(kind, num_rows, dim, rng)
        expected_table, expected_states = table.copy(), [s.copy() for s in states]
        for t in range(1, STEPS):
            indices, grads = random_batch(rng, num_rows, num_indices, dim, index_dtype)
            self.assertIsNone(library_sparse_step(kind, table, states, indices, grads, t,
                                                  duplicates=duplicates, isa=isa, **where,
                                                  **hyper))
            expected_table, expected_states = per_row(kind, expected_table, expected_states,
                                                      indices, grads, t, duplicates, dense,
                                                      **hyper)
            self.assert_tables(kind, table, states, expected_table, expected_states,
                               "after step %d" % t)

    def test_matches_the_dense_step_row_by_row(self):
        # 20 indices: the library's insertion sort; 90: its radix sort.
        for kind in KINDS:
            for dim in SPARSE_DIMS:
                for num_indices in (20, 90):
                    for name, hyper in SPARSE_HYPERPARAMETERS.items():
                        for duplicates in DUPLICATES:
                            for index_dtype in INDEX_DTYPES:
                                with self.subTest(kind=kind, dim=dim, num_indices=num_indices,
                                                  hyper=name, duplicates=duplicates,
                                                  indices=index_dtype.__name__):
                                    self.run_against_dense(kind, 50, num_indices, dim, hyper,
                                                           duplicates, index_dtype)

    def test_matches_numpy_row_by_row(self):
        # The same against the NumPy transcription directly.
        for kind in KINDS:
            for duplicates in DUPLICATES:
                with self.subTest(kind=kind, duplicates=duplicates):
                    self.run_against_dense(kind, 40, 90, 17,
                                           SPARSE_HYPERPARAMETERS["decay_maximize_inside"],
                                           duplicates, np.int64, dense=reference_step)

    def test_every_isa(self):
        for isa in ISAS:
            for kind in KINDS:
                for dim in (17, 300):
                    for duplicates in DUPLICATES:
                        for index_dtype in INDEX_DTYPES:
                            with self.subTest(isa=isa, kind=kind, dim=dim, duplicates=duplicates,
                                              indices=index_dtype.__name__):
                                self.run_against_dense(kind, 40, 90, dim,
                                                       SPARSE_HYPERPARAMETERS["fma"], duplicates,
                                                       index_dtype, isa=isa, seed=1)

    def test_large_table(self):
        # Rows past 2^11: two passes of the radix sort.
        for kind in KINDS:
            for duplicates in DUPLICATES:
                with self.subTest(kind=kind, duplicates=duplicates):
                    self.run_against_dense(kind, 5000, 400, 8, SPARSE_HYPERPARAMETERS["l1_l2"],
                                           duplicates, np.int32, seed=2)

    def test_lazy_rows_not_named_are_untouched(self):
        # Weight decay and l1 would change every row a dense step touched.
        hyper = dict(lr=0.2, weight_decay=0.5, l1=0.05, l2=0.1)
        for kind in KINDS:
            for duplicates in DUPLICATES:
                with self.subTest(kind=kind, duplicates=duplicates):
                    rng = np.random.default_rng(3)
                    table, states = sparse_start(kind, 30, 9, rng)
                    before_table, before_states = table.copy(), [s.copy() for s in states]
                    indices = np.array([3, 17, 3, 29, 0])
                    grads = rng.standard_normal((5, 9)).astype(F32)
                    library_sparse_step(kind, table, states, indices, grads, 2,
                                        duplicates=duplicates, **hyper)
                    untouched = np.setdiff1d(np.arange(30), indices)
                    self.assert_tables(kind, table[untouched],
                                       [s[untouched] for s in states], before_table[untouched],
                                       [s[untouched] for s in before_states], "rows not named")
                    for row in (0, 3, 17, 29):
                        self.assertNotEqual(table[row].tobytes(), before_table[row].tobytes())
                        for state, before in zip(states, before_states):
                            self.assertNotEqual(state[row].tobytes(), before[row].tobytes())

    def test_duplicate_modes_differ_on_repeated_rows_only(self):
        for kind in KINDS:
            results = {}
            indices = np.array([2, 0, 2])
            grads = np.arange(15, dtype=F32).reshape(3, 5) / F32(10)
            for duplicates in DUPLICATES:
                table, states = sparse_start(kind, 4, 5, np.random.default_rng(4))
                library_sparse_step(kind, table, states, indices, grads, 1, lr=0.1, l1=0.01,
                                    duplicates=duplicates)
                results[duplicates] = table
            with self.subTest(kind=kind):
                assert_same_bits(self, results["sum"][[0, 1, 3]],
                                 results["sequential"][[0, 1, 3]], "rows 0, 1, 3")
                self.assertNotEqual(results["sum"][2].tobytes(),
                                    results["sequential"][2].tobytes())

    def test_int32_indices_equal_int64(self):
        rng = np.random.default_rng(6)
        for kind in KINDS:
            table, states = sparse_start(kind, 10, 4, rng)
            indices, grads = random_batch(rng, 10, 12, 4, np.int64)
            expected_table, expected_states = table.copy(), [s.copy() for s in states]
            library_sparse_step(kind, expected_table, expected_states, indices, grads, 3,
                                l1=0.01, l2=0.1)
            for dtype in (np.int32, np.intc, np.longlong, np.intp):
                for isa in (None, "scalar"):
                    with self.subTest(kind=kind, dtype=np.dtype(dtype).char, isa=isa):
                        t, s = table.copy(), [x.copy() for x in states]
                        library_sparse_step(kind, t, s, indices.astype(dtype), grads, 3, l1=0.01,
                                            l2=0.1, isa=isa)
                        self.assert_tables(kind, t, s, expected_table, expected_states, "")

    def test_read_only_indices_and_grads_are_fine(self):
        rng = np.random.default_rng(7)
        for kind in KINDS:
            table, states = sparse_start(kind, 10, 4, rng)
            indices, grads = random_batch(rng, 10, 12, 4, np.int32)
            indices.setflags(write=False)
            grads.setflags(write=False)
            library_sparse_step(kind, table, states, indices, grads, 1, l1=0.1)

    def test_empty_batch_and_empty_rows_are_no_ops(self):
        for kind in KINDS:
            for index_dtype in INDEX_DTYPES:
                with self.subTest(kind=kind, indices=index_dtype.__name__):
                    table, states = sparse_start(kind, 6, 3, np.random.default_rng(8))
                    before = table.copy(), [s.copy() for s in states]
                    library_sparse_step(kind, table, states, np.empty(0, index_dtype),
                                        np.empty((0, 3), F32), 1, weight_decay=0.5, l1=0.1)
                    self.assert_tables(kind, table, states, before[0], before[1], "")
                    empty = [np.empty((6, 0), F32) for _ in range(1 + len(states))]
                    library_sparse_step(kind, empty[0], empty[1:], np.array([5, 0, 5], index_dtype),
                                        np.empty((3, 0), F32), 1)
                    with self.assertRaises(IndexError):
                        library_sparse_step(kind, empty[0], empty[1:],
                                            np.array([6], index_dtype), np.empty((1, 0), F32), 1)


class SparseThreadsTest(unittest.TestCase):
    """Batches large enough that the library splits them over the pool."""
    NUM_ROWS = 3000
    NUM_INDICES = 2500
    DIM = 64

    @classmethod
    def setUpClass(cls):
        cls.pool = adagrad.ThreadPool(2)

    def test_same_bits_for_every_thread_count(self):
        hyper = SPARSE_HYPERPARAMETERS["decay_maximize_inside"]
        for kind in KINDS:
            for duplicates in DUPLICATES:
                rng = np.random.default_rng(9)
                table, states = sparse_start(kind, self.NUM_ROWS, self.DIM, rng)
                indices, grads = random_batch(rng, self.NUM_ROWS, self.NUM_INDICES, self.DIM,
                                              np.int32)
                expected_table, expected_states = per_row(kind, table, states, indices, grads, 5,
                                                          duplicates, library_step, **hyper)
                for threads in (1, 2, 3, "pool of 2"):
                    for isa in (None, "scalar"):
                        with self.subTest(kind=kind, duplicates=duplicates, threads=threads,
                                          isa=isa):
                            t, s = table.copy(), [x.copy() for x in states]
                            where = (dict(pool=self.pool) if threads == "pool of 2" else
                                     dict(threads=threads))
                            library_sparse_step(kind, t, s, indices, grads, 5,
                                                duplicates=duplicates, isa=isa, **where, **hyper)
                            assert_same_bits(self, t, expected_table, "table")
                            for name, x, e in zip(state_names(kind), s, expected_states):
                                assert_same_bits(self, x, e, name)


# ---- Errors ---------------------------------------------------------------

N = 5


def snapshot(arrays):
    return [np.array(a, copy=True) if isinstance(a, np.ndarray) else None for a in arrays]


def dense_arrays(kind, dtype=F64, n=N):
    """w, g and the states: a valid call."""
    rng = np.random.default_rng(3)
    count = 3 if kind == "proximal" else 4
    return [rng.random(n).astype(dtype) for _ in range(count)]


def dense_function(kind):
    return adagrad.proximal_step if kind == "proximal" else adagrad.da_step


def dense_names(kind):
    return ("w", "g", "G") if kind == "proximal" else ("w", "g", "z", "G")


class ErrorAssertions:
    def assertRejected(self, error, argument, function, arrays, names, **kwargs):
        """function(*arrays, **kwargs) raises error naming argument, and leaves
        every array as it was (compared by its bytes)."""
        before = snapshot(arrays)
        with self.assertRaises(error) as raised:
            function(*arrays, **kwargs)
        self.assertIn(argument, str(raised.exception))
        for name, array, copy in zip(names, arrays, before):
            if copy is not None:
                assert_same_bits(self, array, copy, name)
        return raised.exception


class DenseErrorTest(ErrorAssertions, unittest.TestCase):
    def both(self, error, argument, modify=None, dtype=F64, kinds=KINDS, **kwargs):
        """Each dense composite step, from its own valid arrays passed through
        modify(kind, arrays), rejects the call."""
        for kind in kinds:
            arrays = dense_arrays(kind, dtype)
            if modify is not None:
                arrays = modify(kind, arrays)
            call = dict(kwargs)
            if kind == "da":
                call.setdefault("step", 1)
            with self.subTest(kind=kind):
                self.assertRejected(error, argument, dense_function(kind), arrays,
                                    dense_names(kind), **call)

    def test_valid_arrays_are_accepted(self):
        for dtype in DTYPES:
            adagrad.proximal_step(*dense_arrays("proximal", dtype), l1=0.1, l2=0.1)
            adagrad.da_step(*dense_arrays("da", dtype), step=1, l1=0.1, l2=0.1)

    def test_regularization_values(self):
        for dtype in DTYPES:
            for name in ("l1", "l2"):
                for value in (-0.1, -1e-300, float("nan"), float("inf"), float("-inf")):
                    with self.subTest(dtype=dtype.__name__, name=name, value=value):
                        self.both(ValueError, name, dtype=dtype, **{name: value})
        self.both(ValueError, "l1", dtype=F32, l1=1e39)
        self.both(ValueError, "l2", dtype=F32, l2=1e39)
        self.both(ValueError, "l1", dtype=F64, l1=10 ** 400)
        # Valid in float64, too large for float32.
        adagrad.proximal_step(*dense_arrays("proximal", F64), l1=1e39)

    def test_regularization_types(self):
        self.both(TypeError, "l1", l1="0.1")
        self.both(TypeError, "l2", l2=None)
        self.both(TypeError, "l1", l1=[0.1])

    def test_other_hyperparameters(self):
        self.both(ValueError, "lr", lr=-1.0, l1=0.1)
        self.both(ValueError, "eps", eps=float("nan"))
        self.both(ValueError, "weight_decay", weight_decay=float("inf"))
        self.both(ValueError, "step", lr_decay=0.1, step=0, kinds=("proximal",))
        self.both(ValueError, "eps_mode", eps_mode="middle")
        self.both(TypeError, "maximize", maximize=1)
        self.both(TypeError, "fma", fma=None)
        self.both(ValueError, "isa", isa="mmx")
        self.both(TypeError, "isa", isa=0)
        for name in ALL_ISAS:
            if name not in adagrad.supported_isas():
                self.both(ValueError, "isa", isa=name)

    def test_dual_averaging_step(self):
        arrays, names = dense_arrays("da"), dense_names("da")
        error = self.assertRejected(ValueError, "step", adagrad.da_step, arrays, names, step=0)
        self.assertIn("global step", str(error))
        self.assertRejected(ValueError, "step", adagrad.da_step, arrays, names, step=0,
                            lr_decay=0.1)
        self.assertRejected(ValueError, "step", adagrad.da_step, arrays, names, step=-1)
        self.assertRejected(ValueError, "step", adagrad.da_step, arrays, names, step=2 ** 64)
        self.assertRejected(TypeError, "step", adagrad.da_step, arrays, names, step=1.0)
        # step is required: forgetting it must not mean t = 1 at every step.
        self.assertRejected(TypeError, "step", adagrad.da_step, arrays, names, l1=0.1)

    def test_unknown_keywords_are_refused(self):
        # A misspelt or foreign keyword must raise, not be ignored.
        self.both(TypeError, "l3", l1=0.1, l3=0.1)
        self.both(TypeError, "momentum", momentum=0.9)
        self.assertRejected(TypeError, "'z'", adagrad.proximal_step, dense_arrays("proximal"),
                            dense_names("proximal"), z=np.zeros(1))

    def test_keywords_in_any_order(self):
        for kind in KINDS:
            with self.subTest(kind=kind):
                first, second = dense_arrays(kind), dense_arrays(kind)
                hyper = {"l1": 0.01, "l2": 0.1, "lr": 0.3, "eps": 1e-6, "weight_decay": 0.1,
                         "lr_decay": 0.01, "step": 3, "maximize": True, "eps_mode": "inside",
                         "fma": True, "isa": "scalar"}
                dense_function(kind)(*first, **hyper)
                dense_function(kind)(*second, **dict(reversed(list(hyper.items()))))
                for name, a, b in zip(dense_names(kind), first, second):
                    assert_same_bits(self, a, b, name)

    def test_signatures(self):
        # The real signatures (test_signatures checks every function).
        import inspect
        proximal = inspect.signature(adagrad.proximal_step).parameters
        self.assertEqual(["w", "g", "G", "l1", "l2", "lr", "eps", "weight_decay", "lr_decay",
                          "step", "maximize", "eps_mode", "fma", "isa"], list(proximal))
        da = inspect.signature(adagrad.da_step).parameters
        self.assertIs(inspect.Parameter.empty, da["step"].default)
        self.assertEqual(0.0, da["l1"].default)

    def test_dual_averaging_thresholds_too_large(self):
        arrays, names = dense_arrays("da", F32), dense_names("da")
        # t * l1 and l2 * t * lr_t are finite in double but not in float32.
        self.assertRejected(ValueError, "step * l1", adagrad.da_step, arrays, names,
                            step=10 ** 6, l1=1e33)
        self.assertRejected(ValueError, "l2 * step * lr_t", adagrad.da_step, arrays, names,
                            step=10 ** 6, l2=1e33, lr=10.0)
        # Each alone is representable, so the step itself is what is too large.
        adagrad.da_step(*dense_arrays("da", F32), step=1, l1=1e33, l2=1e33, lr=10.0)
        adagrad.da_step(*dense_arrays("da", F64), step=10 ** 6, l1=1e33, l2=1e33, lr=10.0)

    def test_not_arrays(self):
        for position in range(4):
            def modify(kind, arrays, position=position):
                if position < len(arrays):
                    arrays[position] = arrays[position].tolist()
                return arrays
            for kind in KINDS:
                if position < len(dense_names(kind)):
                    self.both(TypeError, dense_names(kind)[position], modify, kinds=(kind,))

    def test_wrong_dtypes(self):
        for kind in KINDS:
            names = dense_names(kind)
            for position, name in enumerate(names):
                for dtype in (np.float16, np.int64, np.longdouble, ">f8"):
                    def modify(kind, arrays, position=position, dtype=dtype):
                        if position == 0:
                            return [a.astype(dtype) for a in arrays]
                        arrays[position] = arrays[position].astype(dtype)
                        return arrays
                    with self.subTest(name=name, dtype=str(np.dtype(dtype))):
                        self.both(TypeError, name, modify, kinds=(kind,))
                if position > 0:
                    # One float32 among float64 arrays, and the other way round.
                    def mixed(kind, arrays, position=position):
                        arrays[position] = arrays[position].astype(F32)
                        return arrays
                    self.both(TypeError, name, mixed, kinds=(kind,))
                    self.both(TypeError, name, lambda kind, arrays, position=position: [
                        a if i == position else a.astype(F32) for i, a in enumerate(arrays)],
                        kinds=(kind,))

    def test_shapes(self):
        for kind in KINDS:
            for position, name in enumerate(dense_names(kind)[1:], start=1):
                def shorter(kind, arrays, position=position):
                    arrays[position] = arrays[position][:N - 1]
                    return arrays
                self.both(ValueError, name, shorter, kinds=(kind,))

                def reshaped(kind, arrays, position=position):
                    return [np.zeros((2, 3)) if i == position else np.zeros((3, 2))
                            for i in range(len(arrays))]
                self.both(ValueError, name, reshaped, kinds=(kind,))

    def test_layout(self):
        for kind in KINDS:
            for position, name in enumerate(dense_names(kind)):
                def strided(kind, arrays, position=position):
                    arrays[position] = np.repeat(arrays[position], 2)[::2]
                    return arrays

                def misaligned_copy(kind, arrays, position=position):
                    copy = misaligned(arrays[position].dtype, N)
                    copy[...] = arrays[position]
                    arrays[position] = copy
                    return arrays

                def fortran(kind, arrays, position=position):
                    arrays = [np.asfortranarray(np.zeros((2, 3))) if i == position else
                              np.zeros((2, 3)) for i in range(len(arrays))]
                    return arrays
                with self.subTest(kind=kind, name=name):
                    self.both(ValueError, name, strided, kinds=(kind,))
                    self.both(ValueError, name, misaligned_copy, kinds=(kind,))
                    self.both(ValueError, name, fortran, kinds=(kind,))

    def test_read_only(self):
        for kind in KINDS:
            for position, name in enumerate(dense_names(kind)):
                def read_only(kind, arrays, position=position):
                    arrays[position].setflags(write=False)
                    return arrays
                if name == "g":
                    arrays = read_only(kind, dense_arrays(kind))
                    dense_function(kind)(*arrays, **({"step": 1} if kind == "da" else {}))
                else:
                    self.both(ValueError, name, read_only, kinds=(kind,))

    def test_overlapping(self):
        for kind in KINDS:
            names = dense_names(kind)
            for i in range(len(names)):
                for j in range(i + 1, len(names)):
                    def same(kind, arrays, i=i, j=j):
                        arrays[j] = arrays[i]
                        return arrays

                    def one_element(kind, arrays, i=i, j=j):
                        shared = np.arange(2 * N - 1, dtype=F64)
                        arrays[i], arrays[j] = shared[:N], shared[N - 1:]
                        return arrays
                    pair = "%s and %s" % (names[i], names[j])
                    with self.subTest(kind=kind, pair=pair):
                        self.both(ValueError, pair, same, kinds=(kind,))
                        self.both(ValueError, pair, one_element, kinds=(kind,))

    def test_positional_hyperparameters_are_refused(self):
        for kind in KINDS:
            arrays = dense_arrays(kind)
            before = snapshot(arrays)
            with self.assertRaises(TypeError):
                dense_function(kind)(*arrays, 0.1)
            for name, array, copy in zip(dense_names(kind), arrays, before):
                assert_same_bits(self, array, copy, name)


NUM_ROWS = 6
DIM = 5
NUM_INDICES = 4


def sparse_arrays(kind, index_dtype=np.int64):
    """table, the states, indices (with a repeat), grads: a valid call."""
    rng = np.random.default_rng(3)
    table = rng.standard_normal((NUM_ROWS, DIM)).astype(F32)
    states = [rng.random((NUM_ROWS, DIM)).astype(F32)
              for _ in range(1 if kind == "proximal" else 2)]
    indices = np.array([4, 0, 4, 2], dtype=index_dtype)
    grads = rng.standard_normal((NUM_INDICES, DIM)).astype(F32)
    return [table, *states, indices, grads]


def sparse_names(kind):
    return (("table", "state", "indices", "grads") if kind == "proximal" else
            ("table", "z", "G", "indices", "grads"))


def sparse_function(kind):
    return adagrad.sparse_proximal_step if kind == "proximal" else adagrad.sparse_da_step


class SparseErrorTest(ErrorAssertions, unittest.TestCase):
    def both(self, error, argument, modify=None, index_dtype=np.int64, kinds=KINDS, **kwargs):
        """Each sparse composite step, from its own valid arrays passed through
        modify(kind, arrays) (a dict by argument name), rejects the call."""
        for kind in kinds:
            names = sparse_names(kind)
            arrays = dict(zip(names, sparse_arrays(kind, index_dtype)))
            if modify is not None:
                modify(kind, arrays)
            call = dict(kwargs)
            if kind == "da":
                call.setdefault("step", 1)
            with self.subTest(kind=kind):
                self.assertRejected(error, argument, sparse_function(kind),
                                    [arrays[name] for name in names], names, **call)

    def test_valid_arrays_are_accepted(self):
        for kind in KINDS:
            for index_dtype in INDEX_DTYPES:
                sparse_function(kind)(*sparse_arrays(kind, index_dtype), l1=0.1,
                                      **({"step": 1} if kind == "da" else {}))

    def test_index_out_of_range(self):
        for index_dtype in INDEX_DTYPES:
            for bad in (NUM_ROWS, NUM_ROWS + 1, -1, np.iinfo(index_dtype).min,
                        np.iinfo(index_dtype).max):
                for isa in (None, "scalar"):
                    def modify(kind, arrays, bad=bad):
                        arrays["indices"][2] = bad
                    with self.subTest(indices=np.dtype(index_dtype).name, bad=bad, isa=isa):
                        self.both(IndexError, "indices[2] = %d" % bad, modify, index_dtype,
                                  isa=isa, l1=0.1, weight_decay=0.1)
                        self.both(IndexError, "indices[2]", modify, index_dtype, isa=isa,
                                  threads=2)

    def test_hyperparameters_before_indices(self):
        def bad_index(kind, arrays):
            arrays["indices"][0] = NUM_ROWS

        self.both(ValueError, "l1", bad_index, l1=-1.0)
        self.both(ValueError, "lr", bad_index, lr=-1.0)
        self.both(ValueError, "step", bad_index, kinds=("da",), step=0)

    def test_regularization(self):
        for name in ("l1", "l2"):
            for value in (-0.1, float("nan"), float("inf"), 1e39):
                with self.subTest(name=name, value=value):
                    self.both(ValueError, name, **{name: value})
            self.both(TypeError, name, **{name: "0.1"})

    def test_dual_averaging_step(self):
        self.both(ValueError, "step", kinds=("da",), step=0)
        self.both(ValueError, "step", kinds=("da",), step=-1)
        self.both(TypeError, "step", kinds=("da",), step=2.0)
        self.both(ValueError, "step * l1", kinds=("da",), step=10 ** 6, l1=1e33)
        arrays = sparse_arrays("da")
        before = snapshot(arrays)
        with self.assertRaises(TypeError):
            adagrad.sparse_da_step(*arrays, l1=0.1)
        for name, array, copy in zip(sparse_names("da"), arrays, before):
            assert_same_bits(self, array, copy, name)

    def test_not_arrays(self):
        for kind in KINDS:
            for name in sparse_names(kind):
                def modify(kind, arrays, name=name):
                    arrays[name] = arrays[name].tolist()
                self.both(TypeError, name, modify, kinds=(kind,))

    def test_wrong_dtypes(self):
        for kind in KINDS:
            for name in sparse_names(kind):
                dtypes = ((np.float32, np.float64, np.uint32, np.int16, ">i8") if name == "indices"
                          else (np.float64, np.float16, ">f4"))
                for dtype in dtypes:
                    def modify(kind, arrays, name=name, dtype=dtype):
                        arrays[name] = arrays[name].astype(dtype)
                    with self.subTest(name=name, dtype=str(np.dtype(dtype))):
                        self.both(TypeError, name, modify, kinds=(kind,))

    def test_shapes(self):
        for kind in KINDS:
            for name in sparse_names(kind)[1:-2]:
                def short(kind, arrays, name=name):
                    arrays[name] = arrays[name][:NUM_ROWS - 1]
                self.both(ValueError, name, short, kinds=(kind,))

                def row_wise(kind, arrays, name=name):
                    arrays[name] = np.zeros(NUM_ROWS, F32)
                self.both(ValueError, name, row_wise, kinds=(kind,))

        def flat_table(kind, arrays):
            arrays["table"] = arrays["table"].reshape(-1)

        def matrix_indices(kind, arrays):
            arrays["indices"] = arrays["indices"].reshape(2, 2)

        def short_grads(kind, arrays):
            arrays["grads"] = arrays["grads"][:3]

        def narrow_grads(kind, arrays):
            arrays["grads"] = arrays["grads"][:, :4].copy()

        self.both(ValueError, "table", flat_table)
        self.both(ValueError, "indices", matrix_indices)
        self.both(ValueError, "grads", short_grads)
        self.both(ValueError, "grads", narrow_grads)

    def test_layout(self):
        for kind in KINDS:
            for name in sparse_names(kind):
                def strided(kind, arrays, name=name):
                    arrays[name] = np.repeat(arrays[name], 2, axis=0)[::2]

                def misaligned_copy(kind, arrays, name=name):
                    array = arrays[name]
                    copy = misaligned(array.dtype, array.size).reshape(array.shape)
                    copy[...] = array
                    arrays[name] = copy
                with self.subTest(kind=kind, name=name):
                    self.both(ValueError, name, strided, kinds=(kind,))
                    self.both(ValueError, name, misaligned_copy, kinds=(kind,))
                if name not in ("indices", "grads"):
                    def read_only(kind, arrays, name=name):
                        arrays[name].setflags(write=False)
                    self.both(ValueError, name, read_only, kinds=(kind,))

    def test_overlapping(self):
        for kind in KINDS:
            names = sparse_names(kind)
            written = names[:-2]
            for i, a in enumerate(written):
                for b in names[i + 1:]:
                    def overlapping(kind, arrays, a=a, b=b):
                        # b's bytes taken from the end of a's (one row shared
                        # with a state, the first bytes of a gradient or index
                        # storage).
                        storage = np.zeros((2 * NUM_ROWS, DIM), F32)
                        arrays[a] = storage[:NUM_ROWS]
                        shared = storage[NUM_ROWS - 1:].reshape(-1)
                        if b == "indices":
                            arrays[b] = shared.view(np.int32)[:NUM_INDICES]
                        elif b == "grads":
                            arrays[b] = shared[:NUM_INDICES * DIM].reshape(NUM_INDICES, DIM)
                        else:
                            arrays[b] = shared[:NUM_ROWS * DIM].reshape(NUM_ROWS, DIM)
                    with self.subTest(kind=kind, pair=(a, b)):
                        self.both(ValueError, "%s and %s share memory" % (a, b), overlapping,
                                  kinds=(kind,))

    def test_gradient_and_indices_may_share_memory(self):
        for kind in KINDS:
            arrays = sparse_arrays(kind)
            storage = np.zeros(NUM_INDICES * DIM, F32)
            arrays[-2] = storage.view(np.int32)[:NUM_INDICES]
            arrays[-1] = storage.reshape(NUM_INDICES, DIM)
            sparse_function(kind)(*arrays, **({"step": 1} if kind == "da" else {}))

    def test_duplicates_threads_pool_isa(self):
        self.both(ValueError, "duplicates", duplicates="mean")
        self.both(TypeError, "duplicates", duplicates=0)
        self.both(ValueError, "threads", threads=0)
        self.both(TypeError, "threads", threads=2.0)
        self.both(TypeError, "pool", pool=2)
        self.both(ValueError, "threads and pool", threads=2, pool=adagrad.ThreadPool(2))
        self.both(ValueError, "isa", isa="mmx")
        for name in ALL_ISAS:
            if name not in adagrad.supported_isas():
                self.both(ValueError, "isa", isa=name)
                self.both(ValueError, "isa", index_dtype=np.int32, isa=name)

    def test_positional_hyperparameters_are_refused(self):
        for kind in KINDS:
            arrays = sparse_arrays(kind)
            before = snapshot(arrays)
            with self.assertRaises(TypeError):
                sparse_function(kind)(*arrays, 0.1)
            for name, array, copy in zip(sparse_names(kind), arrays, before):
                assert_same_bits(self, array, copy, name)


if __name__ == "__main__":
    unittest.main()
