"""The comparison report: ``report.md`` + PNG figures + ``report.json`` for a set of runs against a base.

``write_report(collect_runs(...), out_dir)`` computes every number once (``report_stats``), writes it to
``report.json``, draws the figures (``plots``) and renders the markdown from the same numbers, with a
"What this run shows" section generated from them (``findings``). docs/study.md, "Reading the report",
explains each section.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from rlvr_bench.analysis.breakdown import (
    ALL_SOURCES,
    FORMAT_REASONS,
    count_failures,
    failure_columns,
    reason_column,
    source_kind,
)
from rlvr_bench.analysis.findings import findings, kind_name
from rlvr_bench.analysis.report_stats import compute_report_numbers, curves_for_plot
from rlvr_bench.analysis.runs import BASE_LABEL, RunData, StudyData
from rlvr_bench.analysis.tables import (
    format_ci,
    format_mean_std,
    format_p_value,
    format_signed,
    markdown_table,
)

__all__ = ["DEFAULT_TITLE", "environment_summary", "evaluation_summary", "summarize_perplexity", "write_report"]

DEFAULT_TITLE = "rlvr_bench comparison report"
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


def _notes(data: StudyData, numbers: Mapping[str, Any]) -> list[str]:
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


def _cell(value: float | None, digits: int = 0) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    return f"{value:.{digits}f}"


def _pass_table(numbers: Mapping[str, Any]) -> str:
    settings = numbers["settings"]
    gap_col = f"ΔSE@{settings['gap_k']} (pts)"
    rows = []
    for label, b in numbers["methods"].items():
        row = {"method": label, "kind": kind_name(b["kind"]) if label != BASE_LABEL else "base",
               "runs": str(b["runs"]), "samples/problem": str(b["samples_per_problem"])}
        for k in settings["ks"]:
            stat = b["pass_at_k"].get(str(k))
            row[f"pass@{k}"] = "n/a" if stat is None else format_mean_std(
                stat["mean"], math.nan if stat["std"] is None else stat["std"])
        row[gap_col] = f"{b['gap']['value']:.1f}"
        test = b.get("versus_base")
        if test is not None:
            row["Δpass@1 vs base"] = format_signed(test["diff"])
            row["95% CI"] = format_ci(test["ci_low"], test["ci_high"], signed=True)
            row["p"] = format_p_value(test["p_value"])
            row["significant"] = "significant" if test["significant"] else ""
        rows.append(row)
    columns = ["method", "kind", "runs", "samples/problem", *(f"pass@{k}" for k in settings["ks"]), gap_col,
               "Δpass@1 vs base", "95% CI", "p", "significant"]
    return markdown_table(rows, columns)


def _coverage_compute_table(numbers: Mapping[str, Any]) -> str:
    rows = []
    for label, b in numbers["methods"].items():
        row: dict[str, str] = {"method": label}
        cov = b.get("coverage")
        if cov is not None:
            row["k"] = str(cov["k"])
            for key, name in (("both", "both"), ("base_only", "base only"), ("method_only", "method only"),
                              ("neither", "neither")):
                row[name] = _cell(cov[key], 0 if float(cov[key]).is_integer() else 1)
        compute = b.get("compute") or {}
        for key, name in (("samples", "samples"), ("gen_tokens", "gen tokens"), ("backward_tokens", "trained tokens"),
                          ("teacher_samples", "teacher samples"), ("teacher_tokens", "teacher tokens")):
            row[name] = _cell(compute.get(key))
        row["wall min"] = _cell(compute.get("wall_minutes"), 1)
        rows.append(row)
    columns = ["method", "k", "both", "base only", "method only", "neither", "samples", "gen tokens",
               "trained tokens", "teacher samples", "teacher tokens", "wall min"]
    return markdown_table(rows, columns)


def _pairwise_table(pairwise: Sequence[Mapping[str, Any]]) -> str:
    rows = [{"a": r["a"], "b": r["b"], "Δpass@1 (a - b)": format_signed(r["diff"]),
             "95% CI": format_ci(r["ci_low"], r["ci_high"], signed=True), "p": format_p_value(r["p_value"]),
             "p (Holm)": format_p_value(r["p_holm"]), "significant": "significant" if r["significant"] else ""}
            for r in pairwise]
    return markdown_table(rows, ["a", "b", "Δpass@1 (a - b)", "95% CI", "p", "p (Holm)", "significant"])


def _perplexity_table(ppl: Mapping[str, Mapping[str, float]]) -> str:
    rows = [{"responses of": source, "n": str(s["n"]), "median": f"{s['median']:.3f}", "mean": f"{s['mean']:.3f}",
             "IQR": f"{s['q25']:.3f} - {s['q75']:.3f}"} for source, s in ppl.items()]
    return markdown_table(rows, ["responses of", "n", "median", "mean", "IQR"])


def _by_source_table(part: Mapping[str, Any]) -> str:
    """One data source: pass@1, pass@k_max, Delta_SE at k_max, the test at k_max and coverage per method."""
    k = part["k_max"]
    rows = []
    for label, b in part["methods"].items():
        row = {"method": label}
        for key in ("1", str(k)):
            stat = b["pass_at_k"][key]
            row[f"pass@{key}"] = format_mean_std(stat["mean"], math.nan if stat["std"] is None else stat["std"])
        row[f"ΔSE@{k} (pts)"] = f"{b['gap']['value']:.1f}"
        test, cov = b.get("versus_base_at_k_max"), b.get("coverage")
        if test is not None:
            row[f"Δpass@{k} vs base"] = format_signed(test["diff"])
            row["p"] = format_p_value(test["p_value"])
            row["significant"] = "significant" if test["significant"] else ""
        if cov is not None:
            for key, name in (("both", "both"), ("base_only", "base only"), ("method_only", "method only"),
                              ("neither", "neither")):
                row[name] = _cell(cov[key], 0 if float(cov[key]).is_integer() else 1)
        rows.append(row)
    columns = ["method", "pass@1", f"pass@{k}", f"ΔSE@{k} (pts)", f"Δpass@{k} vs base", "p", "significant",
               "both", "base only", "method only", "neither"]
    return markdown_table(rows, list(dict.fromkeys(columns)))


def _by_source_lines(report: Mapping[str, Any]) -> list[str]:
    """The "By task family" section: one table per data source and the side-by-side pass@k figure."""
    by_source = report.get("by_source")
    if not by_source:
        return []
    kinds = {source_kind(s) for s in by_source}
    heading = "## By task family (math and code side by side)" if kinds == {"math", "code"} else "## By task family"
    k = report["settings"]["k_max"]
    lines = [heading, "",
             f"The numbers above on each data source's problems alone. pass@1 and pass@{k}: mean ± std over "
             f"training seeds. ΔSE@{k}: base pass@{k} minus the method's pass@1, in points. Δpass@{k} vs base: "
             "paired test over that source's problems. Coverage: problems solved (any correct sample among "
             f"k={k}) by both, the base only, the method only or neither, mean over runs.", ""]
    if report["settings"]["gap_k"] != k:
        lines += [f"ΔSE here is at k={k} (the largest k every run supports); the pass@k table above uses "
                  f"k={report['settings']['gap_k']}.", ""]
    for source, part in by_source.items():
        lines += [f"### {source} ({source_kind(source)}, {part['num_problems']} problems)", "",
                  _by_source_table(part)]
    lines += [f"![pass@k by task family]({report['figures']['curves_by_source']})", ""]
    return lines


def _failure_row(block: Mapping[str, Any], family: str, columns: Sequence[str]) -> dict[str, str]:
    """One (method, family) row: runs read, samples, and each kind's share of all samples."""
    read = f"{block['runs_read']} of {block['runs']}"
    counts = block["by_source"].get(family)
    if not counts or not counts["samples"]:
        return {"runs read": read + (" (no samples file)" if block["runs_read"] == 0 else ""), "samples": "0"}
    total = counts["samples"]
    grouped: dict[str, int] = {}
    for reason, count in counts["reasons"].items():
        grouped[reason_column(reason)] = grouped.get(reason_column(reason), 0) + count
    row = {"runs read": read, "samples": str(total), "correct": f"{counts['correct'] / total:.3f}"}
    row.update({c: f"{grouped.get(c, 0) / total:.3f}" for c in columns})
    return row


