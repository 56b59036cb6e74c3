"""Per-item results of the rewards (plain frozen dataclasses, JSON-friendly).

``Verdict`` is what every registered reward returns (see registry.py); ``MathResult`` and ``CodeResult``
are the detailed results of the math and code rewards, from which their verdicts are made.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = ["CODE_REASONS", "MATH_REASONS", "CodeResult", "MathResult", "Verdict"]

#: Every value MathResult.reason can take.
MATH_REASONS = ("correct", "wrong_answer", "no_answer", "timeout", "error")

#: Every value CodeResult.reason can take, besides "exception:<Type>".
CODE_REASONS = ("passed", "wrong_answer", "timeout", "memory", "no_code", "syntax_error", "no_tests", "crash")


@dataclass(frozen=True)
class Verdict:
    """The verdict of a registered reward on one completion.

    score: the reward value. correct: the answer was judged right (for scalar rewards: score reached 1).
    pred: the extracted prediction (the final answer, the program), None when there is none or the
    reward extracts nothing. reason: why, e.g. one of MATH_REASONS or CODE_REASONS, or "error".
    """

    score: float
    correct: bool
    pred: str | None
    reason: str

    @classmethod
    def of_score(cls, score: float) -> Verdict:
        """The verdict of a reward that only gives a number: correct when it reached 1."""
        value = float(score)
        return cls(value, value >= 1.0, None, "correct" if value >= 1.0 else "wrong_answer")


@dataclass(frozen=True)
class MathResult:
    """The verdict on one math completion.

    score: 1.0 or 0.0. reason: one of MATH_REASONS. extracted: the cleaned final answer found in the
    completion (None when there is none). gold: the cleaned reference answer. source: who decided:
    "fast" (in-process numeral comparison), "cache", "math_verify" (a worker), "none" (no answer, or
    rejected before verification). detail: a human-readable note (the error type, the timeout, ...).
    seconds: for source "math_verify", the time from handing the pair to a worker to its verdict.
    """

    score: float
    reason: str
    extracted: str | None
    gold: str
    source: str
    detail: str = ""
    seconds: float = 0.0

    @property
    def correct(self) -> bool:
        """True when the answer was judged equivalent to the gold."""
        return self.reason == "correct"

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable dict (for samples.jsonl)."""
        return asdict(self)


@dataclass(frozen=True)
class CodeResult:
    """The verdict on one code completion.

    score: fraction of tests passed (``partial_credit=True``) or 1.0/0.0 (all-or-nothing). passed/total:
    test counts. reason: "passed", a member of CODE_REASONS or "exception:<Type>", for the first failure.
    test_status: per test, "pass" or the failure reason. isolation: the isolation layers that were
    active (e.g. "netns,mountns,uid,rlimits,audit"). output_tail: the last bytes the program printed.
    """

    score: float
    passed: int
    total: int
    reason: str
    test_status: tuple[str, ...] = field(default_factory=tuple)
    isolation: str = ""
    output_tail: str = ""
    wall_s: float = 0.0

    @property
    def correct(self) -> bool:
        """True when every test passed."""
        return self.total > 0 and self.passed == self.total

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable dict."""
        return asdict(self)
