"""Plain data and the comparisons of the test kinds (stdlib only; it must not import rlvr_bench).

Everything a program returns is turned into *plain data* before it is compared: exact builtin types
(``None``, ``bool``, ``int``, ``float``, ``complex``, ``str``, ``bytes``, ``list``, ``tuple``, ``dict``,
``set``, ``frozenset``), rebuilt through the base types' own methods, so that an object overriding
``__eq__``, ``__ne__``, ``__bool__``, ``__iter__`` or ``__float__`` is either reduced to the builtin value it
holds (an ``int`` subclass becomes that ``int``) or refused (any other type: the test fails). Comparing two
plain values with ``==`` runs only the builtin types' comparisons.

This module keeps its own copy of the builtins, taken when it is loaded (before any program runs), so a
program that patches ``builtins`` (``builtins.len = ...``) changes nothing here; ``PRISTINE`` is that copy, the
builtins of the tests' namespaces. What it cannot stop: see docs/code.md, "Reward hacking".
"""

from __future__ import annotations

import builtins as _builtins
import math

__builtins__ = dict(_builtins.__dict__)  # noqa: A001 - every function below resolves builtins here

__all__ = ["PRISTINE", "NotPlain", "allclose", "is_floats", "lcb_lines_equal", "plain", "same"]

#: The builtins as they were when the sandbox child loaded (a fresh copy goes to each test namespace).
PRISTINE = dict(__builtins__)
_isclose = math.isclose
_isnan = math.isnan
_REAL, _IMAG = complex.real, complex.imag  # the stored parts, whatever a subclass defines


class NotPlain(AssertionError):
    """A result that is not plain data (a test fails with ``wrong_answer``)."""


_SCALARS = (type(None), bool, int, float, str)


def _json_key(key: object) -> str:
    """A dict key as ``json.dumps`` writes it (str, int, float, bool or None; anything else refused)."""
    if key is None:
        return "null"
    if key is True or key is False:
        return "true" if key else "false"
    if isinstance(key, str):
        return str.__str__(key)
    if isinstance(key, int):
        return int.__repr__(int.__int__(key))
    if isinstance(key, float):
        return float.__repr__(float.__float__(key))
    raise NotPlain(f"dict key of type {type(key).__name__} is not JSON data")


def plain(value: object, json_like: bool = False) -> object:
    """``value`` as plain data (see module docstring); raises :class:`NotPlain` for anything else.

    ``json_like``: what a JSON round trip gives (the io tests, LiveCodeBench's LeetCode tests): tuples
    become lists, dict keys strings; sets, complex numbers and bytes are refused."""
    kind = type(value)
    if kind in _SCALARS:
        return value
    if isinstance(value, bool):  # unreachable (bool cannot be subclassed); kept for clarity
        return bool(value)
    if isinstance(value, int):
        return int.__int__(value)
    if isinstance(value, float):
        return float.__float__(value)
    if isinstance(value, str):
        return str.__str__(value)
    if isinstance(value, list):
        return [plain(v, json_like) for v in list.__iter__(value)]
    if isinstance(value, tuple):
        items = [plain(v, json_like) for v in tuple.__iter__(value)]
        return items if json_like else tuple(items)
    if isinstance(value, dict):
        items = list(dict.items(value))
        if json_like:
            return {_json_key(k): plain(v, True) for k, v in items}
        return {plain(k): plain(v) for k, v in items}
    if not json_like:
        if isinstance(value, (set, frozenset)):
            base = set if isinstance(value, set) else frozenset
            return base([plain(v) for v in base.__iter__(value)])
        if isinstance(value, complex):
            return complex(_REAL.__get__(value), _IMAG.__get__(value))
        if isinstance(value, bytes):
            return bytes.__getitem__(value, slice(None))
    raise NotPlain(f"a result of type {kind.__name__} is not plain data")


def same(actual: object, expected: object, rel_tol: float = 1e-6, abs_tol: float = 1e-9) -> bool:
    """Equality of two JSON values: floats within the tolerances (both 0: exact), bools only equal bools."""
    if isinstance(actual, float) or isinstance(expected, float):
        if isinstance(actual, (int, float)) and isinstance(expected, (int, float)):
            if isinstance(actual, bool) or isinstance(expected, bool):
                return actual == expected
            if rel_tol == 0 and abs_tol == 0:
                return actual == expected
            return _isclose(actual, expected, rel_tol=rel_tol, abs_tol=abs_tol)
        return False
    if isinstance(actual, list) and isinstance(expected, list):
        return len(actual) == len(expected) and all(
            same(a, e, rel_tol, abs_tol) for a, e in zip(actual, expected))
    if isinstance(actual, dict) and isinstance(expected, dict):
        return actual.keys() == expected.keys() and all(
            same(actual[k], expected[k], rel_tol, abs_tol) for k in actual)
    return actual == expected


def is_floats(value: object) -> bool:
    """EvalPlus's ``is_floats``: a float, or a list/tuple of floats only."""
    if isinstance(value, float):
        return True
    if isinstance(value, (list, tuple)):
        return all(isinstance(v, float) for v in value)
    return False


def allclose(actual: object, expected: object, atol: float, rtol: float = 1e-7) -> bool:
    """``numpy.testing.assert_allclose(actual, expected, rtol, atol)`` on plain numbers and (nested)
    lists/tuples of them, without numpy: |a - e| <= atol + rtol * |e| everywhere, NaN equal to NaN, the
    same lengths."""
    if isinstance(actual, (list, tuple)) or isinstance(expected, (list, tuple)):
        if not (isinstance(actual, (list, tuple)) and isinstance(expected, (list, tuple))):
            return False
        return len(actual) == len(expected) and all(allclose(a, e, atol, rtol) for a, e in zip(actual, expected))
    numbers = (int, float)
    if not (isinstance(actual, numbers) and isinstance(expected, numbers)):
        return False
    a, e = float(actual), float(expected)
    if _isnan(a) or _isnan(e):
        return _isnan(a) and _isnan(e)
    if a == e:
        return True
    return abs(a - e) <= atol + rtol * abs(e)


def _stripped_lines(text: str) -> list[str]:
    return [line.strip() for line in text.strip().split("\n")]


def lcb_lines_equal(actual: str, expected: str, decimal_type) -> bool:
    """LiveCodeBench's stdin/stdout check (``grade_stdio``): the outputs, stripped, have as many lines; each
    pair of stripped lines is equal, or both lines are whitespace-separated numbers that are equal as
    ``decimal.Decimal`` values (``1.50`` equals ``1.5``; no tolerance beyond that). ``decimal_type``: the
    ``Decimal`` class, or a function returning it (called only when a pair of lines differs as text)."""
    got, want = _stripped_lines(actual), _stripped_lines(expected)
    if len(got) != len(want):
        return False
    for g, w in zip(got, want):
        if g == w:
            continue
        if not isinstance(decimal_type, type):
            decimal_type = decimal_type()
        try:
            gd = [decimal_type(x) for x in g.split()]
            wd = [decimal_type(x) for x in w.split()]
        except BaseException:  # decimal.InvalidOperation (an ArithmeticError) for a word
            return False
        if gd != wd:
            return False
    return True
