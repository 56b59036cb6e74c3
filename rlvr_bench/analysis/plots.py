"""Comparison plots: pure functions from numbers to small PNG files (no run-directory I/O).

Figures are drawn on matplotlib's Agg canvas directly (``Figure`` + ``FigureCanvasAgg``, never pyplot's
figure manager), so they render headless whatever backend is active. On import, this module selects the
"Agg" backend only when none has been chosen yet (no ``MPLBACKEND``, no earlier ``matplotlib.use``):
that stops matplotlib from probing GUI toolkits on a server, and leaves a backend the caller did choose
(a notebook's inline backend, for instance) alone. It has no other side effect. Every function writes one PNG at 100 dpi and returns its path. Single-panel figures are 6 x 4 in
(600 x 400 px); multi-panel figures use ``panel_figsize``. Colours are stable per method within a figure;
the base model is always black.
"""

from __future__ import annotations

import math
import textwrap
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import NamedTuple

import matplotlib
import numpy as np
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import FixedLocator, FuncFormatter, LogLocator, NullFormatter
from numpy.typing import ArrayLike

from rlvr_bench.metrics.accuracy import accuracy_histogram
from rlvr_bench.metrics.curves import find_crossing


def _use_agg_if_no_backend_chosen() -> None:
    try:
        chosen = matplotlib.get_backend(auto_select=False)
    except TypeError:  # matplotlib < 3.10 has no auto_select
        chosen = matplotlib.rcParams._get_backend_or_none()
    if chosen is None:
        matplotlib.use("Agg")


_use_agg_if_no_backend_chosen()

DPI = 100
FIGSIZE = (6.0, 4.0)
BASE_COLOR = "black"
# 20 distinct colours (tab20's dark tones first, then its light ones): a full study has 13 methods
_PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22",
            "#17becf", "#aec7e8", "#ffbb78", "#98df8a", "#ff9896", "#c5b0d5", "#c49c94", "#f7b6d2", "#c7c7c7",
            "#dbdb8d", "#9edae5")
LEGEND_WIDTH = 2.3  # inches added on the right of a curve figure for its legend


def panel_figsize(n_panels: int) -> tuple[float, float]:
    """Figure size in inches for ``n_panels`` panels laid out in rows of at most three.

    1 panel: 6 x 4; 2: 7 x 4; 3: 10.5 x 4; 4-6: 10.5 x 6; in general (max(6, 3.5 cols), max(4, 3 rows)).
    """
    cols = min(max(n_panels, 1), 3)
    rows = math.ceil(max(n_panels, 1) / 3)
    return (max(6.0, 3.5 * cols), max(4.0, 3.0 * rows))


def _new_figure(n_panels: int = 1) -> tuple[Figure, list[Axes]]:
    fig = Figure(figsize=panel_figsize(n_panels), dpi=DPI)
    FigureCanvasAgg(fig)
    cols = min(max(n_panels, 1), 3)
    rows = math.ceil(max(n_panels, 1) / 3)
    axes = list(fig.subplots(rows, cols, squeeze=False).ravel())
    for extra in axes[n_panels:]:
        extra.set_visible(False)
    return fig, axes[: max(n_panels, 1)]


def _save(fig: Figure, out_path: str | Path) -> Path:
    path = Path(out_path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if not fig.legends:  # a figure legend has already laid the axes out around it
        fig.tight_layout()
    fig.savefig(path, dpi=DPI, format="png")
    return path


def _colors(names: Sequence[str], base_name: str) -> dict[str, str]:
    others = [name for name in names if name != base_name]
    colors = {name: _PALETTE[i % len(_PALETTE)] for i, name in enumerate(others)}
    colors[base_name] = BASE_COLOR
    return colors


def _require(mapping: Mapping, what: str) -> None:
    if not mapping:
        raise ValueError(f"{what} is empty: nothing to plot")


def _log2_k_axis(ax: Axes, ks: Sequence[float]) -> None:
    ax.set_xscale("log", base=2)
    ticks = sorted(set(ks))
    while len(ticks) > 11:
        ticks = ticks[::2]
    ax.xaxis.set_major_locator(FixedLocator(ticks))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _pos: f"{x:g}"))
    ax.xaxis.set_minor_locator(FixedLocator([]))


class _Band(NamedTuple):
    x: list[float]
    mean: np.ndarray
    low: np.ndarray
    high: np.ndarray
    max_seeds: int


