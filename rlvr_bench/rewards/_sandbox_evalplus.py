"""The EvalPlus test kind (stdlib only; it must not import rlvr_bench): differential testing against the
canonical solution, as EvalPlus grades HumanEval+ and MBPP+.

Each input (a Python literal of the argument list, e.g. ``"[[1, 2], (3, 4)]"``) is one test. The expected
outputs are either given (``expected``: literals, e.g. taken from the hub's ``results`` lists) or computed here
by running the ``reference`` program (prompt + canonical solution) on every input *before the candidate's
program loads* (``prepare``), timing each call. The candidate's result must then equal the expected one
(``==`` on plain data), or, when ``atol`` is set or the expected value is a float (then ``atol`` 1e-6), be
close as ``numpy.testing.assert_allclose(out, exp, atol=atol)`` (rtol 1e-7). EvalPlus's three special
oracles are kept (by entry point): ``find_zero`` (the root must make the polynomial vanish within ``atol``),
``are_equivalent`` and ``sum_div`` (right, or always ``True`` / always ``0``, as EvalPlus accepts). Each call
runs under a time limit of ``max(time_limit, 4 x the reference's time)`` (EvalPlus's defaults: 1 s, 4x).
"""

from __future__ import annotations

import builtins as _builtins
import math
import time

if __package__:  # imported in the parent, as part of rlvr_bench.rewards
    from ._sandbox_stdio import time_limit
    from ._sandbox_values import allclose, is_floats, plain
else:  # in the sandbox child: installed under their bare names
    from _sandbox_stdio import time_limit
    from _sandbox_values import allclose, is_floats, plain

__builtins__ = dict(_builtins.__dict__)  # noqa: A001 - builtins as loaded, whatever a program patches

__all__ = ["TIME_FACTOR", "prepare", "run_evalplus"]

TIME_FACTOR = 4.0
_REAL_BUILTINS = _builtins
_perf = time.perf_counter
_LITERALS = {"inf": math.inf, "nan": math.nan, "set": set, "frozenset": frozenset, "float": float,
             "complex": complex, "tuple": tuple, "list": list, "dict": dict, "True": True, "False": False,
             "None": None}


def _literal(text: str) -> object:
    """A fresh object from a literal written by the loader (``repr`` of plain data: ``inf``, ``set()``, ...)."""
    return eval(text, {"__builtins__": {}}, dict(_LITERALS))


class _ReferenceFailed:
    """The reference raised on this input (the data is broken): the test fails for every candidate."""

    def __init__(self, detail: str) -> None:
        self.detail = detail


def prepare(tests: dict) -> None:
    """The expected output and reference time of every input, before the candidate's program loads."""
    inputs = tests["inputs"]
    if tests.get("expected") is not None:
        tests["_expected"] = [plain(_literal(text)) for text in tests["expected"]]
        tests["_times"] = [0.0] * len(inputs)
        return
    ns: dict = {"__name__": "__reference__", "__builtins__": _REAL_BUILTINS}
    exec(compile(tests["reference"], "<reference>", "exec"), ns)
    fn = ns[tests["entry_point"]]
    expected, times = [], []
    for text in inputs:
        args = _literal(text)
        start = _perf()
        try:
            out = plain(fn(*args))
        except Exception as exc:  # noqa: BLE001 - recorded, the test then fails
            out = _ReferenceFailed(f"{type(exc).__name__}: {exc}"[:200])
        times.append(_perf() - start)
        expected.append(out)
    ns.clear()
    tests["_expected"], tests["_times"] = expected, times


def _poly(xs: list, x: float) -> float:
    return sum(coeff * math.pow(x, i) for i, coeff in enumerate(xs))


def _oracle(tests: dict, args: list, out: object, exp: object, atol: float) -> bool | None:
    """EvalPlus's special cases: the verdict of ``out == exp`` they replace, or None (none applies)."""
    oracle = tests.get("oracle")
    if oracle == "poly_root":
        if not (isinstance(out, (int, float)) and abs(_poly(args[0], out)) <= atol):
            raise AssertionError(f"{out!r:.100} is not a root within {atol}")
        return None
    if oracle in ("same_or_always_true", "same_or_always_zero"):
        state = tests.setdefault("_state", {"right": True, "constant": True})
        constant = True if oracle == "same_or_always_true" else 0
        state["right"] = state["right"] and out == exp
        state["constant"] = state["constant"] and out == constant and type(out) is type(constant)
        return state["right"] or state["constant"]
    return None


def run_evalplus(tests: dict, ns: dict, index: int) -> None:
    """Input ``index``: the candidate's result must match the expected one (see module docstring)."""
    exp = tests["_expected"][index]
    if isinstance(exp, _ReferenceFailed):
        raise AssertionError(f"the reference solution failed on this input: {exp.detail}")
    args = _literal(tests["inputs"][index])
    fn = ns[tests["entry_point"]]
    limit = max(float(tests.get("time_limit") or 1.0), TIME_FACTOR * tests["_times"][index])
    with time_limit(limit):
        out = fn(*args)
    out = plain(out)
    atol = float(tests.get("atol") or 0.0)
    exact = out == exp
    special = _oracle(tests, _literal(tests["inputs"][index]), out, exp, atol)
    if special is not None:
        exact = special
    if atol == 0 and is_floats(exp):
        atol = 1e-6
    if exact:
        return
    if atol == 0 or not allclose(out, exp, atol):
        raise AssertionError(f"got {out!r:.200}, expected {exp!r:.200}")
