"""Reasoning traces for SFT: where they come from and how they become TRL ``prompt``/``completion`` rows.

A *trace* is a row with ``problem`` and ``solution`` text (the worked reasoning ending in the answer, e.g.
``25+11=36,36+1=37 \\boxed{37}`` for the toy world). Sources:

* a dataset's solution column (``data.solution_column``; the toy train split always has clean gold traces);
* a traces file (``sft.traces_file``: ``.jsonl``/``.json``/``.parquet``/``.csv`` with the problem column and a
  solution column, or already rendered ``prompt``/``completion`` columns);
* samples of a model kept by a verifier (RFT, sequence-level distillation: ``rlvr_bench.trainers.sft_sampling``).

:func:`to_sft_dataset` renders the problem with the recipe's prompt template, as evaluation does, so a model is
trained on exactly the prompt it is tested with: a plain template gives TRL's *standard* prompt-completion format
(two strings, TRL appends EOS to the completion); a chat template gives TRL's *conversational* format (message lists)
and TRL applies the tokenizer's chat template. Either way the loss can be restricted to the completion.

Traces with images (an ``image`` column, ``rlvr_bench.data.images``) for a vision-language model (its processor as
the processing class) become TRL's vision-language rows: ``prompt`` is the prompt text evaluation renders (the
processor's chat template, the image placeholder first), ``completion`` the trace followed by the template's turn-end
token (or EOS), ``image`` the row's image; TRL's ``DataCollatorForVisionLanguageModeling`` runs the processor on
each batch (pixels, the placeholder expanded) and masks the prompt out of the loss.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rlvr_bench.config import ConfigError, RecipeConfig
from rlvr_bench.data.images import IMAGE_COLUMNS, add_image_columns
from rlvr_bench.data.loading import LOCAL_SUFFIXES
from rlvr_bench.data.templates import chat_end_token, is_processor, text_tokenizer
from rlvr_bench.errors import UserError
from rlvr_bench.utils.dist import get_logger

if TYPE_CHECKING:  # pragma: no cover - typing only
    from datasets import Dataset

__all__ = [
    "TracesError",
    "chat_end_token",
    "dataset_traces",
    "fitting_traces",
    "load_traces_file",
    "recipe_traces",
    "to_sft_dataset",
]

log = get_logger(__name__)


class TracesError(UserError):
    """A traces file or solution column cannot be used for SFT (message: one line)."""


def load_traces_file(path: str | Path, *, problem_column: str = "problem",
                     solution_column: str = "solution") -> Dataset:
    """Read a traces file into rows with ``problem`` and ``solution`` (or ``prompt``/``completion``) columns.

    Raises:
        TracesError: missing or empty file, unsupported suffix, a missing column (the message names it and lists
            the columns the file has), or no usable trace.
    """
    from datasets import load_dataset

    file = Path(path).expanduser()
    if not file.is_file():
        raise TracesError(f"traces file '{file}' does not exist")
    builder = LOCAL_SUFFIXES.get(file.suffix.lower())
    if builder is None:
        raise TracesError(f"traces file '{file}' has an unsupported suffix {file.suffix!r} "
                          f"(supported: {', '.join(LOCAL_SUFFIXES)})")
    if file.stat().st_size == 0:
        raise TracesError(f"traces file '{file}' is empty")
    try:
        ds = load_dataset(builder, data_files=str(file), split="train")
    except Exception as err:  # datasets wraps parser errors in several classes
        first = (str(err).strip().splitlines() or [type(err).__name__])[0]
        raise TracesError(f"cannot read traces file '{file}': {first}") from None
    columns = list(ds.column_names)
    if "prompt" in columns and "completion" in columns and problem_column not in columns:
        return _clean(ds.select_columns(["prompt", "completion"]), "prompt", "completion", str(file))
    for key, column in (("data.problem_column", problem_column), ("data.solution_column", solution_column)):
        if column not in columns:
            raise TracesError(f"traces file '{file}' has no column {column!r} (columns: {', '.join(columns)}); "
                              f"set {key}, or give 'prompt' and 'completion' columns")
    images = next((c for c in IMAGE_COLUMNS if c in columns), None)
    keep = [problem_column, solution_column] + [c for c in ("id", "answer", "image_id") if c in columns]
    ds = ds.select_columns(keep + ([images] if images else [])).rename_columns(
        {k: v for k, v in ((problem_column, "problem"), (solution_column, "solution")) if k != v})
    if images:  # visual traces: the canonical image / image_id columns
        ds = add_image_columns(ds, images, name=str(file), base_dir=file.parent,
                               id_column="image_id" if "image_id" in columns else None)
    return _clean(ds, "problem", "solution", str(file))


def _text(value: Any) -> bool:
    """A non-blank string, or a non-empty message list (conversational rows)."""
    if isinstance(value, str):
        return bool(value.strip())
    return isinstance(value, list) and len(value) > 0


def _clean(ds: Dataset, first: str, second: str, where: str) -> Dataset:
    """Drop rows whose texts are missing or blank; fail when none is left."""
    ok = [_text(a) and _text(b) for a, b in zip(ds[first], ds[second])]
    dropped = len(ok) - sum(ok)
    if dropped:
        log.warning("%s: %d of %d rows have an empty %s or %s; dropped", where, dropped, len(ok), first, second)
        ds = ds.select([i for i, good in enumerate(ok) if good])
    if len(ds) == 0:
        raise TracesError(f"{where} has no usable trace (every row lacks '{first}' or '{second}' text)")
    return ds


def dataset_traces(cfg: RecipeConfig) -> Dataset:
    """Traces from the training dataset's solution column (every toy split, ``toy/<family>`` and
    ``toy/visual`` included, has clean gold traces)."""
    from rlvr_bench.data.train_prompts import is_toy_source, load_train_prompts

    if not is_toy_source(cfg.data.source) and cfg.data.solution_column is None:
        raise ConfigError(f"SFT on '{cfg.data.source}' needs traces: set data.solution_column to the column "
                          "holding worked solutions, or sft.traces_file to a file of traces")
    ds = load_train_prompts(cfg)
    if "solution" not in ds.column_names:
        raise TracesError(f"dataset '{cfg.data.source}' has no solution column; set data.solution_column")
    return _clean(ds, "problem", "solution", f"dataset '{cfg.data.source}'")


def recipe_traces(cfg: RecipeConfig) -> Dataset:
    """The traces an SFT recipe names: ``sft.traces_file`` when set, else the dataset's solution column."""
    if cfg.sft.traces_file:
        ds = load_traces_file(cfg.sft.traces_file, problem_column=cfg.data.problem_column,
                              solution_column=cfg.data.solution_column or "solution")
        if cfg.data.limit is not None and len(ds) > cfg.data.limit:
            ds = ds.select(range(cfg.data.limit))
        return ds
    return dataset_traces(cfg)


