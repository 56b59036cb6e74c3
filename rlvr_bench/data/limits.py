"""Prompt length limits: a prompt the model cannot read whole is never sampled.

A 1 MB problem would otherwise go through the embedding (the process grew past 8 GB before the kernel
killed it) or overflow the model's positions. The limit is ``data.max_prompt_tokens``, by default the
model's context length minus ``max_new_tokens`` (room for the response). Training prompts over it are dropped
with a logged count and a line in the run's metrics, as verl's ``data.filter_overlong_prompts`` does, or,
when the recipe says ``data.overlong_prompts: error``, fail with one line naming the row.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from rlvr_bench.errors import UserError

__all__ = ["OverlongPromptError", "PromptFilter", "context_length", "filter_overlong", "prompt_token_limit"]

_CHARS_PER_TOKEN_MAX = 64
"""No tokenizer packs more characters than this into one token: a text longer than limit x this many
characters is over the limit without being tokenized."""


class OverlongPromptError(UserError):
    """A prompt is longer than ``data.max_prompt_tokens`` and the recipe asked for an error."""


def context_length(model_config: Any) -> int | None:
    """The model's context length (``max_position_embeddings`` and the like), or None when it has none."""
    for name in ("max_position_embeddings", "n_positions", "max_sequence_length", "seq_length"):
        value = getattr(model_config, name, None)
        if isinstance(value, int) and value > 0:
            return value
    text = getattr(model_config, "text_config", None)
    return context_length(text) if text is not None and text is not model_config else None


def prompt_token_limit(explicit: int | None, model_config: Any, max_new_tokens: int) -> int | None:
    """``explicit`` when set, else the context length minus ``max_new_tokens`` (None: no known limit)."""
    if explicit is not None:
        return int(explicit)
    ctx = context_length(model_config)
    if ctx is None:
        return None
    return max(1, ctx - int(max_new_tokens))


@dataclass
class PromptFilter:
    """What :func:`filter_overlong` kept and dropped."""

    limit: int | None
    kept: list[int] = field(default_factory=list)
    dropped: list[int] = field(default_factory=list)
    longest: int = 0

    def metrics(self, prefix: str = "data") -> dict[str, float]:
        return {f"{prefix}/overlong_prompts_dropped": float(len(self.dropped)),
                f"{prefix}/prompts_kept": float(len(self.kept)),
                f"{prefix}/max_prompt_tokens": float(self.limit or 0)}


def prompt_length(text: str, tokenizer: Any, limit: int) -> int:
    """Tokens of ``text`` (a text far over the limit is not tokenized: ``limit + 1`` is returned)."""
    if len(text) > limit * _CHARS_PER_TOKEN_MAX:
        return limit + 1
    return len(tokenizer(text, add_special_tokens=True)["input_ids"])


def filter_overlong(texts: Sequence[str], tokenizer: Any, limit: int | None, *, mode: str = "drop",
                    names: Sequence[str] | None = None, what: str = "prompt",
                    render: Callable[[str], str] | None = None) -> PromptFilter:
    """Indices of ``texts`` whose rendered prompt fits ``limit`` tokens.

    Args:
        texts: problems (rendered with ``render`` first when given) or rendered prompts.
        mode: ``drop`` (return the others) or ``error`` (raise on the first over the limit).
        names: row ids for the error message.
    Raises:
        OverlongPromptError: ``mode == "error"`` and a prompt is over the limit.
    """
    result = PromptFilter(limit=limit)
    if limit is None:
        result.kept = list(range(len(texts)))
        return result
    for i, text in enumerate(texts):
        length = prompt_length(render(text) if render else text, tokenizer, limit)
        result.longest = max(result.longest, length)
        if length <= limit:
            result.kept.append(i)
            continue
        if mode == "error":
            name = names[i] if names is not None else i
            raise OverlongPromptError(
                f"{what} {name!s} is longer than data.max_prompt_tokens = {limit} tokens ({len(text)} characters); "
                "shorten it, raise data.max_prompt_tokens, or set data.overlong_prompts: drop")
        result.dropped.append(i)
    return result
