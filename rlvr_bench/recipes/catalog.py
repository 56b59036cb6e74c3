"""List and validate a folder of recipes (the shipped one, or a user's ``rlvr-bench recipes --dir``)."""

from __future__ import annotations

from pathlib import Path

from rlvr_bench.config.loader import ConfigError
from rlvr_bench.recipes.names import load_recipe
from rlvr_bench.recipes.study import load_study

__all__ = ["validate_all"]

SKIPPED_FOLDERS = ("accelerate",)
"""Subfolders that hold launcher configs, not recipes (checked by their own test)."""

STUDY_FOLDER = "study"
"""Subfolder whose files are study recipes (``load_study``) rather than run recipes."""


def validate_all(root: Path) -> tuple[list[tuple[str, str]], list[str]]:
    """Validate every ``*.yaml`` under ``root`` (study recipes included).

    Returns (rows of (relative name, description), error lines).
    """
    rows: list[tuple[str, str]] = []
    errors: list[str] = []
    for path in sorted(Path(root).rglob("*.yaml")):
        rel = path.relative_to(root)
        if rel.parts[0] in SKIPPED_FOLDERS:
            continue
        try:
            if rel.parts[0] == STUDY_FOLDER:
                desc = load_study(path).description
            else:
                desc = load_recipe(path).description
            rows.append((rel.as_posix(), desc))
        except ConfigError as exc:
            errors.append(str(exc))
    return rows, errors
