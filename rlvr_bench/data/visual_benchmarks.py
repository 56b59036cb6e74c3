"""Visual reasoning benchmarks: Geometry3K, MathVista and MathVision rows with their images.

The paper's third domain (arXiv 2504.13837, visual reasoning): Qwen2.5-VL-7B trained with EasyR1 on Geometry3K and
evaluated on MathVista-testmini and MathVision-testmini *with the multiple-choice questions removed* (460 and 114
problems). Every row gets the canonical columns plus ``image`` (RGB ``PIL.Image``) and ``image_id`` (the dataset's own
problem id, the same as the row's ``id``; ``rlvr_bench.data.images``):

==========  =========================  ========  ============================  =============================  =========
name        Hugging Face dataset       split     problem / answer              image (id)                     filter
==========  =========================  ========  ============================  =============================  =========
geometry3k  hiyouga/geometry3k         test      ``problem`` (``<image>``      ``images`` (one per row; id:   none
            (EasyR1 format)            (train:   removed) / ``answer``         the row id)
                                       train)
mathvista   AI4Math/MathVista          testmini  ``query`` (hint + question)   ``decoded_image`` (``pid``)    free_form
                                                 / ``answer``
mathvision  MathLLMs/MathVision        testmini  ``question`` (``<imageN>``    ``decoded_image`` (``id``)     free_form
                                                 removed) / ``answer``
==========  =========================  ========  ============================  =============================  =========

The filter is a setting: ``free_form`` keeps the problems with a free-form answer (MathVista: ``question_type ==
"free_form"``; MathVision: no ``options``), ``none`` keeps every row; ``load_benchmark(name, filter=...)`` picks one
(default: the paper's). What was kept is recorded in the dataset's ``info.description`` as JSON (``{"benchmark",
"filter", "kept", "of"}``), and ``evaluate`` copies it into the summary line (``benchmark_setup``), so every result
says which rows it counted. ``limit`` applies after the filter.

Offline: a normalised copy in ``RLVR_BENCH_DATA_DIR`` (``<name>.jsonl`` with canonical columns and an ``image`` path
relative to the file), or ``source=`` a local file in the dataset's hub format (e.g. its parquet); otherwise a
one-line ``HubDataError`` names the fix.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rlvr_bench.data.benchmark_spec import BenchmarkSpec, offline_hint
from rlvr_bench.data.images import clean_problem
from rlvr_bench.data.reading import read_prompts
from rlvr_bench.data.sources import DataError, HubDataError, is_local_source, require_hub_dataset

if TYPE_CHECKING:  # pragma: no cover - typing only
    from datasets import Dataset

__all__ = ["FILTERS", "VISUAL_BENCHMARKS", "VisualBenchmark", "benchmark_setup", "is_free_form",
           "load_visual_benchmark"]

SETUP_KEY = "rlvr_bench_benchmark"
"""Key of the JSON record in a visual benchmark's ``info.description``."""


def is_free_form(row: dict[str, Any]) -> bool:
    """A free-form question: MathVista's ``question_type == "free_form"``, or (MathVision) no answer options."""
    if "question_type" in row and row["question_type"] is not None:
        return row["question_type"] == "free_form"
    return not row.get("options")


FILTERS: dict[str, Callable[[dict[str, Any]], bool] | None] = {"none": None, "free_form": is_free_form}
"""Row filters by name (the ``filter`` benchmark option)."""


@dataclass(frozen=True)
class VisualBenchmark:
    """A visual benchmark: the registry entry (``spec``) plus how its images and filter are read.

    Attributes:
        spec: the ``BENCHMARKS`` entry (hub id, split, column mapping, local copy name).
        image_column: the hub column holding the image.
        default_filter: name in :data:`FILTERS` (the paper's choice).
    """

    spec: BenchmarkSpec
    image_column: str
    default_filter: str = "none"


