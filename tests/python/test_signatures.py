# SPDX-License-Identifier: BSD-3-Clause
"""Every public callable of adagrad has a signature inspect can read, and the
signature is what the callable accepts: its required parameters are
required, its defaults are the values it uses when a parameter is left out,
each parameter is taken by name (or not, for keyword-only ones, by position),
and nothing else is taken."""
import inspect
import unittest

import numpy as np

import adagrad
import adagrad._adagrad
from bitwise import assert_same_bits

F32 = np.float32
U16 = np.uint16


def dense(n=5):
    rng = np.random.default_rng(11)
    return [rng.standard_normal(n).astype(F32), rng.standard_normal(n).astype(F32),
            rng.random(n).astype(F32)]


def table(rowwise=False, states=1):
    rng = np.random.default_rng(12)
    arrays = [rng.standard_normal((6, 5)).astype(F32)]
    arrays += [rng.random(6 if rowwise else (6, 5)).astype(F32) for _ in range(states)]
    return arrays + [np.array([4, 0, 4, 2], np.int64), rng.standard_normal((4, 5)).astype(F32)]


def bags():
    """One table's weights, state, indices, offsets (3 bags) and grad_output."""
    w, G, indices, _ = table()
    return [[w], [G], [indices], [np.array([0, 1, 1, 4], np.int64)],
            [np.random.default_rng(2).standard_normal((3, 5)).astype(F32)]]


def bf16(n=5):
    return adagrad.to_half(np.linspace(-1, 1, n, dtype=F32), dtype="bf16")


# A call of each public callable with its required parameters only: the
# arguments, positional-or-keyword ones by position, and the keyword-only
# ones by name. New arrays at every call.
REQUIRED = {
    "ThreadPool": lambda: ([1], {}),
    "active_isa": lambda: ([], {}),
    "active_wide_isa": lambda: ([], {}),
    "dispatch": lambda: ([], {}),
    "supported_isas": lambda: ([], {}),
    "isas": lambda: ([], {}),
    "state_init": lambda: ([dense()[2], 0.1], {}),
    "step": lambda: (dense(), {}),
    "step_multi": lambda: ([[a] for a in dense()], {}),
    "proximal_step": lambda: (dense(), {}),
    "da_step": lambda: (dense()[:2] + [np.zeros(5, F32), dense()[2]], {"step": 3}),
    "sparse_step": lambda: (table(), {}),
    "rowwise_sparse_step": lambda: (table(rowwise=True), {}),
    "rowwise_step": lambda: ([table()[0], table()[0] * 0.5, table(rowwise=True)[1]], {}),
    "sparse_proximal_step": lambda: (table(), {}),
    "sparse_da_step": lambda: (table(states=2), {"step": 2}),
    "step_mixed": lambda: ([bf16(), bf16(), dense()[2]], {"w_dtype": "bf16", "g_dtype": "bf16"}),
    "step_master": lambda: ([dense()[0], bf16(), dense()[2]], {"g_dtype": "bf16"}),
    "unscale_check": lambda: ([dense()[1], np.zeros(1, F32)], {"dtype": "f32", "inv_scale": 0.5}),
    "to_half": lambda: ([dense()[0]], {"dtype": "bf16"}),
    "from_half": lambda: ([bf16()], {"dtype": "fp16"}),
    "embedding_bag_step": lambda: (bags(), {}),
    "table_array": lambda: ([(3, 4)], {}),
    "huge_page_bytes": lambda: ([dense()[0]], {}),
}

POSITIONAL = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)


def public_callables():
    return {name: getattr(adagrad, name) for name in adagrad.__all__
            if callable(getattr(adagrad, name))}


def arrays_of(args, kwargs):
    return [a for a in list(args) + list(kwargs.values()) if isinstance(a, np.ndarray)]


def outcome(function, args, kwargs, arrays=None):
    """What a call did: its result and the arrays it was given (by default
    those among args and kwargs, in order), afterwards."""
    result = function(*args, **kwargs)
    if isinstance(result, adagrad.ThreadPool):
        result = result.threads
    return result, arrays if arrays is not None else arrays_of(args, kwargs)


def python_errors(function):
    """Whether a wrong call raises Python's own TypeError, which names the
    parameter (the functions); pybind11 defines ThreadPool's constructor,
    whose TypeError lists the signature instead."""
    return not isinstance(function, type)


