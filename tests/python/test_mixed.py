# SPDX-License-Identifier: BSD-3-Clause
"""adagrad.step_mixed, adagrad.step_master, adagrad.unscale_check,
adagrad.to_half and adagrad.from_half: bit for bit against the header's
formulas written out in NumPy (mixed_reference.py), on every ISA this CPU
has and on 1 to 3 threads; stochastic rounding from the header's
counter-based generator; NumPy's float16 cast checked as an oracle first;
found_inf skipping steps; and every invalid argument raising, naming it,
with nothing changed."""
import unittest
import zlib

import numpy as np

import adagrad
import mixed_reference as ref
from bitwise import assert_same_bits
from test_errors import ALL_ISAS, misaligned

F32 = np.float32
U16 = np.uint16
ISAS = [None] + adagrad.supported_isas()
HALF = ref.HALF_DTYPES
G_DTYPES = ref.G_DTYPES
ROUNDINGS = ("nearest", "stochastic")
# 1-D lengths below, at and past every vector width (and primes), and 2-D.
SHAPES = [(1,), (7,), (33,), (1031,), (16, 65)]
HYPERPARAMETERS = {
    "default": dict(),
    "lr": dict(lr=0.1),
    "decay_maximize_inside": dict(lr=0.1, eps=1e-7, weight_decay=0.1, lr_decay=0.01,
                                  maximize=True, eps_mode="inside"),
    "fma": dict(lr=0.05, weight_decay=0.01, fma=True),
}
# 1: no unscaling; a power of two (exact); 3: a division that rounds.
GRAD_SCALES = (1.0, 1024.0, 3.0)
STEPS = 3
# Large enough that the library splits a step over a pool (64K elements).
THREADED_N = 300_001


def rng_for(*key):
    """A generator seeded by key, the same in every process."""
    return np.random.default_rng(zlib.crc32(repr(key).encode()))


def half_report(actual, expected):
    """None when two uint16 arrays hold the same bits, else where and how
    they differ, in hex."""
    actual, expected = np.asarray(actual), np.asarray(expected)
    if actual.dtype != expected.dtype or actual.shape != expected.shape:
        return "dtype/shape {}{} != {}{}".format(actual.dtype, actual.shape, expected.dtype,
                                                 expected.shape)
    differing = np.flatnonzero(actual.ravel() != expected.ravel())
    if differing.size == 0:
        return None
    first = differing[:5]
    return "{} of {} elements differ; first at flat indices {}: {} != {}".format(
        differing.size, actual.size, first.tolist(),
        [hex(v) for v in actual.ravel()[first].tolist()],
        [hex(v) for v in expected.ravel()[first].tolist()])


def assert_same_half_bits(testcase, actual, expected, what):
    report = half_report(actual, expected)
    if report is not None:
        testcase.fail("{}: {}".format(what, report))


def nan_of(h, dtype):
    """Which 16-bit patterns (or float32 values) are NaNs."""
    if dtype == "f32":
        return np.isnan(h)
    h = np.asarray(h, U16)
    if dtype == "bf16":
        return ((h & U16(0x7F80)) == U16(0x7F80)) & ((h & U16(0x007F)) != 0)
    return ((h & U16(0x7C00)) == U16(0x7C00)) & ((h & U16(0x03FF)) != 0)


def assert_same_bits_nan(testcase, actual, expected, dtype, what):
    """Bitwise equality, except that any NaN equals any NaN: the sign and
    payload of a NaN the arithmetic makes (inf - inf, 0 * inf) are the
    hardware's, and NumPy's operand order need not be the library's."""
    actual_nan, expected_nan = nan_of(actual, dtype), nan_of(expected, dtype)
    if not np.array_equal(actual_nan, expected_nan):
        testcase.fail("{}: NaN at {} but expected at {}".format(
            what, np.flatnonzero(actual_nan)[:5].tolist(), np.flatnonzero(expected_nan)[:5].tolist()))
    a, e = np.array(actual, copy=True), np.array(expected, copy=True)
    a[actual_nan] = 0
    e[expected_nan] = 0
    if dtype == "f32":
        assert_same_bits(testcase, a, e, what)
    else:
        assert_same_half_bits(testcase, a, e, what)


def float_patterns():
    """float32 bit patterns that meet every rounding boundary of both
    formats: every upper half (every bfloat16, so every exponent and the
    binary16 subnormal range bit by bit) with low halves at and around
    bfloat16's tie (0x8000) and binary16's (0x1000 in the low 13 bits), then
    a million random patterns."""
    upper = np.arange(1 << 16, dtype=np.uint32) << np.uint32(16)
    lows = np.array([0x0000, 0x0001, 0x0FFF, 0x1000, 0x1001, 0x1FFF, 0x2000, 0x3000, 0x5000,
                     0x7FFF, 0x8000, 0x8001, 0x9000, 0xC000, 0xFFFF], dtype=np.uint32)
    swept = (upper[:, None] | lows[None, :]).ravel()
    random = rng_for("float patterns").integers(0, 1 << 32, 1 << 20, dtype=np.uint32)
    return ref.from_bits(np.concatenate([swept, random]))


def special_floats():
    """Values every step and conversion must carry: zeros, subnormals of
    both float32 and binary16, the edges of binary16's range, bfloat16's
    largest, infinities, NaNs with payloads (quiet and signalling)."""
    values = np.array([0.0, -0.0, 1e-45, -1e-40, 6e-8, -5.96e-8, 3e-5, 6.1e-5, 1.0, -1.0, 0.1,
                       65504.0, -65519.0, 65520.0, 3.38e38, -3.4e38, np.inf, -np.inf], dtype=F32)
    nans = ref.from_bits(np.array([0x7FC00000, 0xFFC00000, 0x7FA12345, 0xFF80E001, 0x7F800001],
                                  dtype=np.uint32))
    return np.concatenate([values, nans])


def random_half(rng, shape, dtype, scale=1.0):
    """16-bit values (or float32 for "f32") of a scaled normal distribution."""
    x = (rng.standard_normal(shape) * scale).astype(F32)
    return x if dtype == "f32" else ref.round16(x, dtype)


def with_specials(x, dtype):
    """x with special values written over its first elements (cycled)."""
    specials = special_floats()
    if dtype != "f32":
        specials = ref.round16(specials, dtype)
    flat = x.reshape(-1)
    count = min(flat.size, specials.size)
    flat[:count] = specials[:count]
    return x


# ---- The oracle ------------------------------------------------------------------

