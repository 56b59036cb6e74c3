"""The ``hf`` engine for vision-language models: the same sampling loop with pixel inputs and 3-D positions.

``build_engine("hf", model, processor)`` returns a :class:`VisionHFEngine` when it is given a processor (a
vision-language model's processing class). Prompts are rendered text holding the image placeholder
(``rlvr_bench.data.templates.render_prompt`` with the processor); ``generate(prompts, images=[...])`` encodes each
prompt with its image through the processor (the placeholder expanded into the image's tokens, the image into
``pixel_values`` (patches, patch dim) and ``image_grid_thw`` (images, 3)), then samples with ``HFEngine``'s own
loop (same ``Decoding`` and seed, KV cache, finished rows dropped from the batch and the cache, per-token
log-probs recorded): this engine only overrides its four hooks (encoding, prefill, decode positions, the tokens
never sampled).

Positions. Qwen2-VL-family models (Qwen2-VL, Qwen2.5-VL) use multimodal rotary positions (M-RoPE, Wang et al.
2024, arXiv 2409.12191): each token has a (temporal, height, width) position; text tokens have three equal
components, an image's tokens take their grid coordinates, and the text after an image continues from the
largest position used, so a row's positions end ``rope_delta`` away from its token count. :func:`mrope_positions`
gets them from the model's own ``get_rope_index`` (left padding masked); the prefill passes them explicitly as
(3, b, L), and every decode step the next position ``max + 1`` of each row on all three axes, what
``model.generate`` computes from its cached ``rope_deltas``. Models without ``get_rope_index`` get the 1-D
positions ``HFEngine`` uses. The pixels are read once, in the prefill; the KV cache holds the rest.

The image and video placeholder ids (``config.image_token_id`` / ``video_token_id``) are never sampled (their
logits are set to -inf, the distribution renormalised): a response holding one could not be read back with its
image, whose features fill exactly the prompt's placeholders.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch

from rlvr_bench.rollout.hf import HFEngine
from rlvr_bench.rollout.padding import pad_rows

__all__ = ["EncodedPrompt", "VisionHFEngine", "mrope_positions", "rope_index_fn"]


def rope_index_fn(model: Any) -> Callable[..., Any] | None:
    """The model's ``get_rope_index`` (Qwen2-VL family: 3-D positions) under a PEFT / DDP wrapper, or None."""
    inner = getattr(model, "module", model)
    get_base = getattr(inner, "get_base_model", None)
    inner = get_base() if callable(get_base) else inner
    for candidate in (inner, getattr(inner, "model", None)):
        fn = getattr(candidate, "get_rope_index", None)
        if callable(fn):
            return fn
    return None


def mrope_positions(model: Any, input_ids: torch.Tensor, attention_mask: torch.Tensor,
                    image_grid_thw: torch.Tensor | None) -> torch.Tensor:
    """Position ids of a left-padded batch as the model computes them.

    Args:
        input_ids, attention_mask: (b, L); image tokens are the config's ``image_token_id``.
        image_grid_thw: (images, 3) grids of the images in the batch, in row order (None: no image).
    Returns:
        (3, b, L) M-RoPE positions from ``get_rope_index`` for Qwen2-VL-family models (padding at 0), else the
        (b, L) 1-D positions ``cumsum(mask) - 1``.
    """
    fn = rope_index_fn(model)
    if fn is None:
        return (attention_mask.cumsum(-1) - 1).clamp(min=0)
    config = getattr(model, "config", None)
    image_token = getattr(config, "image_token_id", None)
    mm_types = (input_ids == image_token).long() if image_token is not None else torch.zeros_like(input_ids)
    positions, _ = fn(input_ids, mm_token_type_ids=mm_types, image_grid_thw=image_grid_thw,
                      attention_mask=attention_mask)
    return positions


@dataclass
class EncodedPrompt:
    """One prompt after the processor: token ids (image placeholder expanded) and its image's pixels.

    ``pixel_values`` (patches, patch dim) and ``image_grid_thw`` (1, 3), or None for a prompt without an image.
    """

    ids: list[int]
    pixel_values: torch.Tensor | None = None
    image_grid_thw: torch.Tensor | None = None


