"""Prompt datasets from the Hugging Face hub, local files or the built-in toy tasks.

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

Other columns are kept unchanged. Problems with a column mapping that does not fit the data fail with
one-line :class:`DataError` messages that name the missing column and list the columns that exist.
"""

from __future__ import annotations

import json
import math
import random
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rlvr_bench.errors import UserError
from rlvr_bench.utils.hub import HubUnavailableError, hub_offline, require_hub

if TYPE_CHECKING:  # pragma: no cover - typing only
    from datasets import Dataset

__all__ = [
    "DataError",
    "HubDataError",
    "LOCAL_FILE_HINT",
    "LOCAL_SUFFIXES",
    "is_local_source",
    "load_prompts",
    "normalize_answer",
    "require_hub_dataset",
]

LOCAL_SUFFIXES: dict[str, str] = {".jsonl": "json", ".json": "json", ".parquet": "parquet", ".csv": "csv"}
"""Local file suffixes and the ``datasets`` builder that reads them."""


LOCAL_FILE_HINT = "a local .jsonl/.parquet/.csv file with problem and answer columns"
"""What the offline hints offer in place of a hub dataset."""


class DataError(UserError):
    """A prompt dataset cannot be loaded or does not fit the column mapping (message: one line)."""


class HubDataError(DataError, HubUnavailableError):
    """A hub dataset name while the Hugging Face hub cannot be reached (one line, with the fix)."""


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


