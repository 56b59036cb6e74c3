"""Pixel inputs of an RL batch: the images of its rows as tensors, sliced per micro-batch, and the model inputs.

Qwen2.5-VL's processor turns ``k`` images into ``pixel_values`` of shape (sum of patches, patch dim) and
``image_grid_thw`` of shape (k, 3): the patches of image ``j`` are the ``t x h x w`` rows after those of images
``0..j-1``. An RL batch holds ``n`` samples per prompt, all with the prompt's image, so the batch keeps each distinct
image once:

``image_index``
    (B,) long: the distinct image of each row, -1 for a row without one.
``pixel_values``, ``pixel_offsets``, ``image_grid_thw``
    (P, D) the distinct images' patches back to back, (U + 1,) where image ``u``'s patches start and end, (U, 3)
    their grids.

:func:`vision_inputs` rebuilds the model's ``pixel_values``/``image_grid_thw`` for any subset of rows (a micro-batch,
in its row order, repeated images repeated), and :func:`position_ids` the positions the model itself uses (3-D
M-RoPE for the Qwen2-VL family, from its ``get_rope_index``; ``rlvr_bench.rollout.hf_vision``), so the training
log-probs are those of the sampled sequences with their images.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from rlvr_bench.data.images import require_images
from rlvr_bench.errors import UserError
from rlvr_bench.rollout.hf_vision import mrope_positions

__all__ = ["check_vision_recipe", "pixel_tensors", "position_ids", "vision_inputs"]

VISION_KEYS = ("image_index", "pixel_values", "pixel_offsets", "image_grid_thw")


def pixel_tensors(processor: Any, images: Sequence[Any]) -> dict[str, torch.Tensor]:
    """The batch's pixel tensors (see the module docstring) for one image (or None) per row.

    Args:
        processor: the vision-language model's processor (its ``image_processor`` makes the patches).
        images: (B,) PIL images or None; the same object in several rows is processed once.
    """
    if processor is None or not hasattr(processor, "image_processor"):
        raise UserError("the RL batch has images but no processor: load the vision-language model's processor")
    slot: dict[int, int] = {}
    distinct: list[Any] = []
    index = []
    for img in images:
        if img is None:
            index.append(-1)
            continue
        if id(img) not in slot:
            slot[id(img)] = len(distinct)
            distinct.append(img)
        index.append(slot[id(img)])
    out = {"image_index": torch.tensor(index, dtype=torch.long)}
    if not distinct:
        return out
    pix, grids = [], []
    for img in distinct:
        enc = processor.image_processor(images=[img], return_tensors="pt")
        pix.append(enc["pixel_values"])
        grids.append(enc["image_grid_thw"])
    sizes = torch.tensor([0] + [p.shape[0] for p in pix], dtype=torch.long)
    out.update({"pixel_values": torch.cat(pix), "pixel_offsets": sizes.cumsum(0),
                "image_grid_thw": torch.cat(grids).long()})
    return out


def vision_inputs(t: dict[str, torch.Tensor], idx: torch.Tensor, device: Any = None) -> dict[str, torch.Tensor]:
    """``pixel_values`` (patches of the rows' images, in row order) and ``image_grid_thw`` (images, 3) for rows
    ``idx`` of a batch; ``{}`` when the batch (or these rows) has no image."""
    if "pixel_values" not in t:
        return {}
    rows = t["image_index"][idx].tolist()
    used = [u for u in rows if u >= 0]
    if not used:
        return {}
    offsets = t["pixel_offsets"]
    pixels = torch.cat([t["pixel_values"][offsets[u]:offsets[u + 1]] for u in used])
    grid = t["image_grid_thw"][torch.tensor(used)]
    return {"pixel_values": pixels.to(device) if device is not None else pixels,
            "image_grid_thw": grid.to(device) if device is not None else grid}


def position_ids(model: Any, input_ids: torch.Tensor, attention_mask: torch.Tensor,
                 vision: dict[str, torch.Tensor]) -> torch.Tensor:
    """Positions of a left-padded prompt + response batch: (3, b, L) M-RoPE for a Qwen2-VL-family model (the
    images' grids from ``vision``), else (b, L) ``cumsum(mask) - 1`` as for text models."""
    return mrope_positions(model, input_ids, attention_mask, vision.get("image_grid_thw"))


def check_vision_recipe(dataset: Any, source: str, *, needs_critic: bool) -> None:
    """A vision-language recipe's checks before any sampling: every row has an image (one-line
    ``ImageColumnError`` otherwise) and the algorithm has no critic (the value model is text-only)."""
    require_images(dataset, source)
    if needs_critic:
        raise UserError("PPO's critic (a value head on a causal LM) takes no images: use a critic-free preset "
                        "(grpo, dr_grpo, dapo, rloo, reinforce_pp, remax) with a vision-language model")
