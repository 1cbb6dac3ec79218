# SPDX-License-Identifier: BSD-3-Clause
"""The composite steps of include/adagrad/adagrad.h (proximal AdaGrad and
AdaGrad dual averaging) written out in plain NumPy, float32 and float64: the
oracle of test_composite.py.

Every operation is one operation in the arrays' dtype: every scalar is a
scalar of that dtype (np.float32(x) or np.float64(x)), never a Python float,
and check_dtype guards the results against promotion. The hyperparameters
are rounded once, as the library rounds them: lr_t and dual averaging's
c1 = t * l1 and c2 = l2 * t * lr_t are computed in double (Python floats)
first. fma mode uses correctly rounded fused multiply-adds: fmaf from
embedding_reference for float32, exact rational arithmetic for float64.
"""
from fractions import Fraction

import numpy as np

from embedding_reference import fmaf


def check_dtype(dtype, *values):
    for value in values:
        if np.asarray(value).dtype != dtype:
            raise AssertionError("reference promoted {} to {}".format(np.dtype(dtype),
                                                                      np.asarray(value).dtype))


def fma64(a, b, c):
    """Correctly rounded float64 a * b + c, elementwise (finite inputs):
    the exact rational result, rounded once (int / int is correctly rounded
    in CPython)."""
    a, b, c = np.broadcast_arrays(np.asarray(a, np.float64), np.asarray(b, np.float64),
                                  np.asarray(c, np.float64))
    out = np.empty(a.shape, np.float64)
    for i, (x, y, z) in enumerate(zip(a.flat, b.flat, c.flat)):
        exact = Fraction(float(x)) * Fraction(float(y)) + Fraction(float(z))
        result = float(exact)
        # An exact zero is +0 (round to nearest), except -0 * x + -0.
        if result == 0 and exact == 0 and np.signbit(x * y) and np.signbit(z):
            result = -0.0
        out.flat[i] = result
    return out


def fma(a, b, c, dtype):
    return fmaf(a, b, c) if dtype == np.float32 else fma64(a, b, c)


class Hyper:
    """The hyperparameters of one composite step as the library uses them."""

    def __init__(self, dtype, lr=0.01, eps=1e-8, weight_decay=0.0, lr_decay=0.0, step=1,
                 maximize=False, eps_mode="outside", fma=False, l1=0.0, l2=0.0):
        T = self.T = np.dtype(dtype).type
        # torch.optim.Adagrad's clr in double, then rounded once.
        lr_t = lr if lr_decay == 0 else lr / (1 + (step - 1) * lr_decay)
        self.lr_t = T(lr_t)
        self.neg_lr = -self.lr_t
        self.eps = T(eps)
        self.weight_decay = T(weight_decay)
        self.maximize = maximize
        self.eps_inside = eps_mode == "inside"
        self.fma = fma
        self.l1 = T(l1)
        self.l2 = T(l2)
        # Each term applies when its coefficient is nonzero before rounding.
        self.apply_weight_decay = weight_decay != 0
        self.has_l1 = l1 != 0
        self.has_l2 = l2 != 0
        # Dual averaging, t = step: in double (left to right, as the
        # library's l2 * t * lr_t), rounded once.
        self.c1 = T(step * l1)
        self.c2 = T(l2 * step * lr_t)


def gradient(w, g, h):
    """g' of the dense step: -g if maximize, then g + weight_decay * w."""
    if h.maximize:
        g = -g
    if h.apply_weight_decay:
        g = fma(h.weight_decay, w, g, h.T) if h.fma else g + h.weight_decay * w
    check_dtype(h.T, g)
    return g


def accumulate_and_denominator(g, G, h):
    """G + g' * g' (stored in G) and d."""
    G[...] = fma(g, g, G, h.T) if h.fma else G + g * g
    d = np.sqrt(G + h.eps) if h.eps_inside else np.sqrt(G) + h.eps
    check_dtype(h.T, G, d)
    return d


def shrink(v, threshold, h):
    """copysign(max(|v| - threshold, 0), v), NaN kept (NaN < 0 is false)."""
    m = np.abs(v) - threshold
    m = np.where(m < 0, h.T(0), m)
    u = np.copysign(m, v)
    check_dtype(h.T, m, u)
    return u


def proximal_step(w, g, G, h):
    """adagrad_proximal_step: w and G in place."""
    with np.errstate(all="ignore"):
        g = gradient(w, g, h)
        d = accumulate_and_denominator(g, G, h)
        r = h.lr_t / d
        v = w - r * g
        u = shrink(v, r * h.l1, h) if h.has_l1 else v
        result = u / (h.T(1) + r * h.l2) if h.has_l2 else u
        check_dtype(h.T, r, v, u, result)
        w[...] = result


def da_step(w, g, z, G, h):
    """adagrad_da_step: w, z and G in place (w read only by weight decay)."""
    with np.errstate(all="ignore"):
        g = gradient(w, g, h)
        z[...] = z + g
        d = accumulate_and_denominator(g, G, h)
        u = shrink(z, h.c1, h) if h.has_l1 else z
        result = (h.neg_lr * u) / (h.c2 + d)
        check_dtype(h.T, z, u, result)
        w[...] = result
