"""Trimming a micro-batch's all-padding columns leaves every response log-prob unchanged."""

from __future__ import annotations

import torch

from rlvr_bench.trainers.rl_batch import pad_rows, sequence_logprobs


def test_trimmed_micro_batch_matches_the_full_width_batch(tiny_model):
    model, _tok = tiny_model
    model.eval()
    g = torch.Generator().manual_seed(0)
    prompts = [torch.randint(3, 90, (n,), generator=g).tolist() for n in (4, 12, 5, 9)]
    responses = [torch.randint(3, 90, (n,), generator=g).tolist() for n in (3, 20, 6, 2)]
    p_ids, p_mask = pad_rows(prompts, 0, left=True)
    r_ids, r_mask = pad_rows(responses, 0, left=False)
    t = {"prompt_ids": p_ids, "prompt_mask": p_mask, "response_ids": r_ids, "response_mask": r_mask}
    with torch.no_grad():
        full, ent_full = sequence_logprobs(model, t, torch.arange(4), temperature=1.0, with_entropy=True)
        short = torch.tensor([0, 2])  # rows whose prompt and response are shorter than the batch's
        part, ent_part = sequence_logprobs(model, t, short, temperature=1.0, with_entropy=True)
    assert part.shape == (2, r_ids.shape[1]) and ent_part.shape == part.shape
    mask = r_mask[short].bool()
    torch.testing.assert_close(part[mask], full[short][mask], atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(ent_part[mask], ent_full[short][mask], atol=1e-5, rtol=1e-5)
    assert (part[:, 6:] == 0).all()  # past the micro-batch's longest response: zeros (masked out by the loss)
