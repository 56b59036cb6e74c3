"""The sensitivity report: pass@1 per model per setting, its spread, and whether the model ranking changes.

Statistics (arXiv 2504.07086):

- pass@1 of one seed is the mean over problems of ``correct / n``; a cell is the mean ± sample std
  (ddof=1, :func:`rlvr_bench.metrics.stats.seed_mean_std`; undefined with one seed) of that over seeds.
- The spread of a model is the max - min and the sample std of its per-setting means.
- Each setting ranks the models by mean pass@1. Kendall's tau-b (:func:`kendall_tau`, ties allowed) compares
  every pair of settings' rankings; a pair of models *flips* between two settings when one is strictly
  ahead in one and strictly behind in the other (a tie is no flip). A flip is marked *within seed noise*
  when either gap is no larger than the combined seed std of the two cells.
- Models are compared on the problems every evaluation of the setting shares (normally all of them).
"""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from rlvr_bench.metrics.stats import seed_mean_std
from rlvr_bench.utils.rundir import write_json_atomic

__all__ = ["kendall_tau", "flipped_pairs", "build_sensitivity", "render_markdown", "plot_sensitivity",
           "write_sensitivity_report"]


def kendall_tau(x: Sequence[float], y: Sequence[float]) -> float:
    """Kendall's tau-b of two paired score lists (ties in either are allowed).

    ``(concordant - discordant) / sqrt((n0 - ties_x) (n0 - ties_y))`` with ``n0 = n (n - 1) / 2``; a pair
    tied in both counts in both tie terms. NaN when undefined: fewer than two items, or one list all tied.
    """
    if len(x) != len(y):
        raise ValueError(f"kendall_tau needs paired lists, got {len(x)} and {len(y)} values")
    concordant = discordant = ties_x = ties_y = 0
    for i, j in itertools.combinations(range(len(x)), 2):
        dx, dy = np.sign(x[i] - x[j]), np.sign(y[i] - y[j])
        ties_x += dx == 0
        ties_y += dy == 0
        if dx and dy:
            concordant += dx == dy
            discordant += dx != dy
    n0 = len(x) * (len(x) - 1) // 2
    denom = math.sqrt((n0 - ties_x) * (n0 - ties_y))
    return float((concordant - discordant) / denom) if denom > 0 else float("nan")


def flipped_pairs(models: Sequence[str], a: Sequence[float], b: Sequence[float]) -> list[tuple[str, str]]:
    """Model pairs ``(i, j)`` strictly ordered one way by ``a`` and strictly the other way by ``b``
    (``i`` is the one ahead under ``a``)."""
    out = []
    for i, j in itertools.combinations(range(len(models)), 2):
        da, db = a[i] - a[j], b[i] - b[j]
        if da * db < 0:
            out.append((models[i], models[j]) if da > 0 else (models[j], models[i]))
    return out


def _pass1_per_seed(summary: dict[str, Any], ids: Sequence[str]) -> list[float]:
    """pass@1 per seed on ``ids`` (mean of correct / n over those problems)."""
    pos = {pid: i for i, pid in enumerate(summary["ids"])}
    n = summary["n"]
    return [float(np.mean([counts[pos[p]] / n for p in ids])) for counts in summary["correct"].values()]


def _nan_to_none(value: float) -> float | None:
    return None if value is None or not math.isfinite(value) else float(value)


def _setting_cells(rows: list[dict[str, Any]], labels: list[str], settings: list[str]) -> dict[tuple, dict]:
    """(model, setting) -> pass@1 mean/std/per-seed on the problems the setting's evaluations share."""
    cells = {}
    for s in settings:
        group = [r for r in rows if r["setting_label"] == s]
        shared = set.intersection(*(set(r["summary"]["ids"]) for r in group))
        ids = [p for p in group[0]["summary"]["ids"] if p in shared]
        for r in group:
            per_seed = _pass1_per_seed(r["summary"], ids)
            stat = seed_mean_std(per_seed)
            cells[(r["label"], s)] = {"mean": stat.mean, "std": stat.std, "per_seed": per_seed,
                                      "num_problems": len(ids), "run_dir": r["run_dir"],
                                      "decoding": r["summary"].get("decoding"), "template": r["summary"].get("template")}
    return cells


