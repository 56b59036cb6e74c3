"""Run a study: the base's build first, then the base and every method x seed, resumable, in parallel processes.

Everything starts from the base model, so the base recipe's ``prepare`` step (the toy base's build, from the
method registry) runs alone on every core; the base's evaluation then runs in the pool like any run, first
(it is the longest). The teacher runs in the pool too; a run whose recipe names the teacher's model (the
distillations) starts once the teacher is complete, and fails at once with the reason if the teacher failed.

Each run is ``rlvr-bench train <recipe> <study overrides> seed=S output_dir=...`` in its own process (a
crash stays in that run; its log is ``<run>/train.log``, the base's build included), forked from a server
that imported torch and transformers once (``rlvr_bench.study.launch``). A run whose directory
has ``complete.json`` is skipped, so killing a study and running it again continues where it stopped.
Progress lines say which run finished, the elapsed time and an ETA; ``<study>/study.json`` keeps every
run's measured seconds across calls (a resumed or cached call never erases them) and one line per call.

With a ``sensitivity:`` section, the evaluation-setting grid then runs on the base and the chosen runs' final
checkpoints (``rlvr_bench.study.sensitivity``), into ``<study>/sensitivity/``, resumable like the runs.
"""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from rlvr_bench.methods import Method, get_method
from rlvr_bench.study.launch import RunProcess, start_run
from rlvr_bench.study.recipe import StudyConfig, resolve_recipe_path
from rlvr_bench.study.sensitivity import check_sensitivity, run_study_sensitivity
from rlvr_bench.utils.dist import print0
from rlvr_bench.utils.rundir import RunDir, write_json_atomic

__all__ = ["Job", "plan_jobs", "run_jobs"]


@dataclass
class Job:
    """One run of the study."""

    label: str  # base, teacher, or <method>-s<seed>
    recipe: Path
    seed: int | None
    out: Path
    is_rl: bool = False
    after: str | None = None  # label of a job that must be complete before this one starts
    overrides: list[str] = field(default_factory=list)  # the study's, then its recipe's run_overrides
    prepares: bool = False  # its method has a prepare step (the toy base's build), run alone before the pool
    prepare_only: bool = False  # this job is that step: ``train --prepare-only``

    def command(self, threads: int) -> list[str]:
        extra = [f"output_dir={self.out}", f"trainer.torch_threads={threads}", "logging.progress=false"]
        if self.seed is not None:
            extra.append(f"seed={self.seed}")
        flag = ["--prepare-only"] if self.prepare_only else []
        return [sys.executable, "-m", "rlvr_bench.cli", "train", *flag, str(self.recipe), *self.overrides, *extra]

    def prepare_step(self) -> Job:
        """The job of this run's prepare step (same recipe, overrides and log)."""
        return replace(self, label=f"prepare:{self.label}", prepare_only=True, prepares=False)


def plan_jobs(cfg: StudyConfig, study_path: Path) -> tuple[list[Job], list[Job]]:
    """(the base's job, whose ``prepares`` says that its build runs alone before the pool; the other jobs:
    teacher, then methods x seeds).

    Each recipe is loaded (``rlvr_bench.recipes.load_recipe``, with the study's overrides) and its method
    looked up in the registry (``rlvr_bench.methods``): RL methods run with ``seeds``, the others with
    ``seeds_other``; a method whose ``depends_on`` field (``model.teacher``) names the teacher recipe's
    ``model.name_or_path`` starts after the teacher. The ``sensitivity`` section's grid is checked here, so
    ``--dry-run`` and a real call fail on a bad grid before anything trains.
    """
    from rlvr_bench.recipes import load_recipe

    check_sensitivity(cfg, study_path)
    out = Path(cfg.output_dir)
    base_recipe = resolve_recipe_path(cfg.base, study_path)
    base_method = get_method(load_recipe(base_recipe, cfg.overrides_of("base")).method)
    first = [Job("base", base_recipe, None, out / "base", overrides=cfg.overrides_of("base"),
                 prepares=base_method is not None and base_method.prepare is not None)]
    methods, teacher_model = [], None
    if cfg.teacher:
        teacher = Job("teacher", resolve_recipe_path(cfg.teacher, study_path), None, out / "teacher",
                      overrides=cfg.overrides_of("teacher"))
        methods.append(teacher)
        teacher_model = load_recipe(teacher.recipe, teacher.overrides).model.name_or_path
    for ref in cfg.methods:
        path = resolve_recipe_path(ref, study_path)
        overrides = cfg.overrides_of(path.stem)
        recipe = load_recipe(path, overrides)
        method = get_method(recipe.method)
        is_rl = method is not None and method.is_rl
        after = "teacher" if teacher_model and _depends_on(recipe, method, str(teacher_model)) else None
        for seed in cfg.seeds if is_rl else cfg.seeds_other:
            methods.append(Job(f"{path.stem}-s{seed}", path, seed, out / f"{path.stem}-s{seed}", is_rl, after,
                               overrides))
    return first, methods