def _mean_band(series: Mapping[int | str, Sequence[float]]) -> _Band:
    """Points sorted by x, with the mean, min and max over seeds at each x.

    Keys may be numbers or numeric strings (as JSON object keys come back), e.g. "256".
    """
    keys = sorted(series, key=float)
    values = [np.asarray(series[key], dtype=np.float64).ravel() for key in keys]
    if any(v.size == 0 for v in values):
        raise ValueError("every point needs at least one seed value")
    return _Band(
        [float(key) for key in keys],
        np.array([v.mean() for v in values]),
        np.array([v.min() for v in values]),
        np.array([v.max() for v in values]),
        max(v.size for v in values),
    )


def _mark_crossings(
    ax: Axes, means: Mapping[str, Mapping[float, float]], colors: Mapping[str, str], base_name: str
) -> None:
    """An X in the method's colour (with its k when at most three), where the base overtakes it.

    Only where the base ends strictly above the method at the largest common k: two curves that both
    saturate (pass@k = 1) meet without one overtaking the other.
    """
    base = means[base_name]
    marks = []
    for method, curve in means.items():
        crossing = None if method == base_name else find_crossing(base, curve)
        common = sorted(set(base) & set(curve))
        if crossing is not None and base[common[-1]] > curve[common[-1]] + 1e-9:
            marks.append((method, crossing))
    for method, crossing in marks:
        ax.plot([crossing.k], [crossing.value], "X", markersize=9, color=colors[method], markeredgecolor=BASE_COLOR,
                zorder=4)
        if len(marks) <= 3:  # more labels would overlap; the report's text gives every k
            ax.annotate(f"k≈{crossing.k:.0f}", (crossing.k, crossing.value), textcoords="offset points",
                        xytext=(6, -12), fontsize=8, color=colors[method])


def _draw_curves(
    ax: Axes,
    curves: Mapping[str, Mapping[int, Sequence[float]]],
    colors: Mapping[str, str],
    base_name: str,
) -> None:
    """Seed-mean pass@k lines with min-max bands and the base's crossings on one log2-k axis."""
    means: dict[str, dict[float, float]] = {}
    all_ks: list[float] = []
    for method, series in curves.items():
        ks, mean, low, high, max_seeds = _mean_band(series)
        is_base = method == base_name
        ax.plot(
            ks,
            mean,
            color=colors[method],
            marker="o",
            markersize=3,
            linewidth=2.2 if is_base else 1.6,
            label=method,
            zorder=3 if is_base else 2,
        )
        if max_seeds > 1:
            ax.fill_between(ks, low, high, color=colors[method], alpha=0.18, linewidth=0)
        means[method] = dict(zip(ks, mean.tolist()))
        all_ks.extend(ks)
    if base_name in means:
        _mark_crossings(ax, means, colors, base_name)
    _log2_k_axis(ax, all_ks)
    ax.set_ylabel("pass@k")
    ax.grid(alpha=0.3)


def plot_pass_at_k_curves(
    curves: Mapping[str, Mapping[int, Sequence[float]]],
    out_path: str | Path,
    *,
    title: str | None = None,
    base_name: str = "base",
) -> Path:
    """pass@k against k on a log2 axis, one line per method (arXiv 2504.13837, Figure 2 style).

    ``curves`` maps method -> k -> pass@k values, one per seed. The line is the mean over seeds; the shaded
    band spans the minimum to maximum over seeds (drawn when a method has more than one seed). The base
    (``base_name``) is black. Where a method leads the base at the smallest k and the base later catches
    up, the crossing (``rlvr_bench.metrics.find_crossing`` on the seed means) is marked with an X and its k.
    """
    _require(curves, "curves")
    fig, (ax,) = _new_figure()
    _draw_curves(ax, curves, _colors(list(curves), base_name), base_name)
    ax.set_xlabel("k (samples per problem, log2 scale)")
    if title:
        ax.set_title(textwrap.shorten(title, 70, placeholder="..."), fontsize=10)
    _curve_legend(fig, ax)
    return _save(fig, out_path)


def _curve_legend(fig: Figure, ax: Axes, *, crossings: bool = True) -> None:
    """Widen ``fig`` by ``LEGEND_WIDTH`` inches and put one legend there: ``ax``'s methods, then what an X
    means."""
    width, height = fig.get_size_inches()
    fig.set_size_inches(width + LEGEND_WIDTH, height)
    handles, labels = ax.get_legend_handles_labels()
    if crossings:
        handles.append(Line2D([], [], marker="X", linestyle="", color="grey", markeredgecolor=BASE_COLOR,
                              markersize=8))
        labels.append("base overtakes it here")
    right = 1.0 - LEGEND_WIDTH / fig.get_size_inches()[0]
    fig.tight_layout(rect=(0, 0, right, 1))
    fig.legend(handles, labels, fontsize=8, loc="center left", bbox_to_anchor=(right, 0.5), frameon=False)


