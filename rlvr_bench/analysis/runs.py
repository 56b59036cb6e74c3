"""Read run directories into the numbers a comparison report needs (no torch, no plotting).

A study lays runs out as ``runs/<study>/base/``, ``runs/<study>/teacher/`` and ``runs/<study>/<method>-s<seed>/``
(the run-directory contract of ``rlvr_bench.utils.rundir``). ``collect_runs`` groups the run directories into
methods by label (the directory name without a trailing ``-s<digits>``), reads every run's evaluation
summaries for one benchmark, aligns the problems by id with the base's, and picks up the compute totals when
the run recorded them. Runs trained elsewhere and evaluated with ``rlvr-bench eval`` (only
``eval/summary.jsonl``, no ``metrics.jsonl`` or ``config.yaml``) are read as well; what they lack is reported
as missing, never guessed.

Within one run, the evaluation seeds are independent draws of the same model, so their samples are pooled:
a run evaluated with n samples per problem and S seeds contributes n x S samples per problem
(``RunData.samples_per_problem``). Across runs of one method (training seeds), numbers are reported as
mean ± std over runs (arXiv 2504.07086).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from rlvr_bench.errors import UserError
from rlvr_bench.methods import KINDS, get_method
from rlvr_bench.utils.rundir import RunDir, read_jsonl

__all__ = [
    "BASE_LABEL",
    "TEACHER_LABEL",
    "RunData",
    "StudyData",
    "collect_runs",
    "method_kind",
    "run_label",
]

BASE_LABEL = "base"
TEACHER_LABEL = "teacher"
_SEED_SUFFIX = re.compile(r"-s(\d+)$")


@dataclass
class RunData:
    """One run directory's evaluation at its final step, with its history and compute totals.

    Attributes:
        path: the run directory.
        label: the method label (``grpo`` for ``grpo-s1``).
        kind: ``"base"``, ``"teacher"``, ``"rl"``, ``"sft"``, ``"rft"``, ``"distill"`` or ``"other"``
            (``method_kind``).
        seed: the training seed (``config.yaml`` ``seed``, else the ``-s<N>`` suffix, else None).
        step: the final evaluated step (the largest step in ``eval/summary.jsonl`` for the benchmark).
        summary: that step's summary line, as written by ``rlvr_bench.evaluation.evaluate``.
        correct: per-problem correct counts at the final step, summed over the evaluation seeds, in the
            problem order of ``StudyData.ids``.
        history: step -> (per-problem correct counts pooled over that step's evaluation seeds and aligned
            like ``correct``, samples per problem behind them), for the training-progress plot.
        compute: compute totals without the ``compute/`` prefix (samples, gen_tokens, forward_tokens,
            backward_tokens, teacher_samples, teacher_tokens, wall_seconds); empty when not recorded.
        config: the parsed ``config.yaml`` (empty when absent).
        env: the parsed ``env.json`` (empty when absent).
        complete: whether ``complete.json`` exists.
    """

    path: Path
    label: str
    kind: str
    seed: int | None
    step: int
    summary: dict[str, Any]
    correct: np.ndarray
    history: dict[int, tuple[np.ndarray, int]] = field(default_factory=dict)
    compute: dict[str, float] = field(default_factory=dict)
    config: dict[str, Any] = field(default_factory=dict)
    env: dict[str, Any] = field(default_factory=dict)
    complete: bool = False

    @property
    def n(self) -> int:
        """Samples per problem per evaluation seed."""
        return int(self.summary["n"])

    @property
    def eval_seeds(self) -> list[int]:
        """The evaluation (sampling) seeds of the final step."""
        return [int(s) for s in self.summary.get("seeds", [])]

    @property
    def samples_per_problem(self) -> int:
        """n x number of evaluation seeds: the samples per problem pooled in ``correct``."""
        return self.n * max(len(self.eval_seeds), 1)


@dataclass
class StudyData:
    """Every run of a comparison, grouped by method, on one benchmark with problems aligned by id.

    Attributes:
        benchmark: the benchmark name (as in ``eval/step-<N>/<benchmark>.samples.jsonl``).
        ids: problem ids in the base's order; every ``RunData.correct`` follows it.
        base: the base model's run.
        methods: label -> runs (one per training seed), in the order first seen; the teacher, when given, is
            the method labelled ``"teacher"``. The base is not in it.
        sources: each problem's data source (``"toy/addsub"``, ``"toy/code"``, a benchmark name), parallel
            to ``ids``, from the base's summary; None when the summary predates the ``sources`` key.
    """

    benchmark: str
    ids: list[str]
    base: RunData
    methods: dict[str, list[RunData]]
    sources: list[str] | None = None

    @property
    def teacher(self) -> list[RunData] | None:
        """The teacher's runs, if a run labelled ``"teacher"`` was given."""
        return self.methods.get(TEACHER_LABEL)

    def all_runs(self) -> list[RunData]:
        """The base first, then every method's runs."""
        return [self.base] + [run for runs in self.methods.values() for run in runs]

    def labels(self) -> list[str]:
        """``"base"`` followed by the method labels."""
        return [BASE_LABEL, *self.methods]

    def source_names(self) -> list[str]:
        """The distinct data sources in first-seen order; empty when the summaries recorded none."""
        return list(dict.fromkeys(self.sources or []))

    def subset(self, source: str) -> StudyData:
        """The same runs restricted to the problems of one data source (final counts and history alike).

        The result has the same methods, seeds and samples per problem; only the problem axis shrinks
        (``correct`` and ``history``; each run's ``summary`` is left whole). Raises ``ValueError`` when no
        problem comes from ``source``.
        """
        keep = np.array([s == source for s in (self.sources or [])], dtype=bool)
        if not keep.any():
            raise ValueError(f"no problem of {self.benchmark!r} comes from source {source!r}")

        def cut(run: RunData) -> RunData:
            history = {step: (counts[keep], n) for step, (counts, n) in run.history.items()}
            return replace(run, correct=run.correct[keep], history=history)

        return StudyData(benchmark=self.benchmark, ids=[i for i, k in zip(self.ids, keep) if k],
                         base=cut(self.base), methods={label: [cut(r) for r in runs]
                                                       for label, runs in self.methods.items()},
                         sources=[source] * int(keep.sum()))


