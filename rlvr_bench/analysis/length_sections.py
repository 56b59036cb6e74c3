"""The ``length`` report section (arXiv 2504.07086): accuracy by response-length quartile, the
length-correctness correlation with a bootstrap CI, and the truncation rate, per method; numbers from
``length_stats``. Without samples files the section says so and stays empty."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from rlvr_bench.analysis.length_stats import length_numbers
from rlvr_bench.analysis.report_section import ReportContext, ReportSection
from rlvr_bench.analysis.runs import BASE_LABEL, StudyData
from rlvr_bench.analysis.tables import format_ci, markdown_table

__all__ = ["LENGTH_SECTION", "length_findings", "plot_accuracy_by_length"]

Numbers = Mapping[str, Any]

#: truncation rates at or above this get a sentence in "What this run shows"
TRUNCATION_NOTE = 0.05


def _compute(data: StudyData, ctx: ReportContext) -> dict[str, Any]:
    return {"length": length_numbers(data, n_resamples=min(ctx.n_resamples, 2000), seed=ctx.seed)}


def _r_cell(corr: Numbers | None, signed: bool = True) -> str:
    if not corr or corr.get("r") is None and corr.get("diff") is None:
        return "n/a"
    value = corr["r"] if "r" in corr else corr["diff"]
    ci = "" if corr["ci_low"] is None else " " + format_ci(corr["ci_low"], corr["ci_high"], signed=True)
    return f"{value:+.3f}{ci}"


def _quartile_cell(q: Numbers, unit: str) -> str:
    if q["accuracy"] is None:
        return "empty"
    left = "[" if q["quartile"] == 1 else "("
    span = f"{q['low']:.0f}" if q["low"] == q["high"] else f"{left}{q['low']:.0f}, {q['high']:.0f}]"
    return f"{q['accuracy']:.3f} ({span})"


def _rows(methods: Mapping[str, Numbers]) -> list[dict[str, str]]:
    rows = []
    for label, b in methods.items():
        if not b["samples"]:
            continue
        row = {"method": label, "samples": str(b["samples"]), "mean length": f"{b['mean_length']:.1f} {b['unit'][:3]}"}
        for q in b["quartiles"]["rows"]:
            row[f"Q{q['quartile']} acc"] = _quartile_cell(q, b["unit"])
        row["r(length, correct) [95% CI]"] = _r_cell(b["correlation"])
        row["r − base's r [95% CI]"] = "" if label == BASE_LABEL else _r_cell(b["versus_base"])
        row["truncated"] = f"{b['truncation_rate']:.1%}"
        rows.append(row)
    return rows


def _markdown(r: Numbers, ctx: ReportContext) -> list[str]:
    block = r["length"]
    methods = block["methods"]
    lines = ["## Response length and errors", ""]
    rows = _rows(methods)
    if not rows:
        return lines + ["No samples files were found: response lengths were not recorded.", ""]
    units = " and ".join(block["units"])
    limit = {b["max_new_tokens"] for b in methods.values() if b.get("max_new_tokens")}
    lines += [f"Final-step samples of each method (its runs pooled), split at the quartiles of the method's own "
              f"response lengths ({units}; a quartile holds every sample of a tied length, so some may be "
              "empty): accuracy in each quartile with its length range (`(a, b]`: longer than a, at most b). r: Pearson correlation between length "
              "and correctness (0/1, point-biserial); 95% CI from a bootstrap over problems "
              f"({block['n_resamples']} resamples); r − base's r is paired over the same resamples. Truncated: "
              "share of samples that hit max_new_tokens"
              + (f" ({', '.join(str(v) for v in sorted(limit))})" if limit else "") + ". A negative r means "
              "longer responses are more often wrong (arXiv 2504.07086).", "", markdown_table(rows)]
    skipped = [f"{label}: {', '.join(b['missing'])}" for label, b in methods.items() if b["missing"]]
    if skipped:
        lines.append("No samples file (skipped): " + "; ".join(skipped) + ".")
    if "accuracy_by_length" in r.get("figures", {}):
        lines.append(f"![accuracy by length quartile]({r['figures']['accuracy_by_length']})")
    return lines + [""]


def plot_accuracy_by_length(methods: Mapping[str, Numbers], out_path: Path) -> Path:
    """Accuracy in each length quartile, one line per method (the base in black)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7, 4.5), dpi=120)
    FigureCanvasAgg(fig)
    ax = fig.subplots()
    for label, b in methods.items():
        if not b["samples"]:
            continue
        qs = [q for q in b["quartiles"]["rows"] if q["accuracy"] is not None]
        base = label == BASE_LABEL
        ax.plot([q["quartile"] for q in qs], [q["accuracy"] for q in qs], marker="o",
                color="black" if base else None, linewidth=2.5 if base else 1.2, label=label)
    ax.set_xticks([1, 2, 3, 4], ["Q1\n(shortest)", "Q2", "Q3", "Q4\n(longest)"])
    ax.set_xlabel("response-length quartile (of each method's own samples)")
    ax.set_ylabel("accuracy")
    ax.set_ylim(0, 1)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, ncol=2, loc="best")
    fig.tight_layout()
    out_path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out_path, format="png")
    return out_path


