"""Rollout correction (rlvr_bench.algorithms.rollout_correction): importance weights of every mode and the
mismatch metrics against hand-computed values, and the gradient the trainer's weighting gives."""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch

from rlvr_bench.algorithms import policy_loss
from rlvr_bench.algorithms.rollout_correction import (
    CORRECTIONS,
    correction_names,
    correction_spec,
    correction_weights,
    mismatch_metrics,
    weighted_log_prob,
)
from rlvr_bench.config import RolloutConfig

LN = math.log
# r = old - behaviour: row 0 ratios 3, 0.5, 1; row 1 ratios 1.5, 2.5 and a padding column (garbage values)
OLD = torch.tensor([[-1.0, -2.0, -0.5], [-1.0, -3.0, 5.0]])
R = torch.tensor([[LN(3), LN(0.5), 0.0], [LN(1.5), LN(2.5), 0.0]])
BEH = OLD - R
BEH[1, 2] = -7.0
MASK = torch.tensor([[1, 1, 1], [1, 1, 0]])


def _w(mode: str, cap: float = 2.0, floor: float | None = None):
    return correction_weights(mode, OLD, BEH, MASK, cap=cap, floor=floor)


@pytest.mark.parametrize("mode, cap, floor, weights, mean, tok_frac, seq_frac, raw_max", [
    ("token_truncate", 2.0, None, [[2, 0.5, 1], [1.5, 2, 0]], 7 / 5, 2 / 5, 1.0, 3.0),
    ("token_truncate", 2.0, 0.6, [[2, 0.6, 1], [1.5, 2, 0]], 7.1 / 5, 3 / 5, 1.0, 3.0),
    ("token_mask", 2.0, None, [[0, 0.5, 1], [1.5, 0, 0]], 3 / 5, 2 / 5, 1.0, 3.0),
    ("token_mask", 2.0, 0.6, [[0, 0, 1], [1.5, 0, 0]], 2.5 / 5, 3 / 5, 1.0, 3.0),
    # sequence ratios: 3 * 0.5 * 1 = 1.5 and 1.5 * 2.5 = 3.75 (the padding column is not in the product)
    ("sequence_truncate", 2.0, None, [[1.5] * 3, [2, 2, 0]], 8.5 / 5, 2 / 5, 0.5, 3.75),
    ("sequence_mask", 2.0, None, [[1.5] * 3, [0, 0, 0]], 4.5 / 5, 2 / 5, 0.5, 3.75),
    ("sequence_mask", 4.0, 1.6, [[0] * 3, [3.75, 3.75, 0]], 7.5 / 5, 3 / 5, 0.5, 3.75),
])
def test_weights_of_every_mode_by_hand(mode, cap, floor, weights, mean, tok_frac, seq_frac, raw_max):
    w, m = _w(mode, cap, floor)
    assert torch.allclose(w, torch.tensor(weights, dtype=torch.float32), atol=1e-6)
    assert not w.requires_grad
    assert m["weight_mean"] == pytest.approx(mean, abs=1e-6)
    assert m["token_frac_corrected"] == pytest.approx(tok_frac, abs=1e-6)
    assert m["seq_frac_corrected"] == pytest.approx(seq_frac, abs=1e-6)
    assert m["raw_ratio_max"] == pytest.approx(raw_max, rel=1e-6)


def test_none_is_the_mask_and_bounds_are_inclusive():
    w, m = _w("none")
    assert torch.equal(w, MASK.float()) and m == {}
    w, m = _w("token_mask", cap=3.0, floor=0.5)  # ratios 3 and 0.5 sit exactly on the bounds: kept
    assert m["token_frac_corrected"] == 0.0 and torch.allclose(w, torch.exp(R) * MASK, atol=1e-6)


def test_mismatch_metrics_by_hand():
    m = mismatch_metrics(OLD, BEH, MASK)
    r = [LN(3), LN(0.5), 0.0, LN(1.5), LN(2.5)]
    assert m["logp_abs_diff_mean"] == pytest.approx(sum(abs(x) for x in r) / 5, rel=1e-6)
    assert m["logp_abs_diff_max"] == pytest.approx(LN(3), rel=1e-6)
    assert m["kl"] == pytest.approx(-LN(5.625) / 5, rel=1e-6)  # 3 * 0.5 * 1.5 * 2.5 = 5.625
    assert m["k3_kl"] == pytest.approx(sum(math.exp(x) - x - 1 for x in r) / 5, rel=1e-6)
    seq = [-LN(1.5) / 3, -LN(3.75) / 2]  # mean behaviour - mean old, per sequence
    assert m["log_ppl_diff"] == pytest.approx(sum(seq) / 2, rel=1e-6)
    assert m["log_ppl_abs_diff"] == pytest.approx(sum(abs(s) for s in seq) / 2, rel=1e-6)
    assert m["ratio_max"] == pytest.approx(3.0, rel=1e-6) and m["ratio_min"] == pytest.approx(0.5, rel=1e-6)


