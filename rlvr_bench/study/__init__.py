"""``rlvr-bench study``: every method trained from one base, evaluated the same way, one report."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from rlvr_bench.recipes import recipes_dir, resolve_recipe
from rlvr_bench.study.recipe import StudyConfig, load_study

__all__ = ["StudyConfig", "default_study_path", "load_study", "print_plan", "run_study_command"]


def default_study_path() -> Path:
    """The offline toy study shipped with the package."""
    return recipes_dir() / "study" / "toy.yaml"


def print_plan(cfg: StudyConfig, path: Path) -> int:
    """``--dry-run``: the study's runs in the order they would start (every recipe loaded and validated),
    which are complete already, and what each waits for; trains nothing."""
    from rlvr_bench.study.runner import plan_jobs
    from rlvr_bench.utils.rundir import RunDir

    first, methods = plan_jobs(cfg, path)
    jobs = [*first, *methods]
    print(f"study {cfg.name}: {len(jobs)} runs -> {cfg.output_dir} (from {path})")
    for job in jobs:
        state = "complete" if RunDir(job.out).is_complete() else "to run"
        after = f", after {job.after}" if job.after else ""
        seed = "" if job.seed is None else f" seed {job.seed}"
        print(f"  {job.label:<28} {job.recipe}{seed}  [{state}{after}]")
    print(f"workers: {cfg.workers}; nothing was trained (--dry-run)")
    return 0


def run_study_command(args: argparse.Namespace) -> int:
    """Run (or resume) a study, then write ``<study>/report.md``."""
    from rlvr_bench.study.report import write_study_report
    from rlvr_bench.study.runner import run_study
    from rlvr_bench.utils.dist import print0

    path = resolve_recipe(args.recipe) if args.recipe else default_study_path()
    cfg = load_study(path, args.overrides)
    if getattr(args, "dry_run", False):
        return print_plan(cfg, path)
    t0 = time.perf_counter()
    out, failed = run_study(cfg, path)
    report = write_study_report(cfg, out)
    print0(f"report: {report}  ({(time.perf_counter() - t0) / 60:.1f} min this call)")
    if failed:
        print0(f"{len(failed)} run(s) failed: {', '.join(failed)}; rerun the same command to retry them")
        return 1
    return 0