class SignatureTest(unittest.TestCase):
    def assertSameOutcome(self, expected, actual, what):
        (expected_result, expected_arrays), (result, arrays) = expected, actual
        if isinstance(expected_result, np.ndarray):
            assert_same_bits(self, result, expected_result, what + ": result")
        else:
            self.assertEqual(expected_result, result, what)
        self.assertEqual(len(expected_arrays), len(arrays), what)
        for i, (a, b) in enumerate(zip(arrays, expected_arrays)):
            assert_same_bits(self, a, b, "%s: array %d" % (what, i))

    def test_every_public_callable_is_covered(self):
        self.assertEqual(set(REQUIRED), set(public_callables()))
        # Everything the extension defines is exported.
        defined = {name for name in dir(adagrad._adagrad) if not name.startswith("_")}
        self.assertEqual(defined, set(public_callables()))

    def test_signatures_are_readable(self):
        for name, function in public_callables().items():
            with self.subTest(name):
                parameters = inspect.signature(function).parameters
                for p in parameters.values():
                    self.assertNotIn(p.kind, (inspect.Parameter.VAR_POSITIONAL,
                                              inspect.Parameter.VAR_KEYWORD), p)
                if name != "ThreadPool":
                    # help() shows the signature; the docstring does not repeat it.
                    self.assertTrue(function.__text_signature__.startswith("("), name)
                    self.assertFalse(function.__doc__.startswith(name + "("), name)

    def test_required_parameters_are_required(self):
        for name, function in public_callables().items():
            with self.subTest(name):
                parameters = inspect.signature(function).parameters.values()
                args, kwargs = REQUIRED[name]()
                required = [p for p in parameters if p.default is inspect.Parameter.empty]
                self.assertEqual(len(args), sum(p.kind in POSITIONAL for p in required))
                self.assertEqual(set(kwargs), {p.name for p in required
                                               if p.kind == inspect.Parameter.KEYWORD_ONLY})
                function(*args, **kwargs)
                # Each left out alone: a TypeError naming it.
                for p in required:
                    args, kwargs = REQUIRED[name]()
                    if p.kind in POSITIONAL:
                        index = [q.name for q in required].index(p.name)
                        del args[index:]
                    else:
                        del kwargs[p.name]
                    with self.assertRaises(TypeError) as raised:
                        function(*args, **kwargs)
                    if python_errors(function):
                        self.assertIn("'%s'" % p.name, str(raised.exception))

    def test_defaults_are_the_values_used(self):
        # The call with every optional parameter given its signature default,
        # by name, does exactly what the call without them does.
        for name, function in public_callables().items():
            with self.subTest(name):
                optional = {p.name: p.default
                            for p in inspect.signature(function).parameters.values()
                            if p.default is not inspect.Parameter.empty}
                args, kwargs = REQUIRED[name]()
                expected = outcome(function, args, kwargs)
                args, kwargs = REQUIRED[name]()
                self.assertSameOutcome(expected, outcome(function, args, {**kwargs, **optional}),
                                       name)

    def test_parameters_by_name(self):
        # The positional-or-keyword parameters by name, in reverse order.
        for name, function in public_callables().items():
            with self.subTest(name):
                parameters = list(inspect.signature(function).parameters.values())
                args, kwargs = REQUIRED[name]()
                expected = outcome(function, args, kwargs)
                args, kwargs = REQUIRED[name]()
                by_name = {p.name: a for p, a in zip(parameters, args)}
                by_name = dict(reversed(list({**by_name, **kwargs}.items())))
                self.assertSameOutcome(
                    expected, outcome(function, [], by_name, arrays_of(args, kwargs)), name)

    def test_nothing_else_is_taken(self):
        for name, function in public_callables().items():
            with self.subTest(name):
                parameters = inspect.signature(function).parameters.values()
                positional = sum(p.kind in POSITIONAL for p in parameters)
                # One positional argument too many (a keyword-only parameter
                # passed by position included).
                args, kwargs = REQUIRED[name]()
                extra = [None] * (positional - len(args) + 1)
                with self.assertRaises(TypeError):
                    function(*args, *extra, **kwargs)
                # A keyword that is no parameter.
                args, kwargs = REQUIRED[name]()
                with self.assertRaises(TypeError) as raised:
                    function(*args, not_a_parameter=1, **kwargs)
                self.assertIn("not_a_parameter", str(raised.exception))
                # A parameter given twice.
                if args:
                    first = next(iter(parameters)).name
                    args, kwargs = REQUIRED[name]()
                    with self.assertRaises(TypeError) as raised:
                        function(*args, **{first: args[0]}, **kwargs)
                    if python_errors(function):
                        self.assertIn("'%s'" % first, str(raised.exception))

    def test_keywords_built_at_run_time(self):
        # Keyword names that are not interned strings (built, not literals)
        # match too.
        w, g, G = dense()
        expected = [a.copy() for a in (w, g, G)]
        adagrad.step(*expected, lr=0.5)
        adagrad.step(w, g, G, **{"".join(["l", "r"]): 0.5})
        for a, b in zip((w, g, G), expected):
            assert_same_bits(self, a, b, "step")


if __name__ == "__main__":
    unittest.main()