def _failure_lines(report: Mapping[str, Any]) -> list[str]:
    """The "Failures by kind" section: the reason of every incorrect final-step sample, per method."""
    failures = report["failures"]
    columns = failure_columns(failures["reasons"])
    split = len(failures["sources"]) > 1
    rows = []
    for family in failures["sources"]:
        for label, block in failures["methods"].items():
            rows.append({"family": family, "method": label, **_failure_row(block, family, columns)})
    head = (["family"] if split else []) + ["method", "runs read", "samples", "correct", *columns]
    formats = ", ".join(f"`{r}`" for r in FORMAT_REASONS)
    lines = ["## Failures by kind", "",
             "Share of **all** final-step samples (a method's runs pooled) that were correct or failed for "
             f"each reason; a row sums to 1. {formats} are formatting failures (no gradable answer), "
             "`wrong_answer` a stated but wrong answer, `truncated` a completion cut at the token limit"
             + (", `exception` any exception raised by the program (types in report.json)"
                if "exception" in columns else "") + "."
             + (f" Family `{ALL_SOURCES}` pools every data source." if split else ""), "",
             markdown_table(rows, head)]
    skipped = [f"{label}: {', '.join(b['missing'])}" for label, b in failures["methods"].items() if b["missing"]]
    if skipped:
        lines.append("No samples file (skipped): " + "; ".join(skipped) + ".")
    short = [f"{label}: {', '.join(b['incomplete'])}" for label, b in failures["methods"].items() if b["incomplete"]]
    if short:
        lines.append("Samples files that disagree with their summary: " + "; ".join(short) + ".")
    return lines + [""] if skipped or short else lines