def _ranking(labels: list[str], settings: list[str], cells: dict) -> dict[str, Any]:
    """Kendall's tau between every pair of settings' rankings and the flips (undefined for one model)."""
    if len(labels) < 2:
        return {"defined": False, "reason": "one model: a ranking needs at least two", "pairs": []}
    means = {s: [cells[(m, s)]["mean"] for m in labels] for s in settings}
    stds = {s: [cells[(m, s)]["std"] for m in labels] for s in settings}
    pairs = []
    for a, b in itertools.combinations(settings, 2):
        flips = []
        for hi, lo in flipped_pairs(labels, means[a], means[b]):
            i, j = labels.index(hi), labels.index(lo)
            noise = [math.hypot(stds[s][i], stds[s][j]) for s in (a, b)]
            gaps = [means[a][i] - means[a][j], means[b][j] - means[b][i]]
            within = any(math.isfinite(nz) and g <= nz for g, nz in zip(gaps, noise))
            flips.append({"ahead_in_a": hi, "ahead_in_b": lo, "gap_a": gaps[0], "gap_b": gaps[1],
                          "within_seed_noise": within})
        pairs.append({"a": a, "b": b, "kendall_tau": _nan_to_none(kendall_tau(means[a], means[b])), "flips": flips})
    taus = [p["kendall_tau"] for p in pairs if p["kendall_tau"] is not None]
    order = {s: [m for _, m in sorted(zip(means[s], labels), key=lambda t: -t[0])] for s in settings}
    return {"defined": True, "pairs": pairs, "min_tau": min(taus) if taus else None,
            "changes": any(p["flips"] for p in pairs), "order": order}


def build_sensitivity(rows: list[dict[str, Any]], **meta: Any) -> dict[str, Any]:
    """The report as a JSON-ready dict from ``run_sensitivity``'s rows (one per model and setting)."""
    labels = list(dict.fromkeys(r["label"] for r in rows))
    settings = list(dict.fromkeys(r["setting_label"] for r in rows))
    cells = _setting_cells(rows, labels, settings)
    spread = {}
    for m in labels:
        means = [cells[(m, s)]["mean"] for s in settings]
        spread[m] = {"min": min(means), "max": max(means), "range": max(means) - min(means),
                     "std": _nan_to_none(seed_mean_std(means).std)}
    table = [{"model": m, "setting": s, **{k: (_nan_to_none(v) if k == "std" else v) for k, v in cells[(m, s)].items()}}
             for m in labels for s in settings]
    models = {r["label"]: r["model"] for r in rows}
    return {"meta": meta, "models": models, "settings": settings, "cells": table, "spread": spread,
            "ranking": _ranking(labels, settings, cells)}


def _pm(mean: float, std: float | None) -> str:
    return f"{mean:.3f} ± {std:.3f}" if std is not None else f"{mean:.3f} (one seed)"


def _ranking_lines(ranking: dict[str, Any]) -> list[str]:
    if not ranking["defined"]:
        return [f"Ranking: undefined ({ranking['reason']})."]
    if not ranking["pairs"]:
        return ["Ranking: one setting, nothing to compare."]
    tau = ranking["min_tau"]
    head = (f"Ranking changes between settings: **{'yes' if ranking['changes'] else 'no'}** "
            f"(lowest Kendall's tau {tau:.3f})." if tau is not None else
            f"Ranking changes between settings: **{'yes' if ranking['changes'] else 'no'}** (Kendall's tau "
            "undefined: every setting ties the models).")
    shown = [p for p in ranking["pairs"] if p["flips"] or p["kendall_tau"] is None or p["kendall_tau"] < 1]
    same = len(ranking["pairs"]) - len(shown)
    lines = [head]
    if shown:
        lines += ["", "| setting A | setting B | Kendall's tau | pairs that flip |", "|---|---|---:|---|"]
    for p in shown:
        tau_text = f"{p['kendall_tau']:.3f}" if p["kendall_tau"] is not None else "undefined (ties)"
        flips = "; ".join(f"{f['ahead_in_a']} > {f['ahead_in_b']} becomes {f['ahead_in_b']} > {f['ahead_in_a']}"
                          + (" (within seed noise)" if f["within_seed_noise"] else "") for f in p["flips"]) or "none"
        lines.append(f"| {p['a']} | {p['b']} | {tau_text} | {flips} |")
    if same:
        lines += ["", f"{'The other' if shown else 'All'} {same} pairs of settings rank the models identically "
                  "(Kendall's tau 1.000); every pair is in sensitivity.json."]
    return lines


