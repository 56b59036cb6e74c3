"""The toy *code* family: write a Python function from two of its values, graded by hidden tests.

A problem shows ``f(0)`` and ``f(1)`` of a linear function ``f(x) = a*x + b`` and asks for ``f``; the answer
is a short function in a fenced block, graded by running hidden input/output tests in the code sandbox
(``rlvr_bench.rewards.code_reward``), never by comparing text::

    problem   f(0)=5,f(1)=23,f(x)=?
    solution  23-5=18 ```\\ndef f(x):return 18*x+5\\n```
    answer    {"fn_name": "f", "cases": [[[-3], -49], [[2], 41], ...]}       (JSON text of the tests)

The slope ``a`` is drawn from ``code_min_slope..code_max_slope`` (never 0), the intercept ``b`` from
``0..code_max_intercept`` with ``f(1) >= 0``. About a quarter of the functions decrease (``a < 0``): their
working is a subtraction with a negative result (``13-20=-7``), a skill the base's traces get wrong on
purpose (the sign flipped, with ``code_sign_error_prob``), so those problems are rare successes of the base:
the headroom where RL can narrow and distillation can expand, as ``muladd`` is for the math families.

The base's imperfect code traces (``noisy_code_solution``) draw the arithmetic errors of the math families
(a shortcut with a guessed slope, a slip in the subtraction) and three code-only failure modes, each a
distinct failure kind in the evaluation records: a syntax slip (``18x`` for ``18*x``: ``syntax_error``),
a wrong variable name (``n``: ``exception:NameError``) and a missing fence (``no_code``).
"""

from __future__ import annotations

import json
import random

from rlvr_bench.config.toy import ToyErrorConfig, ToyTaskConfig
from rlvr_bench.data.toy import ToyFamily, ToyProblem, _perturb, register_family

__all__ = ["CODE_FAMILY", "HIDDEN_INPUTS", "code_tests", "code_trace", "noisy_code_solution"]

CODE_FAMILY = "code"
#: Inputs of the hidden tests (the shown f(0) and f(1) are not among them, so a memorised table fails).
HIDDEN_INPUTS = (-3, 2, 5, 11)


def code_tests(a: int, b: int) -> str:
    """The JSON text of the hidden io tests of ``f(x) = a*x + b`` (format of ``rewards.code_tests``)."""
    return json.dumps({"fn_name": "f", "cases": [[[x], a * x + b] for x in HIDDEN_INPUTS]},
                      separators=(",", ":"))


def _body(a: int, b: int, *, var: str = "x", times: str = "*") -> str:
    """``def f(x):return 18*x+5`` (``var`` and ``times`` let the noisy writer slip)."""
    return f"def f(x):return {a}{times}{var}+{b}"


def _fenced(code: str) -> str:
    return "```\n" + code + "\n```"


def code_trace(f0: int, f1: int, slope: int, b: int, *, fence: bool = True, var: str = "x",
               times: str = "*", working: bool = True) -> str:
    """A trace: the working ``f1-f0=slope`` (unless ``working`` is False), then the fenced function."""
    code = _body(slope, b, var=var, times=times)
    return (f"{f1}-{f0}={slope} " if working else "") + (_fenced(code) if fence else code)


def _sample_code(rng: random.Random, task: ToyTaskConfig) -> ToyProblem:
    """``f(0)=b,f(1)=a+b,f(x)=?`` with the hidden tests as the answer."""
    lo, hi = task.code_min_slope, task.code_max_slope
    if lo > hi or (lo == hi == 0):
        raise ValueError(f"code slopes {lo}..{hi} hold no non-zero slope")
    for _attempt in range(1000):
        a = rng.randint(lo, hi)
        b = rng.randint(0, task.code_max_intercept)
        if a != 0 and a + b >= 0:
            break
    else:
        raise ValueError(f"no code problem with slope in {lo}..{hi} and f(1) >= 0; raise code_max_intercept")
    f0, f1 = b, a + b
    gold = code_trace(f0, f1, a, b)
    return ToyProblem(CODE_FAMILY, f"f(0)={f0},f(1)={f1},f(x)=?", code_tests(a, b), gold=gold)


def _shown_values(problem: str) -> tuple[int, int]:
    """(f(0), f(1)) parsed back from a problem text ``f(0)=5,f(1)=23,f(x)=?``."""
    first, second, _ = problem.split(",")
    return int(first.split("=")[1]), int(second.split("=")[1])


def noisy_code_solution(prob: ToyProblem, rng: random.Random, errors: ToyErrorConfig) -> str:
    """An imperfect code trace for ``prob`` drawn from the error model.

    In order: a decreasing function's slope is written with the wrong sign with ``code_sign_error_prob``
    (the base's wrong strategy: ``f0-f1`` for ``f1-f0``); with ``shortcut_prob`` the working is skipped and
    the slope guessed (off with ``shortcut_error_prob``); else the subtraction slips with
    ``step_error_prob``. Then, independently, the code slips: ``18x`` (``code_syntax_prob``), the variable
    ``n`` (``code_name_prob``) or no fence (``code_unfenced_prob``).
    """
    f0, f1 = _shown_values(prob.problem)
    slope = f1 - f0
    if slope < 0 and rng.random() < errors.code_sign_error_prob:
        slope = -slope
    working = rng.random() >= errors.shortcut_prob
    error_prob = errors.step_error_prob if working else errors.shortcut_error_prob
    if rng.random() < error_prob:
        slope = _signed_perturb(slope, rng, errors)
    times = "" if rng.random() < errors.code_syntax_prob else "*"
    var = "n" if rng.random() < errors.code_name_prob else "x"
    fence = rng.random() >= errors.code_unfenced_prob
    return code_trace(f0, f1, slope, f0, fence=fence, var=var, times=times, working=working)


def _signed_perturb(value: int, rng: random.Random, errors: ToyErrorConfig) -> int:
    """``value`` off by one of ``error_deltas`` (either sign; a non-zero slope stays non-zero)."""
    for _attempt in range(10):
        out = _perturb(abs(value), rng, errors.error_deltas) * (1 if value >= 0 else -1)
        if out != 0 and out != value:
            return out
    return value + 1 if value != -1 else value - 1


register_family(ToyFamily(CODE_FAMILY, _sample_code, {}, "write f(x)=a*x+b from f(0), f(1); hidden tests",
                          noisy=noisy_code_solution))