def is_local_source(source: str | Path) -> bool:
    """True when ``source`` names a local file (existing, or with a known data-file suffix)."""
    path = Path(source).expanduser()
    return path.is_file() or path.suffix.lower() in LOCAL_SUFFIXES


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

    Args:
        source: ``"toy"`` (the built-in toy tasks), a local ``.jsonl``/``.json``/``.parquet``/``.csv``
            file, a Hugging Face dataset name, optionally ``"name:subset"``, or a benchmark short name
            (:mod:`rlvr_bench.data.benchmarks`: its hub dataset and column mapping, with this ``split``;
            column arguments other than the defaults override the mapping).
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

    Raises:
        DataError: missing file, unreachable hub dataset, missing column, empty dataset, null answer,
            duplicate ids.
    """
    from datasets import Features, Value

    if limit is not None and limit <= 0:
        raise DataError(f"limit must be a positive number of rows, got {limit}")
    name = str(source)
    if _is_benchmark_name(name):  # e.g. "gsm8k": the benchmark's hub id and column mapping, this split
        from rlvr_bench.data.benchmarks import load_benchmark

        given = {"problem_column": problem_column, "answer_column": answer_column,
                 "solution_column": solution_column, "id_column": id_column, "subset": subset}
        defaults = {"problem_column": "problem", "answer_column": "answer"}
        overrides = {k: v for k, v in given.items() if v is not None and v != defaults.get(k)}
        return load_benchmark(name, limit=limit, split=split, seed=seed, **overrides)
    raw = _load_raw(name, split=split, subset=subset)
    if len(raw) == 0:
        where = "" if is_local_source(name) else f" (split {split!r})"
        raise DataError(f"dataset {name!r}{where} is empty")
    id_column = _check_columns(raw, name, problem_column, answer_column, solution_column, id_column)
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
        raise DataError(f"dataset {name!r}: {_first_line(err)}") from None
    _check_unique_ids(ds, name)
    return ds.select_columns(canonical + [c for c in ds.column_names if c not in canonical])


# ----------------------------------------------------------------------------------------------- sources


def _is_benchmark_name(name: str) -> bool:
    from rlvr_bench.data.benchmarks import BENCHMARKS

    return name != "toy" and name in BENCHMARKS and not Path(name).exists()


def _load_raw(name: str, *, split: str, subset: str | None) -> Dataset:
    if name == "toy":
        from rlvr_bench.data.toy import toy_dataset

        return toy_dataset(split=split)
    if is_local_source(name):
        return _load_local(Path(name).expanduser())
    return _load_hub(name, split=split, subset=subset)


def _load_local(path: Path) -> Dataset:
    """Read one local data file as a single split."""
    from datasets import load_dataset

    if not path.is_file():
        raise DataError(f"data file '{path}' does not exist")
    if path.stat().st_size == 0:
        raise DataError(f"data file '{path}' is empty")
    builder = LOCAL_SUFFIXES.get(path.suffix.lower())
    if builder is None:
        raise DataError(
            f"data file '{path}' has an unsupported suffix {path.suffix!r} "
            f"(supported: {', '.join(LOCAL_SUFFIXES)})"
        )
    try:
        return load_dataset(builder, data_files=str(path), split="train")
    except Exception as err:  # datasets wraps parser errors in several classes
        if "corresponds to no data" in str(err):  # e.g. a csv with a header only
            raise DataError(f"data file '{path}' is empty (no rows)") from None
        raise DataError(f"cannot read data file '{path}': {_first_line(err)}") from None


def require_hub_dataset(repo: str, *, what: str, hint: str) -> None:
    """Fail fast with :class:`HubDataError` when loading hub dataset ``repo`` needs an unreachable hub.

    A local path (an existing file or folder) never needs the hub and passes without a network check.
    Offline, a copy in the ``datasets`` cache passes when ``datasets`` runs in offline mode (it then reads
    the cache without network); otherwise the hint says how to use it.
    """
    if Path(repo).expanduser().exists() or not hub_offline():
        return
    if _in_datasets_cache(repo):
        import datasets

        if datasets.config.HF_HUB_OFFLINE:
            return
        hint = f"a cached copy exists: set HF_HUB_OFFLINE=1 to use it, or {hint}"
    require_hub(what, hint, error=HubDataError)


def _in_datasets_cache(repo: str) -> bool:
    """True when ``datasets`` holds a prepared copy of hub dataset ``repo`` (its own cache layout)."""
    try:
        from datasets import config
        from datasets.naming import camelcase_to_snakecase

        parts = repo.split("/")
        parts[-1] = camelcase_to_snakecase(parts[-1])
        root = Path(config.HF_DATASETS_CACHE) / "___".join(parts)
        return any(p.is_dir() for p in root.glob("*/*/*"))
    except (ImportError, OSError, ValueError):  # no datasets, unreadable cache: treat as not cached
        return False


def _load_hub(name: str, *, split: str, subset: str | None) -> Dataset:
    """Load a hub dataset; every failure becomes one ``DataError`` line (offline: at once, no retries)."""
    from datasets import load_dataset

    repo, _, suffix = name.partition(":")
    config = subset if subset is not None else (suffix or None)
    where = repo + (f" (subset {config!r})" if config else "")
    given = f" subset {subset!r}" if subset is not None else ""
    require_hub_dataset(repo, what=f"data.source {name!r}{given} split {split!r}",
                        hint=f"point data.source at {LOCAL_FILE_HINT}")
    try:
        return load_dataset(repo, config, split=split)
    except (ConnectionError, TimeoutError) as err:
        raise DataError(
            f"cannot reach Hugging Face dataset {where} (offline?): {_first_line(err)}; "
            "use a local .jsonl/.parquet/.csv copy instead"
        ) from None
    except FileNotFoundError as err:  # datasets' DatasetNotFoundError subclasses it
        raise DataError(
            f"Hugging Face dataset {where} not found and {name!r} is not an existing local file: "
            f"{_first_line(err)}"
        ) from None
    except (ValueError, KeyError, OSError) as err:  # unknown split or config, hub HTTP errors
        raise DataError(f"cannot load Hugging Face dataset {where}, split {split!r}: {_first_line(err)}") from None


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


def _first_line(err: BaseException) -> str:
    text = str(err).strip() or type(err).__name__
    return text.splitlines()[0]
