"""Dispatch a validated recipe to the code that runs its ``method``.

Each method's runner is the ``module:function`` of its entry in the method registry (``rlvr_bench.methods``),
imported lazily, so ``rlvr-bench recipes`` and ``import rlvr_bench`` never import torch-heavy trainers.
Every runner has one signature: ``run(cfg: RecipeConfig) -> Path`` (the run directory).
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from rlvr_bench.config import ConfigError
from rlvr_bench.methods import get_method, method_names

__all__ = ["RUNNERS", "resolve_runner", "run_prepare", "run_recipe"]


class _Runners(Mapping[str, str]):
    """method name -> ``module:function``: a read-only, always-current view of the method registry."""

    def __getitem__(self, method: str) -> str:
        entry = get_method(method)
        if entry is None:
            raise KeyError(method)
        return entry.runner

    def __iter__(self) -> Iterator[str]:
        return iter(method_names())

    def __len__(self) -> int:
        return len(method_names())

    def __repr__(self) -> str:
        return repr(dict(self))


RUNNERS: Mapping[str, str] = _Runners()


def resolve_runner(method: str, *, what: str = "runner") -> Any:
    """The run function for ``method`` (its ``prepare`` function with ``what="prepare"``, None when it has
    none); a clear one-line error when it is not available."""
    entry = get_method(method)
    if entry is None:
        raise ConfigError(f"unknown method {method!r} (valid: {', '.join(method_names())})")
    ref = getattr(entry, what)
    if ref is None:
        return None
    module_name, _, func = ref.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name and exc.name.startswith("rlvr_bench"):
            raise ConfigError(f"method {method!r} is not implemented in this version ({module_name} missing)") from None
        raise
    try:
        return getattr(module, func)
    except AttributeError:
        raise ConfigError(f"method {method!r}: {module_name} has no function {func!r}") from None


def run_recipe(cfg: Any) -> Path:
    """Run a validated recipe and return its run directory (after the checks against this machine)."""
    from rlvr_bench.config.loader import check_runs_here

    check_runs_here(cfg)
    return resolve_runner(cfg.method)(cfg)


def run_prepare(cfg: Any) -> bool:
    """Make the models a recipe's run starts from (its method's ``prepare``), training and evaluating nothing.

    Returns False when the method has nothing to prepare (its run loads models that already exist).
    """
    from rlvr_bench.config.loader import check_runs_here

    prepare = resolve_runner(cfg.method, what="prepare")
    if prepare is None:
        return False
    check_runs_here(cfg)
    prepare(cfg)
    return True
