"""Loss aggregation, the clipped policy loss, the critic loss and the KL estimators."""

from __future__ import annotations

import math

import alg_loop_reference as ref
import pytest
import torch

from rlvr_bench.algorithms import (
    KL_KINDS,
    LOSS_AGG_MODES,
    agg_loss,
    apply_kl_in_reward,
    canonical_kl_kind,
    kl_loss,
    kl_penalty,
    policy_loss,
    policy_loss_names,
    register_policy_loss,
    value_loss,
)

SEEDS = range(6)


def _random(seed: int, scale: float = 0.3) -> dict:
    b = ref.random_batch(seed, holes=seed % 3 == 0)
    g = torch.Generator().manual_seed(seed)
    shape = (len(b["mask"]), len(b["mask"][0]))
    mask = torch.tensor(b["mask"], dtype=torch.float64)
    mask[0] = 0.0  # a fully masked row must be excluded from the seq-mean modes
    return {
        "mask": mask,
        "old": -torch.rand(shape, generator=g, dtype=torch.float64) * 3,
        "delta": torch.randn(shape, generator=g, dtype=torch.float64) * scale,
        "adv": torch.randn(shape, generator=g, dtype=torch.float64),
        "x": torch.randn(shape, generator=g, dtype=torch.float64),
    }


# ---------------------------------------------------------------- aggregation


def test_agg_hand_values():
    loss = torch.tensor([[1.0, 2.0, 3.0, 4.0], [10.0, 0.0, 0.0, 0.0]])
    mask = torch.tensor([[1, 1, 1, 0], [1, 0, 0, 0]])
    assert agg_loss(loss, mask, "token-mean").item() == pytest.approx(16 / 4)
    assert agg_loss(loss, mask, "seq-mean-token-mean").item() == pytest.approx((2 + 10) / 2)
    assert agg_loss(loss, mask, "seq-mean-token-sum").item() == pytest.approx((6 + 10) / 2)
    assert agg_loss(loss, mask, "seq-mean-token-sum-norm").item() == pytest.approx(16 / 4)  # T = 4
    assert agg_loss(loss, mask, "seq-mean-token-sum-norm", loss_scale_factor=8).item() == pytest.approx(2)
    assert agg_loss(loss, mask, "token-mean", batch_num_tokens=8, dp_size=2).item() == pytest.approx(4)
    assert agg_loss(loss, mask, "seq-mean-token-sum", global_batch_size=4).item() == pytest.approx(4)


def test_agg_unknown_mode():
    with pytest.raises(ValueError, match="valid: token-mean"):
        agg_loss(torch.ones(1, 2), torch.ones(1, 2), "mean")


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("mode", LOSS_AGG_MODES)
def test_agg_matches_loop(seed, mode):
    d = _random(seed)
    expected = ref.agg(ref.to_lists(d["x"]), ref.to_lists(d["mask"]), mode)
    assert agg_loss(d["x"], d["mask"], mode).item() == pytest.approx(expected, abs=1e-9)


# ---------------------------------------------------------------- policy loss


def test_policy_loss_registry():
    assert "vanilla" in policy_loss_names()
    with pytest.raises(ValueError, match="valid: .*vanilla"):
        policy_loss("nope", old_log_prob=torch.zeros(1, 1), log_prob=torch.zeros(1, 1),
                    advantages=torch.zeros(1, 1), response_mask=torch.ones(1, 1), loss_agg_mode="token-mean")
    with pytest.raises(ValueError, match="already registered"):
        register_policy_loss("vanilla")(lambda **kw: kw)


def _vanilla(old, new, adv, mask, mode="token-mean", **kw):
    return policy_loss("vanilla", old_log_prob=old, log_prob=new, advantages=adv, response_mask=mask,
                       loss_agg_mode=mode, **kw)


def test_vanilla_hand_values():
    mask = torch.ones(1, 5)
    adv = torch.tensor([[1.0, 1.0, -1.0, -1.0, -1.0]])
    ratio = torch.tensor([[1.5, 0.5, 1.5, 0.5, 5.0]])
    old = torch.zeros(1, 5)
    new = torch.log(ratio)
    loss, metrics = _vanilla(old, new, adv, mask, clip_ratio_low=0.2, clip_ratio_high=0.28)
    # A>0: max(-1.5, -1.28) = -1.28 (clipped high); max(-0.5, -0.8) = -0.5 (unclipped)
    # A<0: max(1.5, 1.28) = 1.5; max(0.5, 0.8) = 0.8 (clipped low); ratio 5: min(max(5, 1.28), 3) = 3 (dual)
    expected = [-1.28, -0.5, 1.5, 0.8, 3.0]
    assert loss.item() == pytest.approx(sum(expected) / 5, rel=1e-6)
    assert metrics["pg_clipfrac"] == pytest.approx(2 / 5)
    assert metrics["pg_clipfrac_lower"] == pytest.approx(1 / 5)
    assert metrics["ppo_kl"] == pytest.approx(-torch.log(ratio).mean().item(), rel=1e-6)
    off, off_metrics = _vanilla(old, new, adv, mask, clip_ratio_low=0.2, clip_ratio_high=0.28, clip_ratio_c=None)
    assert off.item() == pytest.approx((sum(expected) - 3.0 + 5.0) / 5, rel=1e-6)
    assert off_metrics["pg_clipfrac_lower"] == 0.0


