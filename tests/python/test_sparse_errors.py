# SPDX-License-Identifier: BSD-3-Clause
"""Every invalid argument of adagrad.sparse_step, adagrad.rowwise_sparse_step
and adagrad.rowwise_step raises the right exception type, names the
argument, and changes none of the arrays."""
import os
import unittest

import numpy as np

import adagrad
from bitwise import assert_same_bits
from test_errors import ALL_ISAS, misaligned

F32 = np.float32
NUM_ROWS = 6
DIM = 5
NUM_INDICES = 4
SPARSE_FUNCTIONS = {"per-element": adagrad.sparse_step, "row-wise": adagrad.rowwise_sparse_step}


def sparse_arrays(rowwise, index_dtype=np.int64):
    """table, state, indices (with a repeat), grads: a valid call."""
    rng = np.random.default_rng(3)
    table = rng.standard_normal((NUM_ROWS, DIM)).astype(F32)
    state = rng.random(NUM_ROWS if rowwise else (NUM_ROWS, DIM)).astype(F32)
    indices = np.array([4, 0, 4, 2], dtype=index_dtype)
    grads = rng.standard_normal((NUM_INDICES, DIM)).astype(F32)
    return table, state, indices, grads


def snapshot(arrays):
    return [np.array(a, copy=True) if isinstance(a, np.ndarray) else None for a in arrays]


