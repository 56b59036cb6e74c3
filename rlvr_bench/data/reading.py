"""Read one prompt source (a local file, a hub dataset, the toy tasks) into the canonical columns.

Every loader returns a ``datasets.Dataset`` with the canonical columns

``id``
    unique problem id (a string): the dataset's id column, or ``"<source>/<row index>"``.
``problem``
    the problem text a prompt template renders.
``answer``
    the verifiable gold answer as a string (numbers are written without a trailing ``.0``).
``solution``
    a reference trace, only when a solution column is mapped.
``data_source``
    where the row came from (kept when the dataset has it, else the source name); verl's reward
    interface receives it.
``image``, ``image_id``
    visual rows only (a dataset with an ``image`` or ``images`` column, or ``image_column``): the row's image
    as an RGB ``PIL.Image`` (``datasets.Image()`` feature) and its stable id (``rlvr_bench.data.images``).

Other columns are kept unchanged. Problems with a column mapping that does not fit the data fail with
one-line :class:`DataError` messages that name the missing column and list the columns that exist.

Benchmark short names are not resolved here: ``rlvr_bench.data.loading.load_prompts`` (the public entry)
sends them to ``rlvr_bench.data.benchmarks``, which reads its data through :func:`read_prompts`.
"""

from __future__ import annotations

import json
import math
import random
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rlvr_bench.data.images import ImageColumnError, add_image_columns, find_image_column
from rlvr_bench.data.sources import (
    DataError,
    first_line,
    is_local_source,
    load_hub_dataset,
    read_local_file,
)

if TYPE_CHECKING:  # pragma: no cover - typing only
    from datasets import Dataset

__all__ = ["normalize_answer", "read_prompts"]


def normalize_answer(value: Any) -> str:
    """Write a gold answer as a string.

    Integral floats lose their ``.0`` (``27.0`` -> ``"27"``), strings are stripped, a one-element list
    gives its element and longer lists are joined with ``", "``. ``None`` raises ``ValueError``.
    """
    if value is None:
        raise ValueError("answer is missing (null)")
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float):
        if math.isfinite(value) and value.is_integer():
            return str(int(value))
        return repr(value)
    if isinstance(value, (list, tuple)):
        if not value:
            raise ValueError("answer is an empty list")
        return ", ".join(normalize_answer(v) for v in value)
    if isinstance(value, dict):
        return json.dumps(value, sort_keys=True, ensure_ascii=False)
    return str(value).strip()


def read_prompts(
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
    image_column: str | None = None,
    image_id_column: str | None = None,
) -> Dataset:
    """Read one source into the canonical columns ``id``, ``problem``, ``answer`` (+ ``solution``, + ``image``).

    Args:
        source: ``"toy"`` (the built-in toy tasks), a local ``.jsonl``/``.json``/``.parquet``/``.csv``
            file, or a Hugging Face dataset name, optionally ``"name:subset"`` (benchmark short names are
            resolved one level up, by :func:`rlvr_bench.data.loading.load_prompts`).
        split: dataset split (hub and toy sources; a local file is one split).
        problem_column, answer_column: columns holding the problem text and the gold answer.
        solution_column: column with reference traces, copied to ``solution`` (may equal the answer
            column, e.g. GSM8K's worked answer).
        id_column: column with unique ids; ``None`` uses an ``id`` column when there is one, else ids are
            ``"<source>/<row index>"``.
        subset: hub dataset configuration (overrides a ``:subset`` suffix).
        limit: keep at most this many rows (after the seeded shuffle when ``seed`` is given).
        seed: shuffle the rows with this seed; ``None`` keeps the file order.
        source_name: name used in generated ids and in an added ``data_source`` column; default: a
            local file's stem, else ``source`` itself. Generated ids count rows of the whole source, so
            they do not change with ``limit`` or ``seed``.
        image_column: column holding each row's image (PIL, ``datasets.Image``, path or bytes; a one-image
            list); ``None`` = an ``image`` or ``images`` column when there is one, else a text-only dataset.
        image_id_column: column whose value ids each image; ``None`` = the sha256 of its PNG bytes.

    Raises:
        DataError: missing file, unreachable hub dataset, missing column, empty dataset, null answer,
            duplicate ids; ``ImageColumnError`` (a ``DataError``): a named image column that is missing or
            an image that cannot be read.
    """
    from datasets import Features, Value

    if limit is not None and limit <= 0:
        raise DataError(f"limit must be a positive number of rows, got {limit}")
    name = str(source)
    raw = _load_raw(name, split=split, subset=subset)
    if len(raw) == 0:
        where = "" if is_local_source(name) else f" (split {split!r})"
        raise DataError(f"dataset {name!r}{where} is empty")
    id_column = _check_columns(raw, name, problem_column, answer_column, solution_column, id_column)
    images = find_image_column(raw.column_names, image_column)
    if image_column is not None and images is None:
        raise ImageColumnError(f"dataset {name!r} has no image column {image_column!r} "
                               f"(columns: {', '.join(raw.column_names)})")
    raw, positions = _select(raw, limit=limit, seed=seed)
    label = source_name or _source_label(name)
    row_fn = _row_builder(label, problem_column, answer_column, solution_column, id_column,
                          add_source="data_source" not in raw.column_names, positions=positions)
    canonical = ["id", "problem", "answer"] + (["solution"] if solution_column is not None else [])
    if "data_source" not in raw.column_names:
        canonical.append("data_source")
    features = Features({k: v for k, v in raw.features.items() if k not in canonical})
    features.update({c: Value("string") for c in canonical})  # else map keeps e.g. a float64 answer type
    try:
        ds = raw.map(row_fn, with_indices=True, features=features,
                     remove_columns=[c for c in canonical if c in raw.column_names])
    except ValueError as err:  # a bad row: name it in one line
        raise DataError(f"dataset {name!r}: {first_line(err)}") from None
    _check_unique_ids(ds, name)
    if images is not None:
        base = Path(name).expanduser().parent if is_local_source(name) and name != "toy" else None
        ids = image_id_column or ("image_id" if "image_id" in ds.column_names else None)  # ids kept when given
        ds = add_image_columns(ds, images, name=name, id_column=ids, base_dir=base)
    return ds.select_columns(canonical + [c for c in ds.column_names if c not in canonical])

