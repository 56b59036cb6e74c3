"""Response length and errors (arXiv 2504.07086, "A Sober Look at Progress in Language Model Reasoning"):
accuracy by response-length quartile, the length-correctness correlation and the truncation rate of every
method's final-step samples.

Length is the ``tokens`` field of each sample line of ``eval/step-<N>/<benchmark>.samples.jsonl`` (generated
tokens, as counted by the evaluation engine); a run whose lines lack it (imported samples) falls back to the
characters of ``completion`` and says so (``unit``). A sample is truncated when its ``finish_reason`` is
``length`` (the generation hit ``max_new_tokens``; evaluation scores it 0 with reason ``truncated``). Lines of
prompts that did not fit (``finish_reason`` ``prompt_too_long``) are left out: they have no response.

The correlation is Pearson's r between length and correctness (0/1), i.e. the point-biserial correlation,
over a method's samples pooled across runs. Its 95% CI is a percentile bootstrap over **problems** (all samples
of a resampled problem move together, since samples of one problem are not independent); the same resampled
problems give a paired CI of each method's r minus the base's.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from rlvr_bench.analysis.runs import BASE_LABEL, RunData, StudyData
from rlvr_bench.utils.rundir import RunDir, read_jsonl

__all__ = ["LengthSamples", "length_numbers", "point_biserial", "read_length_samples"]

QUARTILES = 4
_CHUNK = 500


@dataclass
class LengthSamples:
    """One method's final-step samples, its runs pooled.

    Attributes:
        length: response length per sample (tokens, or characters where ``unit`` says so).
        correct: 1.0 / 0.0 per sample.
        truncated: whether the sample hit ``max_new_tokens``.
        problem: the sample's problem index (into ``StudyData.ids``).
        unit: ``"tokens"`` or ``"characters"``.
        missing: runs without a samples file.
    """

    length: np.ndarray
    correct: np.ndarray
    truncated: np.ndarray
    problem: np.ndarray
    unit: str
    missing: list[str]


def _run_lines(run: RunData, benchmark: str, index: Mapping[str, int]) -> list[dict[str, Any]] | None:
    """The run's final-step sample lines of the compared problems and evaluation seeds; None without a file."""
    path = RunDir(run.path).samples_path(run.step, benchmark)
    if not path.is_file():
        return None
    seeds = set(run.eval_seeds)
    return [line for line in read_jsonl(path)
            if str(line.get("id")) in index and (not seeds or line.get("seed") in seeds)
            and line.get("finish_reason") != "prompt_too_long"]


def read_length_samples(runs: Sequence[RunData], benchmark: str, ids: Sequence[str]) -> LengthSamples:
    """Length, correctness, truncation and problem index of every final-step sample of ``runs`` (pooled).

    Token counts are used when every line has ``tokens``; otherwise characters of ``completion`` for all
    (one unit per method)."""
    index = {pid: i for i, pid in enumerate(ids)}
    lines: list[dict[str, Any]] = []
    missing = []
    for run in runs:
        got = _run_lines(run, benchmark, index)
        if got is None:
            missing.append(run.path.name)
        else:
            lines += got
    tokens = all(isinstance(line.get("tokens"), (int, float)) for line in lines)
    length = [float(line["tokens"]) if tokens else float(len(str(line.get("completion") or ""))) for line in lines]
    truncated = [line.get("finish_reason") == "length" or line.get("reason") == "truncated" for line in lines]
    return LengthSamples(length=np.asarray(length, dtype=np.float64),
                         correct=np.asarray([bool(line.get("correct")) for line in lines], dtype=np.float64),
                         truncated=np.asarray(truncated, dtype=bool),
                         problem=np.asarray([index[str(line["id"])] for line in lines], dtype=np.int64),
                         unit="tokens" if tokens else "characters", missing=missing)


def point_biserial(length: np.ndarray, correct: np.ndarray) -> float | None:
    """Pearson's r between length and 0/1 correctness; None when either is constant (r undefined)."""
    if length.size < 2 or np.ptp(length) == 0 or np.ptp(correct) == 0:
        return None
    return float(np.corrcoef(length, correct)[0, 1])


def _problem_sums(s: LengthSamples, num_problems: int) -> np.ndarray:
    """Per problem: [n, sum x, sum y, sum xy, sum x^2, sum y^2] (x = length, y = correct), shape (P, 6)."""
    x, y = s.length, s.correct
    cols = [np.ones_like(x), x, y, x * y, x * x, y * y]
    return np.stack([np.bincount(s.problem, weights=c, minlength=num_problems) for c in cols], axis=1)


