"""The layout of ``RolloutResult``'s tensors (``rlvr_bench.rollout.base``): ragged rows padded into batches.

Every engine and the RL batch build their tensors here, so prompts are left-padded and responses right-padded
the same way everywhere.
"""

from __future__ import annotations

import torch

__all__ = ["pad_floats", "pad_rows"]


def pad_rows(rows: list[list[int]], pad_id: int, *, left: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """Ragged token rows as a (B, L) LongTensor (at least one column), left-padded (prompts) or right-padded
    (responses), and its (B, L) 0/1 mask."""
    length = max([len(r) for r in rows] + [1])
    ids = torch.full((len(rows), length), pad_id, dtype=torch.long)
    mask = torch.zeros((len(rows), length), dtype=torch.long)
    for i, r in enumerate(rows):
        if r:
            sl = slice(length - len(r), length) if left else slice(0, len(r))
            ids[i, sl] = torch.tensor(r, dtype=torch.long)
            mask[i, sl] = 1
    return ids, mask


def pad_floats(rows: list[list[float]], length: int) -> torch.Tensor:
    """(B, length) float32 of ragged rows, right-padded with 0.0 (``response_logprobs``)."""
    out = torch.zeros((len(rows), length), dtype=torch.float32)
    for i, r in enumerate(rows):
        if r:
            out[i, :len(r)] = torch.tensor(r, dtype=torch.float32)
    return out