def _depends_on(recipe: Any, method: Method | None, model: str) -> bool:
    """Whether one of the method's ``depends_on`` fields (dotted, e.g. ``model.teacher``) equals ``model``."""
    for dotted in method.depends_on if method is not None else ():
        value: Any = recipe
        for part in dotted.split("."):
            value = getattr(value, part, None)
        if value is not None and str(value) == model:
            return True
    return False


def _fmt(seconds: float) -> str:
    m, s = divmod(int(seconds), 60)
    return f"{m}m{s:02d}s"


def run_jobs(jobs: list[Job], cfg: StudyConfig, *, workers: int, t0: float, done_before: int, total: int,
             timings: dict[str, float]) -> list[str]:
    """Run ``jobs`` with at most ``workers`` processes; returns the labels that failed."""
    # a lone process (base, teacher) has the machine to itself: every core; workers share them
    threads = (cfg.threads_per_worker if workers > 1 else 0) or max(1, (os.cpu_count() or 2) // workers)
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "TOKENIZERS_PARALLELISM": "false"}
    pending = [j for j in jobs if j.prepare_only or not RunDir(j.out).is_complete()]
    for j in jobs:
        if j not in pending:
            print0(f"  skip {j.label} (complete)")
    running: dict[str, tuple[RunProcess, float, Job]] = {}
    failed: list[str] = []
    finished = done_before + len(jobs) - len(pending)
    while pending or running:
        for job in [j for j in pending if j.after in failed]:
            pending.remove(job)
            failed.append(job.label)
            finished += 1
            print0(f"  FAILED {job.label}: it needs {job.after}, which failed")
        while len(running) < workers and (job := _next_ready(pending, running)) is not None:
            pending.remove(job)
            job.out.mkdir(parents=True, exist_ok=True)
            proc = start_run(job.command(threads), job.out / "train.log", env)
            running[job.label] = (proc, time.perf_counter(), job)
            print0(f"  start {job.label}")
        time.sleep(0.5)
        for label, (proc, started, job) in list(running.items()):
            if proc.poll() is None:
                continue
            del running[label]
            finished += 1
            took = time.perf_counter() - started
            timings[label] = round(took, 1)
            if proc.poll() != 0:
                failed.append(label)
                tail = (job.out / "train.log").read_text(errors="replace").strip().splitlines()[-3:]
                print0(f"  FAILED {label} (exit {proc.poll()}); log {job.out / 'train.log'}: {' | '.join(tail)}")
                continue
            elapsed = time.perf_counter() - t0
            left = total - finished
            eta = (sum(timings.values()) / max(len(timings), 1)) * left / max(workers, cfg.workers)
            print0(f"[{finished}/{total}] {label} done in {_fmt(took)}; elapsed {_fmt(elapsed)}, ETA ~{_fmt(eta)}")
    return failed


def _next_ready(pending: list[Job], running: dict) -> Job | None:
    """The first pending job whose dependency is not pending or running any more (None: wait)."""
    waiting = {j.label for j in pending} | set(running)
    return next((j for j in pending if j.after is None or j.after not in waiting), None)


def run_study(cfg: StudyConfig, study_path: Path) -> tuple[Path, list[str]]:
    """Train and evaluate every run of the study; returns (study dir, failed labels)."""
    out = Path(cfg.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    first, methods = plan_jobs(cfg, study_path)
    total = len(first) + len(methods)
    t0 = time.perf_counter()
    timings: dict[str, float] = {}
    print0(f"study {cfg.name}: {total} runs -> {out}")
    pool = [*first, *methods]
    if first[0].prepares and not all(RunDir(j.out).is_complete() for j in pool):  # the base's build, alone
        failed = run_jobs([first[0].prepare_step()], cfg, workers=1, t0=t0, done_before=0, total=1,
                          timings=timings)
        if failed:
            return out, failed
    failed = run_jobs(pool, cfg, workers=cfg.workers, t0=t0, done_before=0, total=total, timings=timings)
    write_json_atomic(out / "study.json", _merged_record(out / "study.json", cfg, total, failed, timings,
                                                         round((time.perf_counter() - t0) / 60, 2)))
    run_study_sensitivity(cfg, first[0], methods, failed)
    return out, failed


def _merged_record(path: Path, cfg: StudyConfig, total: int, failed: list[str], timings: dict[str, float],
                   minutes: float) -> dict:
    """``study.json``: every run's measured seconds, kept across calls (a resumed or fully cached call
    adds what it ran and never erases earlier measurements), and one line per call."""
    import json

    old = json.loads(path.read_text()) if path.exists() else {}
    calls = [*old.get("calls", []), {"wall_minutes": minutes, "ran": sorted(timings), "failed": failed}]
    return {"name": cfg.name, "runs": total, "failed": failed, "workers": cfg.workers,
            "run_seconds": {**old.get("run_seconds", {}), **timings},
            "wall_minutes_this_call": minutes, "calls": calls}
