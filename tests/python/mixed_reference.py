# SPDX-License-Identifier: BSD-3-Clause
"""The mixed-precision functions of include/adagrad/adagrad.h written out in
NumPy: the oracle of test_mixed.py.

16-bit values are uint16 bit patterns, as the library takes them. The
conversions are integer NumPy operations transcribing the header's rules
(kernels/half_reference.h states them one value at a time), except binary16's
nearest-even rounding and widening, which are NumPy's own float16 casts
(round to nearest, ties to even; test_mixed.py checks them on hand-picked
ties first) with the library's documented NaN rule applied on top. The step
itself is embedding_reference.dense_step: every operation one float32
operation, in the dense step's order, on the widened values.

The stochastic rounding's random bits are the header's counter-based
generator (segment_key, random_bits, mix32, mix64 of half_reference.h) in
uint32/uint64 array arithmetic, which wraps as C's unsigned arithmetic does
(array operations never warn on wrap-around; scalars would, so even single
values are 1-element arrays here).
"""
import numpy as np

from embedding_reference import F32, Hyper, check_float32, dense_step

U16 = np.uint16
U32 = np.uint32
U64 = np.uint64
HALF_DTYPES = ("bf16", "fp16")
G_DTYPES = ("f32", "bf16", "fp16")


def _u32(value):
    return np.asarray(value, dtype=U32)


def _u64(value):
    return np.asarray(value, dtype=U64)


# ---- The counter-based generator -------------------------------------------

def mix32(x):
    x = _u32(x)
    x = x ^ (x >> U32(16))
    x = x * U32(0x85EBCA6B)
    x = x ^ (x >> U32(13))
    x = x * U32(0xC2B2AE35)
    x = x ^ (x >> U32(16))
    return x


def mix64(x):
    x = _u64(x)
    x = x ^ (x >> U64(30))
    x = x * U64(0xBF58476D1CE4E5B9)
    x = x ^ (x >> U64(27))
    x = x * U64(0x94D049BB133111EB)
    x = x ^ (x >> U64(31))
    return x


def segment_key(seed, step, upper=0):
    """The key of the 2^32 elements whose flat index has upper half `upper`,
    for a step keyed by (seed, step)."""
    seed, step, upper = _u64([seed]), _u64([step]), _u64([upper])
    mixed = (mix64(mix64(seed ^ U64(0x9E3779B97F4A7C15)) ^ mix64(step + U64(0x632BE59BD9B4E019))
             ^ (upper * U64(0xD6E8FEB86659FD93))))
    return (mixed & U64(0xFFFFFFFF)).astype(U32)[0]


def random_bits(key, index_low):
    key = U32(key)
    return mix32(mix32(_u32(index_low) ^ key) + key)


def random_bits_for(seed, step, n):
    """The random bits of elements 0 .. n - 1 of a step (n < 2^32: one
    segment), in the order of the arrays' flat (C) index."""
    return random_bits(segment_key(seed, step), np.arange(n, dtype=U32))


# ---- Conversions --------------------------------------------------------------

def bits(x):
    return np.asarray(x, dtype=F32, order="C").view(U32)


def from_bits(u):
    return np.asarray(u, dtype=U32, order="C").view(F32)


def _is_nan(u):
    return (u & U32(0x7FFFFFFF)) > U32(0x7F800000)


def bf16_to_f32(h):
    """Exact: bfloat16 is the upper half of a float (a plain shift, which
    keeps a signalling NaN signalling)."""
    return from_bits(np.asarray(h, U16).astype(U32) << U32(16))


def f16_to_f32(h):
    """Exact; a NaN comes out quiet with its sign and payload (the library's
    rule, as IEEE conversion gives it; NumPy's own cast keeps a signalling
    NaN signalling, so the quiet bit is set here)."""
    h = np.asarray(h, U16)
    with np.errstate(invalid="ignore"):
        u = bits(h.view(np.float16).astype(F32))
    nan = (h & U16(0x7C00)) == U16(0x7C00)
    nan &= (h & U16(0x03FF)) != U16(0)
    return from_bits(np.where(nan, u | U32(0x00400000), u))


def widen(h, dtype):
    if dtype == "f32":
        return np.array(h, dtype=F32, copy=True)
    return bf16_to_f32(h) if dtype == "bf16" else f16_to_f32(h)


def f32_to_bf16(x):
    """Nearest-even, in integers: add 0x7fff plus the lowest kept bit, keep
    the upper half. A NaN keeps its sign and upper payload and becomes quiet
    (bit 6 of the bfloat16)."""
    u = bits(x)
    rounded = (u + U32(0x7FFF) + ((u >> U32(16)) & U32(1))) >> U32(16)
    nan = (u >> U32(16)) | U32(0x0040)
    return np.where(_is_nan(u), nan, rounded).astype(U16)


def f16_nan(u):
    """The binary16 NaN the library makes from the float NaN bits u: sign,
    quiet bit, the upper ten bits of the payload."""
    return (((u >> U32(16)) & U32(0x8000)) | U32(0x7E00) | ((u >> U32(13)) & U32(0x3FF))).astype(U16)


def f32_to_f16(x):
    """Nearest-even through NumPy's float16 cast (subnormals kept, overflow
    to infinity), with the library's NaN rule."""
    x = np.asarray(x, dtype=F32, order="C")
    with np.errstate(over="ignore", invalid="ignore"):
        h = x.astype(np.float16).view(U16)
    u = bits(x)
    return np.where(_is_nan(u), f16_nan(u), h).astype(U16)


