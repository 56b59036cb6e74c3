"""Rollout: one generation interface for training and evaluation (``hf`` default, ``vllm`` optional)."""

from rlvr_bench.rollout.base import (
    Completion,
    Decoding,
    RolloutEngine,
    RolloutResult,
    register_engine,
)
from rlvr_bench.rollout.engines import engine_names, get_engine_class

__all__ = [
    "Completion",
    "Decoding",
    "RolloutEngine",
    "RolloutResult",
    "build_engine",
    "engine_names",
    "get_engine_class",
    "register_engine",
]


def build_engine(backend: str, model, tokenizer, **kwargs) -> RolloutEngine:
    """Construct the engine registered as ``backend`` around a model and its tokenizer."""
    return get_engine_class(backend)(model, tokenizer, **kwargs)
