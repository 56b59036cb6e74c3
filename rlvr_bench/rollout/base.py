"""One generation interface for training and evaluation.

Every engine turns prompts into ``n`` completions each and records the decoding parameters that produced
them. Engines are registered by name (``hf`` is the default and runs anywhere; ``vllm`` is an optional
extra on GPUs) and share one signature::

    engine.generate(prompts: list[str], *, n: int, decoding: Decoding, seed: int | None,
                    images: list[PIL.Image | None] | None = None) -> RolloutResult

A completion that reaches ``max_new_tokens`` without EOS or a stop string has ``finish_reason ==
"length"`` (truncated): evaluation records it, and the RL trainer can penalise it (DAPO's overlong shaping).
"""

from __future__ import annotations

import dataclasses
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "Completion",
    "Decoding",
    "RolloutEngine",
    "RolloutResult",
    "register_engine",
    "registered_engines",
]


@dataclass(frozen=True)
class Decoding:
    """Decoding parameters, recorded with every sample (arXiv 2504.07086: results move with each).

    ``stop`` strings are matched on text decoded with special tokens; ``stop_token_ids`` end a sample besides
    the engine's end-of-text ids (the run's stop rule: ``rlvr_bench.rollout.stopping``).
    """

    temperature: float = 1.0
    top_p: float = 1.0
    top_k: int = 0
    max_new_tokens: int = 40
    stop: tuple[str, ...] = ()
    template: str | None = None
    stop_token_ids: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        if self.temperature < 0:
            raise ValueError(f"temperature must be >= 0, got {self.temperature}")
        if not 0 < self.top_p <= 1:
            raise ValueError(f"top_p must be in (0, 1], got {self.top_p}")
        if self.top_k < 0 or self.max_new_tokens <= 0:
            raise ValueError("top_k must be >= 0 and max_new_tokens > 0")
        object.__setattr__(self, "stop", tuple(self.stop))
        object.__setattr__(self, "stop_token_ids", tuple(int(i) for i in self.stop_token_ids))

    @property
    def greedy(self) -> bool:
        return self.temperature == 0

    def as_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["stop"] = list(self.stop)
        d["stop_token_ids"] = list(self.stop_token_ids)
        return d


@dataclass
class Completion:
    """One sampled response.

    Attributes:
        text: decoded response (the final stop id and special tokens removed; a stop string, when hit, is kept).
        token_ids: generated token ids, the stop id (EOS, turn end) included when generated.
        finish_reason: "stop" (a stop id or stop string) or "length" (hit max_new_tokens: truncated).
        logprobs: per-token log-probs of ``token_ids`` under the sampling distribution (temperature applied)
            as the engine saw them, or None when the engine does not report them.
    """

    text: str
    token_ids: list[int]
    finish_reason: str
    logprobs: list[float] | None = None

    @property
    def num_tokens(self) -> int:
        return len(self.token_ids)

    @property
    def truncated(self) -> bool:
        return self.finish_reason == "length"


@dataclass
class RolloutResult:
    """Completions for ``len(prompts)`` prompts x ``n`` samples, prompt-major.

    ``completions[i * n + j]`` is sample ``j`` of prompt ``i``. Tensors (when the engine provides them) are
    laid out the same way: ``prompt_ids``/``prompt_mask`` (B, Lp) left-padded, ``response_ids``/
    ``response_mask`` (B, Lr) right-padded, with B = len(prompts) * n; ``response_logprobs`` (B, Lr) float, the
    completions' ``logprobs`` aligned with ``response_ids`` (0 at padding; None when the engine has none).
    """

    prompts: list[str]
    n: int
    completions: list[Completion]
    decoding: Decoding
    seed: int | None = None
    prompt_ids: Any = None
    prompt_mask: Any = None
    response_ids: Any = None
    response_mask: Any = None
    response_logprobs: Any = None
    stats: dict[str, float] = field(default_factory=dict)

    def grouped(self) -> list[list[Completion]]:
        """Completions as one list of ``n`` per prompt."""
        n = self.n
        return [self.completions[i * n:(i + 1) * n] for i in range(len(self.prompts))]

    @property
    def num_tokens(self) -> int:
        return sum(c.num_tokens for c in self.completions)


class RolloutEngine(ABC):
    """A generation backend (see module docstring)."""

    name: str = "abstract"

    @abstractmethod
    def generate(self, prompts: Sequence[str], *, n: int = 1, decoding: Decoding | None = None,
                 seed: int | None = None, images: Sequence[Any] | None = None) -> RolloutResult:
        """Sample ``n`` completions for each prompt; ``images``: one PIL image (or None) per prompt, for a
        vision-language model (the prompts then hold the image placeholder; ``rlvr_bench.rollout.hf_vision``)."""

    def describe(self) -> dict[str, Any]:
        """What to record about this engine next to the samples."""
        return {"backend": self.name}

    def prepare_generation(self, model: Any) -> None:
        """Before a training rollout: generate with ``model``'s current weights (default: use it directly)."""
        self.model = model

    def release_memory(self) -> None:
        """After a training rollout: free what generation holds while the trainer updates (default: nothing)."""
        return None


_ENGINES: dict[str, Callable[..., RolloutEngine]] = {}


def registered_engines() -> dict[str, Callable[..., RolloutEngine]]:
    """The engines registered so far, by name (``rlvr_bench.rollout.engines`` imports the built-in ones)."""
    return dict(_ENGINES)


def register_engine(name: str) -> Callable[[type], type]:
    """Class decorator registering an engine under ``name``."""

    def deco(cls: type) -> type:
        cls.name = name
        _ENGINES[name] = cls
        return cls

    return deco
