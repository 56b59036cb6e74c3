"""The shape of a benchmark entry and where its data can be found offline.

``BenchmarkSpec`` is what the registry ``rlvr_bench.data.benchmarks.BENCHMARKS`` (the single list of
benchmarks) holds; :func:`offline_hint` and :func:`local_copy` are shared by the math loader
(``benchmarks``) and the code loader (``code_benchmarks``), so neither imports the other's internals.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from rlvr_bench.data.sources import LOCAL_FILE_HINT

__all__ = ["DATA_DIR_ENV", "BenchmarkSpec", "identity_answer", "local_copy", "offline_hint"]

DATA_DIR_ENV = "RLVR_BENCH_DATA_DIR"
"""Environment variable naming a folder of normalised local benchmark copies."""


def identity_answer(text: str) -> str:
    return text


@dataclass(frozen=True)
class BenchmarkSpec:
    """Where a benchmark lives and how its columns map to ``id``/``problem``/``answer``.

    Attributes:
        name: short name.
        hub_id: Hugging Face dataset (``None``: built in).
        split, subset: hub split and configuration.
        problem_column, answer_column, solution_column, id_column: hub column mapping (``id_column``
            ``None``: ids ``"<name>/<row index>"``); column ids become ``"<name>/<original id>"``.
        postprocess: applied to the string gold answer; idempotent, so normalised copies pass unchanged.
        local_file: file name of the normalised copy in a local benchmark folder.
        description: one line for listings.
        answer_is_tests: a code benchmark: rows (the answer = JSON tests for the ``code`` reward) are
            built from several columns by :func:`rlvr_bench.data.code_benchmarks.load_code_benchmark`;
            the column fields above then only document the mapping.
        domain: the task family the report groups it under: "math", "code" or "visual" (images); empty =
            "code" when ``answer_is_tests``, else "math" (:attr:`kind`).
        template: the prompt template its rows need whatever the model (HumanEval's completion style: the
            prompt is the function's signature and docstring), None = the evaluation's choice.
    """

    name: str
    hub_id: str | None
    split: str = "test"
    subset: str | None = None
    problem_column: str = "problem"
    answer_column: str = "answer"
    solution_column: str | None = None
    id_column: str | None = None
    postprocess: Callable[[str], str] = identity_answer
    local_file: str | None = None
    description: str = ""
    answer_is_tests: bool = False
    domain: str = ""
    template: str | None = None

    @property
    def kind(self) -> str:
        """The task family: ``domain``, else "code" for a code benchmark and "math" otherwise."""
        return self.domain or ("code" if self.answer_is_tests else "math")


def offline_hint(spec: BenchmarkSpec, split: str, local_dir: str | Path | None = None) -> str:
    """How to load ``spec``'s ``split`` without the hub: the local copy it would read, or a local file.

    The normalised copy :func:`local_copy` looks for (``spec.local_file``) serves only the benchmark's own
    split; any other split (e.g. ``gsm8k`` as training data, split ``train``) needs a local data file.
    """
    if spec.answer_is_tests and split != spec.split:  # rows are built from several hub columns
        return f"pass the dataset's hub-format file of split {split!r} as source"
    if spec.local_file is None or split != spec.split:
        own = f" ({DATA_DIR_ENV}/{spec.local_file} holds only split {spec.split!r})" if spec.local_file else ""
        return f"point data.source at {LOCAL_FILE_HINT}{own}"
    folder = local_dir if local_dir is not None else os.environ.get(DATA_DIR_ENV)
    where = (f"put {spec.local_file} in '{folder}'" if folder
             else f"set {DATA_DIR_ENV} to a folder holding {spec.local_file}")
    if spec.answer_is_tests:
        return f"{where}, or pass the dataset's hub-format file as source"
    return f"{where}, or pass {LOCAL_FILE_HINT} instead of {spec.name!r}"


def local_copy(spec: BenchmarkSpec, local_dir: str | Path | None = None) -> Path | None:
    """The normalised local copy of ``spec`` in ``local_dir`` (or ``$RLVR_BENCH_DATA_DIR``), if present."""
    folder = local_dir if local_dir is not None else os.environ.get(DATA_DIR_ENV)
    if not folder or spec.local_file is None:
        return None
    path = Path(folder).expanduser() / spec.local_file
    return path if path.is_file() else None
