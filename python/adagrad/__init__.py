# SPDX-License-Identifier: BSD-3-Clause
"""SIMD-accelerated, bit-reproducible AdaGrad steps on NumPy arrays.

The functions are those of the compiled extension ``adagrad._adagrad``, a
binding of the C library (include/adagrad/adagrad.h):

    step(w, g, G, *, lr=0.01, eps=1e-8, weight_decay=0.0, lr_decay=0.0,
         step=1, maximize=False, eps_mode="outside", fma=False, isa=None)
        one AdaGrad step, updating w and G in place
    step_multi(w, g, G, *, <the same hyperparameters>, threads=1, pool=None)
        one step of many tensors (lists of arrays, tensor i being w[i], g[i],
        G[i]) in one library call, on threads, the same bits as step() on each
    state_init(G, value)     fill an accumulator with its initial value
    dispatch()               the ISA each kernel family dispatches to, and why
    active_isa()             the ISA step() dispatches to on float32
    active_wide_isa()        the ISA sparse_step() dispatches to
    supported_isas()         the ISAs this CPU can run

Embedding tables (float32): the same hyperparameters, keyword-only, plus
duplicates ("sum" or "sequential"), threads (that many threads, started for
the call) or pool (a ThreadPool kept across calls), and isa:

    sparse_step(table, state, indices, grads, *, ..., duplicates="sum",
                threads=1, pool=None, isa=None)
        the rows of table (num_rows, dim) named by indices (int64 or int32),
        with per-element state (num_rows, dim): each row the dense step
    rowwise_sparse_step(table, state, indices, grads, *, ...)
        the same with one accumulator per row, state (num_rows,)
    rowwise_step(w, g, row_state, *, ..., threads=1, pool=None, isa=None)
        row-wise AdaGrad for a dense gradient, w and g (rows, dim),
        row_state (rows,)
    ThreadPool(threads)      a pool of threads for pool=

Composite objectives (loss + l1 * |w| + l2/2 * w^2; l1 > 0 gives exact
zeros): the same hyperparameters plus l1 and l2, float32 or float64 dense,
float32 tables lazily (only the named rows):

    proximal_step(w, g, G, *, l1=0.0, l2=0.0, ..., isa=None)
        proximal AdaGrad (composite mirror descent), w and G in place
    da_step(w, g, z, G, *, step, l1=0.0, l2=0.0, ..., isa=None)
        AdaGrad dual averaging; z sums the gradients, step is the global
        step t (>= 1, required)
    sparse_proximal_step(table, state, indices, grads, *, l1=0.0, l2=0.0,
                         ..., duplicates="sum", threads=1, pool=None, isa=None)
    sparse_da_step(table, z, G, indices, grads, *, step, l1=0.0, l2=0.0,
                   ..., duplicates="sum", threads=1, pool=None, isa=None)

Mixed precision (float32 arithmetic and state, 16-bit weights and
gradients): NumPy has no bfloat16, so 16-bit values are uint16 arrays of bit
patterns, and a required dtype string says which format, "bf16" (bfloat16)
or "fp16" (IEEE binary16); "f32" is a float32 array. The usual
hyperparameters, threads, pool and isa, plus:

    step_mixed(w, g, G, *, w_dtype, g_dtype, ..., rounding="nearest", seed=0,
               grad_scale=1.0, found_inf=None, threads=1, pool=None, isa=None)
        16-bit weights w, gradient g of g_dtype, float32 accumulator G, in
        place; rounding "nearest" (even) or "stochastic" (keyed by seed and
        step, so step= is then required: the same bits on every ISA and
        thread count); g is divided by grad_scale first; a nonzero found_inf
        (a 1-element float32 array) skips the step
    step_master(w, g, G, *, g_dtype, copy=None, copy_dtype=None, ...)
        float32 master weights w, and their 16-bit copy in the same pass
    unscale_check(g, found_inf, *, dtype, inv_scale, isa=None)
        AMP's pass: g *= inv_scale in place, found_inf set to 1.0 if any
        gradient is not finite
    to_half(x, *, dtype, out=None, isa=None)     float32 -> uint16 bits
    from_half(h, *, dtype, out=None, isa=None)   uint16 bits -> float32

Every function changes nothing when it raises: TypeError for a wrong type or
dtype, IndexError for an index out of range, ValueError for anything else.

A torch.optim optimizer built on step() is in ``adagrad.torch`` (imported
on demand, so that NumPy users do not pay for importing PyTorch).
"""
from adagrad._adagrad import (ThreadPool, __version__, active_isa, active_wide_isa, da_step,
                              dispatch, from_half, proximal_step, rowwise_sparse_step, rowwise_step,
                              sparse_da_step, sparse_proximal_step, sparse_step, state_init, step,
                              step_master, step_mixed, step_multi, supported_isas, to_half,
                              unscale_check)

__all__ = ["ThreadPool", "__version__", "active_isa", "active_wide_isa", "da_step", "dispatch",
           "from_half", "proximal_step", "rowwise_sparse_step", "rowwise_step", "sparse_da_step",
           "sparse_proximal_step", "sparse_step", "state_init", "step", "step_master",
           "step_mixed", "step_multi", "supported_isas", "to_half", "unscale_check"]
