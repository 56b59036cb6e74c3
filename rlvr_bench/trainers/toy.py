"""``method: toy_base`` / ``toy_teacher``: build (or reuse from the cache) the offline toy world's models
(the visual world's when ``model.name_or_path`` is ``toy:vl-base`` / ``toy:vl-teacher``).

The models themselves live in the content-addressed cache (``rlvr_bench.models.pretrain``); the run
directory records the config and environment, links the checkpoint as ``checkpoints/step-<steps>`` and
holds its pass@k evaluation, so the base and the teacher are compared like any other run.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rlvr_bench.config import RecipeConfig
from rlvr_bench.config.toy_visual import VL_REFS
from rlvr_bench.trainers.common import evaluation_callback, prepare_run_dir
from rlvr_bench.utils.dist import print0

__all__ = ["prepare_toy_base", "run_toy_base", "run_toy_teacher"]


def _build(cfg: RecipeConfig, which: str) -> tuple[Path, Callable[[Path], tuple[Any, Any]]]:
    """The built checkpoint of ``which`` ("base" / "teacher") and its loader: the text toy world's, or the
    visual world's when the recipe's model is a ``toy:vl-*`` checkpoint."""
    if str(cfg.model.name_or_path or "") in VL_REFS:
        from rlvr_bench.models.pretrain_vision import vl_checkpoint
        from rlvr_bench.models.toy_vision import load_vl

        return vl_checkpoint(f"vl-{which}", cfg.toy.visual, progress=cfg.logging.progress), load_vl
    from rlvr_bench.models.pretrain import build_base, build_teacher
    from rlvr_bench.models.toy import load_toy

    return (build_base if which == "base" else build_teacher)(cfg.toy, progress=cfg.logging.progress), load_toy


def _run(cfg: RecipeConfig, which: str) -> Path:
    run = prepare_run_dir(cfg)
    path, load = _build(cfg, which)
    info = json.loads((Path(path) / "build.json").read_text())
    step = int(info.get("steps", 0))
    link = run.checkpoint_dir(step)
    link.parent.mkdir(parents=True, exist_ok=True)
    if link.is_symlink() or link.exists():
        if link.resolve() != Path(path).resolve():
            link.unlink()
    if not link.exists():
        os.symlink(Path(path).resolve(), link, target_is_directory=True)
    run.log_metrics({"step": step, "build/seconds": info.get("seconds"), "build/cache": str(path)})
    callback = evaluation_callback(cfg, run)
    if callback is not None:
        model, tokenizer = load(path)
        callback(model, tokenizer, step)
    run.mark_complete({"model": str(path), "step": step})
    print0(f"toy {which}: {path}")
    return run.path


def prepare_toy_base(cfg: RecipeConfig) -> None:
    """Build the toy base into the cache (or find it there), without a run directory or an evaluation."""
    path, _ = _build(cfg, "base")
    print0(f"toy base: {path}")


def run_toy_base(cfg: RecipeConfig) -> Path:
    """Build the toy base (imperfect traces) and evaluate it."""
    return _run(cfg, "base")


def run_toy_teacher(cfg: RecipeConfig) -> Path:
    """Build the toy teacher (the base trained further on clean traces) and evaluate it."""
    return _run(cfg, "teacher")