def _draw_figures(data: StudyData, numbers: Mapping[str, Any], out_dir: Path,
                  perplexity: Mapping[str, Sequence[float]] | None, title: str) -> dict[str, str]:
    """Every PNG of the report; returns figure name -> file name (relative to ``out_dir``)."""
    from rlvr_bench.analysis import plots

    methods = numbers["methods"]
    files = {"pass_at_k": "pass_at_k.png", "training_progress": "training_progress.png",
             "accuracy_histograms": "accuracy_histograms.png", "coverage": "coverage.png"}
    plots.plot_pass_at_k_curves(curves_for_plot(numbers), out_dir / files["pass_at_k"],
                                title=f"{title}: {data.benchmark}", base_name=BASE_LABEL)
    progress = {label: {int(step): point for step, point in steps.items()}
                for label, steps in numbers["progress"].items()}
    plots.plot_training_progress(progress, out_dir / files["training_progress"], base_name=BASE_LABEL)
    rates = {BASE_LABEL: data.base.correct / data.base.samples_per_problem}
    for label, runs in data.methods.items():
        rates[label] = np.sum([r.correct for r in runs], axis=0) / sum(r.samples_per_problem for r in runs)
    plots.plot_accuracy_histograms(rates, out_dir / files["accuracy_histograms"], base_name=BASE_LABEL)
    cov = {label: b["coverage"] for label, b in methods.items() if b.get("coverage") is not None}
    plots.plot_coverage(cov, out_dir / files["coverage"])
    if numbers.get("by_source"):
        files["curves_by_source"] = "curves_by_source.png"
        plots.plot_pass_at_k_by_source({source: curves_for_plot(part) for source, part in numbers["by_source"].items()},
                                       out_dir / files["curves_by_source"], base_name=BASE_LABEL)
    if perplexity:
        files["perplexity"] = "perplexity.png"
        plots.plot_perplexity(perplexity, out_dir / files["perplexity"],
                              title="perplexity of each source's responses under the base model")
    return files


def _setup_lines(report: Mapping[str, Any]) -> list[str]:
    ev, env = report["evaluation"], report["environment"]
    decoding = ev.get("decoding") or {}
    lines = ["## Setup", "",
             f"- benchmark: `{report['benchmark']}`, {report['num_problems']} problems (aligned by id across runs)",
             f"- evaluation: n={ev.get('n')} samples per problem per seed, seeds {ev.get('seeds')}, template "
             f"`{ev.get('template')}`, reward `{ev.get('reward')}`",
             "- decoding: " + (", ".join(f"{k}={v}" for k, v in decoding.items()) or "not recorded"),
             f"- engine: {json.dumps(ev.get('engine'))}"]
    for diff in ev["differences"]:
        lines.append(f"- **evaluation differs** — {diff}")
    if env["fields"]:
        fields = ", ".join(f"{k} {v}" for k, v in env["fields"].items() if v is not None)
        lines.append(f"- environment (from `{env['source']}`): {fields}")
    else:
        lines.append("- environment: no env.json recorded")
    for diff in env["differences"]:
        lines.append(f"- **environment differs** — {diff}")
    lines += ["", markdown_table(report["runs"], ["method", "run", "seed", "final step", "complete", "path"])]
    return lines


def _runs_rows(data: StudyData) -> list[dict[str, str]]:
    return [{"method": r.label, "run": _run_name(r), "seed": "" if r.seed is None else str(r.seed),
             "final step": str(r.step), "complete": "yes" if r.complete else "no", "path": str(r.path)}
            for r in data.all_runs()]


