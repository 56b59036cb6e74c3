"""Offline toy tasks: synthetic, verifiable multi-step arithmetic generated from a seed.

Each problem is a short text such as ``25+11+1=?`` with an integer answer and a gold chain-of-thought
trace ending in ``\\boxed{...}``::

    problem   25+11+1=?
    solution  25+11=36,36+1=37 \\boxed{37}
    prompt    Q:25+11+1=?A:              (the "toy" template of rlvr_bench.data.templates)

Families (``FAMILIES``, the one registry of toy task families; the problem types are in
``rlvr_bench.data.toy_problems``, the code family in ``rlvr_bench.data.toy_code``):

* ``addsub``: chains of ``+``/``-`` over operands ``1..max_operand``, every intermediate result in
  ``0..max_value``; the difficulty knob is the number of steps and the operand range.
* ``muladd``: ``a*b+c`` or ``a*b-c`` with ``a, b`` in ``2..max_factor`` and ``c`` in ``min_addend..max_addend``.

Train and test problems are disjoint by construction: a fixed hash of the problem text puts every
possible problem into exactly one split, whatever the seed or the split sizes. Within a split, problems
are unique.

``noisy_solution`` writes the imperfect traces the toy base is pretrained on (error model in
``rlvr_bench.config.toy.ToyErrorConfig``; the reasons for it are in ``docs/toy-world.md``).
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING

from rlvr_bench.config.toy import ToyErrorConfig, ToyTaskConfig
from rlvr_bench.data.toy_code import CODE_TOY_FAMILY
from rlvr_bench.data.toy_problems import Step, ToyFamily, ToyProblem, boxed, perturb

if TYPE_CHECKING:
    import datasets

__all__ = [
    "FAMILIES",
    "Step",
    "ToyFamily",
    "ToyProblem",
    "boxed",
    "family_names",
    "iter_problems",
    "noisy_solution",
    "register_family",
    "sample_problems",
    "split_of",
    "toy_dataset",
    "toy_prompt",
]

SPLITS = ("train", "test")
_SPLIT_SALT = "rlvr_bench-toy-split-v1:"


FAMILIES: dict[str, ToyFamily] = {}


def register_family(family: ToyFamily) -> ToyFamily:
    """Add a task family to the registry (a name may be registered once)."""
    if family.name in FAMILIES:
        raise ValueError(f"toy family {family.name!r} is already registered")
    FAMILIES[family.name] = family
    return family


def family_names() -> list[str]:
    """Registered family names, in registration order."""
    return list(FAMILIES)


def toy_prompt(problem: str) -> str:
    """The text the model continues for a problem (the ``toy`` prompt template)."""
    from rlvr_bench.data.templates import render_prompt

    return render_prompt("toy", problem)


def _apply(left: int, op: str, right: int) -> int:
    if op == "+":
        return left + right
    if op == "-":
        return left - right
    if op == "*":
        return left * right
    raise ValueError(f"unknown operator {op!r}")


# ---------------------------------------------------------------------------------------------------------
# Families


def _sample_addsub(rng: random.Random, task: ToyTaskConfig) -> ToyProblem:
    """A chain like ``25+11-7=?``: operands 1..max_operand, intermediates in 0..max_value."""
    lo, hi = task.addsub_min_steps, task.addsub_max_steps
    if lo > hi:
        raise ValueError(f"addsub_min_steps ({lo}) > addsub_max_steps ({hi})")
    top, cap = task.addsub_max_operand, task.addsub_max_value
    n_ops = rng.randint(lo, hi)
    value = rng.randint(1, min(top, cap))
    text, steps = str(value), []
    for _ in range(n_ops):
        for _attempt in range(100):
            op, right = rng.choice("+-"), rng.randint(1, top)
            result = _apply(value, op, right)
            if 0 <= result <= cap:
                break
        else:  # value is stuck (e.g. max_value < max_operand); fall back to the smallest valid move
            op, right, result = ("-", 1, value - 1) if value >= 1 else ("+", 1, value + 1)
        steps.append(Step(value, op, right, result))
        text += f"{op}{right}"
        value = result
    return ToyProblem("addsub", text + "=?", str(value), tuple(steps))


def _sample_muladd(rng: random.Random, task: ToyTaskConfig) -> ToyProblem:
    """``a*b+c`` or ``a*b-c`` (never negative)."""
    if task.muladd_min_addend > task.muladd_max_addend:
        raise ValueError("muladd_min_addend > muladd_max_addend")
    for _attempt in range(1000):
        a = rng.randint(2, task.muladd_max_factor)
        b = rng.randint(2, task.muladd_max_factor)
        c = rng.randint(task.muladd_min_addend, task.muladd_max_addend)
        op = rng.choice("+-")
        prod = a * b
        result = _apply(prod, op, c)
        if result >= 0:
            break
    else:
        op, result = "+", prod + c
    steps = (Step(a, "*", b, prod), Step(prod, op, c, result))
    return ToyProblem("muladd", f"{a}*{b}{op}{c}=?", str(result), steps)


register_family(ToyFamily("addsub", _sample_addsub, {}, "chains of +/- over small operands"))
register_family(ToyFamily("muladd", _sample_muladd, {"*": "+"}, "a*b +/- c"))
register_family(CODE_TOY_FAMILY)  # rlvr_bench.data.toy_code


# ---------------------------------------------------------------------------------------------------------
# Splits


def split_of(problem: str, test_fraction: float = 0.1) -> str:
    """``"test"`` or ``"train"``: the split a problem text belongs to (seed-free, by a fixed hash)."""
    digest = hashlib.sha256((_SPLIT_SALT + problem).encode()).digest()
    return "test" if int.from_bytes(digest[:8], "big") / 2**64 < test_fraction else "train"


def _check_families(families: Sequence[str], weights: Sequence[float]) -> None:
    unknown = [f for f in families if f not in FAMILIES]
    if unknown:
        raise ValueError(f"unknown toy family {unknown[0]!r}; valid: {', '.join(FAMILIES)}")
    if len(weights) != len(families):
        raise ValueError(f"{len(weights)} family weights for {len(families)} families {list(families)}")
    if any(w < 0 for w in weights) or sum(weights) <= 0:
        raise ValueError(f"family weights must be >= 0 and not all zero, got {list(weights)}")


def iter_problems(
    rng: random.Random,
    task: ToyTaskConfig,
    *,
    split: str = "train",
    families: Sequence[str] | None = None,
    weights: Sequence[float] | None = None,
) -> Iterator[ToyProblem]:
    """An endless stream of problems of one split, families drawn by weight (repeats possible).

    This is the pretraining stream of the toy base and teacher: fresh problems every step, never a test
    problem when ``split="train"``.
    """
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    fams = list(task.families if families is None else families)
    ws = list(task.family_weights if weights is None else weights)
    _check_families(fams, ws)
    while True:
        family = FAMILIES[rng.choices(fams, weights=ws)[0]]
        prob = family.sample(rng, task)
        if split_of(prob.problem, task.test_fraction) == split:
            yield prob


def _family_counts(n: int, families: Sequence[str], weights: Sequence[float]) -> list[int]:
    """Split ``n`` into per-family counts proportional to ``weights`` (largest remainders)."""
    total = float(sum(weights))
    raw = [n * w / total for w in weights]
    counts = [int(r) for r in raw]
    order = sorted(range(len(raw)), key=lambda i: raw[i] - counts[i], reverse=True)
    for i in order[: n - sum(counts)]:
        counts[i] += 1
    return counts


def sample_problems(
    split: str,
    n: int,
    task: ToyTaskConfig,
    *,
    families: Sequence[str] | None = None,
    weights: Sequence[float] | None = None,
) -> list[ToyProblem]:
    """``n`` unique problems of one split, per-family counts fixed by the weights, in family order.

    Deterministic for ``task.seed``; each family draws from its own random stream, so changing one
    family's count leaves the others' problems unchanged. Raises ``ValueError`` when a family has fewer
    distinct problems in the split than asked for.
    """
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    fams = list(task.families if families is None else families)
    ws = list(task.family_weights if weights is None else weights)
    _check_families(fams, ws)
    out: list[ToyProblem] = []
    for fam, count in zip(fams, _family_counts(n, fams, ws)):
        rng = random.Random(f"toy:{task.seed}:{split}:{fam}")
        seen: set[str] = set()
        attempts = 0
        while len(seen) < count:
            attempts += 1
            if attempts > 1000 * count + 10_000:
                raise ValueError(
                    f"toy family {fam!r} has too few distinct {split} problems for {count} "
                    f"(found {len(seen)}); raise its difficulty or lower the count"
                )
            prob = FAMILIES[fam].sample(rng, task)
            if prob.problem in seen or split_of(prob.problem, task.test_fraction) != split:
                continue
            seen.add(prob.problem)
            out.append(prob)
    return out


def toy_dataset(
    split: str = "train",
    *,
    seed: int | None = None,
    num_problems: int | None = None,
    families: Sequence[str] | None = None,
    weights: Sequence[float] | None = None,
    task: ToyTaskConfig | None = None,
) -> datasets.Dataset:
    """The toy task split as a ``datasets.Dataset``.

    Args:
        split: ``"train"`` or ``"test"`` (disjoint by problem text).
        seed: which problems are drawn (default: ``task.seed``, 0).
        num_problems: rows (default: ``task.num_train`` / ``task.num_test``: 2000 / 200).
        families: subset of families (default: ``task.families``: addsub, muladd).
        weights: share of each family (default: ``task.family_weights`` when ``families`` is not
            given, else equal shares).
        task: difficulty and split settings (``ToyTaskConfig``; None = defaults).

    Returns:
        Columns ``id``, ``problem`` (``25+11+1=?``), ``answer`` (``37``), ``solution`` (the gold trace,
        ``25+11=36,36+1=37 \\boxed{37}``), ``family`` and ``data_source`` (``toy/<family>``).
    """
    import dataclasses

    import datasets

    task = ToyTaskConfig() if task is None else task
    if seed is not None:
        task = dataclasses.replace(task, seed=seed)
    if families is not None and weights is None:
        weights = [1.0] * len(families)
    if num_problems is None:
        num_problems = task.num_train if split == "train" else task.num_test
    probs = sample_problems(split, num_problems, task, families=families, weights=weights)
    counters: dict[str, int] = {}
    rows: dict[str, list[str]] = {k: [] for k in ("id", "problem", "answer", "solution", "family", "data_source")}
    for p in probs:
        i = counters.get(p.family, 0)
        counters[p.family] = i + 1
        rows["id"].append(f"toy-{split}-{p.family}-{i:05d}")
        rows["problem"].append(p.problem)
        rows["answer"].append(p.answer)
        rows["solution"].append(p.solution)
        rows["family"].append(p.family)
        rows["data_source"].append(f"toy/{p.family}")
    return datasets.Dataset.from_dict(rows)


# ---------------------------------------------------------------------------------------------------------
# Imperfect traces


def noisy_solution(prob: ToyProblem, rng: random.Random, errors: ToyErrorConfig | None = None) -> str:
    """An imperfect trace for ``prob`` drawn from the error model (``None`` = defaults).

    In order: a family in ``broken_families`` works every step with its wrong strategy (``*`` as ``+``),
    so its traces are wrong; with ``shortcut_prob`` the trace is only ``\\boxed{guess}``, the guess off
    with ``shortcut_error_prob``; otherwise every step is written, each result off with
    ``step_error_prob`` and the wrong value carried into the next step. The boxed answer is the last
    carried value, so a trace is consistent with itself. A family with its own ``noisy`` writer uses it.
    """
    errors = ToyErrorConfig() if errors is None else errors
    family = FAMILIES[prob.family]
    if family.noisy is not None:
        return family.noisy(prob, rng, errors)
    wrong = family.wrong_op if prob.family in errors.broken_families else {}
    value = None
    for s in prob.steps:  # the answer this strategy reaches without slips
        value = _apply(s.left if value is None else value, wrong.get(s.op, s.op), s.right)
    if rng.random() < errors.shortcut_prob:
        guess = value
        if rng.random() < errors.shortcut_error_prob:
            guess = perturb(guess, rng, errors.error_deltas)
        return boxed(guess)
    parts: list[str] = []
    carried = None
    for s in prob.steps:
        left = s.left if carried is None else carried
        result = _apply(left, wrong.get(s.op, s.op), s.right)
        if rng.random() < errors.step_error_prob:
            result = perturb(result, rng, errors.error_deltas)
        parts.append(f"{left}{s.op}{s.right}={result}")
        carried = result
    return ",".join(parts) + " " + boxed(carried)