def to_sft_dataset(traces: Dataset | Iterable[dict[str, Any]], template: str, tokenizer: Any) -> Dataset:
    """TRL prompt-completion rows for traces, the prompt rendered with ``template`` (see the module docstring).

    Rows that already have ``prompt``/``completion`` are kept as they are. With a processor (a vision-language
    model) the rows must have images and become vision-language rows (see the module docstring).
    """
    from datasets import Dataset

    from rlvr_bench.data.templates import get_template, render_prompt

    tpl = get_template(template)
    rows = traces if isinstance(traces, list) else list(traces)
    if not rows:
        raise TracesError("no traces to train on")
    if "prompt" in rows[0] and "completion" in rows[0]:
        return Dataset.from_dict({"prompt": [r["prompt"] for r in rows], "completion": [r["completion"] for r in rows]})
    if is_processor(tokenizer):
        return _vision_rows(rows, tpl, tokenizer)
    if tpl.chat:
        if getattr(tokenizer, "chat_template", None) is None:
            raise ConfigError(f"template {template!r} is a chat template but the tokenizer has none; "
                              "use a plain template (e.g. 'boxed_completion') for base models")
        prompts = [tpl.messages(r["problem"]) for r in rows]
        completions = [[{"role": "assistant", "content": r["solution"]}] for r in rows]
    else:
        prompts = [render_prompt(tpl, r["problem"]) for r in rows]
        completions = [r["solution"] for r in rows]
    return Dataset.from_dict({"prompt": prompts, "completion": completions})


def _vision_rows(rows: list[dict[str, Any]], tpl: Any, processor: Any) -> Dataset:
    """TRL vision-language prompt-completion rows: rendered prompt with the image placeholder, the trace + the
    template's turn end (or EOS), the image."""
    from datasets import Dataset

    from rlvr_bench.data.images import require_images
    from rlvr_bench.data.templates import render_prompt

    require_images(rows, "traces", why="SFT of a vision-language model")
    tok = text_tokenizer(processor)
    end = (tpl.turn_end_tokens(tok) or [tok.eos_token])[0] if tpl.chat else tok.eos_token
    return Dataset.from_dict({"prompt": [render_prompt(tpl, r["problem"], processor, image=True) for r in rows],
                              "completion": [r["solution"] + (end or "") for r in rows],
                              "image": [r["image"] for r in rows]})


def fitting_traces(cfg: RecipeConfig, traces: Any, model: Any, tokenizer: Any) -> Any:
    """``traces`` without the rows whose rendered prompt is longer than ``data.max_prompt_tokens`` (default: the
    model's context minus ``rollout.max_new_tokens``); rows already rendered (``prompt``/``completion``) are kept."""
    from rlvr_bench.data.train_prompts import check_prompt_lengths

    rows = traces if isinstance(traces, list) else None
    columns = list(rows[0]) if rows else list(getattr(traces, "column_names", []))
    if "problem" not in columns:
        return traces
    problems = [r["problem"] for r in rows] if rows is not None else list(traces["problem"])
    ids = [str(r.get("id", i)) for i, r in enumerate(rows)] if rows is not None else \
        [str(i) for i in (traces["id"] if "id" in columns else range(len(problems)))]
    kept, _ = check_prompt_lengths(cfg, problems, ids, tokenizer, getattr(model, "config", None),
                                   cfg.rollout.max_new_tokens)
    if len(kept) == len(problems):
        return traces
    return [rows[i] for i in kept] if rows is not None else traces.select(kept)