def _markdown(report: Mapping[str, Any], title: str) -> str:
    """The report text, rendered from ``report`` (the content of report.json)."""
    settings, figures = report["settings"], report["figures"]
    k_max = settings["k_max"]
    lines = [f"# {title}", "",
             f"Benchmark `{report['benchmark']}`, {report['num_problems']} problems; "
             f"{len(report['methods']) - 1} methods against the base. Numbers: `report.json`.", "",
             "## What this run shows", ""]
    lines += [f"- {sentence}" for sentence in report["findings"]]
    lines += ["", "## pass@k", "",
              "pass@k: mean ± std over training seeds (one value per run; a run's evaluation seeds pooled). "
              f"ΔSE@{settings['gap_k']}: base pass@{settings['gap_k']} minus the method's pass@1, in points "
              "(lower is better). The test: paired over problems, accuracy pooled over seeds.", "",
              _pass_table(report), f"![pass@k curves]({figures['pass_at_k']})", "",
              "## Coverage and compute", "",
              f"Problems solved (any correct sample among k={k_max}) by both, the base only, the method only, or "
              "neither; mean over a method's runs. Compute: mean per run, from metrics.jsonl / complete.json.", "",
              _coverage_compute_table(report), f"![coverage]({figures['coverage']})", ""]
    lines += _by_source_lines(report)
    lines += _failure_lines(report)
    lines += ["## Differences between RL presets", ""]
    if report["pairwise"]:
        lines += ["Paired over problems, seeds pooled; significant = Holm-adjusted p < 0.05.", "",
                  _pairwise_table(report["pairwise"])]
    else:
        lines += ["Fewer than two RL presets: nothing to compare.", ""]
    lines += ["## Training progress", "",
              f"pass@1 and pass@{k_max} at each evaluated step (step 0 is the base unless the run evaluated it).",
              "", f"![training progress]({figures['training_progress']})", "",
              "## Per-problem accuracy", "", f"![accuracy histograms]({figures['accuracy_histograms']})", ""]
    if report.get("perplexity"):
        lines += ["## Perplexity under the base model", "", _perplexity_table(report["perplexity"]),
                  f"![perplexity]({figures['perplexity']})", ""]
    lines += _setup_lines(report)
    if report["notes"]:
        lines += ["## Notes", ""] + [f"- {note}" for note in report["notes"]] + [""]
    return "\n".join(lines)


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    return str(value)


def write_report(
    data: StudyData,
    out_dir: str | Path,
    *,
    ks: Sequence[int] | None = None,
    gap_k: int | None = None,
    perplexity: Mapping[str, Sequence[float]] | None = None,
    title: str = DEFAULT_TITLE,
    n_resamples: int = 10_000,
    seed: int = 0,
) -> Path:
    """Write ``out_dir/report.md``, its PNG figures and ``out_dir/report.json``; returns the report.md path.

    Args:
        data: the runs (``rlvr_bench.analysis.collect_runs``).
        ks: pass@k table columns (default 1, 4, 16, ... up to the smallest samples-per-problem of any run).
        gap_k: k of Delta_SE (default 256, lowered to the base's samples per problem when fewer).
        perplexity: source -> per-response perplexity under the base model (``perplexity_from_runs``);
            adds a box plot, a table and a sentence.

    When the base's summary names two or more data sources (task families), the report adds a section per
    family (``report.json`` ``by_source``) and ``curves_by_source.png``. Every report counts the reasons of
    the incorrect final-step samples (``failures``), read from the samples files of the runs that have one.
        title: the report's heading.
        n_resamples, seed: of the bootstrap CIs and the sign-flip tests.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    numbers = compute_report_numbers(data, ks=ks, gap_k=gap_k, n_resamples=n_resamples, seed=seed)
    ppl = summarize_perplexity(perplexity) if perplexity else None
    report: dict[str, Any] = {
        "title": title,
        **numbers,
        "perplexity": ppl,
        "findings": findings(numbers, ppl),
        "evaluation": evaluation_summary(data),
        "environment": environment_summary(data),
        "runs": _runs_rows(data),
        "failures": count_failures(data),
        "notes": _notes(data, numbers),
        "figures": _draw_figures(data, numbers, out, perplexity, title),
    }
    (out / "report.json").write_text(json.dumps(report, indent=1, default=_json_default, allow_nan=False))
    path = out / "report.md"
    path.write_text(_markdown(report, title))
    return path
