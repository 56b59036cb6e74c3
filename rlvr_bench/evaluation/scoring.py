"""Batch scoring of completions for evaluation and training, with per-sample verdicts.

A thin adapter over the reward registry (``rlvr_bench.rewards``), so that evaluation, the RL trainer and
the verl reward score the same way: the registered reward's verdicts, with the run's timeout and code
mode bound as options. A reward that raises or returns NaN never stops a run: the batch is scored 0.0 with
reason ``error`` and the failure is logged.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

from rlvr_bench.rewards.results import Verdict
from rlvr_bench.utils.dist import get_logger

__all__ = ["Verdict", "make_scorer", "resolved_reward"]

log = get_logger(__name__)

Scorer = Callable[[Sequence[str], Sequence[str]], list[Verdict]]
_BatchFn = Callable[[list[str], list[str]], list[Verdict]]


def _safe(fn: _BatchFn, name: str) -> Scorer:
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
        return _safe(fn, getattr(custom, "__name__", "custom"))
    base = R.compose_rewards(weights) if weights else R.get_reward(reward)
    bound = base.with_options(timeout=float(timeout), partial_credit=code_mode == "fraction")
    return _safe(bound.verdicts, "+".join(weights) if weights else reward)


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
