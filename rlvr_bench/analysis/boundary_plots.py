"""Figures of the boundary study (pure functions from numbers to PNG, as ``plots``): the boundary scatter
(Δpass@1 against Δpass@k_max), entropy over training and pass@k over training."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from rlvr_bench.analysis.plots import (
    BASE_COLOR,
    LEGEND_WIDTH,
    _colors,
    _curve_legend,
    _mean_band,
    _new_figure,
    _require,
    _save,
)

__all__ = ["plot_boundary", "plot_entropy", "plot_pass_over_training"]

_KIND_MARKERS = {"rl": "o", "control": "x", "sft": "s", "rft": "D", "distill": "^", "other": "v"}


def plot_boundary(points: Mapping[str, Mapping[str, float | str]], k: int, out_path: str | Path, *,
                  reference: str | None = None) -> Path:
    """Each method at (Δpass@1, Δpass@k) against the base, with 95% CI bars, one marker shape per kind.

    ``points`` maps method -> {"kind", "x", "x_low", "x_high", "y", "y_low", "y_high"} (differences, method
    minus base). The base is the origin (black cross hairs): right of it a method raises pass@1, above it it
    keeps more than the base's pass@k. The reference, when given, is drawn larger.
    """
    _require(points, "points")
    fig, (ax,) = _new_figure()
    colors = _colors(list(points), "")
    for label, p in points.items():
        xerr = [[float(p["x"]) - float(p["x_low"])], [float(p["x_high"]) - float(p["x"])]]
        yerr = [[float(p["y"]) - float(p["y_low"])], [float(p["y_high"]) - float(p["y"])]]
        ax.errorbar([p["x"]], [p["y"]], xerr=xerr, yerr=yerr, fmt=_KIND_MARKERS.get(str(p["kind"]), "o"),
                    color=colors[label], markersize=9 if label == reference else 5, elinewidth=0.8, capsize=2,
                    label=f"{label} ({p['kind']})" + (", reference" if label == reference else ""))
    ax.axhline(0.0, color=BASE_COLOR, linewidth=1.0)
    ax.axvline(0.0, color=BASE_COLOR, linewidth=1.0)
    ax.set_xlabel("Δpass@1 vs base")
    ax.set_ylabel(f"Δpass@{k} vs base")
    ax.grid(alpha=0.3)
    _curve_legend(fig, ax, crossings=False)
    return _save(fig, out_path)


def plot_entropy(entropy: Mapping[str, Mapping[str, Any]], out_path: str | Path) -> Path:
    """Entropy against training step, one panel per metrics key (``actor/entropy``, ``train/entropy``).

    ``entropy`` maps method -> {"key", "steps": {step: mean entropy}}; methods without entropy are left out
    by the caller. Colours are stable per method across panels.
    """
    _require(entropy, "entropy")
    keys = list(dict.fromkeys(str(e["key"]) for e in entropy.values()))
    colors = _colors(list(entropy), "")
    fig, axes = _new_figure(len(keys))
    for ax, key in zip(axes, keys):
        for label, e in entropy.items():
            if e["key"] != key:
                continue
            steps = e["steps"]
            x = sorted(steps, key=float)
            ax.plot([float(s) for s in x], [steps[s] for s in x], color=colors[label], linewidth=1.4, label=label)
        ax.set_xlabel("training step")
        ax.set_ylabel("entropy (nats/token)")
        ax.set_title(key, fontsize=10)
        ax.grid(alpha=0.3)
    _curve_legend(fig, max(axes, key=lambda a: len(a.get_legend_handles_labels()[1])), crossings=False)
    return _save(fig, out_path)


def plot_pass_over_training(panels: Mapping[str, Mapping[str, Mapping[str, Sequence[float]]]], k: int,
                            base_value: float, out_path: str | Path, *, dashed: Sequence[str] = ()) -> Path:
    """pass@k against training step, one panel per group of methods whose steps mean the same thing (RL
    against SFT / distillation), one line per method (seed mean, band from min to max over seeds).

    ``panels`` maps panel title -> method -> step -> per-run pass@k; the base's value is a black horizontal
    line in every panel; ``dashed`` methods (the controls) are drawn dashed. Colours are stable per method.
    """
    _require(panels, "panels")
    colors = _colors([label for curves in panels.values() for label in curves], "")
    fig, axes = _new_figure(len(panels))
    for ax, (title, curves) in zip(axes, panels.items()):
        _require(curves, f"panels[{title!r}]")
        for label, series in curves.items():
            x, mean, low, high, max_seeds = _mean_band(series)
            ax.plot(x, mean, color=colors[label], marker="o", markersize=3, linewidth=1.4, label=label,
                    linestyle="--" if label in dashed else "-")
            if max_seeds > 1:
                ax.fill_between(x, low, high, color=colors[label], alpha=0.15, linewidth=0)
        ax.axhline(base_value, color=BASE_COLOR, linewidth=1.6, label="base")
        ax.set_xlabel("training step")
        ax.set_ylabel(f"pass@{k}")
        ax.set_title(title, fontsize=10)
        ax.grid(alpha=0.3)
    handles: dict[str, Any] = {}
    for ax in axes:
        for handle, label in zip(*ax.get_legend_handles_labels()):
            handles.setdefault(label, handle)
    width, height = fig.get_size_inches()
    fig.set_size_inches(width + LEGEND_WIDTH, height)
    right = 1.0 - LEGEND_WIDTH / fig.get_size_inches()[0]
    fig.tight_layout(rect=(0, 0, right, 1))
    fig.legend(list(handles.values()), list(handles), fontsize=8, loc="center left", bbox_to_anchor=(right, 0.5),
               frameon=False)
    return _save(fig, out_path)