def run_label(path: str | Path) -> str:
    """The method label of a run directory: its name without a trailing ``-s<digits>`` (``grpo-s1`` -> ``grpo``)."""
    return _SEED_SUFFIX.sub("", Path(path).resolve().name)


def rl_preset_names() -> tuple[str, ...]:
    """The RL preset names: ``rlvr_bench.algorithms.PRESETS``, the only list (imported on first use, so the
    analysis modules load without torch until a run's kind must be guessed from its label)."""
    from rlvr_bench.algorithms import preset_names

    return tuple(preset_names())


# label prefixes that name a kind, for run directories without a recorded method (checked in this order)
_PREFIX_KINDS = ("rft", "sft", "distill")


def method_kind(label: str, config: Mapping[str, Any] | None = None, *, has_algorithm: bool = False) -> str:
    """Classify a run as ``base``, ``teacher``, ``rl``, ``sft``, ``rft``, ``distill`` or ``other``.

    The recorded ``config.yaml`` ``method`` decides, through its kind in the method registry
    (``rlvr_bench.methods``; an evaluation-only run is ``other``: its model was trained elsewhere). Without a
    registered method (verl imports, runs evaluated with ``rlvr-bench eval``), an ``algorithm.json`` or a label
    naming an RL preset means RL, and labels starting with ``sft``/``rft``/``distill`` mean what they say.
    """
    entry = get_method(str((config or {}).get("method") or ""))
    kind = entry.kind if entry is not None else None
    if label == BASE_LABEL or kind == "base":
        return "base"
    if label == TEACHER_LABEL or kind == "teacher":
        return "teacher"
    if kind == "rl" or has_algorithm or label in rl_preset_names():
        return "rl"
    for guess in _PREFIX_KINDS:
        if kind == guess or label.startswith(guess):
            return guess
    return kind if kind in KINDS and kind != "eval" else "other"


def _read_json(path: Path) -> dict[str, Any]:
    if not path.exists():
        return {}
    try:
        value = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise UserError(f"{path} is not valid JSON ({exc.msg} at line {exc.lineno})") from None
    return value if isinstance(value, dict) else {}


def _read_config(path: Path) -> dict[str, Any]:
    if not path.exists():
        return {}
    import yaml

    try:
        value = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise UserError(f"{path} is not valid YAML: {str(exc).splitlines()[0]}") from None
    return value if isinstance(value, dict) else {}


def _compute_totals(run: RunDir) -> dict[str, float]:
    """Cumulative ``compute/*`` values: from ``complete.json``, else the last metrics row that has them."""
    sources = [_read_json(run.complete_path)]
    sources += reversed([row for row in read_jsonl(run.metrics_path) if any(k.startswith("compute/") for k in row)])
    for source in sources:
        values = {k.removeprefix("compute/"): v for k, v in source.items() if k.startswith("compute/")}
        if values:
            return {k: float(v) for k, v in values.items() if isinstance(v, (int, float))}
    return {}


def _summaries(run: RunDir, benchmark: str | None) -> tuple[str, dict[int, dict[str, Any]]]:
    """(benchmark, step -> summary line) of one run; the benchmark defaults to the first one found."""
    if not run.path.is_dir():
        raise UserError(f"run directory {run.path} does not exist")
    rows = list(read_jsonl(run.summary_path))
    if not rows:
        raise UserError(f"{run.path} has no evaluation summary ({run.summary_path} missing or empty): "
                        "evaluate it first (rlvr-bench eval MODEL --benchmark NAME --out RUN_DIR)")
    found = list(dict.fromkeys(str(r.get("benchmark")) for r in rows))
    name = benchmark or found[0]
    steps = {int(r["step"]): r for r in rows if str(r.get("benchmark")) == name}
    if not steps:
        raise UserError(f"{run.path} has no evaluation on benchmark {name!r} (it has: {', '.join(found)})")
    return name, steps


