"""Rewards by name. A registered reward gives a ``Verdict(score, correct, pred, reason)`` per completion;
its float form (``reward(completion, ground_truth) -> float``) is ``verdict.score``.

    @register_reward("length_ok")
    def length_ok(completion: str, ground_truth: str) -> float:   # a number is fine: see Verdict.of_score
        return float(len(completion) < 4000)

    get_reward("math")("... \\boxed{37}", "37")                       # 1.0
    get_reward("math").verdict("... \\boxed{37}", "37")               # Verdict(1.0, True, "37", "correct")
    get_reward("math").batch(completions, ground_truths)              # list[float], parallel where it can be
    get_reward("math").verdicts(completions, ground_truths)           # list[Verdict]
    get_reward("code").with_options(timeout=2.0, partial_credit=True) # the same reward with options bound
    compose_rewards({"math": 1.0, "format": 0.1})                     # a Reward with the same forms
    reward_for_source("openai/gsm8k")                                 # "gsm8k": the data-source table

A reward declares the keyword options its functions accept (``options=``); ``with_options`` binds the
declared ones and ignores the others, so one set of settings (timeout, partial credit) can be handed to
any reward. A reward may claim data sources (``sources=``): ``reward_for_source`` picks the first reward,
in registration order, one of whose keys occurs in the (lower-cased) data-source name.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from .results import Verdict

__all__ = [
    "Reward",
    "Verdict",
    "compose_rewards",
    "get_reward",
    "list_rewards",
    "register_reward",
    "reward_for_source",
    "reward_sources",
]

#: ``fn(completion, ground_truth, **options)``: a Verdict, or a number (made a verdict by Verdict.of_score).
RewardFn = Callable[..., "Verdict | float"]
#: ``fn(completions, ground_truths, **options)``: one Verdict (or number) per item.
BatchFn = Callable[..., Sequence["Verdict | float"]]

_REGISTRY: dict[str, Reward] = {}
_SOURCES: dict[str, tuple[str, ...]] = {}  # reward name -> data-source keys it owns (registration order)


def _as_verdict(value: Verdict | float) -> Verdict:
    return value if isinstance(value, Verdict) else Verdict.of_score(value)


class Reward:
    """A named reward: ``verdict``/``__call__`` on one (completion, ground_truth), ``verdicts``/``batch`` on
    two equal-length lists. The float forms are the verdicts' scores."""

    def __init__(self, name: str, fn: RewardFn, batch_fn: BatchFn | None = None, doc: str = "", *,
                 options: Iterable[str] = (), bound: Mapping[str, Any] | None = None) -> None:
        self.name = name
        self.__name__ = name
        self._fn = fn
        self._batch_fn = batch_fn
        self.options = frozenset(options)
        self._bound = dict(bound or {})
        self.__doc__ = doc or fn.__doc__

    def with_options(self, **options: Any) -> Reward:
        """This reward with the given options bound (those it does not declare are ignored)."""
        bound = {**self._bound, **{k: v for k, v in options.items() if k in self.options}}
        return Reward(self.name, self._fn, self._batch_fn, self.__doc__ or "", options=self.options, bound=bound)

    def verdict(self, completion: str, ground_truth: str) -> Verdict:
        """The verdict on one completion."""
        return _as_verdict(self._fn(completion, ground_truth, **self._bound))

    def verdicts(self, completions: Sequence[str], ground_truths: Sequence[str]) -> list[Verdict]:
        """Verdicts for a batch (the registered batched form, else one call per item)."""
        if len(completions) != len(ground_truths):
            raise ValueError(f"{len(completions)} completions but {len(ground_truths)} ground truths")
        if self._batch_fn is not None:
            return [_as_verdict(v) for v in self._batch_fn(completions, ground_truths, **self._bound)]
        return [self.verdict(c, g) for c, g in zip(completions, ground_truths)]

    def __call__(self, completion: str, ground_truth: str) -> float:
        return self.verdict(completion, ground_truth).score

    def batch(self, completions: Sequence[str], ground_truths: Sequence[str]) -> list[float]:
        """Scores for a batch (the scores of ``verdicts``)."""
        return [v.score for v in self.verdicts(completions, ground_truths)]

    def __repr__(self) -> str:
        return f"Reward({self.name!r})"


