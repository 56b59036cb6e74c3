"""The code reward: the last fenced code block of a completion, run with its tests in the sandbox."""

from __future__ import annotations

import dataclasses
import logging
import math
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from .code_tests import parse_tests
from .extract import extract_code
from .results import CodeResult
from .sandbox import RunVerdicts, SandboxLimits, run_tests

__all__ = ["code_reward", "code_reward_detailed", "code_score_batch", "code_score_batch_detailed"]

logger = logging.getLogger("rlvr_bench.rewards")


def _summarise(run: RunVerdicts, total: int, partial_credit: bool) -> CodeResult:
    status = run.status
    passed = sum(s == "pass" for s in status)
    if partial_credit:
        score = passed / total if total else 0.0
    else:
        score = 1.0 if total and passed == total else 0.0
    reason = "passed" if passed == total else next(s for s in status if s != "pass")
    return CodeResult(
        score=score,
        passed=passed,
        total=total,
        reason=reason,
        test_status=status,
        isolation=run.isolation,
        output_tail=run.output_tail,
        wall_s=run.wall_s,
    )


def code_reward_detailed(
    completion: str,
    tests: Any,
    *,
    partial_credit: bool = False,
    timeout: float | None = None,
    limits: SandboxLimits | None = None,
) -> CodeResult:
    """Run the last fenced code block of ``completion`` against ``tests`` in the sandbox.

    ``tests``: any format of ``code_tests`` (object or JSON text; malformed tests raise ValueError, model
    text never raises). ``partial_credit``: score = fraction of tests passed, else 1.0 only if all pass.
    ``timeout`` overrides ``limits.timeout`` (wall seconds for the whole run); tests with a time limit per
    test (stdin/stdout, EvalPlus) get that much more per test (``CodeTests.time_budget``), each test being
    stopped at its own limit in the sandbox.
    """
    parsed = parse_tests(tests)
    if parsed.total == 0:
        return CodeResult(0.0, 0, 0, "no_tests")
    code = extract_code(completion) if isinstance(completion, str) else None
    if code is None or not code.strip():
        return CodeResult(0.0, 0, parsed.total, "no_code", ("no_code",) * parsed.total)
    limits = limits or SandboxLimits()
    if timeout is not None:
        limits = dataclasses.replace(limits, timeout=float(timeout), cpu_s=None)
    budget = parsed.time_budget()  # tests with their own time limit (stdin/stdout, EvalPlus) add them
    if budget:
        cpu = None if limits.cpu_s is None else limits.cpu_s + math.ceil(budget)
        limits = dataclasses.replace(limits, timeout=limits.timeout + budget, cpu_s=cpu)
    try:
        run = run_tests(parsed.program(code), parsed, limits)
    except Exception as exc:  # the machine, not the model: e.g. no space left for the temp dir
        logger.warning("code sandbox failed to run: %r", exc)
        return CodeResult(0.0, 0, parsed.total, "crash", ("crash",) * parsed.total)
    return _summarise(run, parsed.total, partial_credit)


def code_reward(completion: str, tests: Any, *, partial_credit: bool = False, timeout: float | None = None) -> float:
    """Score of ``code_reward_detailed`` (1.0/0.0, or the fraction passed with ``partial_credit``)."""
    return code_reward_detailed(completion, tests, partial_credit=partial_credit, timeout=timeout).score


def code_score_batch_detailed(
    completions: Sequence[str],
    tests: Sequence[Any],
    *,
    partial_credit: bool = False,
    timeout: float | None = None,
    limits: SandboxLimits | None = None,
    max_workers: int = 2,
) -> list[CodeResult]:
    """``code_reward_detailed`` over a batch, ``max_workers`` sandboxes at a time (threads waiting on
    child processes). Malformed tests raise ValueError before anything runs."""
    if len(completions) != len(tests):
        raise ValueError(f"{len(completions)} completions but {len(tests)} test sets")
    parsed = [parse_tests(t) for t in tests]
    if not completions:
        return []

    def one(i: int) -> CodeResult:
        return code_reward_detailed(
            completions[i], parsed[i], partial_credit=partial_credit, timeout=timeout, limits=limits
        )

    with ThreadPoolExecutor(max_workers=max(1, max_workers), thread_name_prefix="rlvr-sandbox") as pool:
        return list(pool.map(one, range(len(completions))))


def code_score_batch(
    completions: Sequence[str],
    tests: Sequence[Any],
    *,
    partial_credit: bool = False,
    timeout: float | None = None,
    max_workers: int = 2,
) -> list[float]:
    """Scores of ``code_score_batch_detailed``."""
    results = code_score_batch_detailed(
        completions, tests, partial_credit=partial_credit, timeout=timeout, max_workers=max_workers
    )
    return [r.score for r in results]
