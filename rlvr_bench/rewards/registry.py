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
any reward. A batched form may also declare per-item *context* (``context=``, names from CONTEXT) that a
caller who knows it passes to ``verdicts``/``batch`` and that the other rewards ignore:

    groups  the group of each completion (the same value for the samples of one prompt): a reward that
            compares a completion with the rest of its group, e.g. ``majority_vote`` (TTRL)
    keys    an integer per completion, the caller's seed for that sample (the RL trainer derives it from
            the run seed, the step, the rank and the sample's position): randomness that is reproducible
            and independent of the text, e.g. ``random``

    get_reward("majority_vote").verdicts(completions, golds, groups=[0, 0, 0, 1, 1, 1])
 A reward may claim data sources (``sources=``): ``reward_for_source`` picks the first reward,
in registration order, one of whose keys occurs in the (lower-cased) data-source name.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from .results import Verdict

__all__ = [
    "CONTEXT",
    "Reward",
    "Verdict",
    "control_rewards",
    "compose_rewards",
    "get_reward",
    "list_rewards",
    "register_reward",
    "reward_for_source",
    "reward_sources",
]

#: Per-item context a batched form may declare (``register_reward(context=...)``), see the module doc.
CONTEXT = ("groups", "keys")

#: ``fn(completion, ground_truth, **options)``: a Verdict, or a number (made a verdict by Verdict.of_score).
RewardFn = Callable[..., "Verdict | float"]
#: ``fn(completions, ground_truths, **options)``: one Verdict (or number) per item.
BatchFn = Callable[..., Sequence["Verdict | float"]]

_REGISTRY: dict[str, Reward] = {}
_SOURCES: dict[str, tuple[str, ...]] = {}  # reward name -> data-source keys it owns (registration order)
_CONTROLS: set[str] = set()  # names registered with control=True


def _as_verdict(value: Verdict | float) -> Verdict:
    return value if isinstance(value, Verdict) else Verdict.of_score(value)


class Reward:
    """A named reward: ``verdict``/``__call__`` on one (completion, ground_truth), ``verdicts``/``batch`` on
    two equal-length lists. The float forms are the verdicts' scores."""

    def __init__(self, name: str, fn: RewardFn, batch_fn: BatchFn | None = None, doc: str = "", *,
                 options: Iterable[str] = (), bound: Mapping[str, Any] | None = None,
                 context: Iterable[str] = ()) -> None:
        self.name = name
        self.__name__ = name
        self._fn = fn
        self._batch_fn = batch_fn
        self.options = frozenset(options)
        self._bound = dict(bound or {})
        #: the per-item context (names from CONTEXT) the batched form accepts
        self.context = _check_context(name, context, batch_fn)
        self.__doc__ = doc or fn.__doc__

    def with_options(self, **options: Any) -> Reward:
        """This reward with the given options bound (those it does not declare are ignored)."""
        bound = {**self._bound, **{k: v for k, v in options.items() if k in self.options}}
        return Reward(self.name, self._fn, self._batch_fn, self.__doc__ or "", options=self.options, bound=bound,
                      context=self.context)

    def verdict(self, completion: str, ground_truth: str) -> Verdict:
        """The verdict on one completion."""
        return _as_verdict(self._fn(completion, ground_truth, **self._bound))

    def verdicts(self, completions: Sequence[str], ground_truths: Sequence[str], *,
                 groups: Sequence[Any] | None = None, keys: Sequence[int] | None = None) -> list[Verdict]:
        """Verdicts for a batch (the registered batched form, else one call per item).

        ``groups``/``keys``: per-item context (see the module doc), one entry per completion; handed to the
        batched form when it declares them, ignored otherwise.
        """
        if len(completions) != len(ground_truths):
            raise ValueError(f"{len(completions)} completions but {len(ground_truths)} ground truths")
        given = {"groups": groups, "keys": keys}
        extra: dict[str, list[Any]] = {}
        for key, values in given.items():
            if values is not None and len(values) != len(completions):
                raise ValueError(f"{len(completions)} completions but {len(values)} {key}")
            if values is not None and key in self.context:
                extra[key] = list(values)
        if self._batch_fn is not None:
            return [_as_verdict(v) for v in self._batch_fn(completions, ground_truths, **extra, **self._bound)]
        return [self.verdict(c, g) for c, g in zip(completions, ground_truths)]

    def __call__(self, completion: str, ground_truth: str) -> float:
        return self.verdict(completion, ground_truth).score

    def batch(self, completions: Sequence[str], ground_truths: Sequence[str], *,
              groups: Sequence[Any] | None = None, keys: Sequence[int] | None = None) -> list[float]:
        """Scores for a batch (the scores of ``verdicts``)."""
        return [v.score for v in self.verdicts(completions, ground_truths, groups=groups, keys=keys)]

    def __repr__(self) -> str:
        return f"Reward({self.name!r})"


