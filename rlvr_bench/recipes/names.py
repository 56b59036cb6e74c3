"""Load a recipe and check the names it refers to against the registries.

``rlvr_bench.config`` checks structure, types and ranges without importing the rest of the package; this
module adds the checks that need the registries (prompt templates, datasets and benchmarks, rewards), so a
misspelled dataset or reward fails at load time with the same one-line shape, not minutes into a run.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from rlvr_bench.config import ConfigError, load_config
from rlvr_bench.recipes.shipped import resolve_recipe

__all__ = ["check_names", "load_recipe"]


def _suggest(value: str, valid: Iterable[str]) -> str:
    guess = difflib.get_close_matches(value, list(valid), n=1, cutoff=0.6)
    return f"; did you mean '{guess[0]}'?" if guess else ""


def _looks_like_hub_id(source: str) -> bool:
    parts = source.split(":")[0].split("/")
    return len(parts) == 2 and all(parts)


def _check_source(source: str, key: str, where: str, names: list[str]) -> None:
    if source in names or source == "toy" or source.startswith("toy/") or Path(source).exists() or _looks_like_hub_id(source):
        return
    raise ConfigError(
        f"{where}: '{key}' = {source!r} is not a known dataset, an existing file or a Hugging Face "
        f"'org/name' (known: {', '.join(names)}){_suggest(source, names)}"
    )


def check_names(cfg: Any, where: str) -> None:
    """Validate template, dataset, benchmark and reward names of a loaded recipe.

    ``load_config`` has already resolved ``data.template`` and ``evaluation.benchmarks`` left at None (toy
    values for a toy model, an error otherwise); a None met here (a config built by hand) is skipped.
    """
    from rlvr_bench.data.benchmarks import benchmark_names
    from rlvr_bench.data.templates import template_names
    from rlvr_bench.rewards.registry import list_rewards as reward_names

    templates = template_names()
    for key, name in (("data.template", cfg.data.template), ("evaluation.template", cfg.evaluation.template)):
        if name is not None and name not in templates:
            raise ConfigError(f"{where}: '{key}' = {name!r} is not a known template "
                              f"(choose one of: {', '.join(templates)}){_suggest(name, templates)}")
    names = benchmark_names()
    _check_source(cfg.data.source, "data.source", where, names)
    for bench in cfg.evaluation.benchmarks or []:
        _check_source(bench, "evaluation.benchmarks", where, names)
    rewards = reward_names()
    for name in [cfg.reward.name, *cfg.reward.weights]:
        if name not in rewards:
            raise ConfigError(f"{where}: reward {name!r} is not registered "
                              f"(choose one of: {', '.join(rewards)}){_suggest(name, rewards)}")


def load_recipe(path: str | Path, overrides: Iterable[str] = ()) -> Any:
    """``load_config`` plus the registry checks; raises ``ConfigError`` (one line) on any mistake.

    ``path`` is resolved by ``resolve_recipe``: a file as given, else a shipped recipe by its name
    (``toy/grpo.yaml``).
    """
    resolved = resolve_recipe(path)
    cfg = load_config(resolved, list(overrides))
    check_names(cfg, str(resolved))
    return cfg
