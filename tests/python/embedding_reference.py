# SPDX-License-Identifier: BSD-3-Clause
"""The embedding-table steps of include/adagrad/adagrad.h written out in plain
NumPy float32, the oracle of test_sparse.py.

Every operation is one float32 operation: the arrays are float32, every
scalar is an np.float32 (a Python float would promote a NumPy 1.x scalar
expression to float64), and check_float32 guards the results. The fused
multiply-adds of fma mode are correctly rounded (fmaf below), as the
library's are.
"""
import numpy as np

F32 = np.float32
# The canonical reduction's partial sums (include/adagrad/adagrad.h).
LANES = 16


def check_float32(*values):
    for value in values:
        if np.asarray(value).dtype != np.float32:
            raise AssertionError("reference promoted to {}".format(np.asarray(value).dtype))


def fmaf(a, b, c):
    """Correctly rounded float32 a * b + c, elementwise (finite inputs).

    The product of two floats is exact in double (48 bits), and s = p + c
    rounded to double lies within half a double ulp of the exact sum. Rounding
    s to float then gives the exact sum's rounding, because every float
    midpoint is a double: none can lie strictly between the exact sum and s.
    Only when s is itself a midpoint and the exact sum is not (s's rounding
    error is nonzero) would the tie rule pick the wrong side; s is then
    nudged one double ulp towards the exact sum first.
    """
    a, b, c = np.broadcast_arrays(np.asarray(a, F32), np.asarray(b, F32), np.asarray(c, F32))
    with np.errstate(over="ignore", invalid="ignore"):
        p = a.astype(np.float64) * b.astype(np.float64)
        c64 = c.astype(np.float64)
        s = p + c64
        # TwoSum: err = (p + c) - s exactly.
        s_minus_p = s - p
        err = (p - (s - s_minus_p)) + (c64 - s_minus_p)
        rounded = s.astype(F32)
        rounded64 = rounded.astype(np.float64)
        towards_s = np.where(s > rounded64, F32(np.inf), F32(-np.inf))
        neighbour = np.nextafter(rounded, towards_s).astype(np.float64)
        midpoint = (rounded64 + neighbour) / 2
        tie = (s != rounded64) & (s == midpoint) & (err != 0)
        nudged = np.nextafter(s, np.where(err > 0, np.inf, -np.inf)).astype(F32)
        result = np.where(tie, nudged, rounded).astype(F32)
    return result.reshape(a.shape) if result.ndim else F32(result)


class Hyper:
    """The hyperparameters as the library uses them: each rounded to float32
    once, lr_t computed in double first (torch.optim.Adagrad's clr)."""

    def __init__(self, lr=0.01, eps=1e-8, weight_decay=0.0, lr_decay=0.0, step=1,
                 maximize=False, eps_mode="outside", fma=False):
        self.lr_t = F32(lr / (1 + (step - 1) * lr_decay))
        self.eps = F32(eps)
        self.weight_decay = F32(weight_decay)
        # Tested on the double, before rounding, as the library does.
        self.apply_weight_decay = weight_decay != 0
        self.maximize = maximize
        self.eps_inside = eps_mode == "inside"
        self.fma = fma


def decayed_gradient(w, g, h):
    """Step 1: g = -g if maximize, then g + weight_decay * w."""
    if h.maximize:
        g = -g
    if h.apply_weight_decay:
        g = fmaf(h.weight_decay, w, g) if h.fma else g + h.weight_decay * w
    check_float32(g)
    return g


def dense_step(w, g, G, h):
    """adagrad_step on float32 arrays of any one shape, w and G in place."""
    g = decayed_gradient(w, g, h)
    G[...] = fmaf(g, g, G) if h.fma else G + g * g
    denominator = np.sqrt(G + h.eps) if h.eps_inside else np.sqrt(G) + h.eps
    update = (h.lr_t * g) / denominator
    check_float32(denominator, update)
    w[...] = w - update


def rowwise_step(w, g, row_state, h):
    """adagrad_rowwise_step: w and g (rows, dim), row_state (rows,), in place;
    all rows at once, each in its own row of partial sums."""
    rows, dim = w.shape
    if rows == 0 or dim == 0:
        return
    g = decayed_gradient(w, g, h)
    partial = np.zeros((rows, LANES), F32)
    # partial[j % 16] accumulates g'_j * g'_j for j = 0, 1, ...: block by
    # block of 16 columns, then the last partial block on the first lanes.
    for start in range(0, dim, LANES):
        block = g[:, start:start + LANES]
        lanes = block.shape[1]
        if h.fma:
            partial[:, :lanes] = fmaf(block, block, partial[:, :lanes])
        else:
            partial[:, :lanes] = partial[:, :lanes] + block * block
    for half in (8, 4, 2):
        partial[:, :half] = partial[:, :half] + partial[:, half:2 * half]
    s = partial[:, 0] + partial[:, 1]
    G = row_state + s / F32(dim)
    row_state[...] = G
    denominator = np.sqrt(G + h.eps) if h.eps_inside else np.sqrt(G) + h.eps
    rate = h.lr_t / denominator
    update = rate[:, None] * g
    check_float32(partial, s, G, denominator, rate, update)
    w[...] = w - update


def sparse_step(table, state, indices, grads, h, duplicates, rowwise):
    """adagrad_sparse_step / adagrad_rowwise_sparse_step on copies of table
    and state, which are returned."""
    table = table.copy()
    state = state.copy()

    def update(row, gradient):
        if rowwise:
            rowwise_step(table[row:row + 1], gradient[None, :], state[row:row + 1], h)
        else:
            dense_step(table[row], gradient, state[row], h)

    if duplicates == "sequential":
        for k, row in enumerate(indices.tolist()):
            update(row, grads[k])
        return table, state
    occurrences = {}
    for k, row in enumerate(indices.tolist()):
        occurrences.setdefault(row, []).append(k)
    for row, positions in occurrences.items():
        summed = grads[positions[0]].copy()
        for k in positions[1:]:
            summed = summed + grads[k]
        check_float32(summed)
        update(row, summed)
    return table, state