def plot_pass_at_k_by_source(
    curves: Mapping[str, Mapping[str, Mapping[int, Sequence[float]]]],
    out_path: str | Path,
    *,
    title: str | None = None,
    base_name: str = "base",
) -> Path:
    """pass@k curves side by side, one panel per data source (task family), as ``plot_pass_at_k_curves``.

    ``curves`` maps source -> method -> k -> per-seed pass@k on that source's problems. A method keeps its
    colour in every panel; each panel is titled with its source. Figure ``panel_figsize(len(curves))``.
    """
    _require(curves, "curves")
    names = list(dict.fromkeys(method for per_source in curves.values() for method in per_source))
    colors = _colors(names, base_name)
    fig, axes = _new_figure(len(curves))
    for ax, (source, per_source) in zip(axes, curves.items()):
        _require(per_source, f"curves[{source!r}]")
        _draw_curves(ax, per_source, colors, base_name)
        ax.set_xlabel("k (log2 scale)", fontsize=8)
        ax.set_title(source, fontsize=10)
    if title:
        fig.suptitle(textwrap.shorten(title, 100, placeholder="..."), fontsize=10)
    _curve_legend(fig, max(axes, key=lambda a: len(a.get_legend_handles_labels()[1])))
    return _save(fig, out_path)


def _pass_key_k(key: str) -> int | None:
    if key.startswith("pass@") and key[5:].isdigit():
        return int(key[5:])
    return None


def plot_training_progress(
    progress: Mapping[str, Mapping[int, Mapping[str, Sequence[float]]]],
    out_path: str | Path,
    *,
    title: str | None = None,
    base_name: str = "base",
) -> Path:
    """pass@1 (left) and pass@k_max (right) against training step, one line per method.

    ``progress`` maps method -> step -> {"pass@1": [per seed], "pass@K": [per seed]}; the right panel uses
    the largest K found among the keys (the boundary that arXiv 2504.13837 sees shrink as RL trains).
    Lines are seed means, bands span min to max over seeds. Figure ``panel_figsize(2)`` (7 x 4 in) plus a
    legend margin of ``LEGEND_WIDTH`` inches.
    """
    _require(progress, "progress")
    found = {_pass_key_k(key) for steps in progress.values() for point in steps.values() for key in point}
    k_max = max((k for k in found if k is not None and k > 1), default=None)
    keys = ["pass@1"] + ([f"pass@{k_max}"] if k_max is not None else [])
    fig, axes = _new_figure(2)
    colors = _colors(list(progress), base_name)
    for ax, key in zip(axes, keys):
        for method, steps in progress.items():
            series = {step: point[key] for step, point in steps.items() if key in point}
            if not series:
                continue
            x, mean, low, high, max_seeds = _mean_band(series)
            ax.plot(x, mean, color=colors[method], marker="o", markersize=3, linewidth=1.6, label=method)
            if max_seeds > 1:
                ax.fill_between(x, low, high, color=colors[method], alpha=0.18, linewidth=0)
        ax.set_xlabel("training step")
        ax.set_ylabel(key)
        ax.set_title(key, fontsize=10)
        ax.grid(alpha=0.3)
    if k_max is None:
        axes[1].set_visible(False)
    if title:
        fig.suptitle(title, fontsize=10)
    _curve_legend(fig, axes[0], crossings=False)
    return _save(fig, out_path)


def plot_accuracy_histograms(
    rates: Mapping[str, ArrayLike],
    out_path: str | Path,
    *,
    base_name: str = "base",
) -> Path:
    """Per-problem accuracy distribution, the base against each method (arXiv 2504.13837).

    ``rates`` maps method -> per-problem c/n. Bins as ``rlvr_bench.metrics.accuracy_histogram``: ten bins
    of width 0.1 labelled by their start, and "=1" for problems solved by every sample. Bars show the
    fraction of problems, so runs on different problem counts compare. One panel per non-base method with
    the base beside it (``panel_figsize``); a single panel when only one run is given.
    """
    _require(rates, "rates")
    others = [name for name in rates if name != base_name] or list(rates)
    fig, axes = _new_figure(len(others))
    colors = _colors(list(rates), base_name)
    x = np.arange(11)
    tick_labels = [f"{i / 10:.1f}" for i in range(10)] + ["=1"]
    for ax, method in zip(axes, others):
        shown = [base_name, method] if base_name in rates and method != base_name else [method]
        width = 0.8 / len(shown)
        for i, name in enumerate(shown):
            counts = accuracy_histogram(rates[name]).counts
            offset = (i - (len(shown) - 1) / 2) * width
            ax.bar(
                x + offset,
                counts / counts.sum(),
                width=width,
                color=colors[name],
                label=name,
                alpha=0.85 if name == base_name else 1.0,
            )
        ax.set_xticks(x, tick_labels, fontsize=7)
        ax.set_xlabel("per-problem accuracy c/n (bin start)", fontsize=8)
        ax.set_ylabel("fraction of problems", fontsize=8)
        ax.legend(fontsize=8)
        ax.grid(axis="y", alpha=0.3)
    return _save(fig, out_path)