class ReferenceTest(unittest.TestCase):
    """The NumPy transcription's own pieces, against values worked out by
    hand, so that agreement with the library means the header's rules."""

    def test_numpy_float16_rounds_to_nearest_even(self):
        # (float32 value, binary16 bits): ties go to the even neighbour.
        cases = [
            (1.0 + 2.0 ** -11, 0x3C00),              # tie between 1 and 1 + 2^-10: even, down
            (1.0 + 3 * 2.0 ** -11, 0x3C02),          # tie: even, up
            (1.0 + 2.0 ** -11 + 2.0 ** -23, 0x3C01),  # just past the tie: up
            (65504.0, 0x7BFF),
            (65519.99, 0x7BFF),                      # below the midpoint to 65536
            (65520.0, 0x7C00),                       # the midpoint: even, infinity
            (2.0 ** -24, 0x0001),                    # smallest subnormal
            (2.0 ** -25, 0x0000),                    # tie with 0: even, zero
            (2.0 ** -25 * (1 + 2.0 ** -23), 0x0001),  # just past: up
            (3 * 2.0 ** -25, 0x0002),                # tie between 1 and 2 ulps: even, up
            (5 * 2.0 ** -25, 0x0002),                # tie between 2 and 3 ulps: even, down
            (2.0 ** -14 - 2.0 ** -25, 0x0400),       # last subnormal tie: up into the normals
            (-1e-40, 0x8000),                        # float32 subnormal: -0
        ]
        for value, expected in cases:
            with self.subTest(value=value):
                x = np.array([value], F32)
                with np.errstate(over="ignore"):
                    self.assertEqual(hex(int(x.astype(np.float16).view(U16)[0])), hex(expected))
                self.assertEqual(hex(int(ref.f32_to_f16(x)[0])), hex(expected))

    def test_bfloat16_rounding_by_hand(self):
        cases = [
            (0x3F808000, 0x3F80),  # tie, even: down
            (0x3F818000, 0x3F82),  # tie, odd: up
            (0x3F808001, 0x3F81),  # past the tie: up
            (0x3F807FFF, 0x3F80),
            (0x7F7FFFFF, 0x7F80),  # largest float: rounds to infinity
            (0xFF800000, 0xFF80),  # -inf
            (0x7FA12345, 0x7FE1),  # signalling NaN: quiet, upper payload
            (0xFFC00001, 0xFFC0),
            (0x00000001, 0x0000),  # float32 subnormal
            (0x80008000, 0x8000),  # negative tie, even
        ]
        for u, expected in cases:
            with self.subTest(bits=hex(u)):
                x = ref.from_bits(np.array([u], np.uint32))
                self.assertEqual(hex(int(ref.f32_to_bf16(x)[0])), hex(expected))

    def test_stochastic_rounding_by_hand(self):
        # bf16: up exactly when the random upper half reaches 2^16 - low half.
        x = ref.from_bits(np.full(4, 0x3F80C000, np.uint32))  # 1 + 3/4 ulp
        random = np.array([0, 0x3FFF0000, 0x40000000, 0xFFFFFFFF], np.uint32)
        self.assertEqual(ref.f32_to_bf16_stochastic(x, random).tolist(),
                         [0x3F80, 0x3F80, 0x3F81, 0x3F81])
        # fp16, normal: 13 random bits; 1 + 1/4 ulp goes up for r >> 19 >= 6144.
        x = np.full(3, 1.0 + 2.0 ** -12, F32)
        random = np.array([(6143 << 19) | 0x7FFFF, 6144 << 19, 0xFFFFFFFF], np.uint32)
        self.assertEqual(ref.f32_to_f16_stochastic(x, random).tolist(), [0x3C00, 0x3C01, 0x3C01])
        # fp16 below the normal range: 1/4 of 2^-24 goes up for r < 2^30.
        x = np.full(3, -(2.0 ** -26), F32)
        random = np.array([0, (1 << 30) - 1, 1 << 30], np.uint32)
        self.assertEqual(ref.f32_to_f16_stochastic(x, random).tolist(), [0x8001, 0x8001, 0x8000])
        # The largest binary16 with a full carry becomes infinity.
        x = np.full(1, 65519.0, F32)
        self.assertEqual(ref.f32_to_f16_stochastic(x, [0xFFFFFFFF]).tolist(), [0x7C00])

    def test_generator_against_python_integers(self):
        # mix64 and mix32 in arbitrary-precision integers, reduced by hand.
        def mix64(x):
            m = (1 << 64) - 1
            x ^= x >> 30
            x = (x * 0xBF58476D1CE4E5B9) & m
            x ^= x >> 27
            x = (x * 0x94D049BB133111EB) & m
            return x ^ (x >> 31)

        def mix32(x):
            m = (1 << 32) - 1
            x ^= x >> 16
            x = (x * 0x85EBCA6B) & m
            x ^= x >> 13
            x = (x * 0xC2B2AE35) & m
            return x ^ (x >> 16)

        for seed, step in ((0, 1), (12345, 7), (2 ** 64 - 1, 2 ** 64 - 1)):
            m = (1 << 64) - 1
            key = (mix64(mix64(seed ^ 0x9E3779B97F4A7C15) ^ mix64((step + 0x632BE59BD9B4E019) & m))
                   & 0xFFFFFFFF)
            self.assertEqual(int(ref.segment_key(seed, step)), key)
            indices = [0, 1, 1000, 2 ** 32 - 1]
            expected = [mix32((mix32(index ^ key) + key) & 0xFFFFFFFF) for index in indices]
            self.assertEqual(ref.random_bits(key, indices).tolist(), expected)


# ---- Conversions ---------------------------------------------------------------

class ConversionTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.patterns = float_patterns()

    def test_to_half_on_every_isa(self):
        for dtype in HALF:
            expected = ref.round16(self.patterns, dtype)
            for isa in ISAS:
                with self.subTest(dtype=dtype, isa=isa):
                    actual = adagrad.to_half(self.patterns, dtype=dtype, isa=isa)
                    self.assertEqual(actual.dtype, U16)
                    assert_same_half_bits(self, actual, expected, "to_half")

    def test_numpy_float16_cast_agrees_except_for_signalling_nans(self):
        # The library's binary16 rounding is NumPy's float16 cast for every
        # value but NaN; a quiet NaN keeps sign and upper payload in both;
        # a signalling one becomes quiet in the library (its documented
        # rule), whatever NumPy's cast does with it.
        x = self.patterns
        library = adagrad.to_half(x, dtype="fp16")
        with np.errstate(over="ignore", invalid="ignore"):
            numpy = x.astype(np.float16).view(U16)
        u = ref.bits(x)
        nan = np.isnan(x)
        quiet = nan & ((u & np.uint32(0x00400000)) != 0)
        assert_same_half_bits(self, library[~nan], numpy[~nan], "non-NaN values")
        assert_same_half_bits(self, library[quiet], numpy[quiet], "quiet NaNs")
        signalling = nan & ~quiet
        self.assertTrue(np.any(signalling))
        assert_same_half_bits(self, library[signalling], ref.f16_nan(u[signalling]),
                              "signalling NaNs (documented rule)")
        self.assertTrue(np.all((library[signalling] & U16(0x0200)) != 0))

    def test_from_half_every_pattern_on_every_isa(self):
        every = np.arange(1 << 16, dtype=np.uint32).astype(U16)
        for dtype in HALF:
            expected = ref.widen(every, dtype)
            for isa in ISAS:
                with self.subTest(dtype=dtype, isa=isa):
                    actual = adagrad.from_half(every, dtype=dtype, isa=isa)
                    self.assertEqual(actual.dtype, F32)
                    assert_same_bits(self, actual, expected, "from_half")

    def test_from_half_nans(self):
        # fp16: quiet, sign and payload kept (IEEE conversion). bf16: a
        # plain shift, so a signalling NaN stays signalling.
        h = np.array([0x7C01, 0xFD23, 0x7E00, 0xFFFF], U16)
        out = ref.bits(adagrad.from_half(h, dtype="fp16"))
        self.assertEqual([hex(v) for v in out.tolist()],
                         ["0x7fc02000", "0xffe46000", "0x7fc00000", "0xffffe000"])
        h = np.array([0x7F81, 0xFFC1], U16)
        out = ref.bits(adagrad.from_half(h, dtype="bf16"))
        self.assertEqual([hex(v) for v in out.tolist()], ["0x7f810000", "0xffc10000"])
        # Agreement with NumPy's widening on every non-NaN binary16.
        every = np.arange(1 << 16, dtype=np.uint32).astype(U16)
        finite = ~nan_of(every, "fp16")
        assert_same_bits(self, adagrad.from_half(every, dtype="fp16")[finite],
                         every.view(np.float16).astype(F32)[finite], "non-NaN binary16")

    def test_round_trip_is_exact(self):
        every = np.arange(1 << 16, dtype=np.uint32).astype(U16)
        for dtype in HALF:
            with self.subTest(dtype=dtype):
                back = adagrad.to_half(adagrad.from_half(every, dtype=dtype), dtype=dtype)
                keep = ~nan_of(every, dtype)
                assert_same_half_bits(self, back[keep], every[keep], "round trip")
                # NaNs come back as NaNs, quiet.
                self.assertTrue(np.all(nan_of(back[~keep], dtype)))

    def test_shapes_and_out(self):
        rng = rng_for("shapes")
        for shape in ((), (0,), (5,), (3, 4), (2, 0, 3), (2, 3, 5)):
            x = rng.standard_normal(shape).astype(F32)
            for dtype in HALF:
                with self.subTest(shape=shape, dtype=dtype):
                    h = adagrad.to_half(x, dtype=dtype)
                    self.assertEqual((h.shape, h.dtype), (x.shape, np.dtype(U16)))
                    self.assertTrue(h.flags.c_contiguous)
                    assert_same_half_bits(self, h, ref.round16(x, dtype), "to_half")
                    out = np.full(shape, 0xABCD, U16)
                    self.assertIs(adagrad.to_half(x, dtype=dtype, out=out), out)
                    assert_same_half_bits(self, out, h, "to_half(out=)")
                    back = adagrad.from_half(h, dtype=dtype)
                    self.assertEqual((back.shape, back.dtype), (x.shape, np.dtype(F32)))
                    out32 = np.full(shape, np.nan, F32)
                    self.assertIs(adagrad.from_half(h, dtype=dtype, out=out32), out32)
                    assert_same_bits(self, out32, back, "from_half(out=)")

    def test_read_only_input_is_fine(self):
        x = np.linspace(-3, 3, 11).astype(F32)
        x.setflags(write=False)
        h = adagrad.to_half(x, dtype="bf16")
        h.setflags(write=False)
        assert_same_bits(self, adagrad.from_half(h, dtype="bf16"), ref.bf16_to_f32(h), "from_half")


# ---- The steps -------------------------------------------------------------------

def library_mixed(w, w_dtype, g, g_dtype, G, mixed, **kwargs):
    """step_mixed on copies; returns the new (w, G)."""
    w, G = w.copy(), G.copy()
    adagrad.step_mixed(w, g, G, w_dtype=w_dtype, g_dtype=g_dtype, **mixed, **kwargs)
    return w, G


def library_master(w, g, g_dtype, G, copy_dtype, mixed, **kwargs):
    """step_master on copies; returns the new (w, G, copy)."""
    w, G = w.copy(), G.copy()
    copy = None if copy_dtype is None else np.full(w.shape, 0xDEAD, U16)
    adagrad.step_master(w, g, G, g_dtype=g_dtype, copy=copy, copy_dtype=copy_dtype, **mixed,
                        **kwargs)
    return w, G, copy


def mixed_options(rounding, grad_scale, hyper_name, step, seed=2024):
    return dict(rounding=rounding, seed=seed, grad_scale=grad_scale, step=step,
                **HYPERPARAMETERS[hyper_name])