def _r_from_sums(t: np.ndarray) -> np.ndarray:
    """Pearson r from summed moments, t of shape (..., 6); NaN where a variance is zero."""
    n, sx, sy, sxy, sxx, syy = np.moveaxis(t, -1, 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        cov = sxy - sx * sy / n
        vx, vy = sxx - sx * sx / n, syy - sy * sy / n
        r = cov / np.sqrt(vx * vy)
    return np.where((vx > 1e-12 * np.maximum(sxx, 1)) & (vy > 1e-12), r, np.nan)


def _bootstrap_r(sums: Mapping[str, np.ndarray], num_problems: int, n_resamples: int,
                 seed: int) -> dict[str, np.ndarray]:
    """label -> r over ``n_resamples`` resamplings of the problems (the same resamplings for every label)."""
    rng = np.random.default_rng(seed)
    out: dict[str, list[np.ndarray]] = {label: [] for label in sums}
    done = 0
    while done < n_resamples:
        size = min(_CHUNK, n_resamples - done)
        draws = rng.integers(0, num_problems, size=(size, num_problems))
        weights = np.stack([np.bincount(row, minlength=num_problems) for row in draws]).astype(np.float64)
        for label, t in sums.items():
            out[label].append(_r_from_sums(weights @ t))
        done += size
    return {label: np.concatenate(parts) for label, parts in out.items()}


def _ci(values: np.ndarray) -> tuple[float | None, float | None]:
    finite = values[np.isfinite(values)]
    if finite.size < max(10, values.size // 2):
        return None, None
    low, high = np.quantile(finite, [0.025, 0.975])
    return float(low), float(high)


def _quartiles(s: LengthSamples) -> dict[str, Any]:
    """Accuracy in each length quartile of the method's own samples; ties keep a quartile's samples together
    (a quartile is ``edges[i-1] < length <= edges[i]``; with many equal lengths some quartiles are empty)."""
    edges = np.quantile(s.length, [0.25, 0.5, 0.75])
    bins = np.searchsorted(edges, s.length, side="left")
    bounds = [float(s.length.min()), *map(float, edges), float(s.length.max())]
    rows = []
    for q in range(QUARTILES):
        sel = bins == q
        count = int(sel.sum())
        rows.append({"quartile": q + 1, "low": bounds[q], "high": bounds[q + 1], "samples": count,
                     "accuracy": float(s.correct[sel].mean()) if count else None,
                     "mean_length": float(s.length[sel].mean()) if count else None})
    return {"edges": [float(e) for e in edges], "rows": rows}


def _max_new_tokens(runs: Sequence[RunData]) -> int | None:
    values = {(r.summary.get("decoding") or {}).get("max_new_tokens") for r in runs}
    values.discard(None)
    return int(next(iter(values))) if len(values) == 1 else None


def _method_block(label: str, runs: Sequence[RunData], s: LengthSamples) -> dict[str, Any]:
    """Everything but the bootstrap CIs for one method."""
    block: dict[str, Any] = {"label": label, "kind": runs[0].kind, "runs": len(runs),
                             "runs_read": len(runs) - len(s.missing), "missing": s.missing, "unit": s.unit,
                             "samples": int(s.length.size), "max_new_tokens": _max_new_tokens(runs)}
    if not s.length.size:
        return block
    block.update({"mean_length": float(s.length.mean()), "median_length": float(np.median(s.length)),
                  "accuracy": float(s.correct.mean()), "truncated": int(s.truncated.sum()),
                  "truncation_rate": float(s.truncated.mean()), "quartiles": _quartiles(s),
                  "correlation": {"r": point_biserial(s.length, s.correct), "ci_low": None, "ci_high": None},
                  "versus_base": None})
    return block


def length_numbers(data: StudyData, *, n_resamples: int = 2000, seed: int = 0) -> dict[str, Any]:
    """The ``length`` entry of report.json.

    Returns ``{"methods": {label: block}, "units": [...], "n_resamples": int}``; a block has ``kind``,
    ``runs``, ``runs_read``, ``missing``, ``unit``, ``samples``, ``max_new_tokens`` and, when samples were
    read, ``mean_length``, ``median_length``, ``accuracy``, ``truncated``, ``truncation_rate``,
    ``quartiles`` (``edges`` and per quartile ``low``, ``high``, ``samples``, ``accuracy``, ``mean_length``),
    ``correlation`` (``r``, ``ci_low``, ``ci_high``) and ``versus_base`` (``diff`` = r minus the base's r,
    ``ci_low``, ``ci_high``, paired over resampled problems; None for the base or without a base r).
    """
    groups = {BASE_LABEL: [data.base], **data.methods}
    P = len(data.ids)
    methods, sums = {}, {}
    for label, runs in groups.items():
        samples = read_length_samples(runs, data.benchmark, data.ids)
        methods[label] = _method_block(label, runs, samples)
        if samples.length.size and methods[label]["correlation"]["r"] is not None:
            sums[label] = _problem_sums(samples, P)
    boots = _bootstrap_r(sums, P, n_resamples, seed) if sums and n_resamples > 0 else {}
    for label, values in boots.items():
        corr = methods[label]["correlation"]
        corr["ci_low"], corr["ci_high"] = _ci(values)
        if label != BASE_LABEL and BASE_LABEL in boots:
            low, high = _ci(values - boots[BASE_LABEL])
            diff = corr["r"] - methods[BASE_LABEL]["correlation"]["r"]
            methods[label]["versus_base"] = {"diff": diff, "ci_low": low, "ci_high": high}
    units = sorted({b["unit"] for b in methods.values() if b["samples"]})
    return {"methods": methods, "units": units, "n_resamples": n_resamples}