def test_vanilla_on_policy_gradient_is_reinforce():
    """At ratio 1 the loss is -mean(A) and its gradient w.r.t. log_prob is -A / N."""
    adv = torch.tensor([[2.0, -1.0, 0.5]])
    mask = torch.tensor([[1.0, 1.0, 0.0]])
    log_prob = torch.tensor([[-1.0, -2.0, -0.5]], requires_grad=True)
    loss, metrics = _vanilla(log_prob.detach(), log_prob, adv, mask)
    loss.backward()
    assert loss.item() == pytest.approx(-0.5)
    assert torch.allclose(log_prob.grad, torch.tensor([[-1.0, 0.5, 0.0]]))
    assert metrics == {"pg_clipfrac": 0.0, "ppo_kl": 0.0, "pg_clipfrac_lower": 0.0}


def test_vanilla_rejects_bad_dual_clip_and_shapes():
    z = torch.zeros(2, 3)
    with pytest.raises(ValueError, match="clip_ratio_c"):
        _vanilla(z, z, z, torch.ones(2, 3), clip_ratio_c=1.0)
    with pytest.raises(ValueError, match="response_length"):
        _vanilla(z, z, z[:, :2], torch.ones(2, 3))


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("mode", LOSS_AGG_MODES)
@pytest.mark.parametrize(("lo", "hi", "c"), [(0.2, 0.2, 3.0), (0.2, 0.28, 10.0), (0.1, 0.3, None)])
def test_vanilla_matches_loop(seed, mode, lo, hi, c):
    d = _random(seed, scale=1.0)  # large log-ratio changes so that every branch is hit
    new = d["old"] + d["delta"]
    loss, metrics = _vanilla(d["old"], new, d["adv"], d["mask"], mode, clip_ratio_low=lo, clip_ratio_high=hi,
                             clip_ratio_c=c)
    old_l, new_l, adv_l, mask_l = (ref.to_lists(t) for t in (d["old"], new, d["adv"], d["mask"]))
    token = [[ref.vanilla_token_loss(old_l[i][t], new_l[i][t], adv_l[i][t], lo, hi, c)
              for t in range(len(old_l[i]))] for i in range(len(old_l))]
    assert loss.item() == pytest.approx(ref.agg(token, mask_l, mode), abs=1e-9)
    n = sum(map(sum, mask_l))
    clipped = lower = 0.0
    for i in range(len(old_l)):
        for t in range(len(old_l[i])):
            if not mask_l[i][t]:
                continue
            ratio = math.exp(new_l[i][t] - old_l[i][t])
            a = adv_l[i][t]
            clipped += -a * min(max(ratio, 1 - lo), 1 + hi) > -a * ratio
            lower += c is not None and a < 0 and max(-a * ratio, -a * min(max(ratio, 1 - lo), 1 + hi)) > -a * c
    assert metrics["pg_clipfrac"] == pytest.approx(clipped / n, abs=1e-9)
    assert metrics["pg_clipfrac_lower"] == pytest.approx(lower / n, abs=1e-9)


def test_vanilla_log_ratio_clamped():
    old = torch.zeros(1, 2)
    new = torch.tensor([[50.0, -50.0]])
    adv = torch.tensor([[1.0, -1.0]])
    loss, metrics = _vanilla(old, new, adv, torch.ones(1, 2), clip_ratio_c=None)
    assert math.isfinite(loss.item())
    assert metrics["ppo_kl"] == pytest.approx(0.0)  # clamped to +-20 on both tokens


# ---------------------------------------------------------------- value loss


