"""The recipe's reward as verl's ``compute_score``: the local trainer's scoring, sample by sample.

verl calls ``compute_score(data_source=, solution_str=, ground_truth=, extra_info=)`` for every response
(``reward.custom_reward_function``). :class:`RecipeReward` answers with the local trainer's scorer
(``rlvr_bench.evaluation.scoring.make_scorer`` over ``rlvr_bench.rewards``, with the recipe's reward name,
weights, timeout and code mode) and then applies what the local trainer applies after scoring:

- a truncated response (no EOS within ``max_response_length``) scores 0;
- DAPO's soft overlong penalty (``rlvr_bench.rewards.overlong_penalty``) is added when enabled.

Truncation and length come from ``extra_info["truncated"]`` / ``extra_info["response_length"]``, which
rlvr_bench's reward manager (``reward_manager.py``) adds; with another manager they are absent and only the
task score is returned. With the default settings (math, no weights) the result equals
``rlvr_bench.rewards.verl_compute_score``'s. The returned dict::

    {"score": task_score + overlong_penalty, "task_score": ..., "acc": bool, "pred": str, "reason": str,
     "truncated": bool, "overlong_penalty": float}

``task_score`` is the DAPO filter metric (``algorithm.filter_groups.metric``), like the local engine's.

Controls (``rlvr_bench.rewards.controls``): ``random``, ``format_only`` and ``incorrect`` are scored per
response like any reward; ``acc`` stays the verifier's verdict (a control's ``Verdict.correct``), ``score``
is the control's. ``random`` draws from the process's key stream (no step or sample index reaches
``compute_score``): independent of the response, not reproducible across runs. A reward that declares the
``groups`` context (``majority_vote``) needs every response of a prompt at once, which this per-response
call never has: ``per_response_problem`` names it, the export refuses the recipe, and ``RecipeReward``
refuses to be built for it.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

__all__ = ["RecipeReward", "per_response_problem"]


def per_response_problem(reward: str, weights: dict[str, float] | None = None) -> str | None:
    """Why the reward (or a component of ``weights``) cannot be computed one response at a time, or None:
    it declares the ``groups`` context (e.g. ``majority_vote``). Unknown names give None (named elsewhere)."""
    from rlvr_bench.rewards import get_reward

    for name in (list(weights) if weights else [reward]):
        try:
            context = get_reward(name).context
        except KeyError:
            continue
        if "groups" in context:
            return (f"reward {name!r} compares each response with the other responses of its prompt (needs the "
                    "group); verl's reward manager scores one response at a time: train it with the local engine")
    return None


@dataclass
class RecipeReward:
    """A picklable ``compute_score`` bound to a recipe's reward settings.

    Args:
        reward: registry name ("math", "gsm8k", "code", ...).
        weights: weighted sum of registered rewards (``reward.weights``); empty = ``reward`` alone.
        timeout: per-item verifier timeout in seconds.
        code_mode: "all_or_nothing" or "fraction".
        max_response_length: ``rollout.max_new_tokens`` (the overlong penalty's L_max).
        overlong_buffer_len: DAPO's L_cache; None = no overlong penalty.
    """

    reward: str = "math"
    weights: dict[str, float] = field(default_factory=dict)
    timeout: float = 5.0
    code_mode: str = "all_or_nothing"
    max_response_length: int | None = None
    overlong_buffer_len: int | None = None

    def __post_init__(self) -> None:
        if self.overlong_buffer_len is not None and not self.max_response_length:
            raise ValueError("the overlong penalty needs max_response_length")
        problem = per_response_problem(self.reward, self.weights)
        if problem:
            raise ValueError(problem)
        self._scorer: Any = None
        self._lock = threading.Lock()

    def __getstate__(self) -> dict[str, Any]:  # Ray pickles the function: drop the built scorer
        state = dict(self.__dict__)
        state["_scorer"], state["_lock"] = None, None
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()

    def scorer(self) -> Any:
        """The local trainer's batch scorer for these settings (built once)."""
        with self._lock:
            if self._scorer is None:
                from rlvr_bench.evaluation.scoring import make_scorer

                self._scorer = make_scorer(self.reward, timeout=self.timeout, weights=self.weights or None,
                                           code_mode=self.code_mode)
            return self._scorer

    def __call__(self, data_source: Any = None, solution_str: str = "", ground_truth: Any = None,
                 extra_info: Any = None, **_: Any) -> dict[str, Any]:
        """Score one response (verl's keyword call); never raises on model text."""
        from rlvr_bench.rewards import completion_text

        gold = ground_truth if isinstance(ground_truth, str) else str(ground_truth)
        verdict = self.scorer()([completion_text(solution_str)], [gold])[0]
        info = extra_info if isinstance(extra_info, dict) else {}
        truncated = bool(info.get("truncated", False))
        task = 0.0 if truncated else float(verdict.score)
        penalty = self._penalty(info.get("response_length"))
        return {"score": task + penalty, "task_score": task, "acc": bool(verdict.correct and not truncated),
                "pred": verdict.pred or "", "reason": "truncated" if truncated else verdict.reason,
                "truncated": truncated, "overlong_penalty": penalty}

    def _penalty(self, length: Any) -> float:
        if self.overlong_buffer_len is None or length is None:
            return 0.0
        from rlvr_bench.rewards import overlong_penalty

        return float(overlong_penalty(int(length), int(self.max_response_length), int(self.overlong_buffer_len)))

    def batch(self, texts: list[str], golds: list[str], truncated: list[bool], lengths: list[int]) -> list[float]:
        """Scores of a batch, exactly as the local trainer combines them (for tests and audits)."""
        return [self(None, t, g, {"truncated": tr, "response_length": n})["score"]
                for t, g, tr, n in zip(texts, golds, truncated, lengths)]
