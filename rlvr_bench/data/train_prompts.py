"""Training prompts of a recipe (the data layer: loaded and checked before any model).

``load_train_prompts`` reads the recipe's ``data`` section (the toy world, a benchmark short name, a hub
dataset or a local file); ``check_prompt_lengths`` drops (or rejects) prompts longer than
``data.max_prompt_tokens`` (``rlvr_bench.data.limits``); ``model_config_of`` reads a model's config without
its weights, for the context length.
"""

from __future__ import annotations

from typing import Any

from rlvr_bench.errors import UserError
from rlvr_bench.utils.dist import get_logger

__all__ = ["check_prompt_lengths", "is_toy_source", "load_train_prompts", "model_config_of", "toy_split"]

log = get_logger(__name__)


def load_train_prompts(cfg: Any, *, split: str | None = None):
    """Training prompts (a ``datasets.Dataset`` with id/problem/answer[/solution]) for a recipe."""
    split = split or cfg.data.split
    if is_toy_source(cfg.data.source):
        ds = toy_split(cfg, split, cfg.data.source)
        return ds if cfg.data.limit is None else ds.select(range(min(cfg.data.limit, len(ds))))
    from rlvr_bench.data.loading import load_prompts

    d = cfg.data
    return load_prompts(d.source, split=split, problem_column=d.problem_column, answer_column=d.answer_column,
                        solution_column=d.solution_column, id_column=d.id_column, subset=d.subset,
                        limit=d.limit, seed=cfg.seed if d.shuffle else None)


def is_toy_source(source: str) -> bool:
    """``toy`` (every family of ``toy.tasks``) or ``toy/<family>`` (one family's rows of those splits)."""
    return source == "toy" or source.startswith("toy/")


def toy_split(cfg: Any, split: str, source: str = "toy"):
    """The toy split of ``cfg.toy.tasks``; ``toy/<family>`` keeps that family's rows (same problems, same ids).

    The evaluation name is ``toy`` or ``toy-<family>`` (it names the samples file). ``toy/visual`` is the toy
    visual family (bar charts with images, ``cfg.toy.visual.tasks``; ``rlvr_bench.data.toy_visual``).
    """
    from rlvr_bench.data.toy import toy_dataset
    from rlvr_bench.data.toy_visual import VISUAL_SOURCE, visual_dataset

    if source == VISUAL_SOURCE:
        return visual_dataset(split, task=cfg.toy.visual.tasks)
    ds = toy_dataset(split, task=cfg.toy.tasks)
    family = source.partition("/")[2]
    if family:
        if family not in cfg.toy.tasks.families:
            raise UserError(f"toy source {source!r}: family {family!r} is not in toy.tasks.families "
                            f"{cfg.toy.tasks.families}")
        ds = ds.filter(lambda row: row["family"] == family)
    ds.info.dataset_name = f"toy-{family}" if family else "toy"
    return ds


def check_prompt_lengths(cfg: Any, texts: list[str], ids: list[str], tokenizer: Any, model_config: Any,
                         max_new_tokens: int) -> tuple[list[int], dict[str, float]]:
    """(indices of the training prompts that fit, ``data/*`` metrics) for ``data.max_prompt_tokens`` (default:
    the model's context minus ``max_new_tokens``). The others are dropped with a logged count (the metrics, when
    a prompt was dropped, go to ``metrics.jsonl`` as a step-0 line), or, with ``data.overlong_prompts: error``, ``OverlongPromptError`` names
    the first one."""
    from rlvr_bench.data.limits import filter_overlong, prompt_token_limit
    from rlvr_bench.data.templates import render_prompt

    limit = prompt_token_limit(cfg.data.max_prompt_tokens, model_config, max_new_tokens)
    result = filter_overlong(texts, tokenizer, limit, mode=cfg.data.overlong_prompts, names=ids,
                             what="training prompt", render=lambda p: render_prompt(cfg.data.template, p, tokenizer))
    if result.dropped:
        log.warning("%d of %d training prompts are longer than %d tokens (data.max_prompt_tokens): dropped",
                    len(result.dropped), len(texts), limit)
    if not result.kept:
        raise UserError(f"every training prompt is longer than {limit} tokens (data.max_prompt_tokens)")
    return result.kept, (result.metrics() if result.dropped else {})


def model_config_of(source: str, model: Any = None) -> Any:
    """The model's config without loading its weights (None when it cannot be read: the load reports why)."""
    if model is not None:
        return getattr(model, "config", None)
    from pathlib import Path as _Path

    try:
        from transformers import AutoConfig

        from rlvr_bench.utils.hub import hub_offline

        local = _Path(str(source)).expanduser().exists()
        return AutoConfig.from_pretrained(source, local_files_only=not local and hub_offline())
    except (OSError, ValueError):
        return None