def render_markdown(report: dict[str, Any]) -> str:
    """``sensitivity.md``: pass@1 table, spread per model, the ranking comparison."""
    meta, settings = report["meta"], report["settings"]
    labels = list(report["spread"])
    cell = {(c["model"], c["setting"]): c for c in report["cells"]}
    lines = [f"# Sensitivity of pass@1 to the evaluation setting: {meta.get('benchmark')}", "",
             f"n={meta.get('n')} samples per problem per seed, seeds {meta.get('seeds')}, "
             f"{cell[(labels[0], settings[0])]['num_problems']} problems"
             + (f" (limit {meta['limit']})" if meta.get("limit") else "") + ". Grid: "
             + ", ".join(f"{k}={','.join(map(str, v))}" for k, v in (meta.get("grid") or {}).items())
             + ". Settings outside the grid are each model's own (a checkpoint's recorded evaluation settings, "
             "else the `rlvr-bench eval` defaults).", "",
             "## pass@1 (mean ± seed std)", "",
             "| setting | " + " | ".join(labels) + " |", "|---|" + "---:|" * len(labels)]
    for s in settings:
        lines.append(f"| {s} | " + " | ".join(_pm(cell[(m, s)]["mean"], cell[(m, s)]["std"]) for m in labels) + " |")
    lines += ["", "## Spread across settings", "", "| model | min | max | max - min | std across settings |",
              "|---|---:|---:|---:|---:|"]
    for m, sp in report["spread"].items():
        std = f"{sp['std']:.3f}" if sp["std"] is not None else "-"
        lines.append(f"| {m} | {sp['min']:.3f} | {sp['max']:.3f} | {sp['range']:.3f} | {std} |")
    lines += ["", "## Ranking", "", *_ranking_lines(report["ranking"])]
    renamed = [f"`{k}` = {v}" for k, v in report["models"].items() if k != v]
    if renamed:
        lines += ["", "Models: " + ", ".join(renamed) + "."]
    return "\n".join(lines).rstrip() + "\n"


def plot_sensitivity(report: dict[str, Any], path: str | Path) -> Path:
    """``sensitivity.png``: pass@1 mean ± seed std per setting, one series per model (and, with two or more
    models and settings, Kendall's tau between settings as a heat map)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    settings, labels = report["settings"], list(report["spread"])
    cell = {(c["model"], c["setting"]): c for c in report["cells"]}
    pairs = report["ranking"].get("pairs") or []
    panels = 2 if pairs else 1
    fig = Figure(figsize=(max(6.0, 0.7 * len(settings) + 3) + 4.0 * (panels - 1), 5.0), dpi=100)
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, panels, squeeze=False, gridspec_kw={"width_ratios": [2, 1][:panels]}).ravel()
    ax, x = axes[0], np.arange(len(settings))
    width = 0.6 / max(len(labels), 1)
    for i, m in enumerate(labels):
        means = [cell[(m, s)]["mean"] for s in settings]
        stds = [cell[(m, s)]["std"] or 0.0 for s in settings]
        ax.errorbar(x + (i - (len(labels) - 1) / 2) * width, means, yerr=stds, fmt="o", capsize=3, label=m,
                    color="black" if i == 0 else f"C{i - 1}")
    ax.set_xticks(x, [f"{i + 1}: {_short(s)}" for i, s in enumerate(settings)], fontsize=7, rotation=35,
                  ha="right")
    ax.set_ylabel("pass@1 (mean ± seed std)")
    ax.set_title(f"{report['meta'].get('benchmark')}: pass@1 by setting", fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    if pairs:
        _tau_heatmap(axes[1], settings, pairs, fig)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100, format="png")
    return path


_SHORT = {"temperature=": "T=", "top_p=": "p=", "top_k=": "k=", "max_new_tokens=": "max=", "template=": ""}


def _short(setting: str) -> str:
    """A compact tick label: ``T=0.6 p=0.95 max=32``."""
    for long, short in _SHORT.items():
        setting = setting.replace(long, short)
    return setting


def _tau_heatmap(ax: Any, settings: list[str], pairs: list[dict[str, Any]], fig: Any) -> None:
    """Kendall's tau between every two settings' rankings (blank where undefined)."""
    idx = {s: i for i, s in enumerate(settings)}
    grid = np.full((len(settings), len(settings)), np.nan)
    np.fill_diagonal(grid, 1.0)
    for p in pairs:
        if p["kendall_tau"] is not None:
            grid[idx[p["a"]], idx[p["b"]]] = grid[idx[p["b"]], idx[p["a"]]] = p["kendall_tau"]
    image = ax.imshow(grid, vmin=-1, vmax=1, cmap="RdBu")
    ticks = [str(i + 1) for i in range(len(settings))]
    ax.set_xticks(range(len(settings)), ticks)
    ax.set_yticks(range(len(settings)), ticks)
    ax.set_title("Kendall's tau between rankings\n(settings numbered as on the left; blank = undefined)",
                 fontsize=9)
    fig.colorbar(image, ax=ax, fraction=0.046)


def write_sensitivity_report(rows: list[dict[str, Any]], out: str | Path, **meta: Any) -> dict[str, Path]:
    """Write ``sensitivity.json``, ``sensitivity.md`` and ``sensitivity.png`` into ``out``; returns their paths."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    report = build_sensitivity(rows, **meta)
    paths = {"json": out / "sensitivity.json", "markdown": out / "sensitivity.md", "plot": out / "sensitivity.png"}
    write_json_atomic(paths["json"], json.loads(json.dumps(report, default=str)))
    tmp = paths["markdown"].with_name("sensitivity.md.tmp")
    tmp.write_text(render_markdown(report))
    tmp.replace(paths["markdown"])
    plot_sensitivity(report, paths["plot"])
    return paths
