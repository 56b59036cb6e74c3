"""The ``diversity`` report section: does training collapse the diversity of a model's samples?

Per problem, from each run's final-step samples (``rlvr_bench.metrics.diversity``): the number of distinct
extracted answers (``pred``) and their entropy in nats, the number of textually distinct correct traces, and
distinct-3 of the completions. A method's value per problem is the mean over its runs; the table gives the
mean over problems, and the entropy is compared with the base's by the paired test over problems
(``rlvr_bench.metrics.paired_test``). Runs without a samples file are skipped and named.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from rlvr_bench.analysis.report_section import ReportContext, ReportSection
from rlvr_bench.analysis.runs import BASE_LABEL, RunData, StudyData
from rlvr_bench.analysis.tables import format_ci, format_p_value, markdown_table
from rlvr_bench.utils.rundir import RunDir, read_jsonl

__all__ = ["DIVERSITY_SECTION", "diversity_findings", "diversity_numbers"]

Numbers = Mapping[str, Any]
METRICS = ("distinct_answers", "answer_entropy", "distinct_correct", "distinct_3")


def _run_metrics(run: RunData, benchmark: str, ids: Sequence[str]) -> np.ndarray | None:
    """(problems, 4) per-problem metrics of one run's final-step samples; None without a samples file."""
    from rlvr_bench.metrics import answer_diversity, distinct_correct_traces, ngram_diversity

    path = RunDir(run.path).samples_path(run.step, benchmark)
    if not path.is_file():
        return None
    seeds = set(run.eval_seeds)
    by_problem: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for line in read_jsonl(path):
        if not seeds or line.get("seed") in seeds:
            by_problem[str(line.get("id"))].append(line)
    out = np.full((len(ids), len(METRICS)), np.nan)
    for i, pid in enumerate(ids):
        lines = by_problem.get(pid)
        if not lines:
            continue
        answers = [None if line.get("pred") in (None, "") else str(line["pred"]) for line in lines]
        texts = [str(line.get("completion") or "") for line in lines]
        spread = answer_diversity(answers)
        out[i] = (spread["distinct"], spread["entropy"],
                  distinct_correct_traces(texts, [bool(line.get("correct")) for line in lines]),
                  ngram_diversity(texts, 3))
    return out


def diversity_numbers(data: StudyData, *, n_resamples: int = 10_000, seed: int = 0) -> dict[str, Any]:
    """``{"metrics": [...], "methods": {label: {"kind", "runs_read", "missing", "means": {metric: mean over
    problems} or None, "entropy_versus_base": paired test or None}}}``."""
    from rlvr_bench.metrics import paired_test

    groups = {BASE_LABEL: [data.base], **data.methods}
    per_problem, methods = {}, {}
    for label, runs in groups.items():
        got = [(run, _run_metrics(run, data.benchmark, data.ids)) for run in runs]
        arrays = [m for _, m in got if m is not None]
        missing = [run.path.name for run, m in got if m is None]
        block: dict[str, Any] = {"kind": runs[0].kind, "runs_read": len(arrays), "missing": missing,
                                 "means": None, "entropy_versus_base": None}
        if arrays:
            per_problem[label] = np.nanmean(np.stack(arrays), axis=0) if len(arrays) > 1 else arrays[0]
            block["means"] = {m: float(np.nanmean(per_problem[label][:, j])) for j, m in enumerate(METRICS)}
        methods[label] = block
    base = per_problem.get(BASE_LABEL)
    for label, values in per_problem.items():
        if label == BASE_LABEL or base is None:
            continue
        keep = np.isfinite(values[:, 1]) & np.isfinite(base[:, 1])
        if keep.sum() >= 2:
            t = paired_test(values[keep, 1], base[keep, 1], n_resamples=n_resamples, seed=seed)
            methods[label]["entropy_versus_base"] = {
                "diff": t.mean_diff, "ci_low": t.ci_low, "ci_high": t.ci_high, "p_value": t.p_value,
                "n_problems": t.n_problems, "significant": t.p_value < 0.05}
    return {"metrics": list(METRICS), "methods": methods}


def _markdown(r: Numbers, ctx: ReportContext) -> list[str]:
    d = r["diversity"]
    lines = ["## Diversity of samples", ""]
    rows = []
    for label, b in d["methods"].items():
        if b["means"] is None:
            continue
        t = b["entropy_versus_base"]
        rows.append({"method": label, **{m: f"{b['means'][m]:.3f}" for m in d["metrics"]},
                     "Δentropy vs base [95% CI]": "" if t is None else
                     f"{t['diff']:+.3f} {format_ci(t['ci_low'], t['ci_high'], signed=True)}",
                     "p": "" if t is None else format_p_value(t["p_value"]) + (" *" if t["significant"] else "")})
    if not rows:
        return lines + ["No samples files were found: diversity was not measured.", ""]
    lines += ["Per problem, from the final-step samples: distinct extracted answers, their entropy (nats), "
              "textually distinct correct traces and distinct-3 of the completions; mean over problems (a "
              "method's runs averaged per problem). Δentropy: paired test over problems against the base.",
              "", markdown_table(rows)]
    skipped = [f"{label}: {', '.join(b['missing'])}" for label, b in d["methods"].items() if b["missing"]]
    if skipped:
        lines.append("No samples file (skipped): " + "; ".join(skipped) + ".")
    return lines + [""]


def diversity_findings(r: Numbers) -> list[str]:
    """One sentence: which RL presets (else methods) lost or gained answer entropy against the base."""
    methods = {k: b for k, b in r["diversity"]["methods"].items() if b["entropy_versus_base"] is not None}
    base = r["diversity"]["methods"].get(BASE_LABEL, {}).get("means")
    if not methods or not base:
        return []
    rl = {k: b for k, b in methods.items() if b["kind"] == "rl"} or methods
    lower = [k for k, b in rl.items() if b["entropy_versus_base"]["significant"] and b["entropy_versus_base"]["diff"] < 0]
    higher = [k for k, b in rl.items() if b["entropy_versus_base"]["significant"] and b["entropy_versus_base"]["diff"] > 0]
    who = "RL presets" if any(b["kind"] == "rl" for b in rl.values()) else "methods"
    detail = "; ".join(f"**{k}** {rl[k]['means']['answer_entropy']:.2f}" for k in (lower or higher)[:6])
    verdict = (f"diversity collapses: {len(lower)} of {len(rl)} {who} have a significantly lower answer entropy "
               f"than the base's {base['answer_entropy']:.2f} nats ({detail})" if lower else
               f"no {who[:-1]} has a significantly lower answer entropy than the base's "
               f"{base['answer_entropy']:.2f} nats")
    if higher and lower:
        verdict += f"; {len(higher)} have a higher one"
    return [f"Does training collapse diversity? Per problem, {verdict} (paired test over problems)."]


DIVERSITY_SECTION = ReportSection(
    "diversity", _markdown,
    lambda data, ctx: {"diversity": diversity_numbers(data, n_resamples=ctx.n_resamples, seed=ctx.seed)},
    keys=("diversity",), findings=lambda r, ctx: diversity_findings(r))
"""Answer entropy, distinct answers and traces, distinct-3 per method against the base."""
