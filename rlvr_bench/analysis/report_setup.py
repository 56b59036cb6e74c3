"""The report's records of how the runs were made: evaluation settings, environment, the runs table, caveats,
and the perplexity summaries (numbers only; ``report_sections`` renders them)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from rlvr_bench.analysis.runs import RunData, StudyData

__all__ = ["environment_summary", "evaluation_summary", "report_notes", "runs_rows", "summarize_perplexity"]

_EVAL_KEYS = ("n", "seeds", "template", "decoding", "reward")


def summarize_perplexity(perplexity: Mapping[str, Sequence[float]]) -> dict[str, dict[str, float]]:
    """source -> {"n", "mean", "median", "q25", "q75"} of its finite per-response perplexities."""
    out = {}
    for source, values in perplexity.items():
        v = np.asarray(values, dtype=np.float64)
        v = v[np.isfinite(v)]
        if v.size == 0:
            raise ValueError(f"perplexity of {source!r} has no finite value")
        q25, median, q75 = np.quantile(v, [0.25, 0.5, 0.75])
        out[source] = {"n": int(v.size), "mean": float(v.mean()), "median": float(median),
                       "q25": float(q25), "q75": float(q75)}
    return out


def _run_name(run: RunData) -> str:
    return run.path.name


def evaluation_summary(data: StudyData) -> dict[str, Any]:
    """The base's evaluation settings (n, seeds, template, decoding, reward, engine) and every run that differs."""
    base = data.base.summary
    record = {key: base.get(key) for key in (*_EVAL_KEYS, "engine")}
    differences = []
    for run in data.all_runs()[1:]:
        for key in _EVAL_KEYS:
            if run.summary.get(key) != base.get(key):
                differences.append(f"{_run_name(run)}: {key} {json.dumps(run.summary.get(key))} "
                                   f"(base: {json.dumps(base.get(key))})")
    record["differences"] = differences
    return record


def _env_fields(env: Mapping[str, Any]) -> dict[str, Any]:
    packages = env.get("packages") or {}
    hardware = env.get("hardware") or {}
    git = env.get("git") or {}
    fields: dict[str, Any] = {"python": env.get("python")}
    for name in ("torch", "transformers", "trl", "accelerate", "vllm", "verl"):
        if packages.get(name):
            fields[name] = packages[name]
    fields["cpu"] = hardware.get("cpu")
    fields["cpu_count"] = hardware.get("cpu_count")
    fields["gpu"] = f"{hardware.get('gpu_count', 0)} x {hardware['gpu']}" if hardware.get("gpu") else "none"
    revision = git.get("revision")
    fields["git"] = None if revision is None else revision[:12] + (" (dirty)" if git.get("dirty") else "")
    return fields


def environment_summary(data: StudyData) -> dict[str, Any]:
    """Python, library versions, CPU/GPU and git revision from the base's ``env.json`` (else the first run
    that has one), and the runs whose recorded library versions or GPU differ from it."""
    runs = [r for r in data.all_runs() if r.env]
    if not runs:
        return {"source": None, "fields": {}, "differences": []}
    reference = _env_fields(runs[0].env)
    differences = []
    for run in runs[1:]:
        other = _env_fields(run.env)
        changed = [f"{k} {other.get(k)} (vs {reference.get(k)})" for k in ("torch", "transformers", "trl", "gpu")
                   if other.get(k) != reference.get(k)]
        if changed:
            differences.append(f"{_run_name(run)}: " + ", ".join(changed))
    return {"source": str(runs[0].path / "env.json"), "fields": reference, "differences": differences}


def report_notes(data: StudyData, numbers: Mapping[str, Any]) -> list[str]:
    """Caveats worth a line: a lowered gap k, dropped table ks, unfinished runs, mixed final steps."""
    settings = numbers["settings"]
    notes = []
    if settings["gap_k"] != settings["gap_k_requested"]:
        notes.append(f"Delta_SE uses k={settings['gap_k']}: {settings['gap_k_requested']} was asked for but the "
                     f"base has {data.base.samples_per_problem} samples per problem.")
    if settings["ks_dropped"]:
        notes.append(f"k={settings['ks_dropped']} dropped from the tables: no run has that many samples.")
    unfinished = [_run_name(r) for r in data.all_runs()[1:] if not r.complete]
    if unfinished:
        notes.append("No complete.json (still training, or evaluated outside a training run): "
                     + ", ".join(unfinished) + ".")
    for label, runs in data.methods.items():
        if len({r.step for r in runs}) > 1:
            notes.append(f"{label}: runs end at different steps ({', '.join(str(r.step) for r in runs)}).")
    return notes


def runs_rows(data: StudyData) -> list[dict[str, str]]:
    return [{"method": r.label, "run": _run_name(r), "seed": "" if r.seed is None else str(r.seed),
             "final step": str(r.step), "complete": "yes" if r.complete else "no", "path": str(r.path)}
            for r in data.all_runs()]
