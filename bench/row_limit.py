# SPDX-License-Identifier: BSD-3-Clause
"""The row limit of bench/row_limit.cc for the Python benchmarks: a lower
bound on the time of any per-element step on the rows a sparse step
touches, measured in the benchmark's own process on its own tables.

  limit = RowLimit.load(path)          # None when the module is not built
  rows = limit.rows_of(table, state, indices)
  limit.update(table, state, rows, setting)

table and state are float32 tensors of rows x dim (contiguous, CPU); rows
the unique rows of a batch in the order a step visits them (ascending). The caller times update() at each
prefetch setting of SETTINGS and keeps the fastest (how many rows in flight,
and into which cache level, differs from CPU to CPU). The values do not change: the gradient
row is negative zeros, and w + -0 is w for every w (-0 included), G + 0 is G
for every G but -0 (an accumulator of squares is never -0), so the
optimizers timed beside it step the same parameters.
"""
import ctypes
import os

import numpy as np

# The prefetch settings the caller sweeps, as names: "D" asks for the whole
# rows D rows ahead into L1 (0: nothing, the hardware prefetchers alone),
# "l2-D" into L2 only, "l2l1-D" into L2 D ahead and into L1 two ahead,
# "l2b-D" into L2 in bursts of 16 rows once fewer than D are asked for ahead
# (the forms of bench/sparse_limits_best.h, prefetch_form).
SETTINGS = ("0", "4", "16", "l2-8", "l2-16", "l2l1-8", "l2l1-16", "l2b-8", "l2b-16")
_FORMS = {"": 0, "l2": 1, "l2l1": 2, "l2b": 3}


def parse_setting(setting):
    """(prefetch_form number, distance) of a SETTINGS name."""
    form, _, distance = setting.rpartition("-")
    return _FORMS[form], int(distance)
LIBRARY = "libadagrad_bench_row_limit.so"


def unique_rows(indices):
    """The rows of a batch's indices, each once, ascending: the order the
    library's sparse and fused steps visit them."""
    return np.unique(np.asarray(indices).reshape(-1)).astype(np.int64)


class RowLimit:
    def __init__(self, library):
        self._lib = ctypes.CDLL(library)
        self._lib.adagrad_bench_row_limit_isa.restype = ctypes.c_char_p
        self._lib.adagrad_bench_row_limit.restype = None
        self._lib.adagrad_bench_row_limit.argtypes = [
            ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t, ctypes.c_void_p, ctypes.c_size_t,
            ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
        self.isa = self._lib.adagrad_bench_row_limit_isa().decode()
        self._zeros = {}

    @staticmethod
    def load(path):
        """The module at path (a file, or a directory holding it), or None
        when there is none: the benchmarks then leave the limit out."""
        if path and os.path.isdir(path):
            path = os.path.join(path, LIBRARY)
        if not path or not os.path.exists(path):
            return None
        return RowLimit(path)

    @staticmethod
    def rows_of(table, state, indices):
        """unique_rows(indices), checked against table and state once, so
        that update() checks nothing in the timed loop."""
        rows = unique_rows(indices)
        if (state.shape != table.shape or table.dim() != 2 or
                str(table.dtype) != "torch.float32" or str(state.dtype) != "torch.float32" or
                not table.is_contiguous() or not state.is_contiguous() or
                (rows.size and (rows[0] < 0 or rows[-1] >= table.shape[0]))):
            raise ValueError("row limit: float32 table and state of one shape, contiguous, "
                             "and rows inside them")
        return rows

    def update(self, table, state, rows, setting):
        """rows from rows_of(table, state, ...); setting one of SETTINGS."""
        form, distance = parse_setting(setting)
        dim = table.shape[1]
        zeros = self._zeros.get(dim)
        if zeros is None:
            zeros = self._zeros[dim] = np.full(dim, -0.0, dtype=np.float32)
        self._lib.adagrad_bench_row_limit(
            table.data_ptr(), state.data_ptr(), dim, rows.ctypes.data, rows.size,
            zeros.ctypes.data, distance, form)
