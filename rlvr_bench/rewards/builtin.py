"""The built-in registered rewards (imported on first registry lookup).

=============  ==========================================================================================
math           ``math_reward``: last ``\\boxed{}`` (or "answer is", or last number for numeric golds)
               vs the gold with math-verify; batched over the worker pool. Options: timeout
gsm8k          ``gsm8k_reward``: ``#### X`` / boxed / last number, compared numerically. Options: timeout
code           ``code_reward``: ground_truth is the JSON text of the tests (see code_tests), all-or-nothing
               (``partial_credit=True``: the fraction passed). Options: timeout, partial_credit
code_partial   the same with the fraction of tests passed. Options: timeout
auto           ``code`` for rows whose ground_truth is a code test spec, ``math`` for the others (mixed data)
format         1.0 when there is exactly one final ``\\boxed{}`` (format-only control of Spurious Rewards)
code_format    1.0 when there is a complete fenced code block
=============  ==========================================================================================

Data sources (``registry.reward_for_source``): names containing one of CODE_SOURCES -> code, "gsm8k" ->
gsm8k, anything else -> math (the default). The controls (random, format_only, incorrect, majority_vote)
are in ``controls``. To add a reward: a function here (or anywhere) decorated with
``register_reward(name, batch=..., options=..., sources=...)``; see docs/rewards.md.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .registry import register_reward
from .results import Verdict
from .shaping import format_reward
from .verdicts import auto_verdicts, code_verdicts, gsm8k_verdicts, math_verdicts

__all__ = ["CODE_SOURCES", "GSM8K_SOURCES"]

#: Data-source keys of the code reward (a source whose lower-cased name contains one is code).
CODE_SOURCES = ("code", "humaneval", "mbpp", "apps", "livecodebench", "taco", "codecontests", "leetcode",
                "primeintellect")
#: Data-source keys of the GSM8K reward (looked up after the code reward's).
GSM8K_SOURCES = ("gsm8k",)


def _code_partial_batch(completions: Sequence[str], ground_truths: Sequence[Any], *,
                        timeout: float | None = None) -> list[Verdict]:
    return code_verdicts(completions, ground_truths, timeout=timeout, partial_credit=True)


@register_reward("math", batch=math_verdicts, options=("timeout",))
def _math(completion: str, ground_truth: str, *, timeout: float | None = None) -> Verdict:
    """MATH-style answer equivalence (math-verify), 1.0/0.0."""
    return math_verdicts([completion], [ground_truth], timeout=timeout)[0]


@register_reward("code", batch=code_verdicts, options=("timeout", "partial_credit"), sources=CODE_SOURCES)
def _code(completion: str, ground_truth: str, *, timeout: float | None = None, partial_credit: bool = False) -> Verdict:
    """All tests (JSON in ground_truth) pass: 1.0, else 0.0 (``partial_credit``: the fraction passed)."""
    return code_verdicts([completion], [ground_truth], timeout=timeout, partial_credit=partial_credit)[0]


@register_reward("gsm8k", batch=gsm8k_verdicts, options=("timeout",), sources=GSM8K_SOURCES)
def _gsm8k(completion: str, ground_truth: str, *, timeout: float | None = None) -> Verdict:
    """GSM8K-style numeric answer, 1.0/0.0."""
    return gsm8k_verdicts([completion], [ground_truth], timeout=timeout)[0]


@register_reward("code_partial", batch=_code_partial_batch, options=("timeout",))
def _code_partial(completion: str, ground_truth: str, *, timeout: float | None = None) -> Verdict:
    """Fraction of the tests (JSON in ground_truth) that pass."""
    return _code_partial_batch([completion], [ground_truth], timeout=timeout)[0]


@register_reward("auto", batch=auto_verdicts, options=("timeout", "partial_credit"))
def _auto(completion: str, ground_truth: str, *, timeout: float | None = None, partial_credit: bool = False) -> Verdict:
    """The code reward when ground_truth is a code test spec, else the math reward (mixed datasets)."""
    return auto_verdicts([completion], [ground_truth], timeout=timeout, partial_credit=partial_credit)[0]


@register_reward("format")
def _format_(completion: str, ground_truth: str) -> float:
    """Exactly one final \\boxed{} answer: 1.0, else 0.0."""
    return format_reward(completion, ground_truth, kind="math")


@register_reward("code_format")
def _code_format(completion: str, ground_truth: str) -> float:
    """A complete fenced code block: 1.0, else 0.0."""
    return format_reward(completion, ground_truth, kind="code")