class VisionHFEngine(HFEngine):
    """Batched sampling with a transformers vision-language model and its processor (CPU or GPU).

    Args:
        model: e.g. ``Qwen2_5_VLForConditionalGeneration`` (``AutoModelForImageTextToText``).
        processor: its processor (``processor.tokenizer`` decodes; ``processor.image_processor`` makes pixels).
        batch_size, compact_below: as :class:`~rlvr_bench.rollout.hf.HFEngine`.
    """

    name = "hf"

    def __init__(self, model: Any, processor: Any, *, batch_size: int = 1024, compact_below: float = 0.9,
                 **unused: Any) -> None:
        super().__init__(model, processor.tokenizer, batch_size=batch_size, add_special_tokens=False,
                         compact_below=compact_below)
        self.processor = processor
        config = getattr(model, "config", None)
        self.placeholder_ids = [int(i) for i in (getattr(config, "image_token_id", None),
                                                 getattr(config, "video_token_id", None)) if i is not None]

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "vision": True, "positions": "mrope" if rope_index_fn(self.model) else "1d"}

    def _encode_prompts(self, prompts: list[str], images: Sequence[Any] | None) -> list[EncodedPrompt]:
        """One :class:`EncodedPrompt` per prompt; ``images[i]`` (a PIL image or None) goes with ``prompts[i]``."""
        images = list(images) if images is not None else [None] * len(prompts)
        if len(images) != len(prompts):
            raise ValueError(f"{len(images)} images for {len(prompts)} prompts: give one image (or None) per prompt")
        return [self.encode(p, img) for p, img in zip(prompts, images)]

    @staticmethod
    def _token_ids(encoded: EncodedPrompt) -> list[int]:
        return encoded.ids

    def encode(self, prompt: str, image: Any = None) -> EncodedPrompt:
        """One prompt through the processor (with its image, if any)."""
        if image is None:
            ids = self.tokenizer(prompt, add_special_tokens=False)["input_ids"]
            if not ids:
                raise ValueError(f"prompt {prompt[:40]!r} encodes to no tokens")
            return EncodedPrompt(list(ids))
        batch = self.processor(text=[prompt], images=[image], return_tensors="pt")
        return EncodedPrompt(batch["input_ids"][0].tolist(), batch["pixel_values"], batch["image_grid_thw"])

    def _prefill(self, rows: list[EncodedPrompt], device: torch.device, cache: Any
                 ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """The prompts with their pixels (read once: the KV cache holds the rest) at the model's own positions."""
        input_ids, attn = pad_rows([r.ids for r in rows], self.pad_id, left=True)
        input_ids, attn = input_ids.to(device), attn.to(device)
        pixels = [r for r in rows if r.pixel_values is not None]
        vision: dict[str, Any] = {}
        if pixels:
            vision = {"pixel_values": torch.cat([r.pixel_values for r in pixels]).to(device),
                      "image_grid_thw": torch.cat([r.image_grid_thw for r in pixels]).to(device)}
        positions = mrope_positions(self.model, input_ids, attn, vision.get("image_grid_thw"))
        out = self.model(input_ids=input_ids, attention_mask=attn, position_ids=positions, use_cache=True,
                         logits_to_keep=1, **vision, **{self._cache_kw: cache})
        three_d = positions.dim() == 3
        next_pos = (positions.amax(dim=(0, 2)) if three_d else positions.amax(dim=1)).unsqueeze(-1) + 1  # (b, 1)
        return out.logits[:, -1, :], attn, next_pos

    def _step_positions(self, next_pos: torch.Tensor) -> torch.Tensor:
        """(3, b, 1): the next position on all three M-RoPE axes, as ``model.generate`` computes it from its
        cached ``rope_deltas``; (b, 1) for a model with 1-D positions."""
        return next_pos.unsqueeze(0).expand(3, -1, -1) if rope_index_fn(self.model) is not None else next_pos

    def _restrict(self, logits: torch.Tensor) -> torch.Tensor:
        """The image and video placeholder ids are never sampled (module docstring)."""
        if self.placeholder_ids:
            logits[:, self.placeholder_ids] = float("-inf")
        return logits
