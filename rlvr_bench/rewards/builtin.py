"""The built-in registered rewards (imported on first registry lookup).

=============  ==========================================================================================
math           ``math_reward``: last ``\\boxed{}`` (or "answer is", or last number for numeric golds)
               vs the gold with math-verify; batched over the worker pool
gsm8k          ``gsm8k_reward``: ``#### X`` / boxed / last number, compared numerically
code           ``code_reward``: ground_truth is the JSON text of the tests (see code_tests), all-or-nothing
code_partial   the same with the fraction of tests passed
auto           ``code`` for rows whose ground_truth is a code test spec, ``math`` for the others (mixed data)
format         1.0 when there is exactly one final ``\\boxed{}`` (format-only control of Spurious Rewards)
code_format    1.0 when there is a complete fenced code block
random         Bernoulli(0.5) independent of correctness (random control of Spurious Rewards)
=============  ==========================================================================================
"""

from __future__ import annotations

from collections.abc import Sequence

from .code_reward import code_reward, code_score_batch
from .code_tests import is_code_tests, route_code_rows
from .math_verifier import gsm8k_reward, gsm8k_score_batch, math_reward, score_batch
from .registry import register_reward
from .shaping import format_reward, random_reward


def _math_batch(completions: Sequence[str], ground_truths: Sequence[str]) -> list[float]:
    return score_batch(completions, ground_truths)


def _gsm8k_batch(completions: Sequence[str], ground_truths: Sequence[str]) -> list[float]:
    return gsm8k_score_batch(completions, ground_truths)  # type: ignore[return-value]


def _code_batch(completions: Sequence[str], ground_truths: Sequence[str]) -> list[float]:
    return code_score_batch(completions, ground_truths)


def _code_partial_batch(completions: Sequence[str], ground_truths: Sequence[str]) -> list[float]:
    return code_score_batch(completions, ground_truths, partial_credit=True)


@register_reward("math", batch=_math_batch)
def _math(completion: str, ground_truth: str) -> float:
    """MATH-style answer equivalence (math-verify), 1.0/0.0."""
    return math_reward(completion, ground_truth)


@register_reward("gsm8k", batch=_gsm8k_batch)
def _gsm8k(completion: str, ground_truth: str) -> float:
    """GSM8K-style numeric answer, 1.0/0.0."""
    return gsm8k_reward(completion, ground_truth)


@register_reward("code", batch=_code_batch)
def _code(completion: str, ground_truth: str) -> float:
    """All tests (JSON in ground_truth) pass: 1.0, else 0.0."""
    return code_reward(completion, ground_truth)


@register_reward("code_partial", batch=_code_partial_batch)
def _code_partial(completion: str, ground_truth: str) -> float:
    """Fraction of the tests (JSON in ground_truth) that pass."""
    return code_reward(completion, ground_truth, partial_credit=True)


def _auto_batch(completions: Sequence[str], ground_truths: Sequence[str]) -> list[float]:
    return route_code_rows(completions, ground_truths, _code_batch, _math_batch)


@register_reward("auto", batch=_auto_batch)
def _auto(completion: str, ground_truth: str) -> float:
    """The code reward when ground_truth is a code test spec, else the math reward (mixed datasets)."""
    return code_reward(completion, ground_truth) if is_code_tests(ground_truth) else math_reward(completion, ground_truth)


@register_reward("format")
def _format_(completion: str, ground_truth: str) -> float:
    """Exactly one final \\boxed{} answer: 1.0, else 0.0."""
    return format_reward(completion, ground_truth, kind="math")


@register_reward("code_format")
def _code_format(completion: str, ground_truth: str) -> float:
    """A complete fenced code block: 1.0, else 0.0."""
    return format_reward(completion, ground_truth, kind="code")


@register_reward("random")
def _random(completion: str, ground_truth: str) -> float:
    """Bernoulli(0.5), deterministic per (completion, ground_truth)."""
    return random_reward(completion, ground_truth)
