# SPDX-License-Identifier: BSD-3-Clause
"""Which fma modes of the library reproduce the installed PyTorch, measured
once per process on small fixed runs: probe_fma() for dense steps,
probe_sparse() for sparse ones."""
import functools
import warnings

import numpy as np
import torch

import adagrad

from ._entries import _SUPPORTED_DTYPES

# The probe's run: a prime length, so that both the vector body and a tail
# of every vector width take part, and a few steps that use every term of
# the update (weight decay, lr decay).
_PROBE_ELEMENTS = 1031
_PROBE_STEPS = 3
_PROBE_SEED = 2011
_PROBE_HYPERPARAMETERS = dict(lr=0.1, lr_decay=0.01, weight_decay=0.1, eps=1e-10)


def _probe_matches(dtype, fma):
    """Whether adagrad.step(fma=fma) reproduces torch.optim.Adagrad(foreach=False)
    bit for bit, parameters and sums, on the probe's fixed random run."""
    generator = torch.Generator().manual_seed(_PROBE_SEED)
    initial = torch.randn(_PROBE_ELEMENTS, generator=generator, dtype=dtype)
    grads = [torch.randn(_PROBE_ELEMENTS, generator=generator, dtype=dtype)
             for _ in range(_PROBE_STEPS)]

    param = initial.clone()
    reference = torch.optim.Adagrad([param], foreach=False, **_PROBE_HYPERPARAMETERS)
    for grad in grads:
        param.grad = grad
        reference.step()

    w = initial.numpy().copy()
    G = np.zeros_like(w)
    for step, grad in enumerate(grads, start=1):
        adagrad.step(w, grad.numpy(), G, step=step, fma=fma, **_PROBE_HYPERPARAMETERS)
    return (w.tobytes() == param.numpy().tobytes()
            and G.tobytes() == reference.state[param]["sum"].numpy().tobytes())


@functools.lru_cache(maxsize=None)
def probe_fma():
    """The fma mode of adagrad.step that reproduces the installed PyTorch.

    Whether PyTorch's CPU kernels fuse G + g * g and g + weight_decay * w into
    fused multiply-adds depends on how it was built and on the CPU it runs on
    (its AVX2 and AVX-512 kernels use FMA, its baseline ones do not), so it is
    measured rather than assumed: torch.optim.Adagrad(foreach=False) runs a
    small fixed problem in float32 and float64 and the mode whose results
    match bit for bit in both is returned. When both match, the plain mode
    (False) is returned. When neither matches, a RuntimeWarning says so and
    False is returned: results then differ from PyTorch's in the last bits.

    The result is cached: the kernels PyTorch runs do not change within a
    process. The probe uses its own generator and leaves the global random
    state alone.
    """
    with torch.no_grad():
        for fma in (False, True):
            if all(_probe_matches(dtype, fma) for dtype in _SUPPORTED_DTYPES):
                return fma
    warnings.warn(
        "adagrad.torch: neither fma=False nor fma=True reproduces this PyTorch's "
        "torch.optim.Adagrad bit for bit; using fma=False", RuntimeWarning, stacklevel=3)
    return False


# The sparse probe's run: few rows, many indices (each row about 27 times,
# so that the order of the sums shows, and more than 16 so that the sort
# partitions), a dim that is no multiple of a vector width.
_SPARSE_PROBE_SHAPE = (37, 19, 1000)
_SPARSE_PROBE_HYPERPARAMETERS = dict(lr=0.1, lr_decay=0.01, eps=1e-10)


def _sparse_probe_matches(fma):
    """Whether adagrad.sparse_step(duplicates="torch", fma=fma) reproduces
    torch.optim.Adagrad's step of a sparse float32 gradient bit for bit,
    parameters and sums, on the probe's fixed random run."""
    rows, dim, count = _SPARSE_PROBE_SHAPE
    generator = torch.Generator().manual_seed(_PROBE_SEED)
    initial = torch.randn(rows, dim, generator=generator)
    batches = [(torch.randint(0, rows, (count,), generator=generator),
                torch.randn(count, dim, generator=generator)) for _ in range(_PROBE_STEPS)]

    param = initial.clone()
    reference = torch.optim.Adagrad([param], foreach=False, **_SPARSE_PROBE_HYPERPARAMETERS)
    for indices, values in batches:
        param.grad = torch.sparse_coo_tensor(indices[None], values, (rows, dim))
        reference.step()

    w = initial.numpy().copy()
    G = np.zeros_like(w)
    lr, lr_decay, eps = (_SPARSE_PROBE_HYPERPARAMETERS[k] for k in ("lr", "lr_decay", "eps"))
    for step, (indices, values) in enumerate(batches, start=1):
        adagrad.sparse_step(w, G, indices.numpy(), values.numpy(),
                            lr=lr / (1 + (step - 1) * lr_decay), eps=eps, fma=fma,
                            duplicates="torch")
    return (w.tobytes() == param.numpy().tobytes()
            and G.tobytes() == reference.state[param]["sum"].numpy().tobytes())


@functools.lru_cache(maxsize=None)
def probe_sparse():
    """The fma mode of adagrad.sparse_step(duplicates="torch") that
    reproduces the installed PyTorch's step of a sparse float32 gradient, or
    None when neither does.

    duplicates="torch" sums a row's occurrences in the order PyTorch 1.13's
    coalesce() does (libstdc++'s std::sort order, transcribed) and updates
    in its order; whether torch's param.add_(..., alpha=-clr) fuses its
    multiply-add depends on its build and CPU, so both modes are tried on a
    fixed run with many duplicates, as probe_fma() does for dense steps.
    None (another PyTorch, another sort) makes Adagrad step sparse
    gradients by torch's own operations: the same bits, at torch's speed.
    Cached for the process; its own generator, the global one untouched."""
    with torch.no_grad():
        for fma in (True, False):
            if _sparse_probe_matches(fma):
                return fma
    return None