def _check_context(name: str, context: Iterable[str], batch_fn: BatchFn | None) -> frozenset[str]:
    """The declared context, checked: names from CONTEXT, and a batched form to receive them."""
    names = frozenset(context)
    unknown = sorted(names - set(CONTEXT))
    if unknown:
        raise ValueError(f"reward {name!r}: unknown context {unknown}; expected some of {list(CONTEXT)}")
    if names and batch_fn is None:
        raise ValueError(f"reward {name!r} declares context {sorted(names)} but has no batched form (batch=)")
    return names


def register_reward(
    name: str,
    *,
    batch: BatchFn | None = None,
    options: Iterable[str] = (),
    sources: Iterable[str] = (),
    context: Iterable[str] = (),
    control: bool = False,
    overwrite: bool = False,
) -> Callable[[RewardFn], Reward]:
    """Decorator registering ``fn(completion, ground_truth, **options) -> Verdict | float`` under ``name``;
    returns the Reward.

    ``batch``: an optional batched form ``(completions, ground_truths, **options) -> list[Verdict | float]``.
    ``options``: the keyword options both forms accept (bound with ``Reward.with_options``). ``sources``:
    data-source keys this reward owns (``reward_for_source``). ``context``: the per-item context (names
    from CONTEXT: "groups", "keys") the batched form accepts as keyword lists; it needs ``batch``, and its
    single form must still work without the context. ``control``: the reward does not measure correctness
    (a spurious or label-free control, e.g. ``random``); the report reads a run trained only on controls as a
    control run (:func:`control_rewards`). Registering a taken name raises ValueError unless ``overwrite=True``.
    """
    if not isinstance(name, str) or not name:
        raise ValueError(f"reward name must be a non-empty string, got {name!r}")
    keys = tuple(str(s).lower() for s in sources)

    def decorator(fn: RewardFn) -> Reward:
        if name in _REGISTRY and not overwrite:
            raise ValueError(f"reward {name!r} is already registered (pass overwrite=True to replace it)")
        reward = Reward(name, fn, batch, options=options, context=context)
        _REGISTRY[name] = reward
        _CONTROLS.discard(name)
        if control:
            _CONTROLS.add(name)
        _SOURCES.pop(name, None)
        if keys:
            _SOURCES[name] = keys
        return reward

    return decorator


def control_rewards() -> list[str]:
    """Names of the registered control rewards (``register_reward(..., control=True)``), sorted."""
    return sorted(_CONTROLS)


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
    declares them, and so does the per-item context (the composition declares the union). Unknown names
    raise KeyError.
    """
    if not weights:
        raise ValueError("compose_rewards needs at least one {name: weight}")
    parts = [(get_reward(name), float(w)) for name, w in weights.items()]
    label = "+".join(f"{w:g}*{r.name}" for r, w in parts)
    options = frozenset().union(*(r.options for r, _ in parts))
    context = frozenset().union(*(r.context for r, _ in parts))

    def one(completion: str, ground_truth: str, **opts: Any) -> Verdict:
        verdicts = [(r.with_options(**opts).verdict(completion, ground_truth), w) for r, w in parts]
        first = verdicts[0][0]
        return Verdict(sum(w * v.score for v, w in verdicts), first.correct, first.pred, first.reason)

    def many(completions: Sequence[str], ground_truths: Sequence[str], *, groups: Sequence[Any] | None = None,
             keys: Sequence[int] | None = None, **opts: Any) -> list[Verdict]:
        total = [0.0] * len(completions)
        first: list[Verdict] = []
        for k, (r, w) in enumerate(parts):
            verdicts = r.with_options(**opts).verdicts(completions, ground_truths, groups=groups, keys=keys)
            first = verdicts if k == 0 else first
            for i, v in enumerate(verdicts):
                total[i] += w * v.score
        return [Verdict(s, p.correct, p.pred, p.reason) for s, p in zip(total, first)]

    return Reward(label, one, many, doc=f"Weighted sum {label}.", options=options, context=context)
