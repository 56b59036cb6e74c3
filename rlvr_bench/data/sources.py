"""Where prompt data comes from: local data files and Hugging Face hub datasets, and their errors.

The lowest module of ``rlvr_bench.data``'s loaders: ``reading`` (column mapping), ``code_benchmarks``,
``benchmarks`` and ``loading`` all build on it. Every failure is a one-line :class:`DataError`.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from rlvr_bench.errors import UserError
from rlvr_bench.utils.hub import HubUnavailableError, hub_offline, require_hub

if TYPE_CHECKING:  # pragma: no cover - typing only
    from datasets import Dataset

__all__ = [
    "DataError",
    "HubDataError",
    "LOCAL_FILE_HINT",
    "LOCAL_SUFFIXES",
    "first_line",
    "is_local_source",
    "load_hub_dataset",
    "read_local_file",
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


def is_local_source(source: str | Path) -> bool:
    """True when ``source`` names a local file (existing, or with a known data-file suffix)."""
    path = Path(source).expanduser()
    return path.is_file() or path.suffix.lower() in LOCAL_SUFFIXES

def read_local_file(path: Path) -> Dataset:
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
        raise DataError(f"cannot read data file '{path}': {first_line(err)}") from None


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


def load_hub_dataset(name: str, *, split: str, subset: str | None) -> Dataset:
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
            f"cannot reach Hugging Face dataset {where} (offline?): {first_line(err)}; "
            "use a local .jsonl/.parquet/.csv copy instead"
        ) from None
    except FileNotFoundError as err:  # datasets' DatasetNotFoundError subclasses it
        raise DataError(
            f"Hugging Face dataset {where} not found and {name!r} is not an existing local file: "
            f"{first_line(err)}"
        ) from None
    except (ValueError, KeyError, OSError) as err:  # unknown split or config, hub HTTP errors
        raise DataError(f"cannot load Hugging Face dataset {where}, split {split!r}: {first_line(err)}") from None


def first_line(err: BaseException) -> str:
    text = str(err).strip() or type(err).__name__
    return text.splitlines()[0]