def register_reward(
    name: str,
    *,
    batch: BatchFn | None = None,
    options: Iterable[str] = (),
    sources: Iterable[str] = (),
    overwrite: bool = False,
) -> Callable[[RewardFn], Reward]:
    """Decorator registering ``fn(completion, ground_truth, **options) -> Verdict | float`` under ``name``;
    returns the Reward.

    ``batch``: an optional batched form ``(completions, ground_truths, **options) -> list[Verdict | float]``.
    ``options``: the keyword options both forms accept (bound with ``Reward.with_options``). ``sources``:
    data-source keys this reward owns (``reward_for_source``). Registering a taken name raises ValueError
    unless ``overwrite=True``.
    """
    if not isinstance(name, str) or not name:
        raise ValueError(f"reward name must be a non-empty string, got {name!r}")
    keys = tuple(str(s).lower() for s in sources)

    def decorator(fn: RewardFn) -> Reward:
        if name in _REGISTRY and not overwrite:
            raise ValueError(f"reward {name!r} is already registered (pass overwrite=True to replace it)")
        reward = Reward(name, fn, batch, options=options)
        _REGISTRY[name] = reward
        _SOURCES.pop(name, None)
        if keys:
            _SOURCES[name] = keys
        return reward

    return decorator


def list_rewards() -> list[str]:
    """Names of every registered reward, sorted."""
    return sorted(_REGISTRY)


def get_reward(name: str) -> Reward:
    """The reward registered under ``name``; KeyError naming the valid ones otherwise."""
    try:
        return _REGISTRY[name]
    except (KeyError, TypeError):
        raise KeyError(f"unknown reward {name!r}; registered rewards: {', '.join(sorted(_REGISTRY))}") from None


def reward_sources() -> dict[str, tuple[str, ...]]:
    """The data-source table: reward name -> the keys it owns, in lookup order."""
    return dict(_SOURCES)


def reward_for_source(data_source: Any, default: str = "math") -> str:
    """The name of the reward owning ``data_source`` (the first, in registration order, one of whose keys
    occurs in the lower-cased name), else ``default``."""
    source = str(data_source or "").lower()
    for name, keys in _SOURCES.items():
        if any(key in source for key in keys):
            return name
    return default


def compose_rewards(weights: Mapping[str, float]) -> Reward:
    """Weighted sum of registered rewards, e.g. ``{"math": 1.0, "format": 0.1}``, as a Reward.

    The score is the weighted sum; correct, pred and reason are those of the first reward of the mapping.
    The batched form calls each component's batched form once; options go to every component that
    declares them. Unknown names raise KeyError.
    """
    if not weights:
        raise ValueError("compose_rewards needs at least one {name: weight}")
    parts = [(get_reward(name), float(w)) for name, w in weights.items()]
    label = "+".join(f"{w:g}*{r.name}" for r, w in parts)
    options = frozenset().union(*(r.options for r, _ in parts))

    def one(completion: str, ground_truth: str, **opts: Any) -> Verdict:
        verdicts = [(r.with_options(**opts).verdict(completion, ground_truth), w) for r, w in parts]
        first = verdicts[0][0]
        return Verdict(sum(w * v.score for v, w in verdicts), first.correct, first.pred, first.reason)

    def many(completions: Sequence[str], ground_truths: Sequence[str], **opts: Any) -> list[Verdict]:
        total = [0.0] * len(completions)
        first: list[Verdict] = []
        for k, (r, w) in enumerate(parts):
            verdicts = r.with_options(**opts).verdicts(completions, ground_truths)
            first = verdicts if k == 0 else first
            for i, v in enumerate(verdicts):
                total[i] += w * v.score
        return [Verdict(s, p.correct, p.pred, p.reason) for s, p in zip(total, first)]

    return Reward(label, one, many, doc=f"Weighted sum {label}.", options=options)
