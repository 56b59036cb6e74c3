"""Rollout: one generation interface for training and evaluation (``hf`` default, ``vllm`` optional).

A vision-language model's ``hf`` engine is :class:`~rlvr_bench.rollout.hf_vision.VisionHFEngine` (pixel inputs,
the model's own 3-D positions): :func:`build_engine` picks it when it is given a processor instead of a tokenizer.
"""

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
    """Construct the engine registered as ``backend`` around a model and its tokenizer.

    ``tokenizer`` may be a vision-language model's processor (its processing class): ``hf`` is then the
    vision engine (``rlvr_bench.rollout.hf_vision``), the only one that takes images here.
    """
    from rlvr_bench.data.templates import is_processor
    from rlvr_bench.errors import UserError

    if is_processor(tokenizer):
        if backend != "hf":
            raise UserError(f"rollout.backend {backend!r} takes no images here: a vision-language model samples "
                            "with rollout.backend 'hf' (or through verl: rlvr-bench verl export)")
        from rlvr_bench.rollout.hf_vision import VisionHFEngine

        return VisionHFEngine(model, tokenizer, **kwargs)
    return get_engine_class(backend)(model, tokenizer, **kwargs)
