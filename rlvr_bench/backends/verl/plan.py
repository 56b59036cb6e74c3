"""Recipe -> verl translation: every recipe field becomes a row of the mapping table.

A row names the recipe field, its effective value (algorithm fields after the preset is applied, exactly
what the local trainer would run), the verl 0.9 keys it sets and a status:

========== ================================================================================
exact      the verl key means the same thing
derived    computed from this and other fields (e.g. ``ppo_mini_batch_size``)
approx     same intent, a documented detail differs (the note says which)
local      changes nothing in what is trained (progress bars, threads, placement)
import     used after ``rlvr-bench verl import`` (pass@k evaluation with ``rlvr-bench eval``)
unused     not used by this recipe (an SFT section in an RL recipe, LoRA settings with LoRA off)
========== ================================================================================

A field whose value verl cannot express (a float32 policy, stop strings, a separate reference model,
LoRA dropout, a linear LR schedule, ...) is never dropped: :func:`build_plan` raises
:class:`~rlvr_bench.backends.verl.errors.UnsupportedRecipeError` naming all of them at once.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from rlvr_bench.backends.verl.errors import UnsupportedRecipeError

if TYPE_CHECKING:
    from rlvr_bench.algorithms import ResolvedAlgorithm

__all__ = ["OVERRIDE_GROUPS", "STATUSES", "ExportFacts", "Row", "VerlPlan", "build_plan", "covered_fields",
           "group_overrides", "override_group", "recipe_leaf_fields"]

from rlvr_bench.backends.verl import plan_sections as S  # noqa: E402
from rlvr_bench.backends.verl.plan_types import STATUSES, WHOLE_SECTIONS, ExportFacts, Row  # noqa: E402,F401


@dataclass
class VerlPlan:
    """The translation: ordered verl overrides, the table rows, and the settings of the reward module."""

    overrides: dict[str, Any]
    rows: list[Row]
    algorithm: ResolvedAlgorithm
    reward_settings: dict[str, Any]
    use_v1: bool
    notes: list[str] = field(default_factory=list)


def recipe_leaf_fields(cls: type | None = None, prefix: str = "") -> list[str]:
    """Dotted names of every leaf field of the recipe schema (``model.lora.r``, ``trainer.steps``, ...)."""
    from rlvr_bench.config import RecipeConfig

    cls = RecipeConfig if cls is None else cls
    out: list[str] = []
    for f in dataclasses.fields(cls):
        default = f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default
        if dataclasses.is_dataclass(default):
            out.extend(recipe_leaf_fields(type(default), f"{prefix}{f.name}."))
        else:
            out.append(f"{prefix}{f.name}")
    return out


def covered_fields(rows: list[Row]) -> set[str]:
    """Leaf fields a table covers (a ``section.*`` row covers the whole section)."""
    covered = set()
    leaves = recipe_leaf_fields()
    for row in rows:
        if row.field.endswith(".*"):
            covered.update(f for f in leaves if f.startswith(row.field[:-1]))
        else:
            covered.add(row.field)
    return covered


def build_plan(cfg: Any, algorithm: ResolvedAlgorithm, facts: ExportFacts) -> VerlPlan:
    """Translate a loaded RL recipe (and its resolved algorithm) into verl overrides and table rows.

    Args:
        cfg: a ``RecipeConfig`` with ``method == "rl"``.
        algorithm: ``rlvr_bench.trainers.rl.resolve_algorithm(cfg)``.
        facts: what the export measured (paths, prompt length, dataset size).

    Raises:
        UnsupportedRecipeError: one or more fields have no verl equivalent (all are named).
    """
    problems: list[str] = []
    rows: list[Row] = []
    for section in S.SECTIONS:
        rows.extend(section(cfg, algorithm, facts, problems))
    missing = sorted(set(recipe_leaf_fields()) - covered_fields(rows))
    if missing:  # a schema field added without a translation: never drop it silently
        problems.extend(f"{name} (no translation rule yet)" for name in missing)
    if problems:
        raise UnsupportedRecipeError(problems)
    overrides = group_overrides(_merge_overrides(rows))
    use_v1 = bool(overrides.get("trainer.use_v1", True))
    return VerlPlan(overrides=overrides, rows=rows, algorithm=algorithm,
                    reward_settings=S.reward_settings(cfg, algorithm), use_v1=use_v1)


OVERRIDE_GROUPS: tuple[tuple[str, str], ...] = (
    ("algorithm.", "algorithm: advantage estimator, in-reward KL, DAPO group filter"),
    ("data.", "data: parquet files, lengths, batch size"),
    ("actor_rollout_ref.model.", "policy model"),
    ("actor_rollout_ref.actor.", "actor: policy loss, KL loss, optimiser, mini-batches"),
    ("actor_rollout_ref.rollout.", "rollout: vLLM sampling (training and validation)"),
    ("actor_rollout_ref.ref.", "reference model (used when a KL term is on)"),
    ("critic.", "critic (PPO only)"),
    ("reward.", "reward: rlvr_bench's reward function and manager"),
    ("trainer.", "trainer: steps, checkpoints, logging"),
)
"""verl key prefix -> heading, in the order launch.sh and overrides.yaml list the overrides."""


def override_group(key: str) -> int:
    """Index of the :data:`OVERRIDE_GROUPS` entry a verl key belongs to."""
    for i, (prefix, _) in enumerate(OVERRIDE_GROUPS):
        if key.startswith(prefix):
            return i
    raise ValueError(f"verl key {key} is in no override group")


def group_overrides(overrides: dict[str, Any]) -> dict[str, Any]:
    """The overrides ordered by group (stable within a group)."""
    return dict(sorted(overrides.items(), key=lambda kv: override_group(kv[0])))


def _merge_overrides(rows: list[Row]) -> dict[str, Any]:
    """All rows' verl keys in table order; a key set twice must be set to the same value."""
    merged: dict[str, Any] = {}
    owner: dict[str, str] = {}
    for row in rows:
        for key, value in row.verl.items():
            if key in merged and merged[key] != value:
                raise AssertionError(f"verl key {key} set to {merged[key]!r} by {owner[key]} and "
                                     f"{value!r} by {row.field}")
            merged.setdefault(key, value)
            owner.setdefault(key, row.field)
    return merged
