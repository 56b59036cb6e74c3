"""The engine registry's lookup: the built-in engines are imported on first use (``vllm`` only when asked,
it is an optional GPU extra), so ``rollout.base`` never imports an engine module."""

from __future__ import annotations

import importlib
from collections.abc import Callable

from rlvr_bench.rollout.base import RolloutEngine, registered_engines

__all__ = ["BUILTIN_ENGINES", "engine_names", "get_engine_class"]

BUILTIN_ENGINES: dict[str, str] = {"hf": "rlvr_bench.rollout.hf", "vllm": "rlvr_bench.rollout.vllm_engine"}
"""Engine name -> the module that registers it."""


def engine_names() -> list[str]:
    """Every engine name: the built-in ones and any registered since."""
    return sorted(set(registered_engines()) | set(BUILTIN_ENGINES))


def get_engine_class(name: str) -> Callable[..., RolloutEngine]:
    """The engine class for ``name`` (imports a built-in engine's module lazily)."""
    if name in BUILTIN_ENGINES and name not in registered_engines():
        importlib.import_module(BUILTIN_ENGINES[name])
    try:
        return registered_engines()[name]
    except KeyError:
        raise ValueError(f"unknown rollout backend {name!r}; valid: {', '.join(engine_names())}") from None