def _load_raw(name: str, *, split: str, subset: str | None) -> Dataset:
    if name == "toy":
        from rlvr_bench.data.toy import toy_dataset

        return toy_dataset(split=split)
    if is_local_source(name):
        return read_local_file(Path(name).expanduser())
    return load_hub_dataset(name, split=split, subset=subset)


# --------------------------------------------------------------------------------------------- columns


def _check_columns(
    ds: Dataset,
    name: str,
    problem_column: str,
    answer_column: str,
    solution_column: str | None,
    id_column: str | None,
) -> str | None:
    """Fail on the first mapped column the dataset lacks; resolve the id column."""
    columns = list(ds.column_names)
    wanted = [("problem_column", problem_column), ("answer_column", answer_column)]
    if solution_column is not None:
        wanted.append(("solution_column", solution_column))
    if id_column is not None:
        wanted.append(("id_column", id_column))
    for key, column in wanted:
        if column not in columns:
            raise DataError(
                f"dataset {name!r} has no column {column!r} (columns: {', '.join(columns)}); set data.{key}"
            )
    if id_column is None and "id" in columns:
        return "id"
    return id_column


def _select(ds: Dataset, *, limit: int | None, seed: int | None) -> tuple[Dataset, list[int] | None]:
    """Seeded shuffle (a plain permutation, independent of the datasets version) and head.

    Returns the selection and the original row index of each selected row (``None``: unchanged).
    """
    n = len(ds)
    if seed is None:
        if limit is None or limit >= n:
            return ds, None
        return ds.select(range(limit)), None
    order = list(range(n))
    random.Random(seed).shuffle(order)
    order = order[:limit] if limit is not None else order
    return ds.select(order), order


def _source_label(name: str) -> str:
    """Short source name used in generated ids and ``data_source``: a file's stem, else the name."""
    if name != "toy" and is_local_source(name):
        return Path(name).stem
    return name


def _row_builder(
    label: str,
    problem_column: str,
    answer_column: str,
    solution_column: str | None,
    id_column: str | None,
    *,
    add_source: bool,
    positions: list[int] | None,
) -> Callable[[dict[str, Any], int], dict[str, Any]]:
    """The per-row function that writes the canonical columns."""

    def build(row: dict[str, Any], position: int) -> dict[str, Any]:
        index = position if positions is None else positions[position]
        row_id = f"{label}/{index}" if id_column is None else row[id_column]
        if row_id is None:
            raise ValueError(f"row {index} has a null id in column {id_column!r}")
        problem = row[problem_column]
        if not isinstance(problem, str) or not problem.strip():
            raise ValueError(
                f"row {index} (id {row_id}) has no problem text in column {problem_column!r} "
                f"(got {type(problem).__name__})"
            )
        try:
            answer = normalize_answer(row[answer_column])
        except ValueError as err:
            raise ValueError(f"row {index} (id {row_id}): {err} in column {answer_column!r}") from None
        out: dict[str, Any] = {"id": str(row_id), "problem": problem, "answer": answer}
        if solution_column is not None:
            out["solution"] = _solution_text(row[solution_column])
        if add_source:
            out["data_source"] = label
        return out

    return build


def _solution_text(value: Any) -> str:
    """A reference trace as text: the first of a list of alternatives, ``""`` when null."""
    if isinstance(value, (list, tuple)):
        value = value[0] if value else None
    return "" if value is None else str(value)


def _check_unique_ids(ds: Dataset, name: str) -> None:
    seen: set[str] = set()
    for row_id in ds["id"]:
        if row_id in seen:
            raise DataError(f"dataset {name!r} has duplicate id {row_id!r}; set data.id_column to a unique column")
        seen.add(row_id)