def test_same_policy_gives_no_mismatch_and_unit_weights():
    m = mismatch_metrics(OLD, OLD.clone(), MASK)
    assert all(v == 0.0 for k, v in m.items() if not k.startswith("ratio_")) and m["ratio_max"] == 1.0
    for mode in correction_names():
        w, _ = correction_weights(mode, OLD, OLD.clone(), MASK, cap=2.0)
        assert torch.equal(w, MASK.float()), mode


def test_nan_behaviour_log_prob_counts_as_no_correction_and_empty_masks_give_zeros():
    beh = BEH.clone()
    beh[0, 0] = float("nan")
    w, _ = correction_weights("token_truncate", OLD, beh, MASK, cap=2.0)
    assert w[0, 0] == 1.0 and torch.isfinite(w).all()
    assert all(v == 0.0 for v in mismatch_metrics(OLD, BEH, torch.zeros_like(MASK)).values())
    w, m = correction_weights("sequence_mask", OLD, BEH, torch.zeros_like(MASK), cap=2.0)
    assert not w.any() and m["seq_frac_corrected"] == 0.0


def test_huge_ratios_are_clamped_as_verl_does():
    beh = OLD - torch.tensor([[50.0, -50.0, 0.0], [0.0, 0.0, 0.0]])
    w, m = correction_weights("token_mask", OLD, beh, MASK, cap=1e12, floor=1e-12)
    assert m["raw_ratio_max"] == pytest.approx(math.exp(20), rel=1e-5)
    assert w[0, 1] == pytest.approx(math.exp(-20), rel=1e-5)


def test_bad_arguments_fail_in_one_line():
    with pytest.raises(ValueError, match="unknown rollout correction 'tis'; valid: none, token_truncate"):
        correction_spec("tis")
    with pytest.raises(ValueError, match="0 < floor <= cap"):
        _w("token_mask", cap=2.0, floor=3.0)
    with pytest.raises(ValueError, match="one \\(B, T\\) shape"):
        correction_weights("token_mask", OLD, BEH[:, :2], MASK, cap=2.0)


def test_the_recipe_choices_are_the_registry():
    field = {f.name: f for f in dataclasses.fields(RolloutConfig)}["correction"]
    assert tuple(field.metadata["choices"]) == tuple(CORRECTIONS) == tuple(correction_names())
    assert field.default == "none" and correction_spec("none").level is None


# ------------------------------------------------------------------------------ applying the weights
def _loss_inputs(seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    mask = torch.ones(4, 6)
    mask[1, 4:] = 0
    mask[3, 2:] = 0
    old = -torch.rand(4, 6, generator=g) * 2
    logp = (old + 0.3 * torch.randn(4, 6, generator=g)).requires_grad_()
    adv = torch.randn(4, 1, generator=g).expand(4, 6) * mask
    return logp, old, adv, mask


@pytest.mark.parametrize("mode", ["token-mean", "seq-mean-token-mean", "seq-mean-token-sum-norm"])
def test_weighted_log_prob_gives_the_gradient_of_the_weighted_token_losses(mode):
    logp, old, adv, mask = _loss_inputs()
    w = torch.rand(4, 6, generator=torch.Generator().manual_seed(1)) * 2 * mask
    args = {"old_log_prob": old, "advantages": adv, "response_mask": mask, "loss_agg_mode": mode}
    plain, _ = policy_loss("vanilla", log_prob=logp, **args)
    weighted, _ = policy_loss("vanilla", log_prob=weighted_log_prob(logp, w), **args)
    assert torch.equal(weighted.detach(), plain.detach())  # the value is the unweighted loss
    (g_weighted,) = torch.autograd.grad(weighted, logp)
    # verl: pg_losses * rollout_is_weights, then the same aggregation (the PPO token loss written out)
    ratio = torch.exp(logp - old)
    token = torch.maximum(-adv * ratio, -adv * ratio.clamp(0.8, 1.2))
    token = torch.where(adv < 0, torch.minimum(token, -adv * 3.0), token) * w
    if mode == "token-mean":
        ref = (token * mask).sum() / mask.sum()
    elif mode == "seq-mean-token-mean":
        ref = ((token * mask).sum(-1) / mask.sum(-1)).mean()
    else:
        ref = (token * mask).sum() / mask.shape[-1]
    (g_ref,) = torch.autograd.grad(ref, logp)
    assert torch.allclose(g_weighted, g_ref, atol=1e-6)
    assert (g_weighted != 0).any()


def test_a_sequence_weight_on_geo_mean_scales_the_sequence_loss():
    logp, old, adv, mask = _loss_inputs(2)
    seq_w = torch.tensor([0.5, 2.0, 0.0, 1.3])
    w = seq_w[:, None] * mask
    args = {"old_log_prob": old, "advantages": adv, "response_mask": mask, "loss_agg_mode": "token-mean"}
    (g,) = torch.autograd.grad(policy_loss("geo_mean", log_prob=weighted_log_prob(logp, w), **args)[0], logp)
    (g_plain,) = torch.autograd.grad(policy_loss("geo_mean", log_prob=logp, **args)[0], logp)
    assert torch.allclose(g, g_plain * seq_w[:, None], atol=1e-7)
