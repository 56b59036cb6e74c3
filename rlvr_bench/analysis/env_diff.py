"""Do the compared runs share one recorded environment? (arXiv 2504.07086: library versions, hardware, decoding,
prompt template and stop rule each move benchmark numbers by points.)

Every run's record is flattened into dotted fields and compared with the base's (else the first run that has
one); a field counts as different only when both runs recorded it (a field one of them lacks is counted as
``unrecorded``, never guessed):

- from ``env.json`` (the software and machine the run trained/evaluated on): ``python``, ``rlvr_bench``,
  ``packages.<name>`` (every library version) and ``hardware.<key>`` (CPU, GPU, counts; not the memory size,
  nor the torch thread count, a per-run setting like the batch size that the default study varies on purpose);
- from the final step's ``eval/step-<N>/<benchmark>.meta.json`` (how the compared samples were drawn; the
  summary's ``decoding``/``template`` when there is no meta file): ``decoding.<key>`` (temperature, top_p,
  top_k, max_new_tokens, stop strings/ids), ``template``, ``template_sha256``, ``chat_template_sha256`` and
  ``stop.<key>`` (the resolved stop rule). Engine details that do not change the sampled distribution
  (``batch_size``, the model path, the number of samples) are left out; ``evaluation_summary`` reports n and
  seeds.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from rlvr_bench.analysis.runs import RunData, StudyData
from rlvr_bench.utils.rundir import RunDir

__all__ = ["ENVIRONMENT_SECTION", "env_differences", "env_record", "environment_findings", "format_env_differences"]

_ENV_TOP = ("python", "rlvr_bench")
_ENV_TREES = ("packages", "hardware")
_EVAL_TREES = ("decoding", "stop")
_EVAL_TOP = ("template", "template_sha256", "chat_template_sha256")
_SKIP = {"hardware.memory_gib", "hardware.torch_threads", "decoding.n", "decoding.batch_size", "decoding.backend", "decoding.template"}


def _flatten(value: Any, prefix: str, out: dict[str, Any]) -> None:
    if isinstance(value, Mapping):
        for key, sub in value.items():
            _flatten(sub, f"{prefix}.{key}", out)
    elif prefix not in _SKIP:
        out[prefix] = json.dumps(value, sort_keys=True) if isinstance(value, (list, dict)) else value


def _eval_meta(run: RunData, benchmark: str) -> dict[str, Any]:
    path = RunDir(run.path).samples_path(run.step, benchmark).with_name(f"{benchmark}.meta.json")
    try:
        meta = json.loads(path.read_text()) if path.is_file() else {}
    except (OSError, json.JSONDecodeError):
        meta = {}
    if not meta:  # older runs: what the summary recorded
        meta = {key: run.summary.get(key) for key in ("decoding", "template") if run.summary.get(key) is not None}
    return meta if isinstance(meta, dict) else {}


def env_record(run: RunData, benchmark: str) -> dict[str, Any]:
    """The run's compared fields (dotted names -> value; lists/dicts as JSON text); empty when nothing is
    recorded."""
    out: dict[str, Any] = {}
    for key in _ENV_TOP:
        if run.env.get(key) is not None:
            out[key] = run.env[key]
    for tree in _ENV_TREES:
        _flatten(run.env.get(tree) or {}, tree, out)
    meta = _eval_meta(run, benchmark)
    for tree in _EVAL_TREES:
        _flatten(meta.get(tree) or {}, tree, out)
    for key in _EVAL_TOP:
        if meta.get(key) is not None:
            out[key] = meta[key]
    return {k: v for k, v in out.items() if v is not None}


def env_differences(data: StudyData) -> dict[str, Any]:
    """``{"reference": run name or None, "runs_compared": int, "not_recorded": [run names], "differences":
    [{"run", "method", "fields": {field: {"value", "reference"}}}], "unrecorded": {run: count}, "fields":
    [every differing field]}``: each run against the base's record (else the first run with one)."""
    records = [(run, env_record(run, data.benchmark)) for run in data.all_runs()]
    with_record = [(run, rec) for run, rec in records if rec]
    out: dict[str, Any] = {"reference": None, "runs_compared": len(with_record),
                           "not_recorded": [run.path.name for run, rec in records if not rec],
                           "differences": [], "unrecorded": {}, "fields": []}
    if not with_record:
        return out
    ref_run, ref = with_record[0]
    out["reference"] = ref_run.path.name
    fields: dict[str, None] = {}
    for run, rec in with_record[1:]:
        shared = set(rec) & set(ref)
        changed = {k: {"value": rec[k], "reference": ref[k]} for k in sorted(shared) if rec[k] != ref[k]}
        missing = len(set(rec) ^ set(ref))
        if missing:
            out["unrecorded"][run.path.name] = missing
        if changed:
            out["differences"].append({"run": run.path.name, "method": run.label, "fields": changed})
            fields.update(dict.fromkeys(changed))
    out["fields"] = list(fields)
    return out


