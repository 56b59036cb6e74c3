"""The study's ``sensitivity:`` section: the evaluation-setting grid on the base and the final checkpoints.

After the study's runs complete, :func:`run_study_sensitivity` evaluates the base run's checkpoint and the
final checkpoint of each chosen method's run (``sensitivity.methods``, default every method; the run of the
method's first training seed, ``<label>-s<seed>``, or every seed's run with ``sensitivity.all_seeds``) under
every setting of ``sensitivity.grid`` with :func:`rlvr_bench.evaluation.sensitivity.run_sensitivity`, into
``<study>/sensitivity/``. That function skips every finished (model, setting) without loading the model, so
a rerun of the study samples nothing. :func:`sensitivity_section` gives the lines the study report shows.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from rlvr_bench.config.loader import ConfigError
from rlvr_bench.errors import UserError
from rlvr_bench.recipes.study import StudyConfig, sensitivity_labels
from rlvr_bench.utils.dist import print0
from rlvr_bench.utils.rundir import RunDir

__all__ = ["SENSITIVITY_DIR", "check_sensitivity", "final_checkpoint", "run_study_sensitivity",
           "select_runs", "sensitivity_section"]

SENSITIVITY_DIR = "sensitivity"
"""The grid's output folder inside the study directory."""


def check_sensitivity(cfg: StudyConfig, study_path: Path) -> None:
    """Check the section's grid with ``rlvr-bench sensitivity``'s own rules (known keys and templates, typed
    and in-range values); a no-op when the section is off.

    Raises:
        ConfigError: one line naming the study file and the bad key or value.
    """
    sens = cfg.sensitivity
    if not sens.enabled or sens.grid is None:
        return
    from rlvr_bench.evaluation.sensitivity import normalize_grid

    try:
        normalize_grid(sens.grid)
    except UserError as exc:
        raise ConfigError(f"{study_path}: sensitivity.grid: {str(exc).removeprefix('--grid ')}") from None


def select_runs(cfg: StudyConfig, jobs: list[Any]) -> list[Any]:
    """The pool jobs (``runner.Job``) whose final checkpoints the grid evaluates, in the study's order: for
    each chosen method label, its first training seed's run, or every seed's run with ``all_seeds``."""
    chosen = cfg.sensitivity.methods if cfg.sensitivity.methods is not None else sensitivity_labels(cfg)
    picked = []
    for label in chosen:
        runs = [j for j in jobs if (j.label == "teacher") == (label == "teacher")
                and (label == "teacher" or j.recipe.stem == label)]
        picked += runs if cfg.sensitivity.all_seeds else runs[:1]
    return picked


def final_checkpoint(run_dir: Path) -> Path | None:
    """The run's last complete checkpoint (``checkpoints/step-<max>``); None when it has none."""
    run = RunDir(run_dir)
    steps = run.checkpoint_steps()
    return run.checkpoint_dir(max(steps)) if steps else None


def run_study_sensitivity(cfg: StudyConfig, base: Any, jobs: list[Any], failed: list[str]) -> Path | None:
    """Evaluate the base and the chosen runs' final checkpoints under the grid into ``<study>/sensitivity/``.

    Args:
        cfg: the study (its ``sensitivity`` section must be on; off returns None at once).
        base: the base run's job; jobs: the pool's jobs (``runner.plan_jobs``); failed: labels that failed.

    Returns:
        The output folder, or None when the section is off or a chosen run is not complete (a line says which;
        the next call of the study, once they are, evaluates the grid).
    """
    sens = cfg.sensitivity
    if not sens.enabled:
        return None
    runs = [base, *select_runs(cfg, jobs)]
    waiting = [j.label for j in runs if j.label in failed or not RunDir(j.out).is_complete()]
    models = {j.label: final_checkpoint(j.out) for j in runs}
    waiting += [label for label, ckpt in models.items() if ckpt is None and label not in waiting]
    if waiting:
        print0(f"sensitivity: skipped, these runs are not complete or have no checkpoint: {', '.join(waiting)} "
               "(rerun the study once they are)")
        return None
    from rlvr_bench.evaluation.sensitivity import run_sensitivity

    out = Path(cfg.output_dir) / SENSITIVITY_DIR
    print0(f"sensitivity: {len(models)} models ({', '.join(models)}) -> {out}")
    run_sensitivity([str(m) for m in models.values()], benchmark=sens.benchmark or cfg.report.benchmark,
                    grid=sens.grid, seeds=sens.seeds, n=sens.n, limit=sens.limit, out=out,
                    batch_size=sens.batch_size, progress=lambda line: print0(f"  sensitivity {line}"))
    print0(f"sensitivity: {out / 'sensitivity.md'}")
    return out


def sensitivity_section(out: Path) -> list[str]:
    """Markdown lines for the study report: a link to ``sensitivity/sensitivity.md``, each model's pass@1
    range across the settings, and whether the ranking changes; [] when the grid has not been written."""
    path = Path(out) / SENSITIVITY_DIR / "sensitivity.json"
    if not path.exists():
        return []
    report = json.loads(path.read_text())
    meta, ranking = report.get("meta", {}), report.get("ranking", {})
    spread = "; ".join(f"{m} {s['min']:.3f}-{s['max']:.3f}" for m, s in report.get("spread", {}).items())
    if not ranking.get("defined"):
        order = f"ranking undefined ({ranking.get('reason', 'one model')})"
    else:
        tau = ranking.get("min_tau")
        order = (f"ranking changes between settings: {'yes' if ranking.get('changes') else 'no'}"
                 + (f" (lowest Kendall's tau {tau:.3f})" if tau is not None else ""))
    return ["", "## Sensitivity to the evaluation setting", "",
            f"{len(report.get('settings', []))} settings of the grid on {meta.get('benchmark')} "
            f"(n={meta.get('n')}, seeds {meta.get('seeds')}): pass@1 min-max across settings: {spread}; {order}. "
            f"Table, plot and data: [sensitivity/sensitivity.md]({SENSITIVITY_DIR}/sensitivity.md)."]