VISUAL_BENCHMARKS: dict[str, VisualBenchmark] = {
    v.spec.name: v
    for v in [
        VisualBenchmark(BenchmarkSpec("geometry3k", "hiyouga/geometry3k", "test", local_file="geometry3k.jsonl", domain="visual",
                                      description="Geometry3K (EasyR1 format: images, problem, answer), 601 test "
                                      "problems; train on split 'train' (2101), the paper's visual RL data"),
                        image_column="images"),
        VisualBenchmark(BenchmarkSpec("mathvista", "AI4Math/MathVista", "testmini", problem_column="query",
                                      id_column="pid", local_file="mathvista.jsonl", domain="visual",
                                      description="MathVista testmini, free-form questions only (460 of 1000)"),
                        image_column="decoded_image", default_filter="free_form"),
        VisualBenchmark(BenchmarkSpec("mathvision", "MathLLMs/MathVision", "testmini", problem_column="question",
                                      id_column="id", local_file="mathvision.jsonl", domain="visual",
                                      description="MathVision testmini, free-form questions only (114 of 304)"),
                        image_column="decoded_image", default_filter="free_form"),
    ]
}
"""The visual benchmarks; their ``spec`` s are entries of ``rlvr_bench.data.benchmarks.BENCHMARKS``."""


def load_visual_benchmark(name: str, *, limit: int | None, local: Path | None, local_dir: str | Path | None,
                          source: str | Path | None, overrides: dict[str, Any]) -> Dataset:
    """Rows of visual benchmark ``name`` (see the module docstring) from its local copy, ``source`` or the hub.

    Args:
        local: the normalised local copy to read (``benchmark_spec.local_copy``), or None.
        overrides: ``split``, ``subset``, ``seed``, column overrides, and ``filter`` (a name in :data:`FILTERS`).
    """
    vb = VISUAL_BENCHMARKS[name]
    spec, options = vb.spec, dict(overrides)
    flt = options.pop("filter", vb.default_filter)
    if flt not in FILTERS:
        raise DataError(f"benchmark {name!r}: unknown filter {flt!r}; valid: {', '.join(FILTERS)}")
    if local is not None:  # canonical columns already (the filter was applied when the copy was made)
        rest = {k: v for k, v in options.items() if k not in ("split", "subset")}
        ds = read_prompts(local, source_name=name, image_id_column="id", **rest)
        return _finish(ds, name, flt, FILTERS[flt], limit)
    kwargs: dict[str, Any] = {"split": spec.split, "subset": spec.subset, "problem_column": spec.problem_column,
                              "answer_column": spec.answer_column, "solution_column": spec.solution_column,
                              "id_column": spec.id_column, **options}
    target = str(source) if source is not None else spec.hub_id
    if source is None or not is_local_source(source):
        require_hub_dataset(target.partition(":")[0], what=f"benchmark {name!r} ({target}, split {kwargs['split']!r})",
                            hint=offline_hint(spec, kwargs["split"], local_dir))
    try:
        ds = read_prompts(target, source_name=name, image_column=vb.image_column, image_id_column="id", **kwargs)
    except HubDataError:
        raise
    except DataError as err:
        raise DataError(f"benchmark {name!r}: {err}") from None
    return _finish(ds, name, flt, FILTERS[flt], limit)


def _finish(ds: Dataset, name: str, flt: str, keep: Callable[[dict[str, Any]], bool] | None,
            limit: int | None) -> Dataset:
    """Filter, clean the problem text, prefix ids with the short name, record the setup, then ``limit``."""
    total = len(ds)
    cols = [c for c in ("question_type", "options") if c in ds.column_names]  # no image decoding while filtering
    if keep is not None and cols:
        ds = ds.filter(lambda *values: keep(dict(zip(cols, values))), input_columns=cols)
    if len(ds) == 0:
        raise DataError(f"benchmark {name!r}: no row passes filter {flt!r} (of {total})")

    def fix(row_id: str, problem: str) -> dict[str, Any]:
        row_id = row_id if row_id.startswith(name + "/") else f"{name}/{row_id}"
        return {"id": row_id, "image_id": row_id, "problem": clean_problem(problem), "data_source": name}

    ds = ds.map(fix, input_columns=["id", "problem"])
    kept = len(ds)
    if limit is not None:
        ds = ds.select(range(min(limit, kept)))
    ds.info.description = json.dumps({SETUP_KEY: {"benchmark": name, "filter": flt, "kept": kept, "of": total}})
    return ds


def benchmark_setup(ds: Any) -> dict[str, Any] | None:
    """The recorded setup of a visual benchmark dataset (``{"benchmark", "filter", "kept", "of"}``), else None."""
    text = getattr(getattr(ds, "info", None), "description", None)
    if not text or SETUP_KEY not in text:
        return None
    try:
        return json.loads(text)[SETUP_KEY]
    except (ValueError, KeyError, TypeError):
        return None