class SparseErrorTest(unittest.TestCase):
    def assertRejected(self, error, argument, table, state, indices, grads, functions=None,
                       **kwargs):
        """Each sparse function (or the one named) raises error naming
        argument, and leaves the four arrays as they were (by their bytes)."""
        arrays = (table, state, indices, grads)
        for kind, function in SPARSE_FUNCTIONS.items():
            if functions is not None and kind != functions:
                continue
            before = snapshot(arrays)
            with self.subTest(function=function.__name__):
                with self.assertRaises(error) as raised:
                    function(table, state, indices, grads, **kwargs)
                self.assertIn(argument, str(raised.exception))
                for name, array, copy in zip(("table", "state", "indices", "grads"), arrays,
                                             before):
                    if copy is not None:
                        assert_same_bits(self, array, copy, name)

    def both(self, error, argument, modify=None, index_dtype=np.int64, **kwargs):
        """assertRejected for both kinds of state, each with its own valid
        arrays passed through modify(table, state, indices, grads)."""
        for kind, rowwise in (("per-element", False), ("row-wise", True)):
            arrays = sparse_arrays(rowwise, index_dtype)
            if modify is not None:
                arrays = modify(*arrays)
            self.assertRejected(error, argument, *arrays, functions=kind, **kwargs)

    def test_valid_arrays_are_accepted(self):
        # The starting point of every case below is a valid call.
        for rowwise in (False, True):
            for index_dtype in (np.int64, np.int32):
                SPARSE_FUNCTIONS["row-wise" if rowwise else "per-element"](
                    *sparse_arrays(rowwise, index_dtype))

    def test_index_out_of_range(self):
        for index_dtype in (np.int64, np.int32):
            for bad in (NUM_ROWS, NUM_ROWS + 1, -1, np.iinfo(index_dtype).min,
                        np.iinfo(index_dtype).max):
                for isa in (None, "scalar"):
                    with self.subTest(indices=np.dtype(index_dtype).name, bad=bad, isa=isa):

                        def modify(table, state, indices, grads, bad=bad):
                            indices[2] = bad
                            return table, state, indices, grads

                        self.both(IndexError, "indices[2] = %d" % bad, modify, index_dtype,
                                  isa=isa)

    def test_index_checked_after_every_other_argument(self):
        # A bad hyperparameter is reported before a bad index (the library's
        # order of checks), and a bad index changes nothing with threads.
        def bad_index(table, state, indices, grads):
            indices[0] = NUM_ROWS
            return table, state, indices, grads

        self.both(ValueError, "lr", bad_index, lr=-1.0)
        self.both(IndexError, "indices[0]", bad_index, threads=2, weight_decay=0.1)

    def test_not_arrays(self):
        self.both(TypeError, "table", lambda t, s, i, g: (t.tolist(), s, i, g))
        self.both(TypeError, "state", lambda t, s, i, g: (t, None, i, g))
        self.both(TypeError, "indices", lambda t, s, i, g: (t, s, [4, 0, 4, 2], g))
        self.both(TypeError, "grads", lambda t, s, i, g: (t, s, i, g.tolist()))

    def test_wrong_dtypes(self):
        self.both(TypeError, "table", lambda t, s, i, g: (t.astype(np.float64), s, i, g))
        self.both(TypeError, "table", lambda t, s, i, g: (t.astype(np.float16), s, i, g))
        self.both(TypeError, "table", lambda t, s, i, g: (t.astype(">f4"), s, i, g))
        self.both(TypeError, "state", lambda t, s, i, g: (t, s.astype(np.float64), i, g))
        self.both(TypeError, "grads", lambda t, s, i, g: (t, s, i, g.astype(np.float64)))
        for dtype in (np.float64, np.float32, np.uint32, np.uint64, np.int16, np.int8, np.bool_,
                      ">i8", ">i4", object):
            with self.subTest(indices=str(np.dtype(dtype))):
                self.both(TypeError, "indices",
                          lambda t, s, i, g, dtype=dtype: (t, s, i.astype(dtype), g))

    def test_shapes(self):
        self.both(ValueError, "table", lambda t, s, i, g: (t.reshape(-1), s, i, g))
        self.both(ValueError, "table", lambda t, s, i, g: (t.reshape(NUM_ROWS, DIM, 1), s, i, g))
        self.both(ValueError, "indices", lambda t, s, i, g: (t, s, i.reshape(2, 2), g))
        self.both(ValueError, "grads", lambda t, s, i, g: (t, s, i, g[:3]))
        self.both(ValueError, "grads", lambda t, s, i, g: (t, s, i[:3], g))
        self.both(ValueError, "grads", lambda t, s, i, g: (t, s, i, g[:, :4].copy()))
        self.both(ValueError, "grads", lambda t, s, i, g: (t, s, i, g.reshape(-1)))
        self.both(ValueError, "state", lambda t, s, i, g: (t, s[:NUM_ROWS - 1], i, g))
        # Each kind of state in place of the other.
        table, state, indices, grads = sparse_arrays(rowwise=False)
        self.assertRejected(ValueError, "state", table, state, indices, grads,
                            functions="row-wise")
        table, state, indices, grads = sparse_arrays(rowwise=True)
        self.assertRejected(ValueError, "state", table, state, indices, grads,
                            functions="per-element")
        # dim 1: (num_rows, 1) and (num_rows,) are still told apart.
        table = np.ones((NUM_ROWS, 1), F32)
        self.assertRejected(ValueError, "state", table, np.zeros(NUM_ROWS, F32), indices,
                            np.ones((NUM_INDICES, 1), F32), functions="per-element")
        self.assertRejected(ValueError, "state", table, np.zeros((NUM_ROWS, 1), F32), indices,
                            np.ones((NUM_INDICES, 1), F32), functions="row-wise")

    def test_not_c_contiguous(self):
        def strided_table(t, s, i, g):
            wide = np.zeros((NUM_ROWS, 2 * DIM), F32)
            return wide[:, ::2], s, i, g

        self.both(ValueError, "table", strided_table)
        self.both(ValueError, "table", lambda t, s, i, g: (np.asfortranarray(t), s, i, g))
        self.both(ValueError, "indices", lambda t, s, i, g: (t, s, np.repeat(i, 2)[::2], g))
        self.both(ValueError, "grads", lambda t, s, i, g: (t, s, i, np.asfortranarray(g)))
        self.both(ValueError, "state",
                  lambda t, s, i, g: (t, np.repeat(s, 2, axis=0)[::2], i, g))

    def test_read_only(self):
        def read_only(position):
            def modify(*arrays):
                arrays[position].setflags(write=False)
                return arrays
            return modify

        self.both(ValueError, "table", read_only(0))
        self.both(ValueError, "state", read_only(1))

    def test_misaligned(self):
        def misaligned_copy(array):
            copy = misaligned(array.dtype, array.size).reshape(array.shape)
            copy[...] = array
            return copy

        self.both(ValueError, "table", lambda t, s, i, g: (misaligned_copy(t), s, i, g))
        self.both(ValueError, "state", lambda t, s, i, g: (t, misaligned_copy(s), i, g))
        self.both(ValueError, "indices", lambda t, s, i, g: (t, s, misaligned_copy(i), g))
        self.both(ValueError, "grads", lambda t, s, i, g: (t, s, i, misaligned_copy(g)))

    def test_overlapping(self):
        table, state, indices, grads = sparse_arrays(rowwise=False)
        self.assertRejected(ValueError, "table and state", table, table, indices, grads,
                            functions="per-element")
        # One row in common.
        shared = np.zeros((2 * NUM_ROWS - 1, DIM), F32)
        self.assertRejected(ValueError, "table and state", shared[:NUM_ROWS],
                            shared[NUM_ROWS - 1:], indices, grads, functions="per-element")
        self.assertRejected(ValueError, "table and grads", table, state, indices,
                            table[:NUM_INDICES], functions="per-element")
        self.assertRejected(ValueError, "state and grads", table, state, indices,
                            state[NUM_ROWS - NUM_INDICES:], functions="per-element")
        # Indices that are the bytes of the table.
        table_bits = np.zeros((NUM_ROWS, DIM), F32)
        self.assertRejected(ValueError, "table and indices", table_bits, state,
                            table_bits.reshape(-1).view(np.int32)[:NUM_INDICES], grads,
                            functions="per-element")
        # Row-wise: the state inside the table, the gradients or the indices.
        table, state, indices, grads = sparse_arrays(rowwise=True)
        self.assertRejected(ValueError, "table and state", table,
                            table.reshape(-1)[-NUM_ROWS:], indices, grads, functions="row-wise")
        self.assertRejected(ValueError, "state and grads", table, grads.reshape(-1)[:NUM_ROWS],
                            indices, grads, functions="row-wise")
        index_storage = np.zeros(NUM_ROWS, F32)
        self.assertRejected(ValueError, "state and indices", table, index_storage,
                            index_storage.view(np.int32)[:NUM_INDICES], grads,
                            functions="row-wise")

    def test_widened_indices_are_checked(self):
        # int32 indices that the binding widens to int64 (with isa given, and
        # for the composite steps, whose library entry points take int64): the
        # library sees the copy, so the binding checks the caller's array.
        calls = [("sparse_step, isa", lambda *a: adagrad.sparse_step(*a, isa="scalar")),
                 ("sparse_proximal_step", adagrad.sparse_proximal_step)]
        for name, call in calls:
            table, state, indices, grads = sparse_arrays(rowwise=False, index_dtype=np.int32)
            storage = misaligned(np.int32, NUM_INDICES)
            storage[...] = indices
            inside_table = table.reshape(-1).view(np.int32)[:NUM_INDICES]
            inside_table[...] = 1
            inside_state = state.reshape(-1).view(np.int32)[:NUM_INDICES]
            for bad, message in ((storage, "indices is not aligned"),
                                 (inside_table, "table and indices share memory"),
                                 (inside_state, "state and indices share memory")):
                arrays = (table, state, bad, grads)
                before = snapshot(arrays)
                with self.subTest(call=name, case=message):
                    with self.assertRaises(ValueError) as raised:
                        call(*arrays)
                    self.assertIn(message, str(raised.exception))
                    for array_name, array, copy in zip(("table", "state", "indices", "grads"),
                                                       arrays, before):
                        assert_same_bits(self, array, copy, array_name)

    def test_gradient_and_indices_may_share_memory(self):
        # Both are only read: overlapping them is allowed.
        table, state, _, _ = sparse_arrays(rowwise=False)
        storage = np.zeros(NUM_INDICES * DIM, F32)
        indices = storage.view(np.int32)[:NUM_INDICES]
        adagrad.sparse_step(table, state, indices, storage.reshape(NUM_INDICES, DIM))

    def test_duplicates(self):
        for value in ("mean", "SUM", "Sequential", ""):
            with self.subTest(duplicates=value):
                self.both(ValueError, "duplicates", duplicates=value)
        for value in (0, None, b"sum", ["sum"]):
            with self.subTest(duplicates=value):
                self.both(TypeError, "duplicates", duplicates=value)

    def test_threads(self):
        for value in (0, -1, 1025, 2 ** 64):
            with self.subTest(threads=value):
                self.both(ValueError, "threads", threads=value)
        for value in (1.0, 2.5, "2", None, True):
            with self.subTest(threads=value):
                self.both(TypeError, "threads", threads=value)

    def test_pool(self):
        pool = adagrad.ThreadPool(2)
        self.both(ValueError, "threads and pool", threads=2, pool=pool)
        for value in (2, "pool", object()):
            with self.subTest(pool=value):
                self.both(TypeError, "pool", pool=value)

    def test_pool_from_another_process(self):
        pool = adagrad.ThreadPool(2)
        read, write = os.pipe()
        child = os.fork()
        if child == 0:
            # The child reports what happened through the pipe and exits
            # without running anything of unittest's.
            os.close(read)
            try:
                try:
                    adagrad.sparse_step(*sparse_arrays(rowwise=False), pool=pool)
                    message = "no error"
                except ValueError as error:
                    message = "ValueError: " + str(error)
                os.write(write, message.encode())
            finally:
                os._exit(0)
        os.close(write)
        with os.fdopen(read, "rb") as pipe:
            message = pipe.read().decode()
        os.waitpid(child, 0)
        self.assertIn("ValueError: pool was created in another process", message)
        # The parent still uses it.
        adagrad.sparse_step(*sparse_arrays(rowwise=False), pool=pool)

    def test_invalid_hyperparameter_values(self):
        cases = [("lr", -0.1), ("lr", float("nan")), ("lr", float("inf")), ("lr", 1e39),
                 ("eps", -1e-8), ("eps", float("nan")), ("eps", 1e39),
                 ("weight_decay", float("inf")), ("weight_decay", -0.01),
                 ("lr_decay", -0.5), ("lr_decay", float("-inf"))]
        for name, value in cases:
            with self.subTest(name=name, value=value):
                self.both(ValueError, name, **{name: value})
        self.both(ValueError, "step", lr_decay=0.1, step=0)
        self.both(ValueError, "step", step=-1)

    def test_wrong_hyperparameter_types(self):
        self.both(TypeError, "lr", lr="0.1")
        self.both(TypeError, "eps", eps=None)
        self.both(TypeError, "step", step=1.0)
        self.both(TypeError, "maximize", maximize=1)
        self.both(TypeError, "fma", fma="yes")
        self.both(TypeError, "eps_mode", eps_mode=1)
        self.both(ValueError, "eps_mode", eps_mode="middle")

    def test_isa(self):
        self.both(ValueError, "isa", isa="mmx")
        self.both(TypeError, "isa", isa=3)
        for name in ALL_ISAS:
            if name not in adagrad.supported_isas():
                with self.subTest(isa=name):
                    self.both(ValueError, "isa", isa=name)
                    self.both(ValueError, "isa", index_dtype=np.int32, isa=name)

    def test_positional_hyperparameters_are_refused(self):
        # Keyword-only: sparse_step(table, state, indices, grads, 0.1) must
        # not silently mean lr=0.1.
        for kind, rowwise in (("per-element", False), ("row-wise", True)):
            arrays = sparse_arrays(rowwise)
            before = snapshot(arrays)
            with self.assertRaises(TypeError):
                SPARSE_FUNCTIONS[kind](*arrays, 0.1)
            for name, array, copy in zip(("table", "state", "indices", "grads"), arrays, before):
                assert_same_bits(self, array, copy, name)


