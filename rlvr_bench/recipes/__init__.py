"""Recipes: the shipped YAML files, the rule that finds a recipe by name, and their validation.

* ``shipped``: ``recipes_dir()`` (the package-data folder) and ``resolve_recipe`` (a path as given, else a
  shipped recipe by its relative name), used by ``train``, ``study`` and ``verl export``;
* ``names``: ``load_recipe`` = ``load_config`` plus the registry checks (templates, datasets, rewards);
* ``study``: the study-recipe schema and ``load_study``;
* ``catalog``: ``validate_all`` over a folder of recipes.

This layer sits under ``rlvr_bench.study``/``backends`` and above ``data``/``config``; it imports neither
the CLI nor ``rlvr_bench.study``.
"""

from __future__ import annotations

from rlvr_bench.recipes.catalog import validate_all
from rlvr_bench.recipes.names import check_names, load_recipe
from rlvr_bench.recipes.shipped import SHIPPED_FOLDER, recipes_dir, resolve_recipe
from rlvr_bench.recipes.study import ReportConfig, StudyConfig, load_study, resolve_recipe_path

__all__ = [
    "SHIPPED_FOLDER",
    "ReportConfig",
    "StudyConfig",
    "check_names",
    "load_recipe",
    "load_study",
    "recipes_dir",
    "resolve_recipe",
    "resolve_recipe_path",
    "validate_all",
]