def environment_findings(diff: Mapping[str, Any] | None) -> list[str]:
    """One sentence when any compared run's recorded environment differs from the reference's."""
    if not diff or not diff["differences"]:
        return []
    runs = [d["run"] for d in diff["differences"]]
    shown = ", ".join(runs[:6]) + (f" and {len(runs) - 6} more" if len(runs) > 6 else "")
    fields = ", ".join(f"`{f}`" for f in diff["fields"][:8]) + (" ..." if len(diff["fields"]) > 8 else "")
    return [f"The recorded environment differs between compared runs: {len(runs)} of {diff['runs_compared'] - 1} "
            f"runs differ from {diff['reference']} ({shown}) in {fields}. Library, hardware, decoding and template "
            "differences can each move benchmark numbers by points (arXiv 2504.07086): check these before "
            "reading a gap between those runs as a difference between methods."]


def format_env_differences(diff: Mapping[str, Any]) -> list[str]:
    """One line per run whose environment differs (for ``rlvr-bench compare``'s console output)."""
    return [f"environment differs: {d['run']} vs {diff['reference']}: "
            + ", ".join(f"{k} {v['value']} (vs {v['reference']})" for k, v in d["fields"].items())
            for d in diff["differences"]]


def _markdown(r: Mapping[str, Any], ctx: Any) -> list[str]:
    from rlvr_bench.analysis.tables import markdown_table

    diff = r["environment_differences"]
    lines = ["## Environment differences", ""]
    if diff["reference"] is None:
        return lines + ["No run recorded its environment (env.json, eval meta): nothing to compare.", ""]
    lines.append(f"Every run's recorded library versions, hardware (env.json), decoding, template and stop rule "
                 f"(the final evaluation's meta.json) against {diff['reference']}'s; only fields both recorded "
                 "are compared.")
    if diff["not_recorded"]:
        lines.append("Nothing recorded (not compared): " + ", ".join(diff["not_recorded"]) + ".")
    if not diff["differences"]:
        return lines + ["", f"All {diff['runs_compared']} runs with a record agree on every shared field.", ""]
    rows = [{"run": d["run"], "method": d["method"], "field": f"`{field}`", "value": str(v["value"]),
             f"{diff['reference']}": str(v["reference"])}
            for d in diff["differences"] for field, v in d["fields"].items()]
    shown = rows[:60]
    lines += ["", markdown_table(shown)]
    if len(rows) > len(shown):
        lines.append(f"... and {len(rows) - len(shown)} more rows in report.json (`environment_differences`).")
    return lines + [""]


def _section() -> Any:
    from rlvr_bench.analysis.report_section import ReportSection

    return ReportSection("environment_differences", _markdown,
                         lambda data, ctx: {"environment_differences": env_differences(data)},
                         keys=("environment_differences",),
                         findings=lambda r, ctx: environment_findings(r["environment_differences"]))


ENVIRONMENT_SECTION = _section()
"""Runs whose recorded environment differs from the reference run's, field by field."""
