"""Exact chain-of-thought checks of toy traces: is the *reasoning* right, not only the final answer?

CoT-pass@k (arXiv 2506.14245) counts a sample only when its chain of thought is valid. The toy world knows
every intermediate result, so a trace is checked exactly, step by step, against the problem::

    problem     6+9+6-5=?
    gold        6+9=15,15+6=21,21-5=16 \\boxed{16}        -> True
    planted     6+9=14,14+6=21,21-5=16 \\boxed{16}        -> False (right answer, wrong first step)
    shortcut    \\boxed{16}                                -> False (right answer, no working)
    garbled     ab!c                                      -> None  (nothing to judge: no digit at all)

A trace of an arithmetic family (``addsub``, ``muladd``) is **valid** when it is exactly the chain the
generator writes (``rlvr_bench.data.toy``): one step ``left op right=result`` per operator of the problem,
comma-separated, in order; the first step's ``left`` is the problem's first operand, every later ``left``
is the previous step's written result, every ``op`` and ``right`` is the problem's, every ``result`` is
arithmetically right, and the trace ends in ``\\boxed{<last result>}``. Spaces around the steps are
allowed; anything else (a missing, extra or malformed step, a step with ``*`` worked as ``+``, a boxed value
that is not the last result, a second ``\\boxed``, text after the box) makes the trace invalid (False).
A valid trace's boxed answer is therefore the problem's true answer.

``None`` means "nothing to check": the family has no trace notion, the problem text is not a toy
arithmetic chain, or the completion holds no digit at all (it cannot state an answer either). A completion
that could be graded correct (any number in it) is never None for an arithmetic family, so a lucky answer
is never excused as "unchecked".

The ``code`` family has no check (``trace_check`` returns None): its completion is a one-line program that
*is* the answer, graded by hidden tests; there is no chain of intermediate results written before it. (Its
shortcut mode, a slope computed in the head, ``18*x+5``, is a legitimate program, not a reasoning error.)

New families add their own check with :func:`register_trace_check`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["TRACE_CHECKS", "check_chain", "parse_chain_problem", "register_trace_check", "trace_check",
           "trace_family"]

#: A family's check: ``(problem_text, completion) -> True / False / None``.
FamilyCheck = Callable[[str, str], "bool | None"]

_NUM = r"-?\d{1,18}"  # bounded: a 5000-digit "number" must not reach int()
_PROBLEM_RE = re.compile(r"^\s*(\d{1,18})((?:[+*-]\d{1,18})+)\s*=\s*\?\s*$")
_OP_RE = re.compile(r"([+*-])(\d{1,18})")
_STEP_RE = re.compile(rf"^\s*({_NUM})([+*-])(\d{{1,18}})=({_NUM})\s*$")
_BOXED_RE = re.compile(rf"^(.*?)\\boxed\{{\s*({_NUM})\s*\}}\s*$", re.DOTALL)


def _apply(left: int, op: str, right: int) -> int:
    if op == "+":
        return left + right
    if op == "-":
        return left - right
    return left * right


def parse_chain_problem(problem: str) -> tuple[int, list[tuple[str, int]]] | None:
    """``6+9+6-5=?`` -> ``(6, [("+", 9), ("+", 6), ("-", 5)])``; None when it is not such a chain.

    Steps are worked left to right, as the toy generator writes them (``a*b+c`` has its ``*`` first, so
    left to right is also the precedence order).
    """
    m = _PROBLEM_RE.match(problem) if isinstance(problem, str) else None
    if m is None:
        return None
    return int(m.group(1)), [(op, int(right)) for op, right in _OP_RE.findall(m.group(2))]


def check_chain(problem: str, completion: str) -> bool | None:
    """The check of the arithmetic families: the exact step-by-step rule of the module docstring."""
    parsed = parse_chain_problem(problem)
    if parsed is None or not isinstance(completion, str) or not re.search(r"\d", completion):
        return None
    first, ops = parsed
    m = _BOXED_RE.match(completion)
    if m is None or "\\boxed" in m.group(1):
        return False  # no final box, text after it, or more than one box
    body, boxed = m.group(1).strip(), int(m.group(2))
    parts = body.split(",") if body else []
    if len(parts) != len(ops):
        return False  # a shortcut (no working), a skipped or an extra step
    value = first
    for part, (op, right) in zip(parts, ops):
        step = _STEP_RE.match(part)
        if step is None:
            return False
        left, w_op, w_right, written = int(step.group(1)), step.group(2), int(step.group(3)), int(step.group(4))
        if left != value or w_op != op or w_right != right or written != _apply(left, op, right):
            return False
        value = written
    return boxed == value


TRACE_CHECKS: dict[str, FamilyCheck] = {"addsub": check_chain, "muladd": check_chain}
"""Family name -> its check; a family missing here (``code``) has no trace notion."""


def register_trace_check(family: str, check: FamilyCheck) -> FamilyCheck:
    """Give a toy family a trace check (a family may be registered once)."""
    if family in TRACE_CHECKS:
        raise ValueError(f"toy family {family!r} already has a trace check")
    TRACE_CHECKS[family] = check
    return check


def trace_family(family_or_source: str) -> str:
    """``toy/addsub`` -> ``addsub`` (a bare family name is returned as is)."""
    text = str(family_or_source or "")
    return text.split("/", 1)[1] if text.startswith("toy/") else text


def trace_check(family_or_source: str, problem: Mapping[str, Any] | str, completion: str) -> bool | None:
    """Is the reasoning of ``completion`` right for this toy problem?

    Args:
        family_or_source: the family (``addsub``) or the row's data source (``toy/addsub``).
        problem: the problem row (its ``problem`` key is read) or the problem text itself.
        completion: the model's completion (the text after the prompt, without EOS).

    Returns:
        True when every written step is right and the steps lead to the boxed answer; False when some
        step is wrong or missing (a right answer reached through a wrong step is False); None when the
        family has no trace notion (``code``, unknown families) or there is nothing to check. Never raises.
    """
    check = TRACE_CHECKS.get(trace_family(family_or_source))
    if check is None:
        return None
    text = problem.get("problem") if isinstance(problem, Mapping) else problem
    if not isinstance(text, str):
        return None
    try:
        return check(text, completion)
    except Exception:  # a check is best effort on model text: never stop an evaluation
        return None
