"""Model references used in recipes and on the command line.

``toy:base`` and ``toy:teacher`` name the offline toy world's models, ``toy:vl-base`` and ``toy:vl-teacher``
its vision-language models (the toy visual world, ``docs/visual.md``): they are built on first use and cached
(``rlvr_bench.models.pretrain``, ``rlvr_bench.models.pretrain_vision``). Anything else is a local directory or
a Hugging Face name.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

__all__ = ["is_toy_ref", "load_model_and_tokenizer", "resolve_model_path"]

TOY_REFS = ("toy:base", "toy:teacher", "toy:vl-base", "toy:vl-teacher")


def is_toy_ref(name: str) -> bool:
    return str(name) in TOY_REFS


def resolve_model_path(name: str | Path, toy_cfg: Any = None) -> str:
    """A loadable path or hub name for ``name`` (building the toy base/teacher when asked); ``toy_cfg`` is the
    recipe's ``toy`` section (``ToyConfig``; its ``visual`` part for the VL models), None = defaults."""
    name = str(name)
    if name in ("toy:vl-base", "toy:vl-teacher"):
        from rlvr_bench.models.pretrain_vision import vl_checkpoint

        return str(vl_checkpoint(name, getattr(toy_cfg, "visual", None)))
    if name.startswith("toy:"):
        from rlvr_bench.models.pretrain import build_base, build_teacher

        if name == "toy:base":
            return str(build_base(toy_cfg))
        if name == "toy:teacher":
            return str(build_teacher(toy_cfg))
        raise ValueError(f"unknown toy model {name!r}; valid: {', '.join(TOY_REFS)}")
    return name


def load_model_and_tokenizer(name: str | Path, *, dtype: str = "auto", device: str | None = None,
                             toy_cfg: Any = None) -> tuple[Any, Any]:
    """Load a causal LM and its (left-padding) tokenizer from any reference."""
    from rlvr_bench.models.loading import load_policy, load_tokenizer

    path = resolve_model_path(name, toy_cfg)
    tokenizer = load_tokenizer(path)
    model = load_policy(path, dtype=dtype, device=device)
    return model, tokenizer