def _figures(r: Numbers, ctx: ReportContext, out: Path) -> dict[str, str]:
    if not any(b["samples"] for b in r["length"]["methods"].values()):
        return {}
    plot_accuracy_by_length(r["length"]["methods"], out / "accuracy_by_length.png")
    return {"accuracy_by_length": "accuracy_by_length.png"}


def _below(ci: Numbers | None) -> bool:
    return bool(ci) and ci.get("ci_high") is not None and ci["ci_high"] < 0


def _above(ci: Numbers | None) -> bool:
    return bool(ci) and ci.get("ci_low") is not None and ci["ci_low"] > 0


def _r_phrase(b: Numbers) -> str:
    c = b["correlation"]
    ci = "" if c["ci_low"] is None else f" {format_ci(c['ci_low'], c['ci_high'], signed=True)}"
    return f"r={c['r']:+.2f}{ci}"


def _ends(b: Numbers) -> str:
    qs = [q for q in b["quartiles"]["rows"] if q["accuracy"] is not None]
    return f"accuracy {qs[0]['accuracy']:.2f} in its shortest quartile vs {qs[-1]['accuracy']:.2f} in its longest"


def _names(labels: Sequence[str]) -> str:
    return ", ".join(f"**{label}**" for label in labels)


def length_findings(r: Numbers) -> list[str]:
    """The sentence on length and errors (and one on truncation when a method truncates >= 5%)."""
    methods = {k: b for k, b in r["length"]["methods"].items()
               if b["samples"] and b.get("correlation", {}).get("r") is not None}
    base = methods.get(BASE_LABEL)
    trained = {k: b for k, b in methods.items() if k != BASE_LABEL}
    if not trained:
        return []
    rl = {k: b for k, b in trained.items() if b["kind"] == "rl"}
    focus = rl or trained
    who = "RL presets" if rl else "methods"
    err_more = [k for k, b in focus.items() if _below(b["correlation"])]
    worse = [k for k, b in focus.items() if _below(b["versus_base"])]
    base_txt = f"the base's {_r_phrase(base)}" if base else "no base correlation"
    sentences = []
    if err_more:
        sentence = (f"Longer responses err more for {len(err_more)} of {len(focus)} {who} ({_names(err_more)}; "
                    + "; ".join(f"{k}: {_r_phrase(focus[k])}, {_ends(focus[k])}" for k in err_more[:3])
                    + f"; {base_txt})")
        sentence += (f", and more so than in the base for {_names(worse)} (paired over problems, the CI of r "
                     "minus the base's r is below 0), as arXiv 2504.07086 reports." if worse else
                     "; no method's correlation is significantly more negative than the base's.")
    else:
        rs = [b["correlation"]["r"] for b in focus.values()]
        span = f"r={rs[0]:+.2f}" if len(rs) == 1 else f"r from {min(rs):+.2f} to {max(rs):+.2f}"
        sentence = (f"Longer responses do not err more here: length and correctness correlate at {span} across "
                    f"the {who} ({base_txt}), no {who[:-1] if who.endswith('s') else who} with a CI below 0")
        sentence += (f"; the correlation is lower than the base's for {_names(worse)} (paired CI below 0)."
                     if worse else ".")
    sentences.append(sentence)
    heavy = {k: b for k, b in methods.items() if b["truncation_rate"] >= TRUNCATION_NOTE}
    if heavy:
        sentences.append("Truncation at max_new_tokens is not negligible: "
                         + ", ".join(f"**{k}** {b['truncation_rate']:.1%}" for k, b in heavy.items())
                         + " of samples were cut (scored wrong).")
    return sentences


LENGTH_SECTION = ReportSection("length", _markdown, _compute, keys=("length",), figures=_figures,
                               findings=lambda r, ctx: length_findings(r))
"""Accuracy by length quartile, length-correctness correlation, truncation rate per method."""
