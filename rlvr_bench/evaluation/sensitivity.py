"""``rlvr-bench sensitivity``: every model under every evaluation setting of a grid (arXiv 2504.07086).

"A Sober Look at Progress in LM Reasoning" shows that pass@1 moves by several points with the sampling
temperature, top-p, the token budget and the prompt template, and that the order of two models can flip
between such settings. :func:`run_sensitivity` evaluates each model under each setting of a grid
(``temperature``, ``top_p``, ``top_k``, ``max_new_tokens``, ``template``) and writes the table and plot of
:mod:`rlvr_bench.evaluation.sensitivity_report`.

Each (model, setting) is an ordinary ``rlvr-bench eval`` run directory,
``<out>/evals/<benchmark>/<model>/<setting>/``, evaluated by :func:`rlvr_bench.evaluation.cli.run_eval_command`
(so a checkpoint's own recorded settings apply to everything the grid does not set, and sampling resumes
from complete units of the sample file). A finished evaluation leaves ``sensitivity_request.json`` beside
its ``eval/summary.jsonl``; a rerun with the same request skips it without loading the model, so a rerun
samples nothing, and a killed run, run again, samples only what is missing.
"""

from __future__ import annotations

import argparse
import itertools
import json
import re
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from rlvr_bench.errors import UserError
from rlvr_bench.utils.dist import print0

__all__ = ["GRID_KEYS", "DEFAULT_GRID", "Setting", "parse_grid", "normalize_grid", "grid_settings",
           "setting_slug", "setting_label", "model_label", "run_sensitivity", "run_sensitivity_command"]

GRID_KEYS: dict[str, type] = {"temperature": float, "top_p": float, "top_k": int, "max_new_tokens": int,
                              "template": str}
"""The keys a grid may vary (in the order a setting's name lists them) and the type of their values."""

DEFAULT_GRID: dict[str, list[Any]] = {"temperature": [0.6, 1.0], "top_p": [0.95, 1.0]}
"""The grid of ``rlvr-bench sensitivity`` without ``--grid``."""

DEFAULT_SEEDS: list[int] = [0, 1, 2]
DEFAULT_N = 16
REQUEST_FILE = "sensitivity_request.json"

Setting = dict[str, Any]
"""One point of the grid: key -> value (a subset of :data:`GRID_KEYS`)."""


def _convert(key: str, raw: Any) -> Any:
    """One grid value as its key's type, range-checked (one-line ``UserError``)."""
    kind = GRID_KEYS[key]
    if kind is str:
        from rlvr_bench.data.templates import template_names

        value = str(raw).strip()
        if value not in template_names():
            raise UserError(f"--grid template={value!r}: unknown template (known: {', '.join(template_names())})")
        return value
    if isinstance(raw, bool):
        raise UserError(f"--grid {key}={raw!r}: expected a number")
    try:
        value = kind(str(raw).strip()) if kind is int or isinstance(raw, str) else kind(raw)
    except (TypeError, ValueError):
        what = "an integer" if kind is int else "a number"
        raise UserError(f"--grid {key}={raw!r}: expected {what}") from None
    if kind is float and value != value:  # NaN
        raise UserError(f"--grid {key}={raw!r}: expected a number")
    bad = {"temperature": value < 0, "top_p": not 0 < value <= 1, "top_k": value < 0,
           "max_new_tokens": value < 1}[key]
    if bad:
        rule = {"temperature": ">= 0", "top_p": "in (0, 1]", "top_k": ">= 0 (0 = off)", "max_new_tokens": ">= 1"}
        raise UserError(f"--grid {key}={raw!r}: {key} must be {rule[key]}")
    return value


def normalize_grid(grid: Mapping[str, Iterable[Any]]) -> dict[str, list[Any]]:
    """Check a grid given as key -> values (strings or typed values): known keys (``top-p`` = ``top_p``),
    at least one value each, values converted and range-checked, duplicates dropped (first kept).

    Raises:
        UserError: one line naming the bad key or value.
    """
    out: dict[str, list[Any]] = {}
    for raw_key, values in grid.items():
        key = str(raw_key).strip().replace("-", "_")
        if key not in GRID_KEYS:
            raise UserError(f"--grid {raw_key!r}: unknown key (known: {', '.join(GRID_KEYS)})")
        if key in out:
            raise UserError(f"--grid {key} is given twice")
        if isinstance(values, (str, bytes)) or not isinstance(values, Iterable):
            values = [values]
        converted = list(dict.fromkeys(_convert(key, v) for v in values))
        if not converted:
            raise UserError(f"--grid {key}: no values")
        out[key] = converted
    return out


