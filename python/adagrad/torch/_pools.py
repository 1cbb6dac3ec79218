# SPDX-License-Identifier: BSD-3-Clause
"""The thread pools adagrad.torch.Adagrad steps on: one per size, kept for
the process, made anew in a forked child."""
import ctypes
import os

import adagrad

# adagrad.ThreadPool's limit.
_MAX_THREADS = 1024

# The thread pools the optimizers step on, one per size, kept for the life of
# the process: starting threads for every step would cost more than a small
# model's step.
_pools = {}


def _pool(threads):
    """The module's pool of that many threads (None for one: the calling
    thread)."""
    if threads == 1:
        return None
    pool = _pools.get(threads)
    if pool is None:
        pool = _pools[threads] = adagrad.ThreadPool(threads)
    return pool


def _forget_pools_in_child():
    # A forked child has none of the pools' threads: destroying a pool there
    # would wait for them forever, so the child never frees them (one extra
    # reference each) and makes its own.
    for pool in _pools.values():
        ctypes.pythonapi.Py_IncRef(ctypes.py_object(pool))
    _pools.clear()


os.register_at_fork(after_in_child=_forget_pools_in_child)
