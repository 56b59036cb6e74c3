"""Prompt datasets from the Hugging Face hub, local files or the built-in toy tasks.

Every loader returns a ``datasets.Dataset`` with the canonical columns ``id``, ``problem``, ``answer`` (and
``solution``, ``data_source``), described in :mod:`rlvr_bench.data.reading`.

This module is the public entry: :func:`load_prompts` sends a benchmark short name to
:mod:`rlvr_bench.data.benchmarks` and every other source to :func:`rlvr_bench.data.reading.read_prompts`;
the shared errors and source helpers live in :mod:`rlvr_bench.data.sources` and are re-exported here.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from rlvr_bench.data.benchmarks import BENCHMARKS, load_benchmark
from rlvr_bench.data.reading import normalize_answer, read_prompts
from rlvr_bench.data.sources import (
    LOCAL_FILE_HINT,
    LOCAL_SUFFIXES,
    DataError,
    HubDataError,
    is_local_source,
    require_hub_dataset,
)

if TYPE_CHECKING:  # pragma: no cover - typing only
    from datasets import Dataset

__all__ = [
    "DataError",
    "HubDataError",
    "LOCAL_FILE_HINT",
    "LOCAL_SUFFIXES",
    "is_benchmark_name",
    "is_local_source",
    "load_prompts",
    "normalize_answer",
    "require_hub_dataset",
]


def load_prompts(
    source: str | Path,
    *,
    split: str = "train",
    problem_column: str = "problem",
    answer_column: str = "answer",
    solution_column: str | None = None,
    id_column: str | None = None,
    subset: str | None = None,
    limit: int | None = None,
    seed: int | None = None,
    source_name: str | None = None,
) -> Dataset:
    """Load prompts with the canonical columns ``id``, ``problem``, ``answer`` (+ ``solution``).

    Arguments and errors are those of :func:`rlvr_bench.data.reading.read_prompts`; ``source`` may also be
    a benchmark short name (:mod:`rlvr_bench.data.benchmarks`: its hub dataset and column mapping, with this
    ``split``; column arguments other than the defaults override the mapping).
    """
    if limit is not None and limit <= 0:
        raise DataError(f"limit must be a positive number of rows, got {limit}")
    name = str(source)
    if is_benchmark_name(name):  # e.g. "gsm8k": the benchmark's hub id and column mapping, this split
        given = {"problem_column": problem_column, "answer_column": answer_column,
                 "solution_column": solution_column, "id_column": id_column, "subset": subset}
        defaults = {"problem_column": "problem", "answer_column": "answer"}
        overrides = {k: v for k, v in given.items() if v is not None and v != defaults.get(k)}
        return load_benchmark(name, limit=limit, split=split, seed=seed, **overrides)
    return read_prompts(source, split=split, problem_column=problem_column, answer_column=answer_column,
                        solution_column=solution_column, id_column=id_column, subset=subset, limit=limit,
                        seed=seed, source_name=source_name)


def is_benchmark_name(name: str) -> bool:
    """True for a benchmark short name other than ``toy`` that is not also an existing path."""
    return name != "toy" and name in BENCHMARKS and not Path(name).exists()