def f32_to_bf16_stochastic(x, random):
    """bits = (u + (r >> 16)) >> 16: up with probability (x - truncated) /
    ulp; NaN as for nearest-even; infinities stay (no finite u reaches a
    wrap-around)."""
    u = bits(x)
    rounded = (u + (_u32(random) >> U32(16))) >> U32(16)
    nan = (u >> U32(16)) | U32(0x0040)
    return np.where(_is_nan(u), nan, rounded).astype(U16)


def f32_to_f16_stochastic(x, random):
    """Stochastic rounding to binary16, half_reference.h's
    f32_to_f16_stochastic element by element (as arrays):
    normal range: 13 random bits added below the kept ones, then truncation
    (a carry moves to the next binade, past 65504 to infinity); below it the
    spacing is 2^-24 and |x| = k * 2^-24 + r rounds up when the 32 random
    bits are below r / 2^-24 * 2^32."""
    u = bits(x)
    r = _u32(random)
    sign = (u >> U32(16)) & U32(0x8000)
    a = u & U32(0x7FFFFFFF)
    # Normal binary16 range (a >= 2^-14), computed everywhere and chosen below;
    # the subtraction wraps for small a, whose lanes are not chosen.
    v = (a - U32(0x38000000) + (r >> U32(19))) >> U32(13)
    normal = sign | np.minimum(v, U32(0x7C00))
    # Below it. shift: |x| = m * 2^-(shift + 24).
    e = a >> U32(23)
    float_normal = e != U32(0)
    m = np.where(float_normal, (a & U32(0x7FFFFF)) | U32(0x800000), a).astype(U64)
    shift = np.where(float_normal, U32(126) - np.minimum(e, U32(126)), U32(125)).astype(U64)
    small = shift < U64(32)
    safe_shift = np.minimum(shift, U64(31))
    k = np.where(small, m >> safe_shift, U64(0))
    remainder = np.where(small, m & ((U64(1) << safe_shift) - U64(1)), m)
    # P(up) = remainder / 2^shift against 32 random bits.
    threshold = np.where(
        shift <= U64(32), remainder << (U64(32) - np.minimum(shift, U64(32))),
        np.where(shift < U64(64), (remainder << U64(32)) >> np.minimum(shift, U64(63)), U64(0)))
    up = (r.astype(U64) < threshold).astype(U64)
    subnormal = (sign.astype(U64) | (k + up)).astype(U32)
    result = np.where(a >= U32(0x38800000), normal, subnormal)
    result = np.where(a >= U32(0x47800000), sign | U32(0x7C00), result)
    result = np.where(a > U32(0x7F800000), f16_nan(u).astype(U32), result)
    return result.astype(U16)


def round16(x, dtype, rounding="nearest", random=None):
    if rounding == "nearest":
        return f32_to_bf16(x) if dtype == "bf16" else f32_to_f16(x)
    if dtype == "bf16":
        return f32_to_bf16_stochastic(x, random)
    return f32_to_f16_stochastic(x, random)


# ---- The steps ------------------------------------------------------------------

class Mixed:
    """The options of a mixed step and the hyperparameters (Hyper: each
    rounded to float32 once)."""

    def __init__(self, rounding="nearest", seed=0, grad_scale=1.0, **hyper):
        self.rounding = rounding
        self.seed = seed
        self.grad_scale = grad_scale
        self.step = hyper.get("step", 1)
        self.hyper = Hyper(**hyper)


def _gradient(g, g_dtype, o):
    grad = widen(g, g_dtype).reshape(-1)
    # Tested on the double, as the library tests it: 1 + 2^-40 still
    # divides (by its float32 rounding, 1).
    if o.grad_scale != 1.0:
        grad = grad / F32(o.grad_scale)
    check_float32(grad)
    return grad


def _random(o, n):
    return random_bits_for(o.seed, o.step, n) if o.rounding == "stochastic" else None


def step_mixed(w, w_dtype, g, g_dtype, G, o):
    """adagrad_step_mixed on copies: returns the new (w, G)."""
    G_new = np.array(G, dtype=F32, copy=True).reshape(-1)
    with np.errstate(all="ignore"):
        grad = _gradient(g, g_dtype, o)
        weight = widen(w, w_dtype).reshape(-1)
        dense_step(weight, grad, G_new, o.hyper)
        w_new = round16(weight, w_dtype, o.rounding, _random(o, weight.size))
    return w_new.reshape(np.shape(w)), G_new.reshape(np.shape(G))


def step_master(w, g, g_dtype, G, copy_dtype, o):
    """adagrad_step_master on copies: returns the new (w, G, copy), copy
    None when copy_dtype is None."""
    G_new = np.array(G, dtype=F32, copy=True).reshape(-1)
    with np.errstate(all="ignore"):
        grad = _gradient(g, g_dtype, o)
        weight = np.array(w, dtype=F32, copy=True).reshape(-1)
        dense_step(weight, grad, G_new, o.hyper)
        copy = None
        if copy_dtype is not None:
            copy = round16(weight, copy_dtype, o.rounding,
                           _random(o, weight.size)).reshape(np.shape(w))
    return weight.reshape(np.shape(w)), G_new.reshape(np.shape(G)), copy


def unscale_check(g, dtype, inv_scale):
    """adagrad_unscale_check on a copy: returns (new g, found), found True
    when any gradient was not finite (exponent bits all ones)."""
    x = widen(g, dtype)
    found = bool(np.any((bits(x) & U32(0x7F800000)) == U32(0x7F800000)))
    with np.errstate(all="ignore"):
        y = x * F32(inv_scale)
    check_float32(y)
    return (y if dtype == "f32" else round16(y, dtype)), found
