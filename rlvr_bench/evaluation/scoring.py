"""Batch scoring of completions for evaluation and training, with per-sample verdicts.

One adapter over the reward registry (``rlvr_bench.rewards``) so evaluation and the RL trainer score the
same way. A reward that raises or returns NaN never stops a run: the batch is scored 0.0 with reason
``error`` and the failure is logged.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from rlvr_bench.utils.dist import get_logger

__all__ = ["Verdict", "make_scorer", "resolved_reward"]

log = get_logger(__name__)


@dataclass(frozen=True)
class Verdict:
    """Score (reward value), correctness (score reached 1), extracted prediction, and why."""

    score: float
    correct: bool
    pred: str | None
    reason: str


Scorer = Callable[[Sequence[str], Sequence[str]], list[Verdict]]


def _safe(fn: Callable[[Sequence[str], Sequence[str]], list[Verdict]], name: str) -> Scorer:
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
        def fn(texts, answers):
            return [Verdict(float(s), float(s) >= 1.0, None, "custom") for s in custom(texts, answers)]
        return _safe(fn, getattr(custom, "__name__", "custom"))
    if weights:
        composed = R.compose_rewards(weights)
        primary = next(iter(weights))
        prim = make_scorer(primary, timeout=timeout, code_mode=code_mode)

        def fn(texts, answers):
            scores = composed.batch(texts, answers)
            return [Verdict(float(s), p.correct, p.pred, p.reason) for s, p in zip(scores, prim(texts, answers))]
        return _safe(fn, "+".join(weights))
    if reward == "math":
        return _safe(_math_fn(timeout), reward)
    if reward == "code":
        return _safe(_code_fn(timeout, code_mode), reward)
    if reward == "auto":
        return _safe(_auto_fn(_math_fn(timeout), _code_fn(timeout, code_mode)), reward)
    batch = R.get_reward(reward).batch

    def fn(texts, answers):
        return [Verdict(float(s), float(s) >= 1.0, None, "correct" if s >= 1.0 else "wrong_answer")
                for s in batch(texts, answers)]
    return _safe(fn, reward)


_BatchFn = Callable[[list[str], list[str]], list[Verdict]]


def _math_fn(timeout: float) -> _BatchFn:
    from rlvr_bench import rewards as R

    def fn(texts: list[str], answers: list[str]) -> list[Verdict]:
        return [Verdict(r.score, r.correct, r.extracted, r.reason)
                for r in R.score_batch_detailed(texts, answers, timeout=timeout)]
    return fn


#: Code verdicts remembered in this process, shared by every scorer (the trainer's and each evaluation's):
#: a sampled policy repeats its programs within a batch, across training steps and in the evaluations of
#: its checkpoints, and each sandbox run costs about 8 ms of CPU (namespaces, mounts, a fork).
CODE_MEMO_SIZE = 50_000
_UNCACHED = ("timeout", "memory", "crash")  # depend on the machine's load, not only on the program
_code_memo: dict[tuple[str, str, float, str], Verdict] = {}


def _code_fn(timeout: float, code_mode: str) -> _BatchFn:
    """Code verdicts, each distinct (completion, tests) pair run once in the sandbox per process.

    Identical completions of the same problem are common (a policy samples its favourite program many
    times); their verdict is deterministic unless it was a timeout, memory kill or crash, which are rerun.
    The memo key includes the timeout and the scoring mode, which change the verdict.
    """
    from rlvr_bench.data.code_benchmarks import as_code_completion
    from rlvr_bench.rewards.code_reward import code_score_batch_detailed

    def fn(texts: list[str], answers: list[str]) -> list[Verdict]:
        # a completion-style HumanEval sample is the function body: cut at the stop sequences, fenced
        texts = [as_code_completion(t, a) for t, a in zip(texts, answers)]
        keys = [(t, a, float(timeout), code_mode) for t, a in zip(texts, answers)]
        todo = list(dict.fromkeys(k for k in keys if k not in _code_memo))
        results = code_score_batch_detailed([k[0] for k in todo], [k[1] for k in todo], timeout=timeout,
                                            partial_credit=code_mode == "fraction")
        fresh = {k: Verdict(r.score, r.correct, None, r.reason) for k, r in zip(todo, results)}
        out = [_code_memo.get(k) or fresh[k] for k in keys]
        if len(_code_memo) + len(fresh) > CODE_MEMO_SIZE:
            _code_memo.clear()
        _code_memo.update((k, v) for k, v in fresh.items() if v.reason not in _UNCACHED)
        return out
    return fn


def _auto_fn(math_fn: _BatchFn, code_fn: _BatchFn) -> _BatchFn:
    """Route each row to ``code_fn`` when its answer is a code test spec, else to ``math_fn``."""
    from rlvr_bench.rewards.code_tests import route_code_rows

    def fn(texts: list[str], answers: list[str]) -> list[Verdict]:
        return route_code_rows(texts, answers, code_fn, math_fn)
    return fn


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
