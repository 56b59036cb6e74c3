"""The recipes shipped inside the package, and the one rule that turns a recipe reference into a file.

The YAMLs are package data (``rlvr_bench/recipe_files/``), read through ``importlib.resources`` so they are
found after a non-editable install or from a wheel, not only from a checkout (where the top-level
``recipes`` symlink points at the same folder).
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterable
from functools import lru_cache
from importlib.resources import files
from importlib.resources.abc import Traversable
from pathlib import Path

from rlvr_bench.config.loader import ConfigError

__all__ = ["SHIPPED_FOLDER", "recipes_dir", "resolve_recipe"]

SHIPPED_FOLDER = "recipe_files"
"""Folder of ``rlvr_bench`` that holds the shipped recipes (package data)."""


def _copy_tree(src: Traversable, dst: Path) -> None:
    dst.mkdir(parents=True, exist_ok=True)
    for item in src.iterdir():
        if item.is_dir():
            _copy_tree(item, dst / item.name)
        else:
            (dst / item.name).write_bytes(item.read_bytes())


@lru_cache(maxsize=1)
def recipes_dir() -> Path:
    """The folder of shipped recipes as a real path (``toy/``, ``study/``, ``qwen2.5-*/``, ``verl/``, ...).

    A normal install (wheel, ``pip install .``, editable or a checkout) gives the folder in place; a package
    imported from a zip archive gets a temporary extracted copy, removed at exit.
    """
    root = files("rlvr_bench") / SHIPPED_FOLDER
    if isinstance(root, Path):
        return root
    tmp = Path(tempfile.mkdtemp(prefix="rlvr_bench-recipes-"))
    import atexit

    atexit.register(shutil.rmtree, tmp, True)
    _copy_tree(root, tmp)
    return tmp


def resolve_recipe(ref: str | Path, also_in: Iterable[Path] = ()) -> Path:
    """The file a recipe reference names: as given (relative to the working directory), then under each
    folder of ``also_in`` (a study file's folder), then under the shipped recipes (``toy/grpo.yaml``).

    Raises ``ConfigError`` (one line) naming every place looked in when none holds the file.
    """
    ref = Path(ref).expanduser()
    if ref.is_file():
        return ref
    looked = ["."]
    if not ref.is_absolute():
        for folder in (*also_in, recipes_dir()):
            candidate = folder / ref
            if candidate.is_file():
                return candidate
            looked.append(str(folder))
    raise ConfigError(f"recipe {str(ref)!r} not found (looked in {', '.join(looked)}; "
                      "`rlvr-bench recipes` lists the shipped ones)")
