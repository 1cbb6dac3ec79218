# SPDX-License-Identifier: BSD-3-Clause
"""Bit-pattern comparison of float arrays, for tests whose contract is exact
equality: a failure says how many elements differ, where, and by how many
units in the last place, rather than only that they differ."""
import numpy as np

_INTEGER_VIEW = {np.dtype(np.float32): np.int32, np.dtype(np.float64): np.int64}


def ulp_distance(a, b):
    """Per element, how many representable values lie between a and b (0 for
    equal bit patterns; -0.0 and +0.0 are 1 apart)."""
    integer = _INTEGER_VIEW[a.dtype]
    bits = np.iinfo(integer).bits

    def ordered(x):
        # Maps the sign-magnitude bit patterns onto integers in float order.
        raw = np.ascontiguousarray(x).view(integer).astype(object)
        return np.where(raw < 0, -(raw & ((1 << (bits - 1)) - 1)) - 1, raw)

    return np.abs(ordered(a) - ordered(b)).astype(np.float64)


def difference_report(actual, expected):
    """None when the bit patterns are equal, else a one-line description."""
    actual = np.asarray(actual)
    expected = np.asarray(expected)
    if actual.dtype != expected.dtype or actual.shape != expected.shape:
        return "dtype/shape {}{} != {}{}".format(actual.dtype, actual.shape, expected.dtype,
                                                 expected.shape)
    if actual.tobytes() == expected.tobytes():
        return None
    ulps = ulp_distance(actual.ravel(), expected.ravel())
    differing = np.flatnonzero(ulps)
    first = differing[:5]
    return "{} of {} elements differ, by up to {:.0f} ulp; first at flat indices {}: {} != {}".format(
        differing.size, actual.size, ulps.max(), first.tolist(),
        actual.ravel()[first].tolist(), expected.ravel()[first].tolist())


def assert_same_bits(testcase, actual, expected, what):
    report = difference_report(actual, expected)
    if report is not None:
        testcase.fail("{}: {}".format(what, report))
