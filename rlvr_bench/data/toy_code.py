"""The toy *code* family: write a Python function from two of its values, graded by hidden tests.

A problem shows ``f(0)`` and ``f(1)`` of a linear function ``f(x) = a*x + b`` and asks for the function
(named ``f``, ``g`` or ``h``: ``ToyTaskConfig.code_names``). The answer is a one-line function in a fenced
block that lets Python do the arithmetic, graded by running hidden input/output tests in the code sandbox
(``rlvr_bench.rewards.code_reward``), never by comparing text::

    problem   g(0)=5,g(1)=23,g(x)=?
    solution  ```\\ndef g(x):return 5+(23-5)*x\\n```
    answer    {"fn_name":"g","cases":[[[-3],-49],[[2],41],[[5],95],[[11],203]]}   (JSON text of the tests)

Any correct program passes (``return 18*x+5`` as well); the gold form needs no mental arithmetic, so what
separates a right program from a wrong one is the program, not the tiny model's subtraction. The slope
``a`` is drawn from ``code_min_slope..code_max_slope`` (never 0), the intercept ``b`` from
``0..code_max_intercept``, with ``f(1) >= 0``.

The base's imperfect programs (``noisy_code_solution``) are sampling modes, each a distinct failure kind
in the evaluation records:

* a decreasing function (``a < 0``) is written with the difference reversed, ``f0+(f0-f1)*x``, with
  ``code_sign_error_prob``: the base's wrong strategy, so those problems are its rare successes (the
  headroom where RL can narrow and distillation can expand, as ``muladd`` is for the math families);
* a shortcut (``shortcut_prob``): ``return <slope>*x+f0`` with the slope computed in the head, off with
  ``shortcut_error_prob``;
* a copy slip (``step_error_prob``): ``f(1)`` copied off by one of ``error_deltas`` (``wrong_answer``);
* ``(23-5)x`` for ``(23-5)*x`` (``code_syntax_prob``: ``syntax_error``), the variable ``n``
  (``code_name_prob``: ``exception:NameError``) and no fence (``code_unfenced_prob``: ``no_code``).
"""

from __future__ import annotations

import json
import random

from rlvr_bench.config.toy import ToyErrorConfig, ToyTaskConfig
from rlvr_bench.data.toy_problems import ToyFamily, ToyProblem, perturb

__all__ = ["CODE_FAMILY", "CODE_TOY_FAMILY", "HIDDEN_INPUTS", "code_tests", "code_trace", "noisy_code_solution"]

CODE_FAMILY = "code"
#: Inputs of the hidden tests (the shown f(0) and f(1) are not among them, so a memorised table fails).
HIDDEN_INPUTS = (-3, 2, 5, 11)


def code_tests(a: int, b: int, name: str = "f") -> str:
    """The JSON text of the hidden io tests of ``name(x) = a*x + b`` (format of ``rewards.code_tests``)."""
    return json.dumps({"fn_name": name, "cases": [[[x], a * x + b] for x in HIDDEN_INPUTS]},
                      separators=(",", ":"))


def code_trace(name: str, expr: str, *, fence: bool = True) -> str:
    """``def name(x):return <expr>``, in a ``` fence unless ``fence`` is False."""
    code = f"def {name}(x):return {expr}"
    return "```\n" + code + "\n```" if fence else code


def gold_expr(f0: int, f1: int) -> str:
    """``5+(23-5)*x``: the function through (0, f0) and (1, f1), arithmetic left to Python."""
    return f"{f0}+({f1}-{f0})*x"


def _sample_code(rng: random.Random, task: ToyTaskConfig) -> ToyProblem:
    """``g(0)=b,g(1)=a+b,g(x)=?`` with the hidden tests as the answer."""
    lo, hi = task.code_min_slope, task.code_max_slope
    if lo > hi or (lo == hi == 0):
        raise ValueError(f"code slopes {lo}..{hi} hold no non-zero slope")
    bad = [n for n in task.code_names if not n.isidentifier() or n == "x"]
    if not task.code_names or bad:
        raise ValueError(f"code_names must be Python identifiers other than 'x', got {task.code_names}")
    name = rng.choice(list(task.code_names))
    for _attempt in range(1000):
        a = rng.randint(lo, hi)
        b = rng.randint(0, task.code_max_intercept)
        if a != 0 and a + b >= 0:
            break
    else:
        raise ValueError(f"no code problem with slope in {lo}..{hi} and f(1) >= 0; raise code_max_intercept")
    f0, f1 = b, a + b
    gold = code_trace(name, gold_expr(f0, f1))
    return ToyProblem(CODE_FAMILY, f"{name}(0)={f0},{name}(1)={f1},{name}(x)=?", code_tests(a, b, name), gold=gold)


def _shown_values(problem: str) -> tuple[str, int, int]:
    """(name, f(0), f(1)) parsed back from a problem text ``g(0)=5,g(1)=23,g(x)=?``."""
    first, second, _ = problem.split(",")
    return first.split("(")[0], int(first.split("=")[1]), int(second.split("=")[1])


def noisy_code_solution(prob: ToyProblem, rng: random.Random, errors: ToyErrorConfig) -> str:
    """An imperfect program for ``prob`` drawn from the error model (module docstring, in that order)."""
    name, f0, f1 = _shown_values(prob.problem)
    reversed_sign = f1 < f0 and rng.random() < errors.code_sign_error_prob
    if rng.random() < errors.shortcut_prob:
        slope = (f0 - f1) if reversed_sign else (f1 - f0)
        if rng.random() < errors.shortcut_error_prob:
            slope = _signedperturb(slope, rng, errors)
        expr = f"{slope}*x+{f0}"
    else:
        shown = perturb(f1, rng, errors.error_deltas) if rng.random() < errors.step_error_prob else f1
        expr = f"{f0}+({f0}-{shown})*x" if reversed_sign else gold_expr(f0, shown)
    if rng.random() < errors.code_syntax_prob:
        expr = expr.replace("*x", "x")
    if rng.random() < errors.code_name_prob:
        expr = expr.replace("x", "n")
    return code_trace(name, expr, fence=rng.random() >= errors.code_unfenced_prob)


def _signedperturb(value: int, rng: random.Random, errors: ToyErrorConfig) -> int:
    """``value`` off by one of ``error_deltas`` (either sign; a non-zero slope stays non-zero)."""
    for _attempt in range(10):
        out = perturb(abs(value), rng, errors.error_deltas) * (1 if value >= 0 else -1)
        if out != 0 and out != value:
            return out
    return value + 1 if value != -1 else value - 1


CODE_TOY_FAMILY = ToyFamily(CODE_FAMILY, _sample_code, {}, "write f(x)=a*x+b from f(0), f(1) (named f, g or h); "
                            "hidden tests", noisy=noisy_code_solution)
"""The code family; ``rlvr_bench.data.toy`` registers it after the math families."""