class ThreadPoolErrorTest(unittest.TestCase):
    def test_threads(self):
        for value in (0, -3, 1025):
            with self.subTest(threads=value), self.assertRaises(ValueError) as raised:
                adagrad.ThreadPool(value)
            self.assertIn("threads", str(raised.exception))
        for value in (2.0, None, True):
            with self.subTest(threads=value), self.assertRaises(TypeError):
                adagrad.ThreadPool(value)


class RowwiseStepErrorTest(unittest.TestCase):
    @staticmethod
    def arrays(rows=NUM_ROWS, dim=DIM):
        rng = np.random.default_rng(5)
        return (rng.standard_normal((rows, dim)).astype(F32),
                rng.standard_normal((rows, dim)).astype(F32), rng.random(rows).astype(F32))

    def assertRejected(self, error, argument, w, g, row_state, **kwargs):
        arrays = (w, g, row_state)
        before = snapshot(arrays)
        with self.assertRaises(error) as raised:
            adagrad.rowwise_step(w, g, row_state, **kwargs)
        self.assertIn(argument, str(raised.exception))
        for name, array, copy in zip(("w", "g", "row_state"), arrays, before):
            if copy is not None:
                assert_same_bits(self, array, copy, name)

    def test_types_and_dtypes(self):
        w, g, s = self.arrays()
        self.assertRejected(TypeError, "w", w.tolist(), g, s)
        self.assertRejected(TypeError, "w", w.astype(np.float64), g, s)
        self.assertRejected(TypeError, "g", w, g.astype(np.float64), s)
        self.assertRejected(TypeError, "row_state", w, g, s.astype(np.float64))
        self.assertRejected(TypeError, "row_state", w, g, s.astype(np.int32))

    def test_shapes(self):
        w, g, s = self.arrays()
        self.assertRejected(ValueError, "w", w.reshape(-1), g.reshape(-1), s)
        self.assertRejected(ValueError, "g", w, g[:-1], s)
        self.assertRejected(ValueError, "g", w, g.T.copy(), s)
        self.assertRejected(ValueError, "row_state", w, g, s[:-1])
        self.assertRejected(ValueError, "row_state", w, g, s.reshape(NUM_ROWS, 1))

    def test_layout(self):
        w, g, s = self.arrays()
        self.assertRejected(ValueError, "w", np.asfortranarray(w), g, s)
        self.assertRejected(ValueError, "g", w, np.asfortranarray(g), s)
        self.assertRejected(ValueError, "row_state", w, g, np.repeat(s, 2)[::2])
        w.setflags(write=False)
        self.assertRejected(ValueError, "w", w, g, s)
        w, g, s = self.arrays()
        s.setflags(write=False)
        self.assertRejected(ValueError, "row_state", w, g, s)
        w, g, s = self.arrays()
        copy = misaligned(np.float32, w.size).reshape(w.shape)
        copy[...] = w
        self.assertRejected(ValueError, "w", copy, g, s)

    def test_read_only_gradient_is_fine(self):
        w, g, s = self.arrays()
        g.setflags(write=False)
        adagrad.rowwise_step(w, g, s)

    def test_overlapping(self):
        w, g, s = self.arrays()
        self.assertRejected(ValueError, "w and g", w, w, s)
        self.assertRejected(ValueError, "w and row_state", w, g, w.reshape(-1)[:NUM_ROWS])
        self.assertRejected(ValueError, "row_state and g", w, g, g.reshape(-1)[-NUM_ROWS:])

    def test_hyperparameters_threads_isa(self):
        self.assertRejected(ValueError, "lr", *self.arrays(), lr=-1.0)
        self.assertRejected(ValueError, "eps", *self.arrays(), eps=float("nan"))
        self.assertRejected(ValueError, "weight_decay", *self.arrays(), weight_decay=1e39)
        self.assertRejected(ValueError, "step", *self.arrays(), lr_decay=0.5, step=0)
        self.assertRejected(TypeError, "maximize", *self.arrays(), maximize=None)
        self.assertRejected(ValueError, "eps_mode", *self.arrays(), eps_mode="Inside")
        self.assertRejected(ValueError, "threads", *self.arrays(), threads=0)
        self.assertRejected(TypeError, "threads", *self.arrays(), threads=2.0)
        self.assertRejected(ValueError, "isa", *self.arrays(), isa="sse3")
        self.assertRejected(TypeError, "pool", *self.arrays(), pool=1)
        self.assertRejected(ValueError, "threads and pool", *self.arrays(), threads=3,
                            pool=adagrad.ThreadPool(2))
        with self.assertRaises(TypeError):
            adagrad.rowwise_step(*self.arrays(), 0.1)


if __name__ == "__main__":
    unittest.main()
