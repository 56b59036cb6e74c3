"""The same rewards behind TRL's reward-function protocol and verl's ``compute_score``."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

from .registry import Reward, get_reward, reward_for_source
from .results import Verdict

__all__ = ["completion_text", "make_trl_reward", "reward_name", "verl_compute_score", "verl_compute_score_batch"]


def __getattr__(name: str) -> Any:
    """``_CODE_SOURCES``: kept for older importers (rlvr_bench.analysis.breakdown); the table now lives in
    the registry (``reward_for_source``, ``reward_sources()["code"]``)."""
    if name == "_CODE_SOURCES":
        from .registry import reward_sources

        return reward_sources()["code"]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def completion_text(completion: Any) -> str:
    """A completion as text: a string as is; a list of chat messages -> the assistant messages' content."""
    if isinstance(completion, str):
        return completion
    if isinstance(completion, dict):
        completion = [completion]
    if isinstance(completion, (list, tuple)):
        messages = [m for m in completion if isinstance(m, dict)]
        assistant = [m for m in messages if m.get("role") == "assistant"] or messages
        return "\n".join(_content_text(m.get("content")) for m in assistant)
    return "" if completion is None else str(completion)


def _content_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # multimodal parts: [{"type": "text", "text": ...}]
        return "".join(p.get("text", "") for p in content if isinstance(p, dict))
    return "" if content is None else str(content)


def _gold_text(gold: Any) -> str:
    return gold if isinstance(gold, str) else json.dumps(gold)


def make_trl_reward(
    reward: str | Reward = "math", answer_column: str = "answer", *, name: str | None = None
) -> Callable[..., list[float]]:
    """A TRL reward function ``f(prompts, completions, **columns) -> list[float]``.

    ``completions`` may be strings or lists of chat messages; the gold of each item comes from the
    dataset column ``answer_column`` (TRL passes every extra column as a keyword list). ``__name__`` is
    ``name`` or ``"<reward>_reward"`` (TRL logs ``rewards/<__name__>``). Uses the reward's batched form.
    """
    rw = get_reward(reward) if isinstance(reward, str) else reward

    def trl_reward(prompts: Sequence[Any] | None = None, completions: Sequence[Any] | None = None, **columns: Any) -> list[float]:
        if completions is None:
            raise TypeError("TRL reward called without completions")
        if answer_column not in columns:
            raise KeyError(
                f"column {answer_column!r} is not among the dataset columns TRL passed: {sorted(columns)}"
            )
        golds = columns[answer_column]
        texts = [completion_text(c) for c in completions]
        return rw.batch(texts, [_gold_text(g) for g in golds])

    trl_reward.__name__ = name or f"{rw.name}_reward"
    trl_reward.__qualname__ = trl_reward.__name__
    return trl_reward


def reward_name(data_source: Any, extra_info: Any = None) -> str:
    """The registered reward a verl row is scored with: ``extra_info["reward"]`` when it names one, else
    the registry's data-source table (``reward_for_source``; unknown sources get ``math``)."""
    if isinstance(extra_info, dict) and isinstance(extra_info.get("reward"), str):
        return extra_info["reward"]
    return reward_for_source(data_source)


def _verl_dict(verdict: Verdict) -> dict[str, Any]:
    return {"score": verdict.score, "acc": verdict.correct, "pred": verdict.pred or "", "reason": verdict.reason}


def verl_compute_score_batch(
    data_sources: Sequence[Any],
    solution_strs: Sequence[str],
    ground_truths: Sequence[Any],
    extra_infos: Sequence[Any] | None = None,
) -> list[dict[str, Any]]:
    """Batched ``verl_compute_score`` (verl's BatchRewardManager signature): the rows of each reward are
    scored with one call of its batched form (math rows share the worker pool)."""
    n = len(solution_strs)
    extra_infos = list(extra_infos) if extra_infos is not None else [None] * n
    names = [reward_name(d, e) for d, e in zip(data_sources, extra_infos)]
    out: list[dict[str, Any]] = [{} for _ in range(n)]
    for name in dict.fromkeys(names):
        idx = [i for i in range(n) if names[i] == name]
        verdicts = get_reward(name).verdicts([solution_strs[i] for i in idx], [_gold_text(ground_truths[i]) for i in idx])
        for i, v in zip(idx, verdicts):
            out[i] = _verl_dict(v)
    return out


def verl_compute_score(
    data_source: Any, solution_str: str, ground_truth: Any, extra_info: Any = None, **_: Any
) -> dict[str, Any]:
    """verl's ``compute_score``: ``{"score": float, "acc": bool, "pred": str, "reason": str}``.

    Dispatch (``reward_name``): ``extra_info["reward"]`` names a registered reward if present; else the
    reward that owns the data source in the registry (code: humaneval, mbpp, apps, livecodebench, ... or
    anything containing "code", with ``ground_truth`` as the tests; gsm8k: "gsm8k"); else the math reward.
    """
    return verl_compute_score_batch([data_source], [solution_str], [ground_truth], [extra_info])[0]
