# SPDX-License-Identifier: BSD-3-Clause
"""SIMD-accelerated, bit-reproducible AdaGrad steps on NumPy arrays.

The functions are those of the compiled extension ``adagrad._adagrad``, a
binding of the C library (include/adagrad/adagrad.h). Each has its
signature (``help(adagrad.step)``, ``inspect.signature``) and its contract
in its docstring; the arrays are updated in place, the hyperparameters are
keyword-only.

Dense steps, float32 or float64 arrays of any shape:

    step                 one AdaGrad step: updates w and G from g
    step_multi           one step of many tensors (lists of arrays) in one
                         library call, on threads, the same bits as step()
    state_init           fills an accumulator with its initial value
    proximal_step        proximal AdaGrad (composite mirror descent, l1 and l2)
    da_step              AdaGrad dual averaging (step, the global step t, required)

Embedding tables, float32, int64 or int32 indices; duplicates "sum" or
"sequential", threads=N or pool=ThreadPool(N):

    sparse_step          the named rows of a table, per-element state
    rowwise_sparse_step  the same with one accumulator per row
    rowwise_step         row-wise AdaGrad for a dense gradient
    sparse_proximal_step, sparse_da_step   the composite steps, lazily
    embedding_bag_step   the backward pass of pooled lookups (nn.EmbeddingBag)
                         fused with the step, many tables in one call
    table_array          a zeroed array on transparent huge pages
    huge_page_bytes      how much of an array huge pages hold
    ThreadPool           a pool of threads kept across calls

Mixed precision, float32 arithmetic and state, 16-bit values as uint16 bit
patterns with a required dtype string ("bf16", "fp16"; "f32" for float32):

    step_mixed           16-bit weights
    step_master          float32 master weights and their 16-bit copy
    unscale_check        AMP's unscale-and-check pass
    to_half, from_half   the conversions

Dispatch: dispatch() (the ISA each kernel family runs on, and why),
active_isa(), active_wide_isa(), supported_isas(), isas(); isa= pins one on any
step.

Every function changes nothing when it raises: TypeError for a wrong type or
dtype, IndexError for an index out of range, ValueError for anything else.

A torch.optim optimizer built on step() is in ``adagrad.torch`` (imported
on demand, so that NumPy users do not pay for importing PyTorch).
"""
from adagrad._adagrad import (ThreadPool, __version__, active_isa, active_wide_isa, da_step,
                              dispatch, embedding_bag_step, from_half, huge_page_bytes, isas,
                              proximal_step, rowwise_sparse_step,
                              rowwise_step, sparse_da_step, sparse_proximal_step, sparse_step,
                              state_init, step,
                              step_master, step_mixed, step_multi, supported_isas, table_array,
                              to_half, unscale_check)

__all__ = ["ThreadPool", "__version__", "active_isa", "active_wide_isa", "da_step", "dispatch",
           "embedding_bag_step", "from_half", "huge_page_bytes", "isas", "proximal_step", "rowwise_sparse_step", "rowwise_step",
           "sparse_da_step", "sparse_proximal_step", "sparse_step", "state_init", "step",
           "step_master", "step_mixed", "step_multi", "supported_isas", "table_array", "to_half",
           "unscale_check"]
