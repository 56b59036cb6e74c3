"""Batch scoring of completions for evaluation and training, with per-sample verdicts.

A thin adapter over the reward registry (``rlvr_bench.rewards``), so that evaluation, the RL trainer and
the verl reward score the same way: the registered reward's verdicts, with the run's timeout and code
mode bound as options. A reward that raises or returns NaN never stops a run: the batch is scored 0.0 with
reason ``error`` and the failure is logged.

Trace checkers (CoT-pass@k, arXiv 2506.14245) judge the reasoning of a completion, not its answer:
``(problem_row, completion) -> True / False / None`` (None = no opinion). ``resolve_trace_checker`` picks the
one an evaluation uses: the toy ``trace_check`` on toy benchmarks, a user callable, or none.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

from rlvr_bench.rewards.results import Verdict
from rlvr_bench.utils.dist import get_logger

__all__ = ["TraceChecker", "Verdict", "make_scorer", "safe_scorer", "resolve_trace_checker", "resolved_reward", "toy_trace_checker"]

log = get_logger(__name__)

Scorer = Callable[[Sequence[str], Sequence[str]], list[Verdict]]
_BatchFn = Callable[[list[str], list[str]], list[Verdict]]
#: ``(problem_row, completion) -> True / False / None``: is the completion's reasoning valid?
TraceChecker = Callable[[dict[str, Any], str], "bool | None"]


def safe_scorer(fn: _BatchFn, name: str) -> Scorer:
    """``fn`` made safe: a raising reward scores the batch 0 (logged, reason ``error``) instead of raising."""

    def scorer(texts: Sequence[str], answers: Sequence[str]) -> list[Verdict]:
        if len(texts) != len(answers):
            raise ValueError(f"{len(texts)} completions but {len(answers)} answers")
        try:
            verdicts = fn(list(texts), list(answers))
        except Exception as exc:  # a broken reward must not kill a run: score 0, say why
            log.error("reward %r raised %s: %s; batch of %d scored 0.0", name, type(exc).__name__, exc, len(texts))
            return [Verdict(0.0, False, None, "error") for _ in texts]
        out = []
        for v in verdicts:
            if not isinstance(v.score, (int, float)) or math.isnan(v.score) or math.isinf(v.score):
                log.warning("reward %r returned %r; scored 0.0", name, v.score)
                v = Verdict(0.0, False, v.pred, "error")
            out.append(v)
        return out

    return scorer


def make_scorer(reward: str = "math", *, timeout: float = 5.0, weights: dict[str, float] | None = None,
                code_mode: str = "all_or_nothing",
                custom: Callable[[list[str], list[str]], list[float]] | None = None) -> Scorer:
    """A batch scorer ``(texts, answers) -> list[Verdict]``.

    Args:
        reward: registry name ("math", "gsm8k", "code", "format", ...), or "auto": rows whose answer is a
            code test spec (``rewards.code_tests.is_code_tests``) get the code reward, the others math
            (a mixed math + code dataset such as the toy world's).
        timeout: hard per-item timeout of the math/code verifiers (seconds).
        weights: when non-empty, the weighted sum of several registered rewards (``compose_rewards``);
            "correct" then means the first reward of the mapping reached 1.
        code_mode: "all_or_nothing" or "fraction" for the code reward.
        custom: a user function ``(texts, answers) -> list[float]`` used instead of the registry.
    """
    from rlvr_bench import rewards as R

    if custom is not None:
        def fn(texts: list[str], answers: list[str]) -> list[Verdict]:
            return [Verdict(float(s), float(s) >= 1.0, None, "custom") for s in custom(texts, answers)]
        return safe_scorer(fn, getattr(custom, "__name__", "custom"))
    base = R.compose_rewards(weights) if weights else R.get_reward(reward)
    bound = base.with_options(timeout=float(timeout), partial_credit=code_mode == "fraction")
    return safe_scorer(bound.verdicts, "+".join(weights) if weights else reward)


def resolved_reward(reward: str, answers: Sequence[str], *, custom: bool = False) -> dict[str, object]:
    """What ``reward`` resolves to on rows with these gold ``answers`` (recorded in ``env.json`` and the
    evaluation summary): ``auto`` becomes ``math``, ``code`` or ``math+code`` with the rows of each."""
    if custom:
        return {"name": "custom", "resolved": "custom"}
    if reward != "auto":
        return {"name": reward, "resolved": reward}
    from rlvr_bench.rewards.code_tests import is_code_tests

    code = sum(1 for a in answers if is_code_tests(a))
    rows = {"math": len(answers) - code, "code": code}
    kinds = [k for k, v in rows.items() if v]
    return {"name": "auto", "resolved": "+".join(kinds) or "math", "rows": rows}


def toy_trace_checker(row: dict[str, Any], completion: str) -> bool | None:
    """The toy world's exact check (``rlvr_bench.data.toy_traces.trace_check``) of a benchmark row, by its
    ``source`` / ``data_source`` (``toy/<family>``); None for rows of other sources and of the code family."""
    from rlvr_bench.data.toy_traces import trace_check

    return trace_check(str(row.get("source") or row.get("data_source") or ""), row, completion)


def _has_toy_check(source: str) -> bool:
    from rlvr_bench.data.toy_traces import TRACE_CHECKS, trace_family

    return source.startswith("toy/") and trace_family(source) in TRACE_CHECKS


def _guarded(fn: TraceChecker, name: str) -> TraceChecker:
    """``fn`` that never raises (an exception is logged once and gives None) and returns True/False/None."""
    failed: list[bool] = []

    def checker(row: dict[str, Any], completion: str) -> bool | None:
        try:
            out = fn(row, completion)
        except Exception as exc:  # a broken checker must not kill an evaluation: no opinion, say why once
            if not failed:
                log.error("trace checker %r raised %s: %s; such samples get cot_correct None",
                          name, type(exc).__name__, exc)
                failed.append(True)
            return None
        return None if out is None else bool(out)

    return checker


def resolve_trace_checker(trace_checker: TraceChecker | bool | None,
                          sources: Sequence[str]) -> tuple[TraceChecker | None, str | None]:
    """(the checker an evaluation applies to every sample, its name for the summary), or (None, None).

    Args:
        trace_checker: None (default) = the toy check when some row's source is a toy family with a trace
            notion (``toy/addsub``, ``toy/muladd``), else no check (real data is not checked by default);
            False = no check at all; a callable ``(problem_row, completion) -> bool | None`` = that check on
            every row (it replaces the toy check).
        sources: the rows' data sources.
    """
    if trace_checker is False:
        return None, None
    if trace_checker is None:
        if any(_has_toy_check(str(s)) for s in sources):
            return _guarded(toy_trace_checker, "toy"), "toy"
        return None, None
    if not callable(trace_checker):
        raise TypeError(f"trace_checker must be a callable (row, completion) -> bool | None, None or False, "
                        f"got {type(trace_checker).__name__}")
    name = getattr(trace_checker, "__qualname__", None) or getattr(trace_checker, "__name__", None) or "custom"
    return _guarded(trace_checker, name), str(name)
