"""The types of the offline toy tasks: a written step, a problem with its gold trace, a task family.

The lowest module of the toy world: ``rlvr_bench.data.toy`` (the family registry, the math families, the
samplers) and ``rlvr_bench.data.toy_code`` (the code family) both build on it, so neither imports the other
the wrong way.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from rlvr_bench.config.toy import ToyErrorConfig, ToyTaskConfig

__all__ = ["Step", "ToyFamily", "ToyProblem", "boxed", "perturb"]


@dataclass(frozen=True)
class Step:
    """One written step ``left op right = result`` of a trace."""

    left: int
    op: str
    right: int
    result: int

    def text(self) -> str:
        """The step as written in a trace, e.g. ``25+11=36``."""
        return f"{self.left}{self.op}{self.right}={self.result}"


@dataclass(frozen=True)
class ToyProblem:
    """A problem with its answer and the gold steps that solve it.

    Arithmetic families describe the gold trace by ``steps``; a family whose traces are not arithmetic
    steps (e.g. a toy code family) leaves ``steps`` empty and gives the trace as ``gold``.
    """

    family: str
    problem: str
    answer: str
    steps: tuple[Step, ...] = ()
    gold: str | None = None

    @property
    def solution(self) -> str:
        """The gold trace: ``gold`` if given, else every step, then the boxed answer."""
        if self.gold is not None:
            return self.gold
        return ",".join(s.text() for s in self.steps) + " " + boxed(self.answer)


@dataclass(frozen=True)
class ToyFamily:
    """A task family: a sampler of problems and the wrong strategy the base learns for it.

    Attributes:
        name: registry key; rows get ``family=name`` and ``data_source="toy/<name>"``.
        sample: draws one problem from ``random.Random`` under the task settings.
        wrong_op: maps an operator to the one a "broken" trace works instead (the base's wrong
            strategy when the family is in ``ToyErrorConfig.broken_families``).
        description: one line for the docs.
        noisy: optional imperfect-trace writer ``(problem, rng, errors) -> str`` for families whose
            traces are not arithmetic steps; ``None`` uses the step error model of :func:`noisy_solution`.
    """

    name: str
    sample: Callable[[random.Random, ToyTaskConfig], ToyProblem]
    wrong_op: dict[str, str]
    description: str = ""
    noisy: Callable[[ToyProblem, random.Random, ToyErrorConfig], str] | None = None


def boxed(answer: str | int) -> str:
    """``\\boxed{answer}``."""
    return "\\boxed{" + str(answer) + "}"


def perturb(value: int, rng: random.Random, deltas: Sequence[int]) -> int:
    """``value`` off by a random signed delta, never negative."""
    delta = rng.choice(list(deltas))
    if value - delta < 0 or rng.random() < 0.5:
        return value + delta
    return value - delta
