"""Study recipes: the base, the methods, the seeds, shared overrides and the report settings.

A study recipe names other recipes (one per method); every run of the study is that recipe with the
study's overrides plus its seed and output directory, so a study never hides a setting: each run's
``config.yaml`` is the fully resolved recipe that ran. The schema lives with the other recipe loaders so
``validate_all`` checks study files without importing ``rlvr_bench.study`` (which sits above this layer).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rlvr_bench.config.fields import opt
from rlvr_bench.config.loader import ConfigError, load_config
from rlvr_bench.recipes.names import load_recipe
from rlvr_bench.recipes.shipped import resolve_recipe

__all__ = ["ReportConfig", "SensitivityConfig", "StudyConfig", "sensitivity_labels", "load_study", "resolve_recipe_path"]


@dataclass
class ReportConfig:
    """What the comparison report computes."""

    benchmark: str = opt("toy", "benchmark the report compares on (a name in the runs' eval/summary.jsonl)")
    ks: list[int] = opt(help="k values in the tables", factory=lambda: [1, 4, 16, 64], ge=1)
    gap_k: int | None = opt(None, "k of the sampling-efficiency gap; None = the largest k evaluated", ge=1)
    perplexity: bool = opt(True, "perplexity of each method's responses under the base (arXiv 2504.13837)")
    perplexity_samples: int = opt(256, "responses per source in the perplexity analysis", gt=0)
    reference: str | None = opt(None, "method label the boundary table compares pass@k_max with; None = the run "
                                "group of the grpo preset with a verifiable (non-control) reward")


@dataclass
class SensitivityConfig:
    """The sensitivity grid (``rlvr-bench sensitivity``) run on the study's final checkpoints after training.

    Off unless the study recipe has a ``sensitivity:`` section (or sets ``sensitivity.enabled=true``); the
    grid keys and values are checked by ``rlvr_bench.evaluation.sensitivity`` when the study is planned.
    """

    enabled: bool | None = opt(None, "evaluate the grid after the runs; None = on when the recipe has a "
                               "sensitivity section")
    grid: dict[str, list[Any]] | None = opt(
        None, "key -> values over temperature, top_p, top_k, max_new_tokens, template; every combination is "
        "one setting; None = the `rlvr-bench sensitivity` default (temperature 0.6,1.0 x top_p 0.95,1.0)")
    seeds: list[int] = opt(help="sampling seeds of every evaluation", factory=lambda: [0, 1, 2], ge=0)
    n: int = opt(16, "samples per problem per seed", ge=1)
    limit: int | None = opt(None, "evaluate the first N problems; None = all", ge=1)
    methods: list[str] | None = opt(None, "method labels (recipe names, e.g. grpo, sft; or teacher) whose final "
                                    "checkpoints are evaluated besides the base; None = every method")
    all_seeds: bool = opt(False, "every training seed's run of each method; false = the run of its first "
                          "training seed only (<label>-s<seed>)")
    benchmark: str | None = opt(None, "benchmark of the grid; None = report.benchmark")
    batch_size: int | None = opt(None, "sequences per forward batch; None = each checkpoint's own", ge=1)


@dataclass
class StudyConfig:
    """A study: every method trained from one base, evaluated the same way, compared in one report."""

    name: str = opt(None, "study name (runs/<name>/ by default)", required=True)
    description: str = opt("", "one line shown by `rlvr-bench recipes`")
    output_dir: str | None = opt(None, "where the runs and the report go; None = runs/<name>")
    base: str = opt(None, "recipe of the base model's run (evaluated as the reference)", required=True)
    teacher: str | None = opt(None, "recipe of the teacher's run (evaluated; used by distillation)")
    methods: list[str] = opt(help="recipes of the compared methods (RL presets, SFT, RFT, distillation)",
                             factory=list)
    seeds: list[int] = opt(help="training seeds of every RL method", factory=lambda: [0, 1], ge=0)
    seeds_other: list[int] = opt(help="training seeds of the non-RL methods (SFT, RFT, distillation)",
                                 factory=lambda: [0], ge=0)
    overrides: list[str] = opt(help="key=value overrides applied to every run (base and teacher included)",
                               factory=list)
    run_overrides: dict[str, list[str]] = opt(
        help="label -> key=value overrides for the runs of one recipe only, applied after `overrides`; the "
        "label is base, teacher or a method's recipe name (e.g. {grpo: [evaluation.n=128]})", factory=dict)
    workers: int = opt(2, "runs trained at the same time (separate processes)", ge=1)
    threads_per_worker: int | None = opt(
        None, "torch threads per parallel run (the base's build runs alone, on every core); None = cores / workers",
        gt=0)
    report: ReportConfig = opt(help="report settings", factory=ReportConfig)
    sensitivity: SensitivityConfig = opt(help="evaluation-setting grid on the final checkpoints (off when absent)",
                                         factory=SensitivityConfig)

    def overrides_of(self, label: str) -> list[str]:
        """The overrides of the runs of ``label`` (base, teacher or a method's recipe name): the study's
        ``overrides``, then that label's ``run_overrides``."""
        return [*self.overrides, *self.run_overrides.get(label, [])]


def resolve_recipe_path(ref: str, study_path: Path) -> Path:
    """A recipe reference of a study: as given, next to the study file, or among the shipped recipes."""
    try:
        return resolve_recipe(ref, also_in=[study_path.parent])
    except ConfigError as exc:
        raise ConfigError(f"{study_path}: {exc}") from None


def load_study(path: str | Path, overrides: list[str] | tuple[str, ...] = ()) -> StudyConfig:
    """Load and validate a study recipe (its method recipes are validated too).

    ``path`` is resolved like any recipe: a file as given, else a shipped study (``study/toy.yaml``).
    """
    path = resolve_recipe(path)
    cfg = load_config(path, list(overrides), cls=StudyConfig)
    if cfg.output_dir is None:
        cfg.output_dir = str(Path("runs") / cfg.name)
    labels = [Path(m).stem for m in cfg.methods]
    if len(set(labels)) != len(labels):
        raise ConfigError(f"{path}: two methods share a recipe name (run directories would collide)")
    refs = {"base": cfg.base, **({"teacher": cfg.teacher} if cfg.teacher else {}), **dict(zip(labels, cfg.methods))}
    for label in cfg.run_overrides:
        if label not in refs:
            raise ConfigError(f"{path}: run_overrides: {label!r} is not a run label of the study "
                              f"(labels: {', '.join(refs)})")
    for label, ref in refs.items():
        load_recipe(resolve_recipe_path(ref, path), cfg.overrides_of(label))
    _resolve_sensitivity(cfg, path, overrides)
    return cfg


def sensitivity_labels(cfg: StudyConfig) -> list[str]:
    """The method labels the study can evaluate under the grid: its methods' recipe names (``teacher`` too
    when the study has one), in the study's order."""
    return [*(["teacher"] if cfg.teacher else []), *(Path(m).stem for m in cfg.methods)]


def _resolve_sensitivity(cfg: StudyConfig, path: Path, overrides: list[str] | tuple[str, ...]) -> None:
    """Turn ``sensitivity.enabled=None`` into on/off (on when the recipe file has a ``sensitivity`` mapping or
    an override sets a ``sensitivity.`` key) and check its method labels (one-line ``ConfigError``)."""
    sens = cfg.sensitivity
    if sens.enabled is None:
        import yaml

        raw = yaml.safe_load(Path(path).read_text()) or {}
        in_file = isinstance(raw, dict) and isinstance(raw.get("sensitivity"), dict)
        sens.enabled = in_file or any(
            str(o).strip().startswith("sensitivity.") and not str(o).strip().startswith("sensitivity.enabled=")
            for o in overrides)
    if not sens.enabled or sens.methods is None:
        return
    known = sensitivity_labels(cfg)
    for label in sens.methods:
        if label not in known:
            raise ConfigError(f"{path}: sensitivity.methods: {label!r} is not a method of the study "
                              f"(methods: {', '.join(known) or 'none'})")
    if len(set(sens.methods)) != len(sens.methods):
        raise ConfigError(f"{path}: sensitivity.methods lists a method twice")
