"""Why samples fail: the ``reason`` of every incorrect final-step sample, counted per method and data source.

Each evaluated sample line (``eval/step-<N>/<benchmark>.samples.jsonl``, written by
``rlvr_bench.evaluation.evaluate``) carries a ``reason``: for math ``wrong_answer``, ``no_answer``,
``timeout``, ``error`` (``rlvr_bench.rewards.results.MATH_REASONS``); for code the first failing test's
status, ``wrong_answer``, ``timeout``, ``memory``, ``no_code``, ``syntax_error``, ``no_tests``, ``crash`` or
``exception:<Type>`` (``CODE_REASONS``); ``truncated`` for a completion cut at the token limit, whatever the
task. Counting them tells whether training mostly fixed the format (fewer ``no_answer``/``no_code``/
``syntax_error``) or the answers themselves (fewer ``wrong_answer``).

Samples files are streamed line by line (``utils.rundir.read_jsonl``: they can hold 100k lines, and a killed
writer's partial last line is skipped); a run without one is skipped and named.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

from rlvr_bench.analysis.runs import BASE_LABEL, RunData, StudyData
from rlvr_bench.data.benchmarks import BENCHMARKS
from rlvr_bench.rewards import reward_for_source
from rlvr_bench.utils.rundir import RunDir, read_jsonl

__all__ = ["ALL_SOURCES", "FORMAT_REASONS", "count_failures", "failure_columns", "reason_column", "source_kind"]

#: The family key of the counts pooled over every source.
ALL_SOURCES = "all"

#: Reasons that mean the answer was never stated in a gradable form (formatting, not reasoning).
FORMAT_REASONS = ("no_answer", "no_code", "syntax_error")

# table column order: formatting first, then truncation, wrong answers, then runtime failures
_ORDER = (*FORMAT_REASONS, "truncated", "wrong_answer", "exception", "timeout", "memory", "crash", "no_tests",
          "error")


def source_kind(source: str) -> str:
    """The task family of a data source: a registered benchmark's ``kind`` (``"visual"`` for ``toy/visual``,
    ``geometry3k``, ...); else ``"code"`` for a code source (``toy/code``, ...) and ``"math"`` otherwise, the
    rule the verl reward adapter routes by."""
    spec = BENCHMARKS.get(source)
    if spec is not None:
        return spec.kind
    return "code" if reward_for_source(source) == "code" else "math"


def reason_column(reason: str) -> str:
    """The table column of a reason: every ``exception:<Type>`` shares the column ``exception``."""
    return "exception" if reason.startswith("exception:") else reason


def failure_columns(reasons: Sequence[str]) -> list[str]:
    """The table columns for these reasons, in a fixed order (formatting first; unknown reasons last)."""
    columns = set(map(reason_column, reasons))
    return [c for c in _ORDER if c in columns] + sorted(columns - set(_ORDER))


def _empty() -> dict[str, Any]:
    return {"samples": 0, "correct": 0, "reasons": Counter()}


def _count_run(run: RunData, benchmark: str, source_of: Mapping[str, str],
               totals: dict[str, dict[str, Any]]) -> int:
    """Add one run's final-step samples to ``totals`` (family -> counts); returns the lines counted.

    Only lines of the problems and evaluation seeds of the run's final summary are counted."""
    seeds = set(run.eval_seeds)
    read = 0
    for line in read_jsonl(RunDir(run.path).samples_path(run.step, benchmark)):
        pid = str(line.get("id"))
        if pid not in source_of or (seeds and line.get("seed") not in seeds):
            continue
        read += 1
        families = (ALL_SOURCES, source_of[pid]) if source_of[pid] else (ALL_SOURCES,)
        ok = bool(line.get("correct"))
        for family in families:
            entry = totals.setdefault(family, _empty())
            entry["samples"] += 1
            entry["correct"] += ok
            if not ok:
                entry["reasons"][str(line.get("reason") or "unknown")] += 1
    return read


def _count_method(runs: Sequence[RunData], benchmark: str, source_of: Mapping[str, str],
                  num_problems: int) -> dict[str, Any]:
    """Counts of one method, its runs pooled; runs without a samples file are listed, not counted."""
    totals: dict[str, dict[str, Any]] = {}
    missing, short = [], []
    for run in runs:
        path = RunDir(run.path).samples_path(run.step, benchmark)
        if not path.is_file():
            missing.append(f"{run.path.name} ({path.relative_to(run.path)})")
            continue
        read = _count_run(run, benchmark, source_of, totals)
        expected = run.samples_per_problem * num_problems
        if read != expected:
            short.append(f"{run.path.name} ({read} of {expected} samples)")
    by_source = {family: {"samples": e["samples"], "correct": e["correct"],
                          "reasons": dict(e["reasons"].most_common())} for family, e in totals.items()}
    return {"runs": len(runs), "runs_read": len(runs) - len(missing), "missing": missing,
            "incomplete": short, "by_source": by_source}


def count_failures(data: StudyData) -> dict[str, Any]:
    """The reason of every incorrect final-step sample, per method (its runs pooled) and data source.

    Returns ``{"sources": [...], "reasons": [...], "methods": {label: {"runs", "runs_read", "missing",
    "incomplete", "by_source": {family: {"samples", "correct", "reasons": {reason: count}}}}}}``. ``family``
    is ``"all"`` and, when the study has two or more data sources, each source. ``missing`` names the runs
    without a samples file (skipped); ``incomplete`` the runs whose file held another number of samples
    than their summary (n x seeds x problems). ``reasons`` lists every reason seen, most frequent first.
    """
    names = data.source_names()
    split = len(names) >= 2
    source_of = {pid: (src if split else "") for pid, src in zip(data.ids, data.sources or [""] * len(data.ids))}
    groups = {BASE_LABEL: [data.base], **data.methods}
    methods = {label: _count_method(runs, data.benchmark, source_of, len(data.ids))
               for label, runs in groups.items()}
    seen: Counter = Counter()
    for block in methods.values():
        seen.update(block["by_source"].get(ALL_SOURCES, {}).get("reasons", {}))
    return {"sources": [ALL_SOURCES, *names] if split else [ALL_SOURCES],
            "reasons": [r for r, _ in seen.most_common()], "methods": methods}