def test_value_loss_hand_values():
    vpreds = torch.tensor([[1.0, 0.0]])
    values = torch.tensor([[0.0, 0.0]])
    returns = torch.tensor([[2.0, -1.0]])
    loss, clipfrac = value_loss(vpreds, returns, values, torch.ones(1, 2), 0.5, "token-mean")
    # t0: clip(1) = 0.5 -> max(1, 2.25) = 2.25 (clipped); t1: max(1, 1) = 1
    assert loss.item() == pytest.approx(0.5 * (2.25 + 1) / 2)
    assert clipfrac == pytest.approx(0.5)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("mode", LOSS_AGG_MODES)
def test_value_loss_matches_loop(seed, mode):
    d = _random(seed, scale=1.0)
    vpreds, returns, values = d["x"], d["adv"], d["x"] + d["delta"]
    loss, clipfrac = value_loss(vpreds, returns, values, d["mask"], 0.2, mode)
    v, r, vo, m = (ref.to_lists(t) for t in (vpreds, returns, values, d["mask"]))
    token = [[ref.value_token_loss(v[i][t], r[i][t], vo[i][t], 0.2) for t in range(len(v[i]))]
             for i in range(len(v))]
    assert loss.item() == pytest.approx(0.5 * ref.agg(token, m, mode), abs=1e-9)
    assert 0.0 <= clipfrac <= 1.0


# ---------------------------------------------------------------- KL


def test_kl_hand_values():
    lp, rp = torch.tensor([math.log(0.5)]), torch.tensor([math.log(0.25)])
    x = math.log(2.0)
    assert kl_penalty(lp, rp, "k1").item() == pytest.approx(x)
    assert kl_penalty(lp, rp, "k2").item() == pytest.approx(0.5 * x * x)
    assert kl_penalty(lp, rp, "k3").item() == pytest.approx(0.5 + x - 1)  # r = p_ref / p = 0.5
    assert kl_penalty(lp, rp, "abs").item() == pytest.approx(x)


def test_kl_aliases():
    assert canonical_kl_kind("kl") == "k1" and canonical_kl_kind("mse") == "k2"
    assert canonical_kl_kind("low_var_kl") == "k3" and canonical_kl_kind("low_var_kl+") == "k3+"
    with pytest.raises(ValueError, match="valid:"):
        kl_penalty(torch.zeros(1), torch.zeros(1), "k4")
    lp, rp = torch.randn(3, 4, dtype=torch.float64), torch.randn(3, 4, dtype=torch.float64)
    for alias, name in (("kl", "k1"), ("mse", "k2"), ("low_var_kl", "k3")):
        assert torch.equal(kl_penalty(lp, rp, alias), kl_penalty(lp, rp, name))
    assert set(KL_KINDS) >= {"k1", "k2", "k3", "kl", "mse", "low_var_kl", "k3+"}


@pytest.mark.parametrize("kind", ["k1", "k2", "k3", "abs"])
def test_kl_matches_loop_including_clamps(kind):
    g = torch.Generator().manual_seed(1)
    lp = torch.randn(4, 6, generator=g, dtype=torch.float64) * 8  # large gaps hit the k3 clamps
    rp = torch.randn(4, 6, generator=g, dtype=torch.float64) * 8
    out = kl_penalty(lp, rp, kind)
    expected = [[ref.kl(a, b, kind) for a, b in zip(ra, rb)] for ra, rb in zip(lp.tolist(), rp.tolist())]
    assert torch.allclose(out, torch.tensor(expected, dtype=torch.float64), atol=1e-12)
    if kind == "k3":
        assert out.max().item() == 10.0 and out.min().item() >= 0.0


def test_kl_straight_through_plus():
    lp = torch.tensor([-1.0, -2.0], requires_grad=True)
    rp = torch.tensor([-1.5, -1.0])
    out = kl_penalty(lp, rp, "k3+")
    assert torch.allclose(out, kl_penalty(lp.detach(), rp, "k3"))
    out.sum().backward()
    assert torch.allclose(lp.grad, (lp - rp).detach())  # gradient of k2 = x


def test_kl_loss_and_in_reward():
    lp = torch.tensor([[-1.0, -2.0, -3.0]])
    rp = torch.tensor([[-1.5, -1.0, -3.0]])
    mask = torch.tensor([[1.0, 1.0, 0.0]])
    kld = kl_penalty(lp, rp, "k1")
    assert kl_loss(lp, rp, mask, "k1", "token-mean").item() == pytest.approx((0.5 - 1.0) / 2)
    scores = torch.tensor([[0.0, 1.0, 7.0]])
    rewards = apply_kl_in_reward(scores, kld, mask, beta=0.1)
    assert torch.allclose(rewards, torch.tensor([[-0.05, 1.1, 7.0]]))
    with pytest.raises(ValueError, match="share"):
        apply_kl_in_reward(scores, kld[:, :2], mask, beta=0.1)
