"""Control rewards: the honest baselines every RL gain should be read against.

=============  ==========================================================================================
random         Bernoulli(p=0.5), drawn from the caller's per-item key: independent of the completion and
               of the ground truth (Spurious Rewards, arXiv 2506.10947). Context: keys. Options: p, seed
format_only    1 when the verifier extracts an answer (math: the last ``\\boxed{}``, "answer is", or the
               last number for numeric golds; code: a fenced program), else 0 (Spurious Rewards' format
               reward, with the verifier's own extraction rules)
incorrect      1 exactly when the verifier says wrong (``not verdict.correct``), else 0 (Spurious Rewards)
majority_vote  label-free (TTRL, arXiv 2504.16084): 1 when the completion's answer equals the majority
               answer of its group (the samples of one prompt), 0 otherwise and when it has no answer.
               Context: groups
=============  ==========================================================================================

**Correctness stays the verifier's.** A control's Verdict has the control's ``score`` but the verifier's
``correct``, ``pred`` and ``reason`` (the verifier is ``auto``: code tests for rows whose ground truth is a
test spec, math answer equivalence for the others; option ``verifier`` names another registered reward).
Everything that reads correctness (the RL trainer's ``reward/accuracy``, evaluation's pass@k, verl's
``acc``) therefore keeps measuring the truth when a recipe trains on a control, and a control costs one
verifier pass, as the real reward does. Every control also accepts the verifier's options (``timeout``,
``partial_credit``). A verifier that raises on a batch is retried item by item; an item it still raises on
gets the verdict ``Verdict(0.0, False, None, "error")`` and the control scores it from that (``incorrect``
then gives 1: the verifier did not say right). No control raises on model text.

**Seeds (random).** ``keys`` is one integer per completion, derived by the caller from its seeds: the RL
trainer passes ``derive_seed(run seed, step, rank, round, position)``-style keys, so a run is
reproducible and the draw of a sample depends on where it sits, never on what it says. Each key gives
``blake2b("random-control", seed, key) < p``. Without keys (evaluation, TRL, verl's per-response calls)
the keys come from a process-wide stream (seed, process id, counter): still independent of the text, but
only reproducible for the same sequence of calls in one process.

**Groups (majority_vote).** ``groups`` holds one hashable value per completion; completions with equal
values form a group (the trainer passes the prompt's index). Answers are the verifier's extracted
predictions with all whitespace removed, compared as strings (no math-verify equivalence: cheap and
deterministic); completions without an answer do not vote. The majority is the most frequent answer; a
tie goes to the lexicographically smallest answer, so the label does not depend on the order of the
samples. Without ``groups`` (evaluation's flat lists, TRL's ``num_generations`` consecutive samples,
verl's batch manager), consecutive completions with the same ground truth form a group; the single form
(``verdict``) sees a group of one. The ground truth never enters the score: only the extraction rule
depends on its kind (numeric gold, code tests), as it does for the verifier. verl's per-response reward
manager cannot give the group, so ``rlvr-bench verl export`` refuses any reward that declares groups.
"""

from __future__ import annotations

import hashlib
import itertools
import logging
import os
import threading
from collections import Counter
from collections.abc import Hashable, Sequence
from typing import Any

from .registry import get_reward, register_reward
from .results import Verdict

__all__ = ["CONTROLS", "DEFAULT_VERIFIER", "majority_labels", "random_coin", "random_keys_stream", "runs_of_equal",
           "verify"]

logger = logging.getLogger("rlvr_bench.rewards")

#: The control rewards this module registers.
CONTROLS = ("random", "format_only", "incorrect", "majority_vote")
#: The verifier a control keeps the correctness of, unless the option ``verifier`` names another.
DEFAULT_VERIFIER = "auto"
_VERIFIER_OPTIONS = ("timeout", "partial_credit", "verifier")
_stream_lock = threading.Lock()
_stream = itertools.count()


# ------------------------------------------------------------------------------------ the verifier


def verify(completions: Sequence[Any], ground_truths: Sequence[Any], *, verifier: str = DEFAULT_VERIFIER,
           timeout: float | None = None, partial_credit: bool = False) -> list[Verdict]:
    """The verifier's verdicts; never raises on model text (a raising batch is retried item by item, an
    item that still raises gets ``Verdict(0.0, False, None, "error")``)."""
    if verifier in CONTROLS:
        raise ValueError(f"a control cannot be verified by the control {verifier!r}")
    reward = get_reward(verifier).with_options(timeout=timeout, partial_credit=partial_credit)
    try:
        return reward.verdicts(list(completions), list(ground_truths))
    except Exception as exc:  # noqa: BLE001 - hostile rows: score each alone
        logger.warning("verifier %r raised %s on a batch of %d; scoring item by item", verifier,
                       type(exc).__name__, len(completions))
    out = []
    for completion, gold in zip(completions, ground_truths):
        try:
            out.append(reward.verdicts([completion], [gold])[0])
        except Exception:  # noqa: BLE001
            out.append(Verdict(0.0, False, None, "error"))
    return out


def _with_score(verdict: Verdict, score: float) -> Verdict:
    """The verifier's verdict carrying the control's score."""
    return Verdict(float(score), bool(verdict.correct), verdict.pred, verdict.reason)


# ------------------------------------------------------------------------------------ random