def _pooled_counts(summary: Mapping[str, Any], where: Path) -> np.ndarray:
    """Per-problem correct counts summed over the evaluation seeds, in the summary's id order."""
    per_seed = summary.get("correct") or {}
    if not per_seed:
        raise UserError(f"{where}: summary at step {summary.get('step')} has no per-problem correct counts")
    arrays = [np.asarray(c, dtype=np.int64) for c in per_seed.values()]
    if len({a.size for a in arrays}) != 1 or arrays[0].size != len(summary["ids"]):
        raise UserError(f"{where}: summary at step {summary.get('step')} has counts that do not match its ids")
    return np.sum(arrays, axis=0)


def _align(summary: Mapping[str, Any], ids: Sequence[str], where: Path) -> np.ndarray:
    """The summary's pooled counts reordered to ``ids``; a one-line error when the problem sets differ."""
    own = [str(i) for i in summary["ids"]]
    counts = _pooled_counts(summary, where)
    if own == list(ids):
        return counts
    pos = {pid: i for i, pid in enumerate(own)}
    missing = [pid for pid in ids if pid not in pos]
    extra = sorted(set(own) - set(ids))
    if missing or extra or len(own) != len(ids):
        detail = f"missing {missing[0]!r}" if missing else f"extra {extra[0]!r}" if extra else "duplicate ids"
        raise UserError(f"{where} (step {summary.get('step')}) evaluated {len(own)} problems, not the base's "
                        f"{len(ids)} ({detail}): evaluate every run on the same problems")
    return counts[[pos[pid] for pid in ids]]


def _load(path: Path, label: str, benchmark: str | None, ids: Sequence[str] | None) -> RunData:
    """One run directory at its final step, its history, compute totals and records.

    ``ids`` is the problem order to align to (None: the run's own order, used for the base).
    """
    run = RunDir(path)
    _, steps = _summaries(run, benchmark)
    final = steps[max(steps)]
    order = [str(i) for i in final["ids"]] if ids is None else list(ids)
    config = _read_config(run.config_path)
    seed = config.get("seed")
    if seed is None and (m := _SEED_SUFFIX.search(path.name)):
        seed = int(m.group(1))
    history = {}
    for step, summary in sorted(steps.items()):
        n = int(summary["n"]) * max(len(summary.get("seeds") or []), 1)
        history[step] = (_align(summary, order, path), n)
    return RunData(
        path=path,
        label=label,
        kind=method_kind(label, config, has_algorithm=(path / "algorithm.json").exists()),
        seed=None if seed is None else int(seed),
        step=max(steps),
        summary=final,
        correct=history[max(steps)][0],
        history=history,
        compute=_compute_totals(run),
        config=config,
        env=_read_json(run.env_path),
        complete=run.is_complete(),
    )


def collect_runs(
    run_dirs: Sequence[str | Path],
    base_dir: str | Path,
    *,
    benchmark: str | None = None,
    labels: Sequence[str] | None = None,
) -> StudyData:
    """Read a base run and the runs to compare with it into a ``StudyData``.

    Args:
        run_dirs: run directories (``runs/<study>/<method>-s<seed>``, a teacher run, imported runs); the
            base directory, if listed, is skipped.
        base_dir: the base model's run (its evaluation defines the problems and their order).
        benchmark: which benchmark to compare (default: the first one in the base's ``eval/summary.jsonl``).
        labels: one method label per entry of ``run_dirs`` (default: ``run_label`` of each directory).
            Runs with the same label are seeds of one method; a run labelled ``"teacher"`` is the teacher.

    Raises:
        UserError: a directory is missing, has no evaluation summary, was not evaluated on the benchmark,
            evaluated different problems than the base, or is labelled ``"base"``.
    """
    if labels is not None and len(labels) != len(run_dirs):
        raise UserError(f"got {len(labels)} labels for {len(run_dirs)} run directories")
    base_path = Path(base_dir)
    base = _load(base_path, BASE_LABEL, benchmark, None)
    name = str(base.summary["benchmark"])
    ids = [str(i) for i in base.summary["ids"]]
    methods: dict[str, list[RunData]] = {}
    seen = {base_path.resolve()}
    for i, raw in enumerate(run_dirs):
        path = Path(raw)
        if path.resolve() in seen:
            continue
        seen.add(path.resolve())
        label = labels[i] if labels is not None else run_label(path)
        if label == BASE_LABEL:
            raise UserError(f"{path} is labelled {BASE_LABEL!r}; pass the base run with --base only")
        data = _load(path, label, name, ids)
        methods.setdefault(label, []).append(data)
    if not methods:
        raise UserError("no runs to compare with the base: pass at least one run directory besides --base")
    for runs in methods.values():
        runs.sort(key=lambda r: (r.seed is None, r.seed if r.seed is not None else 0, str(r.path)))
    return StudyData(benchmark=name, ids=ids, base=base, methods=methods, sources=_sources(base, ids))


def _sources(base: RunData, ids: Sequence[str]) -> list[str] | None:
    """The base summary's per-problem ``sources`` (parallel to ``ids``); None when absent or malformed."""
    sources = base.summary.get("sources")
    if not isinstance(sources, list) or len(sources) != len(ids):
        return None
    return [str(s) for s in sources]