def parse_grid(items: Sequence[str]) -> dict[str, list[Any]]:
    """``["temperature=0.6,1.0", "template=toy,plain"]`` -> ``{"temperature": [0.6, 1.0], ...}`` (checked).

    Raises:
        UserError: one line for an item without ``=``, an empty value list, an unknown key or template, a
            value that is not a number, or one out of range.
    """
    grid: dict[str, list[str]] = {}
    for item in items:
        key, sep, values = str(item).partition("=")
        if not sep or not key.strip():
            raise UserError(f"--grid {item!r}: expected KEY=V1,V2 (keys: {', '.join(GRID_KEYS)})")
        parts = [v.strip() for v in values.split(",")]
        if not values.strip() or any(not p for p in parts):
            raise UserError(f"--grid {item!r}: empty value (expected KEY=V1,V2)")
        norm = key.strip().replace("-", "_")
        if norm in grid:
            raise UserError(f"--grid {norm} is given twice")
        grid[norm] = parts
    return normalize_grid(grid)


def grid_settings(grid: Mapping[str, Sequence[Any]]) -> list[Setting]:
    """Every combination of the grid's values (the first key varies slowest); one empty setting for ``{}``."""
    keys = list(grid)
    return [dict(zip(keys, combo)) for combo in itertools.product(*(grid[k] for k in keys))]


def _format_value(key: str, value: Any) -> str:
    """``0.6`` / ``1.0`` for float keys (``1`` and ``1.0`` give one name), ``32`` for int keys, names as given."""
    kind = GRID_KEYS.get(key, str)
    return repr(float(value)) if kind is float else str(int(value)) if kind is int else str(value)


def setting_label(setting: Setting) -> str:
    """``temperature=0.6 top_p=0.95`` (keys in :data:`GRID_KEYS` order; ``defaults`` for no key)."""
    keys = [k for k in GRID_KEYS if k in setting]
    return " ".join(f"{k}={_format_value(k, setting[k])}" for k in keys) or "defaults"


def setting_slug(setting: Setting) -> str:
    """A stable directory name: ``temperature-0.6__top_p-0.95`` (the same setting always gives the same
    name, whatever order the grid listed its keys in; ``1`` and ``1.0`` of a float key are one name)."""
    keys = [k for k in GRID_KEYS if k in setting]
    parts = [f"{k}-{_slug(_format_value(k, setting[k]))}" for k in keys]
    return "__".join(parts) or "defaults"


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", str(text)).strip("_") or "model"


def model_label(model: str) -> str:
    """A short name for tables: ``<run>/step-N`` for a run's checkpoint, else the model as given."""
    path = Path(str(model))
    if path.parent.name == "checkpoints" and path.parent.parent.name:
        return f"{path.parent.parent.name}/{path.name}"
    return str(model)


def _model_dirs(models: Sequence[str]) -> dict[str, str]:
    """model -> its directory name (one-line error for a repeated model or two models with one name)."""
    if len(set(models)) != len(models):
        raise UserError(f"a model is given twice: {', '.join(models)}")
    names = {m: _slug(m) for m in models}
    if len(set(names.values())) != len(names):
        raise UserError(f"two models give the same directory name: {', '.join(models)}")
    return names


def _eval_args(model: str, benchmark: str, setting: Setting, *, seeds: Sequence[int], n: int, limit: int | None,
               batch_size: int | None, out: Path) -> argparse.Namespace:
    """The ``rlvr-bench eval`` arguments of one (model, setting): the grid's keys set, the rest left to the
    model (a checkpoint's recorded settings, else the eval defaults)."""
    from rlvr_bench.evaluation.evaluate import default_ks

    return argparse.Namespace(
        model=str(model), benchmark=[benchmark], n=n, ks=default_ks(n), seeds=list(seeds),
        temperature=setting.get("temperature"), top_p=setting.get("top_p"), top_k=setting.get("top_k"),
        max_new_tokens=setting.get("max_new_tokens"), template=setting.get("template"), stop=None,
        batch_size=batch_size, max_prompt_tokens=None, limit=limit, step=0, out=str(out))


def _request(model: str, benchmark: str, setting: Setting, seeds: Sequence[int], n: int, limit: int | None,
             batch_size: int | None) -> dict[str, Any]:
    return {"model": str(model), "benchmark": benchmark, "setting": {k: setting[k] for k in GRID_KEYS if k in setting},
            "n": n, "seeds": list(seeds), "limit": limit, "batch_size": batch_size}


def _summary(run_dir: Path) -> dict[str, Any] | None:
    """The step-0 summary line of an evaluation directory (None before one is written)."""
    from rlvr_bench.utils.rundir import RunDir

    rows = [r for r in RunDir(run_dir).summaries() if r.get("step") == 0]
    return rows[-1] if rows else None


def is_complete(run_dir: Path, request: dict[str, Any]) -> bool:
    """True when ``run_dir`` holds a finished evaluation of exactly ``request`` (nothing left to sample)."""
    path = run_dir / REQUEST_FILE
    try:
        done = json.loads(path.read_text())
    except (OSError, ValueError):
        return False
    return done == json.loads(json.dumps(request)) and _summary(run_dir) is not None


