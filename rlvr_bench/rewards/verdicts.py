"""The math, GSM8K, code and auto rewards as verdict functions (registered in builtin.py).

Code verdicts are remembered in this process, shared by every caller (the trainer's scorer, each
evaluation's, the TRL and verl adapters): a sampled policy repeats its programs within a batch, across
training steps and in the evaluations of its checkpoints, and each sandbox run costs about 8 ms of CPU
(namespaces, mounts, a fork).
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from typing import Any

from .code_tests import as_code_completion, route_code_rows
from .extract import extract_code
from .math_verifier import gsm8k_score_batch, score_batch_detailed
from .results import CodeResult, MathResult, Verdict

__all__ = ["CODE_MEMO_SIZE", "auto_verdicts", "code_verdicts", "gsm8k_verdicts", "math_verdicts"]

#: Most code verdicts remembered (the memo is cleared when it would grow past this).
CODE_MEMO_SIZE = 50_000
#: Code verdicts that depend on the machine's load, not only on the program: never remembered.
UNCACHED_REASONS = ("timeout", "memory", "crash")
#: The extracted program kept as a code verdict's ``pred`` (characters).
PRED_CHARS = 2000
# the module (the package's ``code_reward`` attribute is the function): its batch function is looked up
# at each call, so that a test can count the sandbox runs
_code_reward = importlib.import_module(f"{__package__}.code_reward")
_code_memo: dict[tuple[str, str, Any, bool], Verdict] = {}


def math_verdict(result: MathResult) -> Verdict:
    """A math (or GSM8K) result as a verdict: the extracted answer is the prediction."""
    return Verdict(result.score, result.correct, result.extracted, result.reason)


def code_verdict(result: CodeResult, completion: str) -> Verdict:
    """A code result as a verdict: the extracted program (its first PRED_CHARS) is the prediction."""
    code = extract_code(completion) if isinstance(completion, str) else None
    return Verdict(result.score, result.correct, code[:PRED_CHARS] if code else None, result.reason)


def math_verdicts(completions: Sequence[str], ground_truths: Sequence[Any], *,
                  timeout: float | None = None) -> list[Verdict]:
    """MATH-style answer equivalence (math-verify, on the worker pool)."""
    return [math_verdict(r) for r in score_batch_detailed(completions, ground_truths, timeout=timeout)]


def gsm8k_verdicts(completions: Sequence[str], ground_truths: Sequence[Any], *,
                   timeout: float | None = None) -> list[Verdict]:
    """GSM8K-style numeric answers."""
    results = gsm8k_score_batch(completions, ground_truths, timeout=timeout, detailed=True)
    return [math_verdict(r) for r in results]  # type: ignore[arg-type]


_ROW = object()  # the key of a row whose tests are objects (unhashable): run, never remembered


def code_verdicts(completions: Sequence[str], ground_truths: Sequence[Any], *, timeout: float | None = None,
                  partial_credit: bool = False) -> list[Verdict]:
    """Code verdicts, each distinct (completion, tests, timeout, mode) run once in the sandbox per process.

    A completion-style HumanEval body is fenced first (``as_code_completion``). Identical completions of
    the same problem are common; their verdict is deterministic unless it was a timeout, memory kill or
    crash, which are rerun. Malformed tests raise ValueError.
    """
    texts = [as_code_completion(t, a) for t, a in zip(completions, ground_truths)]
    keys = [(t, a, timeout, partial_credit) if isinstance(t, str) and isinstance(a, str) else (_ROW, i)
            for i, (t, a) in enumerate(zip(texts, ground_truths))]
    rows: dict[tuple, int] = {}  # each key not remembered -> its first row
    for i, key in enumerate(keys):
        if key not in _code_memo:
            rows.setdefault(key, i)
    todo = list(rows.items())
    results = _code_reward.code_score_batch_detailed(
        [texts[i] for _, i in todo], [ground_truths[i] for _, i in todo], timeout=timeout,
        partial_credit=partial_credit)
    fresh = {key: code_verdict(r, texts[i]) for (key, i), r in zip(todo, results)}
    out = [_code_memo.get(key) or fresh[key] for key in keys]  # type: ignore[arg-type]
    keep = {k: v for k, v in fresh.items() if k[0] is not _ROW and v.reason not in UNCACHED_REASONS}
    if len(_code_memo) + len(fresh) > CODE_MEMO_SIZE:
        _code_memo.clear()
    _code_memo.update(keep)
    return out


def auto_verdicts(completions: Sequence[str], ground_truths: Sequence[Any], *, timeout: float | None = None,
                  partial_credit: bool = False) -> list[Verdict]:
    """The code reward for rows whose ground truth is a code test spec, the math reward for the others."""
    return route_code_rows(
        completions, ground_truths,
        lambda c, g: code_verdicts(c, g, timeout=timeout, partial_credit=partial_credit),
        lambda c, g: math_verdicts(c, g, timeout=timeout),
    )