def random_coin(key: int, *, p: float = 0.5, seed: int = 0) -> float:
    """1.0 with probability ``p`` for a uniformly hashed ``(seed, key)``; a function of the key alone."""
    digest = hashlib.blake2b(f"random-control:{seed}:{key}".encode(), digest_size=8).digest()
    return 1.0 if int.from_bytes(digest, "big") / 2**64 < p else 0.0


def random_keys_stream(count: int, *, seed: int = 0) -> list[int]:
    """``count`` keys from the process-wide stream (seed, process id, counter), for callers without keys."""
    with _stream_lock:
        ticks = [next(_stream) for _ in range(count)]
    pid = os.getpid()
    return [int.from_bytes(hashlib.blake2b(f"{seed}:{pid}:{t}".encode(), digest_size=8).digest(), "big")
            for t in ticks]


def _random_batch(completions: Sequence[Any], ground_truths: Sequence[Any], *, keys: Sequence[int] | None = None,
                  p: float = 0.5, seed: int = 0, **verifier: Any) -> list[Verdict]:
    keys = list(keys) if keys is not None else random_keys_stream(len(completions), seed=seed)
    verdicts = verify(completions, ground_truths, **verifier)
    return [_with_score(v, random_coin(k, p=p, seed=seed)) for v, k in zip(verdicts, keys)]


@register_reward("random", batch=_random_batch, options=(*_VERIFIER_OPTIONS, "p", "seed"), context=("keys",),
                 control=True)
def _random(completion: Any, ground_truth: Any, **options: Any) -> Verdict:
    """Bernoulli(p=0.5) from the caller's key (else a process stream), independent of the completion."""
    return _random_batch([completion], [ground_truth], **options)[0]


# ------------------------------------------------------------------------------------ format / incorrect


def _format_only_batch(completions: Sequence[Any], ground_truths: Sequence[Any], **verifier: Any) -> list[Verdict]:
    verdicts = verify(completions, ground_truths, **verifier)
    return [_with_score(v, 1.0 if v.pred is not None else 0.0) for v in verdicts]


@register_reward("format_only", batch=_format_only_batch, options=_VERIFIER_OPTIONS, control=True)
def _format_only(completion: Any, ground_truth: Any, **options: Any) -> Verdict:
    """1.0 when the verifier extracts an answer (or a program), else 0.0."""
    return _format_only_batch([completion], [ground_truth], **options)[0]


def _incorrect_batch(completions: Sequence[Any], ground_truths: Sequence[Any], **verifier: Any) -> list[Verdict]:
    verdicts = verify(completions, ground_truths, **verifier)
    return [_with_score(v, 0.0 if v.correct else 1.0) for v in verdicts]


@register_reward("incorrect", batch=_incorrect_batch, options=_VERIFIER_OPTIONS, control=True)
def _incorrect(completion: Any, ground_truth: Any, **options: Any) -> Verdict:
    """1.0 exactly when the verifier says wrong, else 0.0."""
    return _incorrect_batch([completion], [ground_truth], **options)[0]


# ------------------------------------------------------------------------------------ majority vote


def _hashable(value: Any) -> Hashable:
    try:
        hash(value)
    except TypeError:
        return repr(value)
    return value


def _vote(pred: Any) -> str | None:
    """The answer a completion votes for: its prediction without whitespace (None: no vote)."""
    if not isinstance(pred, str):
        return None
    text = "".join(pred.split())
    return text or None


def runs_of_equal(values: Sequence[Any]) -> list[int]:
    """Group ids for consecutive runs of equal values: ``["a", "a", "b", "a"] -> [0, 0, 1, 2]``."""
    out: list[int] = []
    previous: Hashable = None
    for i, value in enumerate(values):
        key = value if isinstance(value, str) else repr(value)
        out.append(out[-1] if i and key == previous else (out[-1] + 1 if i else 0))
        previous = key
    return out


def majority_labels(answers: Sequence[str | None], groups: Sequence[Any]) -> list[str | None]:
    """Per item, the majority answer of its group (most votes; ties: the smallest string; None answers do
    not vote; None when nobody in the group answered)."""
    votes: dict[Hashable, Counter[str]] = {}
    for answer, group in zip(answers, groups):
        counter = votes.setdefault(_hashable(group), Counter())
        if answer is not None:
            counter[answer] += 1
    label = {g: min(c, key=lambda a: (-c[a], a)) if c else None for g, c in votes.items()}
    return [label[_hashable(g)] for g in groups]


def _majority_batch(completions: Sequence[Any], ground_truths: Sequence[Any], *, groups: Sequence[Any] | None = None,
                    **verifier: Any) -> list[Verdict]:
    groups = list(groups) if groups is not None else runs_of_equal(list(ground_truths))
    verdicts = verify(completions, ground_truths, **verifier)
    answers = [_vote(v.pred) for v in verdicts]
    labels = majority_labels(answers, groups)
    return [_with_score(v, 1.0 if a is not None and a == m else 0.0) for v, a, m in zip(verdicts, answers, labels)]


@register_reward("majority_vote", batch=_majority_batch, options=_VERIFIER_OPTIONS, context=("groups",),
                 control=True)
def _majority_vote(completion: Any, ground_truth: Any, **options: Any) -> Verdict:
    """Label-free TTRL reward; alone, a completion is its own group (1.0 when it has an answer)."""
    return _majority_batch([completion], [ground_truth], **options)[0]
