"""The ``validity`` report section: are a method's correct answers reached by valid reasoning, and how
reliable and votable are its samples?

Per method at its final step (numbers from ``validity_stats``): pass@k beside CoT-pass@k (arXiv 2506.14245),
the share of correct samples whose trace is invalid ("lucky answers"), pass^k (arXiv 2406.12045) and maj@k
(self-consistency, arXiv 2203.11171, expected over k-subsets). The question of arXiv 2506.14245: how much of
RL's gain in pass@k is lucky guessing through the base's shortcut modes? Without trace checks (old studies,
real data without a checker) the section says so and still shows pass^k and maj@k.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rlvr_bench.analysis.report_section import ReportContext, ReportSection
from rlvr_bench.analysis.runs import BASE_LABEL, StudyData
from rlvr_bench.analysis.tables import format_ci, format_p_value, markdown_table
from rlvr_bench.analysis.validity_stats import validity_numbers

__all__ = ["VALIDITY_SECTION", "validity_findings"]

Numbers = Mapping[str, Any]


def _compute(data: StudyData, ctx: ReportContext) -> dict[str, Any]:
    settings = ctx.numbers["settings"]
    return {"validity": validity_numbers(data, settings["ks"], settings["k_max"], n_resamples=ctx.n_resamples,
                                         seed=ctx.seed)}


def _share(lucky: Numbers) -> str:
    if not lucky["recorded"]:
        return "not checked"
    if lucky["share"] is None:
        return "no correct sample"
    return f"{lucky['correct_invalid']} of {lucky['correct']} ({lucky['share']:.1%})"


def _pass_rows(v: Numbers) -> list[dict[str, str]]:
    rows = []
    for label, b in v["methods"].items():
        row = {"method": label}
        for k in v["ks"]:
            if str(k) not in b["pass_at_k"]:
                continue
            cot = b["cot_pass_at_k"]
            row[f"pass@{k}"] = f"{b['pass_at_k'][str(k)]:.3f}"
            if v["cot_recorded"]:
                row[f"CoT-pass@{k}"] = "n/a" if cot is None else f"{cot[str(k)]:.3f}"
        if v["cot_recorded"]:
            row["correct with an invalid trace"] = _share(b["lucky"]) if b["cot_runs"] else "n/a"
            t = b.get("versus_base")
            row[f"ΔCoT-pass@{v['k_max']} vs base [95% CI]"] = "" if t is None else \
                f"{t['diff']:+.3f} {format_ci(t['ci_low'], t['ci_high'], signed=True)}"
            row["p"] = "" if t is None else format_p_value(t["p_value"]) + (" *" if t["significant"] else "")
        rows.append(row)
    return rows


def _vote_rows(v: Numbers) -> list[dict[str, str]]:
    rows = []
    for label, b in v["methods"].items():
        row = {"method": label, **{f"pass^{k}": f"{b['pass_hat_k'][str(k)]:.3f}" for k in v["ks"]
                                   if str(k) in b["pass_hat_k"]}}
        for k in v["maj_ks"]:
            est = (b["maj_at_k"] or {}).get(str(k))
            row[f"maj@{k}"] = "n/a" if est is None else (
                f"{est['value']:.3f}" if est["exact"] else f"{est['value']:.3f} ± {est['stderr']:.3f}")
        rows.append(row)
    return rows


def _family_lines(v: Numbers) -> list[str]:
    by_source = v.get("by_source")
    if not by_source or not v["cot_recorded"]:
        return []
    lines = ["By task family (pass@1, pass@k_max; CoT-pass where the family's traces were checked):", ""]
    rows = []
    for source, part in by_source.items():
        for label, b in part["methods"].items():
            k, cot = b["k"], b["cot_pass_at_k"]
            rows.append({"family": source, "method": label, "pass@1": f"{b['pass_at_k']['1']:.3f}",
                         "CoT-pass@1": "not checked" if cot is None else f"{cot['1']:.3f}",
                         "pass@k_max": f"{b['pass_at_k'][str(k)]:.3f} (k={k})",
                         "CoT-pass@k_max": "not checked" if cot is None else f"{cot[str(k)]:.3f}",
                         "correct with an invalid trace": _share(b["lucky"])})
    return lines + [markdown_table(rows)]


def _markdown(r: Numbers, ctx: ReportContext) -> list[str]:
    v = r["validity"]
    lines = ["## Reasoning validity, reliability and voting", ""]
    if v["cot_recorded"]:
        checkers = sorted({str(b["trace_checker"]) for b in v["methods"].values() if b["trace_checker"]})
        lines += [f"pass@k beside CoT-pass@k (arXiv 2506.14245): a sample counts in CoT-pass@k only if it is "
                  f"correct and the trace checker ({', '.join(f'`{c}`' for c in checkers)}) did not judge its "
                  "reasoning invalid; the gap is lucky answers. Mean over a method's runs, evaluation seeds "
                  f"pooled. ΔCoT-pass@{v['k_max']}: paired test over problems against the base (* p < 0.05). "
                  "\"correct with an invalid trace\": correct samples whose trace was judged invalid, over all correct "
                  "samples (unchecked families included), the method's runs pooled.", "",
                  markdown_table(_pass_rows(v))]
        lines += _family_lines(v)
    else:
        lines += ["No trace checks recorded: the evaluation summaries have no `cot_correct` (written before trace "
                  "checks existed, or data without a checker), so CoT-pass@k is not measured.", "",
                  markdown_table(_pass_rows(v))]
    exact = all(est["exact"] for b in v["methods"].values() for est in (b["maj_at_k"] or {}).values())
    lines += ["pass^k (arXiv 2406.12045): probability that k samples drawn without replacement are all "
              "correct, C(c, k)/C(n, k). maj@k (arXiv 2203.11171; cons@k): accuracy of the majority vote of the "
              "extracted answers, expected over every k-subset of a problem's samples (ties split evenly, no "
              "answer does not vote), " + ("computed exactly." if exact else
                                           "exact where shown without ±, else a seeded Monte-Carlo mean ± its "
                                           "standard error.") + " Mean over problems, then over runs.", "",
              markdown_table(_vote_rows(v))]
    skipped = [f"{label}: {', '.join(b['missing_samples'])}" for label, b in v["methods"].items()
               if b["missing_samples"]]
    if skipped:
        lines.append("No samples file (no maj@k): " + "; ".join(skipped) + ".")
    return lines + [""] if skipped else lines


def validity_findings(r: Numbers) -> list[str]:
    """Sentences: lucky-answer shares against the base's, and whether RL's pass@1 gain survives in CoT-pass@1."""
    v = r["validity"]
    base = v["methods"].get(BASE_LABEL)
    if not v["cot_recorded"] or base is None or base["lucky"]["share"] is None:
        return []
    others = {k: b for k, b in v["methods"].items() if k != BASE_LABEL and b["lucky"]["share"] is not None
              and b.get("cot_pass1_gain") is not None}
    rl = {k: b for k, b in others.items() if b["kind"] == "rl"} or others
    if not rl:
        return []
    shares = "; ".join(f"**{k}** {b['lucky']['share']:.1%}" for k, b in rl.items())
    sentences = [f"Lucky answers (arXiv 2506.14245): the share of correct samples with an invalid trace is "
                 f"{shares}, against the base's {base['lucky']['share']:.1%}."]
    gains = {k: b for k, b in rl.items() if b["pass1_gain"] > 0}
    if gains:
        parts = []
        for k, b in gains.items():
            kept = b["cot_pass1_gain"] / b["pass1_gain"]
            parts.append(f"**{k}** {b['pass1_gain']:+.3f} in pass@1, {b['cot_pass1_gain']:+.3f} in CoT-pass@1 "
                         f"({kept:.0%} kept)")
        sentences.append("Does the pass@1 gain survive the trace check? " + "; ".join(parts) + ".")
    tested = {k: b["versus_base"] for k, b in rl.items() if b.get("versus_base")}
    if tested:
        k_max = v["k_max"]
        below = [k for k, t in tested.items() if t["significant"] and t["diff"] < 0]
        above = [k for k, t in tested.items() if t["significant"] and t["diff"] > 0]
        who = "RL presets" if any(b["kind"] == "rl" for b in rl.values()) else "methods"
        sentences.append(f"CoT-pass@{k_max} against the base's, paired over problems: significantly higher for "
                         f"{', '.join(above) or 'none'}, lower for {', '.join(below) or 'none'} of the "
                         f"{len(tested)} {who}.")
    return sentences


VALIDITY_SECTION = ReportSection("validity", _markdown, _compute, keys=("validity",),
                                 findings=lambda r, ctx: validity_findings(r))
"""pass@k beside CoT-pass@k, lucky-answer shares, pass^k and maj@k per method."""