_COVERAGE_PARTS = (
    ("both", "solved by both", "#4c9a5c"),
    ("base_only", "base only", "#555555"),
    ("method_only", "method only", "#d98c1f"),
    ("neither", "neither", "#d9d9d9"),
)


def _coverage_value(counts: Mapping[str, float], key: str) -> float:
    if key == "method_only" and key not in counts and "rl_only" in counts:
        return float(counts["rl_only"])  # the key used by rlvr_bench.metrics.coverage
    if key not in counts:
        raise ValueError(f"coverage counts need the key {key!r}, got {sorted(counts)}")
    return float(counts[key])


def plot_coverage(cov: Mapping[str, Mapping[str, float]], out_path: str | Path) -> Path:
    """Stacked horizontal bars: problems solved by both, base only, method only, neither (arXiv 2504.13837).

    ``cov`` maps method -> {"both", "base_only", "method_only", "neither"} counts (``"rl_only"``, the key
    of ``rlvr_bench.metrics.coverage``, is accepted for ``"method_only"``). Counts are written inside the
    segments wide enough to hold them.
    """
    _require(cov, "cov")
    fig, (ax,) = _new_figure()
    methods = list(cov)
    y = np.arange(len(methods))
    left = np.zeros(len(methods))
    total = max(sum(_coverage_value(cov[m], key) for key, _, _ in _COVERAGE_PARTS) for m in methods)
    for key, label, color in _COVERAGE_PARTS:
        values = np.array([_coverage_value(cov[m], key) for m in methods])
        ax.barh(y, values, left=left, color=color, label=label, height=0.6)
        for yi, (start, value) in enumerate(zip(left, values)):
            if total > 0 and value / total >= 0.06:
                text = f"{value:.0f}" if float(value).is_integer() else f"{value:.1f}"
                ax.text(
                    start + value / 2,
                    yi,
                    text,
                    ha="center",
                    va="center",
                    fontsize=8,
                    color="white" if key in ("both", "base_only") else "black",
                )
        left += values
    ax.set_yticks(y, methods, fontsize=9)
    ax.invert_yaxis()
    ax.set_xlabel("problems")
    ax.legend(fontsize=8, ncol=4, loc="upper center", bbox_to_anchor=(0.5, -0.18), frameon=False)
    return _save(fig, out_path)


def plot_perplexity(
    ppl: Mapping[str, Sequence[float]], out_path: str | Path, *, title: str | None = None
) -> Path:
    """Box plots of per-response perplexity under the base model, one box per response source.

    ``ppl`` maps source (e.g. "base", "grpo", "teacher") -> PPL_base of each of its responses
    (arXiv 2504.13837, perplexity analysis: RL responses sit inside the base's high-likelihood region).
    Boxes show quartiles and 1.5 IQR whiskers, the triangle the mean. The y axis is logarithmic when the
    values span more than a factor of 10.
    """
    _require(ppl, "ppl")
    data = [np.asarray(values, dtype=np.float64) for values in ppl.values()]
    if any(d.size == 0 for d in data):
        raise ValueError("every source needs at least one perplexity value")
    fig, (ax,) = _new_figure()
    ax.boxplot(data, tick_labels=list(ppl), showmeans=True, widths=0.5, flierprops={"markersize": 3})
    values = np.concatenate(data)
    if values.min() > 0 and values.max() / values.min() > 10:
        ax.set_yscale("log")
        ax.yaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
        ax.yaxis.set_major_formatter(FuncFormatter(lambda y, _pos: f"{y:g}"))
        ax.yaxis.set_minor_formatter(NullFormatter())
    ax.set_ylabel("perplexity under the base model")
    ax.grid(axis="y", alpha=0.3)
    if title:
        ax.set_title(title, fontsize=10)
    return _save(fig, out_path)