class StepMixedTest(unittest.TestCase):
    def test_matches_numpy(self):
        for w_dtype in HALF:
            for g_dtype in G_DTYPES:
                for rounding in ROUNDINGS:
                    for grad_scale in GRAD_SCALES:
                        for hyper_name in HYPERPARAMETERS:
                            for shape in SHAPES:
                                self.run_against_reference(w_dtype, g_dtype, rounding, grad_scale,
                                                           hyper_name, shape)

    def run_against_reference(self, w_dtype, g_dtype, rounding, grad_scale, hyper_name, shape):
        rng = rng_for(w_dtype, g_dtype, rounding, grad_scale, hyper_name, shape)
        w = random_half(rng, shape, w_dtype)
        G = (rng.random(shape) * 0.5).astype(F32)
        expected_w, expected_G = w.copy(), G.copy()
        for step in range(1, STEPS + 1):
            g = random_half(rng, shape, g_dtype, scale=grad_scale)
            mixed = mixed_options(rounding, grad_scale, hyper_name, step)
            adagrad.step_mixed(w, g, G, w_dtype=w_dtype, g_dtype=g_dtype, **mixed)
            expected_w, expected_G = ref.step_mixed(expected_w, w_dtype, g, g_dtype, expected_G,
                                                    ref.Mixed(**mixed))
            with self.subTest(w_dtype=w_dtype, g_dtype=g_dtype, rounding=rounding,
                              grad_scale=grad_scale, hyper=hyper_name, shape=shape, step=step):
                assert_same_half_bits(self, w, expected_w, "w")
                assert_same_bits(self, G, expected_G, "G")

    def test_every_isa_gives_the_same_bits(self):
        # Special values included: every path's bits equal the scalar
        # reference's exactly, NaNs too (the library's contract).
        for w_dtype in HALF:
            for g_dtype in G_DTYPES:
                for rounding in ROUNDINGS:
                    for shape in SHAPES:
                        rng = rng_for("isa", w_dtype, g_dtype, rounding, shape)
                        w = with_specials(random_half(rng, shape, w_dtype), w_dtype)
                        g = with_specials(random_half(rng, shape, g_dtype, 64.0), g_dtype)[::-1]
                        g = np.ascontiguousarray(g)
                        G = (rng.random(shape) * 0.5).astype(F32)
                        mixed = mixed_options(rounding, 64.0, "decay_maximize_inside", 5)
                        scalar = library_mixed(w, w_dtype, g, g_dtype, G, mixed, isa="scalar")
                        for isa in ISAS:
                            with self.subTest(w_dtype=w_dtype, g_dtype=g_dtype, rounding=rounding,
                                              shape=shape, isa=isa):
                                w1, G1 = library_mixed(w, w_dtype, g, g_dtype, G, mixed, isa=isa)
                                assert_same_half_bits(self, w1, scalar[0], "w")
                                assert_same_bits(self, G1, scalar[1], "G")

    def test_special_values_match_numpy(self):
        for w_dtype in HALF:
            for g_dtype in G_DTYPES:
                for rounding in ROUNDINGS:
                    for hyper_name in ("default", "fma"):
                        specials = special_floats()
                        n = specials.size
                        # Every special weight with every special gradient.
                        w_float = np.repeat(specials, n)
                        g_float = np.tile(specials, n)
                        w = ref.round16(w_float, w_dtype)
                        g = g_float if g_dtype == "f32" else ref.round16(g_float, g_dtype)
                        G = np.tile(np.array([0.0, 1e-30, 1.0, 3e38], F32), n * n // 4 + 1)[:n * n]
                        mixed = mixed_options(rounding, 1.0, hyper_name, 2)
                        actual = library_mixed(w, w_dtype, g, g_dtype, G, mixed)
                        expected = ref.step_mixed(w, w_dtype, g, g_dtype, G, ref.Mixed(**mixed))
                        with self.subTest(w_dtype=w_dtype, g_dtype=g_dtype, rounding=rounding,
                                          hyper=hyper_name):
                            assert_same_bits_nan(self, actual[0], expected[0], w_dtype, "w")
                            assert_same_bits_nan(self, actual[1], expected[1], "f32", "G")

    def test_a_nan_weight_keeps_its_sign_and_payload(self):
        # g = 0 and G = 0: the update is 0 and w - 0 is w's NaN, quiet; the
        # 16-bit result is that NaN by the documented rule.
        cases = {"bf16": [0x7F81, 0xFFA5, 0x7FC3], "fp16": [0x7C01, 0xFD23, 0x7E07]}
        for w_dtype, patterns in cases.items():
            for rounding in ROUNDINGS:
                w = np.array(patterns, U16)
                g, G = np.zeros(3, F32), np.zeros(3, F32)
                adagrad.step_mixed(w, g, G, w_dtype=w_dtype, g_dtype="f32", rounding=rounding,
                                   step=1)
                quiet = ref.bits(ref.widen(np.array(patterns, U16), w_dtype)) | np.uint32(0x400000)
                expected = ref.round16(ref.from_bits(quiet), w_dtype)
                with self.subTest(w_dtype=w_dtype, rounding=rounding):
                    assert_same_half_bits(self, w, expected, "w")
                    self.assertEqual(w.tolist(), [p | (0x40 if w_dtype == "bf16" else 0x200)
                                                  for p in patterns])

    def test_seed_and_step_key_the_rounding(self):
        rng = rng_for("keys")
        w = random_half(rng, 4096, "bf16")
        g = random_half(rng, 4096, "f32")
        G = np.ones(4096, F32)
        results = {}
        for seed, step in ((0, 1), (0, 1), (1, 1), (0, 2), (2 ** 64 - 1, 1)):
            mixed = dict(rounding="stochastic", seed=seed, step=step, lr=0.01)
            results.setdefault((seed, step), []).append(
                library_mixed(w, "bf16", g, "f32", G, mixed)[0])
        first, again = results[(0, 1)]
        assert_same_half_bits(self, again, first, "same seed and step")
        for key in ((1, 1), (0, 2), (2 ** 64 - 1, 1)):
            with self.subTest(seed_step=key):
                self.assertGreater(np.count_nonzero(results[key][0] != first), 100)
        # Nearest-even ignores the seed.
        nearest = [library_mixed(w, "bf16", g, "f32", G, dict(seed=s))[0] for s in (0, 99)]
        assert_same_half_bits(self, nearest[1], nearest[0], "nearest, seeds 0 and 99")

    def test_empty_is_a_no_op(self):
        for w_dtype in HALF:
            adagrad.step_mixed(np.empty(0, U16), np.empty(0, F32), np.empty(0, F32),
                               w_dtype=w_dtype, g_dtype="f32", rounding="stochastic", step=1)
            adagrad.step_mixed(np.empty((3, 0), U16), np.empty((3, 0), U16),
                               np.empty((3, 0), F32), w_dtype=w_dtype, g_dtype="bf16")

    def test_read_only_gradient_is_fine(self):
        g = np.ones(5, U16)
        g.setflags(write=False)
        adagrad.step_mixed(np.ones(5, U16), g, np.zeros(5, F32), w_dtype="fp16", g_dtype="fp16")


class StepMasterTest(unittest.TestCase):
    def test_matches_numpy(self):
        for g_dtype in G_DTYPES:
            for copy_dtype in (None,) + HALF:
                for rounding in ROUNDINGS:
                    for grad_scale in GRAD_SCALES:
                        for hyper_name in HYPERPARAMETERS:
                            for shape in SHAPES[::2]:
                                self.run_against_reference(g_dtype, copy_dtype, rounding,
                                                           grad_scale, hyper_name, shape)

    def run_against_reference(self, g_dtype, copy_dtype, rounding, grad_scale, hyper_name, shape):
        rng = rng_for("master", g_dtype, copy_dtype, rounding, grad_scale, hyper_name, shape)
        w = rng.standard_normal(shape).astype(F32)
        G = (rng.random(shape) * 0.5).astype(F32)
        expected_w, expected_G = w.copy(), G.copy()
        for step in range(1, STEPS + 1):
            g = random_half(rng, shape, g_dtype, scale=grad_scale)
            mixed = mixed_options(rounding, grad_scale, hyper_name, step)
            copy = None if copy_dtype is None else np.zeros(shape, U16)
            adagrad.step_master(w, g, G, g_dtype=g_dtype, copy=copy, copy_dtype=copy_dtype,
                                **mixed)
            expected_w, expected_G, expected_copy = ref.step_master(
                expected_w, g, g_dtype, expected_G, copy_dtype, ref.Mixed(**mixed))
            with self.subTest(g_dtype=g_dtype, copy_dtype=copy_dtype, rounding=rounding,
                              grad_scale=grad_scale, hyper=hyper_name, shape=shape, step=step):
                assert_same_bits(self, w, expected_w, "w")
                assert_same_bits(self, G, expected_G, "G")
                if copy is not None:
                    assert_same_half_bits(self, copy, expected_copy, "copy")

    def test_equals_step_for_float32_gradients(self):
        rng = rng_for("master equals step")
        w = rng.standard_normal((9, 31)).astype(F32)
        g = rng.standard_normal((9, 31)).astype(F32)
        G = rng.random((9, 31)).astype(F32)
        for hyper_name, hyper in HYPERPARAMETERS.items():
            with self.subTest(hyper=hyper_name):
                w1, G1 = w.copy(), G.copy()
                adagrad.step(w1, g, G1, **hyper)
                w2, G2, copy = library_master(w, g, "f32", G, "bf16", hyper)
                assert_same_bits(self, w2, w1, "w")
                assert_same_bits(self, G2, G1, "G")
                # The copy is the new weights rounded, as to_half rounds them.
                assert_same_half_bits(self, copy, adagrad.to_half(w1, dtype="bf16"), "copy")

    def test_every_isa_gives_the_same_bits(self):
        for g_dtype in G_DTYPES:
            for copy_dtype in (None,) + HALF:
                for rounding in ROUNDINGS:
                    for shape in SHAPES:
                        rng = rng_for("master isa", g_dtype, copy_dtype, rounding, shape)
                        w = with_specials(rng.standard_normal(shape).astype(F32), "f32")
                        g = np.ascontiguousarray(
                            with_specials(random_half(rng, shape, g_dtype, 3.0), g_dtype)[::-1])
                        G = (rng.random(shape) * 0.5).astype(F32)
                        mixed = mixed_options(rounding, 3.0, "fma", 4)
                        scalar = library_master(w, g, g_dtype, G, copy_dtype, mixed,
                                                isa="scalar")
                        for isa in ISAS:
                            with self.subTest(g_dtype=g_dtype, copy_dtype=copy_dtype,
                                              rounding=rounding, shape=shape, isa=isa):
                                actual = library_master(w, g, g_dtype, G, copy_dtype, mixed,
                                                        isa=isa)
                                assert_same_bits(self, actual[0], scalar[0], "w")
                                assert_same_bits(self, actual[1], scalar[1], "G")
                                if copy_dtype is not None:
                                    assert_same_half_bits(self, actual[2], scalar[2], "copy")

    def test_stochastic_rounding_of_every_kind_of_value(self):
        # lr = 0 leaves w as it is (w - 0), so the copy is w rounded
        # stochastically: every rounding boundary of both formats, float32
        # subnormals, overflow, NaN payloads, against the reference on every
        # ISA.
        x = float_patterns()
        zeros = np.zeros_like(x)
        for copy_dtype in HALF:
            mixed = dict(lr=0.0, rounding="stochastic", seed=77, step=3)
            expected = ref.step_master(x, zeros, "f32", zeros, copy_dtype, ref.Mixed(**mixed))
            for isa in ISAS:
                with self.subTest(copy_dtype=copy_dtype, isa=isa):
                    w, G, copy = library_master(x, zeros, "f32", zeros, copy_dtype, mixed, isa=isa)
                    assert_same_bits(self, w, expected[0], "w")
                    assert_same_half_bits(self, copy, expected[2], "copy")

    def test_stochastic_rounding_is_unbiased(self):
        # A quarter of an ulp above a representable value rounds up a quarter
        # of the time (and away from zero for negative values). 100000 draws:
        # the standard deviation of the count is 137; 5 of them allowed.
        n = 100_000
        cases = {"bf16": [(1.0 + 2.0 ** -9, 0x3F80, 0x3F81), (-(1.0 + 2.0 ** -9), 0xBF80, 0xBF81)],
                 "fp16": [(1.0 + 2.0 ** -12, 0x3C00, 0x3C01), (-(2.0 ** -26), 0x8000, 0x8001)]}
        for copy_dtype, values in cases.items():
            for value, down, up in values:
                with self.subTest(copy_dtype=copy_dtype, value=value):
                    w = np.full(n, value, F32)
                    _, _, copy = library_master(w, np.zeros(n, F32), "f32", np.zeros(n, F32),
                                                copy_dtype,
                                                dict(lr=0.0, rounding="stochastic", step=1))
                    self.assertEqual(set(copy.tolist()), {down, up})
                    self.assertLess(abs(np.count_nonzero(copy == up) - n // 4), 5 * 137)


class ThreadsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.pools = {"pool of 2": adagrad.ThreadPool(2), "pool of 3": adagrad.ThreadPool(3)}

    def places(self):
        yield "threads=2", dict(threads=2)
        yield "threads=3", dict(threads=3)
        for name, pool in self.pools.items():
            yield name, dict(pool=pool)

    def test_stochastic_rounding_same_bits_for_every_thread_count(self):
        rng = rng_for("threads")
        for w_dtype in HALF:
            for g_dtype in ("f32", w_dtype):
                w = random_half(rng, THREADED_N, w_dtype)
                g = random_half(rng, THREADED_N, g_dtype, 8.0)
                G = rng.random(THREADED_N).astype(F32)
                mixed = mixed_options("stochastic", 8.0, "decay_maximize_inside", 9)
                one = library_mixed(w, w_dtype, g, g_dtype, G, mixed, threads=1)
                expected = ref.step_mixed(w, w_dtype, g, g_dtype, G, ref.Mixed(**mixed))
                assert_same_half_bits(self, one[0], expected[0], "w, one thread")
                for place, where in self.places():
                    for isa in (None, "scalar"):
                        with self.subTest(w_dtype=w_dtype, g_dtype=g_dtype, place=place, isa=isa):
                            w1, G1 = library_mixed(w, w_dtype, g, g_dtype, G, mixed, isa=isa,
                                                   **where)
                            assert_same_half_bits(self, w1, one[0], "w")
                            assert_same_bits(self, G1, one[1], "G")

    def test_master_copy_same_bits_for_every_thread_count(self):
        rng = rng_for("master threads")
        w = rng.standard_normal(THREADED_N).astype(F32)
        g = random_half(rng, THREADED_N, "bf16")
        G = rng.random(THREADED_N).astype(F32)
        for copy_dtype in HALF:
            mixed = mixed_options("stochastic", 1.0, "fma", 2)
            one = library_master(w, g, "bf16", G, copy_dtype, mixed)
            for place, where in self.places():
                with self.subTest(copy_dtype=copy_dtype, place=place):
                    actual = library_master(w, g, "bf16", G, copy_dtype, mixed, **where)
                    assert_same_bits(self, actual[0], one[0], "w")
                    assert_same_bits(self, actual[1], one[1], "G")
                    assert_same_half_bits(self, actual[2], one[2], "copy")


# ---- AMP: found_inf and the unscale pass -------------------------------------

class FoundInfTest(unittest.TestCase):
    def arrays(self):
        rng = rng_for("found_inf")
        return (random_half(rng, 100, "bf16"), random_half(rng, 100, "bf16"),
                rng.random(100).astype(F32))

    def test_nonzero_skips_the_step(self):
        w, g, G = self.arrays()
        for value in (1.0, -2.0, np.inf, np.nan, 1e-45):
            for found_inf in (np.array(value, F32), np.full(1, value, F32),
                              np.full((1, 1), value, F32)):
                with self.subTest(value=value, shape=found_inf.shape):
                    flag = found_inf.copy()
                    w1, G1 = library_mixed(w, "bf16", g, "bf16", G, dict(found_inf=found_inf))
                    assert_same_half_bits(self, w1, w, "w")
                    assert_same_bits(self, G1, G, "G")
                    assert_same_bits(self, found_inf, flag, "found_inf (only read)")
                    m = library_master(ref.widen(w, "bf16"), g, "bf16", G, "fp16",
                                       dict(found_inf=found_inf))
                    assert_same_bits(self, m[0], ref.widen(w, "bf16"), "master w")
                    assert_same_bits(self, m[1], G, "master G")
                    self.assertTrue(np.all(m[2] == 0xDEAD), "copy written by a skipped step")

    def test_zero_runs_the_step(self):
        w, g, G = self.arrays()
        expected = library_mixed(w, "bf16", g, "bf16", G, {})
        for value in (0.0, -0.0):
            found_inf = np.array(value, F32)
            found_inf.setflags(write=False)
            with self.subTest(value=value):
                actual = library_mixed(w, "bf16", g, "bf16", G, dict(found_inf=found_inf))
                assert_same_half_bits(self, actual[0], expected[0], "w")
                assert_same_bits(self, actual[1], expected[1], "G")

    def test_skipped_step_still_checks_its_arguments(self):
        w, g, G = self.arrays()
        with self.assertRaises(ValueError):
            adagrad.step_mixed(w, g, G, w_dtype="bf16", g_dtype="bf16", lr=-1.0,
                               found_inf=np.ones(1, F32))

    def test_amp_loop(self):
        # Scaled fp16 gradients: unscale_check finds the overflow, the step
        # is skipped; the next, finite, is taken.
        rng = rng_for("amp")
        w = random_half(rng, 64, "fp16")
        G = np.zeros(64, F32)
        scale = 1024.0
        bad = ref.round16((rng.standard_normal(64) * scale).astype(F32), "fp16")
        bad[17] = 0x7C00  # overflowed to infinity
        good = ref.round16((rng.standard_normal(64) * scale).astype(F32), "fp16")
        for g, skipped in ((bad, True), (good, False)):
            found_inf = np.zeros(1, F32)
            g = g.copy()
            expected_g, found = ref.unscale_check(g, "fp16", 1.0 / scale)
            adagrad.unscale_check(g, found_inf, dtype="fp16", inv_scale=1.0 / scale)
            assert_same_half_bits(self, g, expected_g, "unscaled g")
            self.assertEqual(found_inf[0], 1.0 if skipped else 0.0)
            self.assertEqual(found, skipped)
            before = w.copy(), G.copy()
            adagrad.step_mixed(w, g, G, w_dtype="fp16", g_dtype="fp16", found_inf=found_inf)
            self.assertEqual(np.array_equal(w, before[0]) and np.array_equal(G, before[1]),
                             skipped)


class UnscaleCheckTest(unittest.TestCase):
    def test_matches_numpy_on_every_isa(self):
        for dtype in G_DTYPES:
            for inv_scale in (1.0 / 65536, 1.0 / 3, 0.0, 2.5):
                for shape in SHAPES:
                    for special in (False, True):
                        rng = rng_for("unscale", dtype, inv_scale, shape, special)
                        g0 = random_half(rng, shape, dtype, 1000.0)
                        if special:
                            g0 = with_specials(g0, dtype)
                        expected, found = ref.unscale_check(g0, dtype, inv_scale)
                        scalar = g0.copy()
                        adagrad.unscale_check(scalar, np.zeros(1, F32), dtype=dtype,
                                              inv_scale=inv_scale, isa="scalar")
                        for isa in ISAS:
                            g, flag = g0.copy(), np.zeros(1, F32)
                            adagrad.unscale_check(g, flag, dtype=dtype, inv_scale=inv_scale,
                                                  isa=isa)
                            with self.subTest(dtype=dtype, inv_scale=inv_scale, shape=shape,
                                              special=special, isa=isa):
                                assert_same_bits_nan(self, g, expected, dtype, "g")
                                self.assertEqual(float(flag[0]), 1.0 if found else 0.0)
                                # Every ISA: the scalar path's bits, NaNs too.
                                if dtype == "f32":
                                    assert_same_bits(self, g, scalar, "g vs scalar")
                                else:
                                    assert_same_half_bits(self, g, scalar, "g vs scalar")

    def test_found_inf_is_never_cleared(self):
        g = np.ones(10, F32)
        for start in (0.0, 2.0, np.inf):
            flag = np.array(start, F32)
            adagrad.unscale_check(g, flag, dtype="f32", inv_scale=1.0)
            self.assertEqual(float(flag), start)
        # One flag collects several gradients.
        flag = np.zeros(1, F32)
        bad = np.array([1, 2, 0x7E00], U16)  # a binary16 NaN
        adagrad.unscale_check(bad, flag, dtype="fp16", inv_scale=0.5)
        adagrad.unscale_check(np.ones(3, F32), flag, dtype="f32", inv_scale=0.5)
        self.assertEqual(flag[0], 1.0)

    def test_every_kind_of_non_finite_is_found(self):
        for dtype, patterns in (("f32", None), ("bf16", [0x7F80, 0xFF80, 0x7FC0, 0x7F81]),
                                ("fp16", [0x7C00, 0xFC00, 0x7E00, 0x7C01])):
            values = ([np.inf, -np.inf, np.nan] if dtype == "f32" else patterns)
            for value in values:
                with self.subTest(dtype=dtype, value=value):
                    g = (np.ones(37, F32) if dtype == "f32" else np.full(37, 0x3C00, U16))
                    g[29] = value
                    flag = np.zeros(1, F32)
                    adagrad.unscale_check(g, flag, dtype=dtype, inv_scale=1.0)
                    self.assertEqual(flag[0], 1.0)

    def test_empty(self):
        flag = np.zeros(1, F32)
        adagrad.unscale_check(np.empty(0, U16), flag, dtype="bf16", inv_scale=0.5)
        self.assertEqual(flag[0], 0.0)


# ---- Errors ----------------------------------------------------------------------

def snapshot(values):
    return [np.array(v, copy=True) if isinstance(v, np.ndarray) else None for v in values]


class MixedErrorTest(unittest.TestCase):
    """Every invalid argument raises the right exception naming it, and no
    array changes (compared by their bytes)."""

    def assertRejected(self, error, argument, function, *args, **kwargs):
        arrays = list(args) + [v for v in kwargs.values() if isinstance(v, np.ndarray)]
        before = snapshot(arrays)
        with self.assertRaises(error) as raised:
            function(*args, **kwargs)
        self.assertIn(argument, str(raised.exception))
        for index, (array, copy) in enumerate(zip(arrays, before)):
            if copy is not None:
                self.assertEqual(array.tobytes(), copy.tobytes(), "array %d changed" % index)

    def mixed_arrays(self, n=6, g_dtype="bf16"):
        rng = rng_for("error arrays", n, g_dtype)
        return (random_half(rng, n, "bf16"), random_half(rng, n, g_dtype),
                rng.random(n).astype(F32))

    def master_arrays(self, n=6):
        rng = rng_for("error master", n)
        return (rng.standard_normal(n).astype(F32), random_half(rng, n, "fp16"),
                rng.random(n).astype(F32), np.zeros(n, U16))

    def mixed(self, error, argument, w, g, G, **kwargs):
        kwargs = {"w_dtype": "bf16", "g_dtype": "bf16", **kwargs}
        self.assertRejected(error, argument, adagrad.step_mixed, w, g, G, **kwargs)

    def master(self, error, argument, w, g, G, **kwargs):
        kwargs = {"g_dtype": "fp16", **kwargs}
        self.assertRejected(error, argument, adagrad.step_master, w, g, G, **kwargs)

    def test_valid_arrays_are_accepted(self):
        adagrad.step_mixed(*self.mixed_arrays(), w_dtype="bf16", g_dtype="bf16")
        w, g, G, copy = self.master_arrays()
        adagrad.step_master(w, g, G, g_dtype="fp16", copy=copy, copy_dtype="bf16")

    def test_dtype_strings(self):
        w, g, G = self.mixed_arrays()
        for bad in ("f32", "bfloat16", "float16", "BF16", "f16", ""):
            self.mixed(ValueError, "w_dtype", w, g, G, w_dtype=bad)
        for bad in ("f64", "float32", "fp32", "int8"):
            self.mixed(ValueError, "g_dtype", w, g, G, g_dtype=bad)
        self.mixed(TypeError, "w_dtype", w, g, G, w_dtype=np.uint16)
        self.mixed(TypeError, "g_dtype", w, g, G, g_dtype=None)
        mw, mg, mG, copy = self.master_arrays()
        self.master(ValueError, "g_dtype", mw, mg, mG, g_dtype="half")
        self.master(ValueError, "copy_dtype", mw, mg, mG, copy=copy, copy_dtype="f32")
        self.master(TypeError, "copy_dtype", mw, mg, mG, copy=copy, copy_dtype=2)
        # A copy without its dtype: a uint16 array could be either format.
        self.master(ValueError, "copy_dtype", mw, mg, mG, copy=copy)
        # copy_dtype without a copy is ignored, but must still be a name.
        adagrad.step_master(mw, mg, mG, g_dtype="fp16", copy_dtype="bf16")
        self.master(ValueError, "copy_dtype", mw, mg, mG, copy_dtype="f32")
        x = np.ones(4, F32)
        self.assertRejected(ValueError, "dtype", adagrad.to_half, x, dtype="f32")
        self.assertRejected(ValueError, "dtype", adagrad.from_half, np.ones(4, U16), dtype="f32")
        self.assertRejected(ValueError, "dtype", adagrad.unscale_check, x, np.zeros(1, F32),
                            dtype="f64", inv_scale=1.0)

    def test_dtypes_are_required(self):
        w, g, G = self.mixed_arrays()
        for missing in ("w_dtype", "g_dtype"):
            kwargs = {"w_dtype": "bf16", "g_dtype": "bf16"}
            del kwargs[missing]
            self.assertRejected(TypeError, missing, adagrad.step_mixed, w, g, G, **kwargs)
        mw, mg, mG, _ = self.master_arrays()
        self.assertRejected(TypeError, "g_dtype", adagrad.step_master, mw, mg, mG)
        self.assertRejected(TypeError, "dtype", adagrad.to_half, np.ones(3, F32))
        self.assertRejected(TypeError, "dtype", adagrad.from_half, np.ones(3, U16))
        self.assertRejected(TypeError, "inv_scale", adagrad.unscale_check, np.ones(3, F32),
                            np.zeros(1, F32), dtype="f32")

    def test_wrong_array_dtypes(self):
        w, g, G = self.mixed_arrays()
        self.mixed(TypeError, "w", w.astype(F32), g, G)
        self.mixed(TypeError, "w", w.astype(np.int16), g, G)
        self.mixed(TypeError, "w", w.astype(">u2"), g, G)  # byte-swapped
        self.mixed(TypeError, "w.view(numpy.uint16)", w.view(np.float16), g, G, w_dtype="fp16")
        self.mixed(TypeError, "g", w, g.astype(F32), G)  # g_dtype says bf16
        self.mixed(TypeError, "g", w, g, G, g_dtype="f32")  # uint16 where float32 is meant
        self.mixed(TypeError, "g", w, ref.widen(g, "bf16").astype(np.float64), G, g_dtype="f32")
        self.mixed(TypeError, "G", w, g, G.astype(np.float64))
        self.mixed(TypeError, "G", w, g, G.astype(np.float16))
        self.mixed(TypeError, "w", list(w), g, G)
        self.mixed(TypeError, "G", w, g, None)
        mw, mg, mG, copy = self.master_arrays()
        self.master(TypeError, "w", mw.astype(np.float64), mg, mG)
        self.master(TypeError, "w", copy, mg, mG)
        self.master(TypeError, "g", mw, mg.view(np.float16), mG)
        self.master(TypeError, "copy", mw, mg, mG, copy=copy.astype(F32), copy_dtype="bf16")
        self.master(TypeError, "copy", mw, mg, mG, copy=copy.tolist(), copy_dtype="bf16")

    def test_found_inf(self):
        w, g, G = self.mixed_arrays()
        self.mixed(TypeError, "found_inf", w, g, G, found_inf=np.zeros(1, np.float64))
        self.mixed(TypeError, "found_inf", w, g, G, found_inf=0.0)
        self.mixed(TypeError, "found_inf", w, g, G, found_inf=[0.0])
        self.mixed(ValueError, "found_inf", w, g, G, found_inf=np.zeros(2, F32))
        self.mixed(ValueError, "found_inf", w, g, G, found_inf=np.zeros(0, F32))
        self.mixed(ValueError, "found_inf", w, g, G, found_inf=misaligned(F32, 1))
        mw, mg, mG, _ = self.master_arrays()
        self.master(ValueError, "found_inf", mw, mg, mG, found_inf=np.zeros((1, 2), F32))
        x = np.ones(4, F32)
        read_only = np.zeros(1, F32)
        read_only.setflags(write=False)
        for bad, error in ((read_only, ValueError), (np.zeros(2, F32), ValueError),
                           (np.zeros(1, np.float64), TypeError), (None, TypeError),
                           (misaligned(F32, 1), ValueError)):
            self.assertRejected(error, "found_inf", adagrad.unscale_check, x, bad, dtype="f32",
                                inv_scale=0.5)
        # found_inf inside g.
        shared = np.ones(5, F32)
        self.assertRejected(ValueError, "g and found_inf", adagrad.unscale_check, shared,
                            shared[2:3], dtype="f32", inv_scale=0.5)

    def test_shapes(self):
        w, g, G = self.mixed_arrays(n=6)
        self.mixed(ValueError, "g", w, g[:5], G)
        self.mixed(ValueError, "G", w, g, G.reshape(2, 3))
        self.mixed(ValueError, "G", w.reshape(2, 3), g.reshape(2, 3), G.reshape(3, 2))
        mw, mg, mG, copy = self.master_arrays(n=6)
        self.master(ValueError, "copy", mw, mg, mG, copy=copy[:5], copy_dtype="bf16")
        self.master(ValueError, "G", mw, mg, mG[:5])
        x = np.ones(6, F32)
        self.assertRejected(ValueError, "out", adagrad.to_half, x, dtype="bf16",
                            out=np.zeros(5, U16))
        self.assertRejected(ValueError, "out", adagrad.from_half, np.ones((2, 3), U16),
                            dtype="bf16", out=np.zeros(6, F32))
        self.assertRejected(TypeError, "out", adagrad.to_half, x, dtype="bf16",
                            out=np.zeros(6, np.int16))
        self.assertRejected(TypeError, "out", adagrad.from_half, np.ones(6, U16), dtype="fp16",
                            out=np.zeros(6, np.float64))

    def test_layout(self):
        w, g, G = self.mixed_arrays(n=12)
        self.mixed(ValueError, "w", w[::2], g[:6], G[:6])
        self.mixed(ValueError, "g", w[:6], g[::2], G[:6])
        self.mixed(ValueError, "G", w[:6], g[:6], G[::2])
        self.mixed(ValueError, "w", misaligned(U16, 12), g, G)
        self.mixed(ValueError, "G", w, g, misaligned(F32, 12))
        for name in ("w", "G"):
            w, g, G = self.mixed_arrays()
            {"w": w, "G": G}[name].setflags(write=False)
            self.mixed(ValueError, name, w, g, G)
        mw, mg, mG, copy = self.master_arrays()
        copy.setflags(write=False)
        self.master(ValueError, "copy", mw, mg, mG, copy=copy, copy_dtype="fp16")
        self.master(ValueError, "copy", mw, mg, mG, copy=misaligned(U16, 6), copy_dtype="fp16")
        read_only = np.ones(3, F32)
        read_only.setflags(write=False)
        self.assertRejected(ValueError, "g", adagrad.unscale_check, read_only, np.zeros(1, F32),
                            dtype="f32", inv_scale=1.0)
        self.assertRejected(ValueError, "x", adagrad.to_half, np.ones(8, F32)[::2], dtype="bf16")
        self.assertRejected(ValueError, "out", adagrad.to_half, np.ones(4, F32), dtype="bf16",
                            out=np.zeros(8, U16)[::2])
        self.assertRejected(ValueError, "out", adagrad.from_half, np.ones(4, U16), dtype="bf16",
                            out=np.ones(8, F32)[::2])

    def test_overlap(self):
        # One buffer seen as uint16 and as float32.
        raw = np.zeros(64, np.uint8)
        as16, as32 = raw.view(U16), raw.view(F32)
        g = np.zeros(6, U16)
        self.mixed(ValueError, "w and G", as16[:6], g, as32[2:8])
        self.mixed(ValueError, "w and g", as16[:6], as16[5:11], as32[8:14])
        self.mixed(ValueError, "g and G", as16[:6], as16[20:26], as32[5:11])
        self.mixed(ValueError, "w and g", as16[:6], as16[:6], as32[8:14])
        self.mixed(ValueError, "w and G", as16[:6], as32[4:10], as32[2:8], g_dtype="f32")
        mw, mg, mG, copy = self.master_arrays()
        self.master(ValueError, "w and copy", as32[:6], mg, mG, copy=as16[11:17],
                    copy_dtype="bf16")
        self.master(ValueError, "g and copy", mw, as16[:6], mG, copy=as16[5:11],
                    copy_dtype="bf16")
        self.master(ValueError, "G and copy", mw, mg, as32[:6], copy=as16[4:10],
                    copy_dtype="bf16")
        self.assertRejected(ValueError, "x and out", adagrad.to_half, as32[:6], dtype="bf16",
                            out=as16[11:17])
        self.assertRejected(ValueError, "h and out", adagrad.from_half, as16[:6], dtype="bf16",
                            out=as32[:6])

    def test_grad_scale(self):
        w, g, G = self.mixed_arrays()
        mw, mg, mG, copy = self.master_arrays()
        for bad in (0.0, -0.0, -1.0, float("nan"), float("inf"), 1e-50, 1e39):
            with self.subTest(grad_scale=bad):
                self.mixed(ValueError, "grad_scale", w, g, G, grad_scale=bad)
                self.master(ValueError, "grad_scale", mw, mg, mG, copy=copy, copy_dtype="bf16",
                            grad_scale=bad)
        self.mixed(TypeError, "grad_scale", w, g, G, grad_scale="2")
        self.mixed(TypeError, "grad_scale", w, g, G, grad_scale=None)

    def test_rounding_and_seed(self):
        w, g, G = self.mixed_arrays()
        for bad in ("up", "Nearest", "nearest-even", ""):
            self.mixed(ValueError, "rounding", w, g, G, rounding=bad)
        self.mixed(TypeError, "rounding", w, g, G, rounding=None)
        self.mixed(TypeError, "rounding", w, g, G, rounding=1)
        self.mixed(ValueError, "seed", w, g, G, seed=-1)
        self.mixed(ValueError, "seed", w, g, G, seed=2 ** 64)
        self.mixed(TypeError, "seed", w, g, G, seed=1.5)
        self.mixed(TypeError, "seed", w, g, G, seed="1")

    def test_stochastic_rounding_needs_a_step(self):
        # Without step= every call would draw the same random bits.
        w, g, G = self.mixed_arrays()
        self.mixed(ValueError, "step must be given", w, g, G, rounding="stochastic")
        self.mixed(ValueError, "step must be given", w, g, G, rounding="stochastic", seed=5)
        self.mixed(ValueError, "step must be given", w, g, G, rounding="stochastic",
                   step=None)
        self.mixed(ValueError, "step", w, g, G, rounding="stochastic", step=0, lr_decay=0.1)
        self.mixed(TypeError, "step", w, g, G, rounding="stochastic", step=1.0)
        mw, mg, mG, copy = self.master_arrays()
        self.master(ValueError, "step must be given", mw, mg, mG, copy=copy, copy_dtype="bf16",
                    rounding="stochastic")
        # Nearest-even rounding draws no random bits: step defaults to 1, as
        # for adagrad.step, and a given one is that.
        expected = library_mixed(w, "bf16", g, "bf16", G, dict(step=1))
        actual = library_mixed(w, "bf16", g, "bf16", G, {})
        assert_same_half_bits(self, actual[0], expected[0], "w")
        adagrad.step_mixed(w.copy(), g, G.copy(), w_dtype="bf16", g_dtype="bf16", step=None)

    def test_hyperparameters(self):
        w, g, G = self.mixed_arrays()
        mw, mg, mG, copy = self.master_arrays()
        for name, value in (("lr", -0.1), ("eps", float("nan")), ("weight_decay", float("inf")),
                            ("lr_decay", -1.0), ("lr", 1e39)):
            with self.subTest(name=name, value=value):
                self.mixed(ValueError, name, w, g, G, **{name: value})
                self.master(ValueError, name, mw, mg, mG, copy=copy, copy_dtype="fp16",
                            **{name: value})
        self.mixed(ValueError, "step", w, g, G, lr_decay=0.1, step=0)
        self.master(ValueError, "step", mw, mg, mG, lr_decay=0.1, step=0)
        self.mixed(TypeError, "maximize", w, g, G, maximize=1)
        self.mixed(ValueError, "eps_mode", w, g, G, eps_mode="middle")
        self.assertRejected(ValueError, "inv_scale", adagrad.unscale_check, np.ones(3, F32),
                            np.zeros(1, F32), dtype="f32", inv_scale=-1.0)
        for bad in (float("nan"), float("inf"), 1e39):
            self.assertRejected(ValueError, "inv_scale", adagrad.unscale_check,
                                np.ones(3, U16), np.zeros(1, F32), dtype="bf16", inv_scale=bad)
        self.assertRejected(TypeError, "inv_scale", adagrad.unscale_check, np.ones(3, U16),
                            np.zeros(1, F32), dtype="bf16", inv_scale="1")

    def test_threads_pool_isa(self):
        w, g, G = self.mixed_arrays()
        self.mixed(ValueError, "threads", w, g, G, threads=0)
        self.mixed(TypeError, "threads", w, g, G, threads=True)
        self.mixed(TypeError, "pool", w, g, G, pool=2)
        self.mixed(ValueError, "threads and pool", w, g, G, threads=2,
                   pool=adagrad.ThreadPool(2))
        self.mixed(ValueError, "isa", w, g, G, isa="mmx")
        self.mixed(TypeError, "isa", w, g, G, isa=0)
        mw, mg, mG, _ = self.master_arrays()
        self.master(ValueError, "isa", mw, mg, mG, isa="AVX")
        unsupported = [name for name in ALL_ISAS if name not in adagrad.supported_isas()]
        for name in unsupported + ["sse3"]:
            with self.subTest(isa=name):
                self.mixed(ValueError, "isa", w, g, G, isa=name)
                self.assertRejected(ValueError, "isa", adagrad.to_half, np.ones(3, F32),
                                    dtype="bf16", isa=name)
                self.assertRejected(ValueError, "isa", adagrad.from_half, np.ones(3, U16),
                                    dtype="bf16", isa=name, out=np.zeros(3, F32))
                self.assertRejected(ValueError, "isa", adagrad.unscale_check, np.ones(3, U16),
                                    np.zeros(1, F32), dtype="bf16", inv_scale=1.0, isa=name)

    def test_positional_options_are_refused(self):
        w, g, G = self.mixed_arrays()
        self.assertRejected(TypeError, "", adagrad.step_mixed, w, g, G, "bf16", "bf16")
        self.assertRejected(TypeError, "", adagrad.to_half, np.ones(3, F32), "bf16")
        self.assertRejected(TypeError, "", adagrad.unscale_check, np.ones(3, F32),
                            np.zeros(1, F32), "f32", 1.0)


if __name__ == "__main__":
    unittest.main()