def _evaluate_setting(run_dir: Path, args: argparse.Namespace, request: dict[str, Any]) -> dict[str, Any]:
    """One ordinary (resumable) ``rlvr-bench eval``, then its request marker; returns the summary line."""
    from rlvr_bench.evaluation.cli import run_eval_command
    from rlvr_bench.utils.rundir import write_json_atomic

    run_eval_command(args)
    summary = _summary(run_dir)
    if summary is None:  # pragma: no cover - evaluate always writes one
        raise UserError(f"{run_dir}: the evaluation wrote no summary")
    write_json_atomic(run_dir / REQUEST_FILE, request)
    return summary


def run_sensitivity(models: Sequence[str], *, benchmark: str, grid: Mapping[str, Iterable[Any]] | None = None,
                    seeds: Sequence[int] | None = None, n: int | None = None, limit: int | None = None,
                    out: str | Path, batch_size: int | None = None,
                    progress: Callable[[str], None] | None = print0) -> Path:
    """Evaluate every model under every setting of ``grid`` and write the sensitivity report.

    Args:
        models: model directories, run checkpoints, hub names or ``toy:base`` / ``toy:teacher``.
        benchmark: one benchmark (short name or local file, as ``rlvr-bench eval --benchmark``).
        grid: key -> values over :data:`GRID_KEYS` (default :data:`DEFAULT_GRID`); keys it does not set
            keep each model's own evaluation settings.
        seeds: sampling seeds (default 0, 1, 2); n: samples per problem per seed (default 16).
        limit: evaluate the first ``limit`` problems (default all).
        out: the output directory: ``evals/`` (one run directory per model and setting) and
            ``sensitivity.md`` / ``sensitivity.json`` / ``sensitivity.png``.
        batch_size: sequences per forward batch (default: the model's, as ``rlvr-bench eval``).
        progress: called with one line per evaluation (default: printed on rank 0; None = silent).

    Returns:
        The output directory.
    """
    from rlvr_bench.evaluation.sensitivity_report import write_sensitivity_report

    models = [str(m) for m in models]
    if not models:
        raise UserError("sensitivity needs at least one model")
    seeds = [int(s) for s in (DEFAULT_SEEDS if seeds is None else seeds)]
    n = DEFAULT_N if n is None else int(n)
    if not seeds:
        raise UserError("--seeds: at least one seed")
    if n < 1 or (limit is not None and limit < 1):
        raise UserError(f"--n and --limit must be >= 1, got n={n}, limit={limit}")
    settings = grid_settings(normalize_grid(DEFAULT_GRID if grid is None else grid))
    dirs = _model_dirs(models)
    out = Path(out)
    root = out / "evals" / _slug(benchmark)
    rows: list[dict[str, Any]] = []
    total, t0 = len(models) * len(settings), time.perf_counter()
    for i, (model, setting) in enumerate(itertools.product(models, settings), start=1):
        run_dir = root / dirs[model] / setting_slug(setting)
        request = _request(model, benchmark, setting, seeds, n, limit, batch_size)
        skipped = is_complete(run_dir, request)
        if skipped:
            summary = _summary(run_dir)
        else:
            args = _eval_args(model, benchmark, setting, seeds=seeds, n=n, limit=limit, batch_size=batch_size,
                              out=run_dir)
            summary = _evaluate_setting(run_dir, args, request)
        if progress is not None:
            state = "done earlier" if skipped else "evaluated"
            progress(f"[{i}/{total}] {model_label(model)} | {setting_label(setting)}: pass@1 "
                     f"{summary['pass_at_k']['1']:.3f} ({state})")
        rows.append({"model": model, "label": model_label(model), "setting": setting,
                     "setting_label": setting_label(setting), "run_dir": str(run_dir), "summary": summary})
    write_sensitivity_report(rows, out, benchmark=benchmark, grid={k: list(v) for k, v in
                             normalize_grid(DEFAULT_GRID if grid is None else grid).items()},
                             seeds=seeds, n=n, limit=limit)
    if progress is not None:
        progress(f"sensitivity: {total} evaluations in {time.perf_counter() - t0:.1f}s")
    return out


def run_sensitivity_command(args: argparse.Namespace) -> int:
    """``rlvr-bench sensitivity``: parse ``--grid`` and run :func:`run_sensitivity`; prints the outputs."""
    grid = parse_grid(args.grid) if args.grid else None
    out = Path(args.out) if args.out else Path("runs") / "sensitivity" / _slug(args.benchmark)
    from rlvr_bench.utils.rundir import RunDir

    RunDir(out).check_writable()
    run_sensitivity(args.models, benchmark=args.benchmark, grid=grid, seeds=args.seeds, n=args.n,
                    limit=args.limit, out=out, batch_size=args.batch_size)
    print0(f"table: {out / 'sensitivity.md'}\nplot: {out / 'sensitivity.png'}\ndata: {out / 'sensitivity.json'}")
    return 0
