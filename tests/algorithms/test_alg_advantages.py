"""Advantage estimators: hand-computed values and the per-element loop references on random batches."""

from __future__ import annotations

import math

import alg_loop_reference as ref
import numpy as np
import pytest
import torch

from rlvr_bench.algorithms import (
    ADVANTAGE_ESTIMATORS,
    advantage_estimator_names,
    compute_advantages,
    register_advantage_estimator,
    scores_to_token_rewards,
)

SEEDS = range(8)
PASS_AT_K = ("grpo_passk", "passk", "pkpo")
"""Need groups of >= 2 (>= k) responses, so not run on random_batch (which has singleton groups); their
common behaviour is checked in test_alg_advantages_2025.py."""


def _outcome(scores: list[float], lengths: list[int], length: int = 4) -> tuple[torch.Tensor, torch.Tensor]:
    mask = torch.zeros(len(scores), length)
    for i, n in enumerate(lengths):
        mask[i, :n] = 1
    return scores_to_token_rewards(torch.tensor(scores), mask), mask


def _tensors(batch: dict, dtype=torch.float64) -> dict:
    return {k: torch.tensor(batch[k], dtype=dtype) for k in ("rewards", "mask", "values", "baselines")}


def test_registry_names():
    assert advantage_estimator_names() == sorted(
        ["gae", "grpo", "reinforce_pp", "reinforce_pp_baseline", "remax", "rloo",
         "grpo_passk", "passk", "pkpo", "opo", "gpg"]  # the last five: advantages_2025
    )


def test_unknown_estimator_lists_valid_ones():
    rewards, mask = _outcome([1.0, 0.0], [2, 2])
    with pytest.raises(ValueError, match="valid: gae, gpg, grpo, grpo_passk, opo, passk, pkpo, reinforce_pp"):
        compute_advantages("ppo", token_level_rewards=rewards, response_mask=mask, group_index=[0, 0])


def test_duplicate_registration_rejected():
    with pytest.raises(ValueError, match="already registered"):
        register_advantage_estimator("grpo", verl_name="grpo")(lambda **kw: kw)
    assert ADVANTAGE_ESTIMATORS["grpo"].fn.__name__ == "grpo_advantage"


def test_grpo_hand_values():
    rewards, mask = _outcome([1.0, 0.0, 0.0, 1.0], [4, 2, 3, 1])
    adv, ret = compute_advantages("grpo", token_level_rewards=rewards, response_mask=mask, group_index=[7] * 4)
    # mean 0.5, unbiased std sqrt(1/3) = 0.57735 -> 0.5 / 0.57735 = 0.8660
    expected = 0.5 / (math.sqrt(1 / 3) + 1e-6)
    assert torch.allclose(adv[:, 0], torch.tensor([expected, -expected, -expected, expected]))
    assert torch.equal(adv, ret)
    assert torch.equal(adv != 0, mask.bool())  # broadcast over exactly the response tokens
    assert abs(expected - 0.866) < 1e-3


def test_dr_grpo_is_grpo_without_std():
    rewards, mask = _outcome([1.0, 0.0, 0.0, 1.0], [4, 4, 4, 4])
    adv, _ = compute_advantages("grpo", token_level_rewards=rewards, response_mask=mask, group_index=[0] * 4,
                                norm_adv_by_std=False)
    assert torch.allclose(adv[:, 0], torch.tensor([0.5, -0.5, -0.5, 0.5]))


def test_rloo_hand_values():
    rewards, mask = _outcome([1.0, 0.0, 0.0, 1.0], [4, 4, 4, 4])
    adv, _ = compute_advantages("rloo", token_level_rewards=rewards, response_mask=mask, group_index=["a"] * 4)
    assert torch.allclose(adv[:, 0], torch.tensor([2 / 3, -2 / 3, -2 / 3, 2 / 3]))


@pytest.mark.parametrize("estimator", ["grpo", "rloo", "reinforce_pp_baseline"])
@pytest.mark.parametrize("value", [0.0, 1.0, 0.3, 0.1])
def test_all_equal_group_gives_exact_zero(estimator, value):
    # 7 x 0.3 has a float mean != 0.3; the advantage must still be exactly 0, never NaN.
    n = 7
    rewards, mask = _outcome([value] * n + [1.0, 0.0], [3] * (n + 2))
    labels = ["same"] * n + ["other", "other"]
    adv, _ = compute_advantages(estimator, token_level_rewards=rewards, response_mask=mask, group_index=labels)
    assert not torch.isnan(adv).any()
    if estimator == "reinforce_pp_baseline":  # whitening shifts the batch mean; the group stays uniform
        assert torch.unique(adv[:n, 0]).numel() == 1
    else:
        assert torch.equal(adv[:n], torch.zeros_like(adv[:n]))


def test_all_equal_batch_gives_zero_not_nan():
    rewards, mask = _outcome([1.0] * 4, [2, 3, 4, 1])
    for estimator in ("grpo", "rloo", "reinforce_pp_baseline", "reinforce_pp"):
        adv, _ = compute_advantages(estimator, token_level_rewards=rewards, response_mask=mask,
                                    group_index=[0, 0, 1, 1])
        assert not torch.isnan(adv).any(), estimator
    adv, _ = compute_advantages("grpo", token_level_rewards=rewards, response_mask=mask, group_index=[0, 0, 1, 1])
    assert torch.equal(adv, torch.zeros_like(adv))


def test_singleton_group_keeps_raw_score():
    rewards, mask = _outcome([0.7, 1.0, 0.0], [2, 2, 2])
    labels = ["alone", "pair", "pair"]
    adv, _ = compute_advantages("grpo", token_level_rewards=rewards, response_mask=mask, group_index=labels)
    assert adv[0, 0].item() == pytest.approx(0.7 / (1 + 1e-6), rel=1e-7)
    adv, _ = compute_advantages("rloo", token_level_rewards=rewards, response_mask=mask, group_index=labels)
    assert adv[0, 0].item() == pytest.approx(0.7)


def test_group_index_forms_agree():
    rewards, mask = _outcome([1.0, 0.0, 0.5, 1.0, 0.0], [4, 3, 2, 1, 4])
    forms = [
        torch.tensor([3, 9, 3, 9, 3]),
        torch.tensor([3, 9, 3, 9, 3], dtype=torch.int32),
        [3, 9, 3, 9, 3],
        ["u", "v", "u", "v", "u"],
        np.array(["u", "v", "u", "v", "u"], dtype=object),  # verl's uid array
        (("p", 1), ("q", 2), ("p", 1), ("q", 2), ("p", 1)),
    ]
    outs = [compute_advantages("grpo", token_level_rewards=rewards, response_mask=mask, group_index=f)[0]
            for f in forms]
    for out in outs[1:]:
        assert torch.equal(out, outs[0])


def test_bad_inputs():
    rewards, mask = _outcome([1.0, 0.0], [2, 2])
    with pytest.raises(ValueError, match="labels but the batch has"):
        compute_advantages("grpo", token_level_rewards=rewards, response_mask=mask, group_index=[0])
    with pytest.raises(ValueError, match="needs group_index"):
        compute_advantages("rloo", token_level_rewards=rewards, response_mask=mask, group_index=None)
    with pytest.raises(ValueError, match="needs values"):
        compute_advantages("gae", token_level_rewards=rewards, response_mask=mask, group_index=None)
    with pytest.raises(ValueError, match="needs reward_baselines"):
        compute_advantages("remax", token_level_rewards=rewards, response_mask=mask, group_index=None)
    with pytest.raises(ValueError, match="response_mask"):
        compute_advantages("grpo", token_level_rewards=rewards, response_mask=mask[:, :1], group_index=[0, 0])
    with pytest.raises(ValueError, match="integer dtype"):
        compute_advantages("grpo", token_level_rewards=rewards, response_mask=mask,
                           group_index=torch.tensor([0.0, 1.0]))


def test_remax_hand_values():
    rewards, mask = _outcome([1.0, 0.0, 1.0], [3, 2, 1])
    adv, ret = compute_advantages("remax", token_level_rewards=rewards, response_mask=mask, group_index=None,
                                  reward_baselines=torch.tensor([0.0, 1.0, 1.0]))
    assert torch.equal(ret, torch.tensor([[1.0, 1, 1, 0], [0, 0, 0, 0], [1, 0, 0, 0]]))
    assert torch.equal(adv, torch.tensor([[1.0, 1, 1, 0], [-1, -1, 0, 0], [0, 0, 0, 0]]))


def test_gae_hand_values():
    # one sequence of 2 valid tokens + padding, gamma = lam = 1, reward 1 on the last token
    rewards = torch.tensor([[0.0, 1.0, 0.0], [1.0, 0.0, 0.0]], dtype=torch.float64)
    values = torch.tensor([[0.5, 0.25, 9.0], [0.2, 9.0, 9.0]], dtype=torch.float64)
    mask = torch.tensor([[1.0, 1.0, 0.0], [1.0, 0.0, 0.0]], dtype=torch.float64)
    adv, ret = compute_advantages("gae", token_level_rewards=rewards, response_mask=mask, group_index=None,
                                  values=values)
    # raw A: seq0 t1 = 1 - 0.25 = 0.75, t0 = 0 + 0.25 - 0.5 + 0.75 = 0.5; seq1 t0 = 1 - 0.2 = 0.8
    raw = torch.tensor([[0.5, 0.75, 0.0], [0.8, 0.0, 0.0]], dtype=torch.float64)
    assert torch.allclose(ret, raw + values)
    valid = torch.tensor([0.5, 0.75, 0.8], dtype=torch.float64)
    whitened = (raw - valid.mean()) / torch.sqrt(valid.var(unbiased=True) + 1e-8)
    assert torch.allclose(adv, whitened)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("norm", [True, False])
def test_grpo_matches_loop(seed, norm):
    b = ref.random_batch(seed)
    t = _tensors(b)
    adv, ret = compute_advantages("grpo", token_level_rewards=t["rewards"], response_mask=t["mask"],
                                  group_index=b["labels"], norm_adv_by_std=norm)
    expected = torch.tensor(ref.grpo(b["rewards"], b["mask"], b["labels"], norm), dtype=torch.float64)
    assert torch.allclose(adv, expected, atol=1e-9)
    assert torch.equal(adv, ret)


@pytest.mark.parametrize("seed", SEEDS)
def test_grpo_matches_torch_std_per_group_in_float32(seed):
    """verl computes torch.std per group in float32; agree to float32 rounding."""
    b = ref.random_batch(seed, dense=True)
    t = _tensors(b, torch.float32)
    adv, _ = compute_advantages("grpo", token_level_rewards=t["rewards"], response_mask=t["mask"],
                                group_index=b["labels"])
    scores = t["rewards"].sum(-1)
    expected = torch.empty_like(scores)
    for idx in ref.members(b["labels"]).values():
        group = scores[idx]
        mean, std = (0.0, 1.0) if len(idx) == 1 else (group.mean(), torch.std(group))
        expected[idx] = (group - mean) / (std + 1e-6)
    assert torch.allclose(adv[:, 0], expected, atol=1e-5, rtol=1e-5)  # every response has token 0


@pytest.mark.parametrize("seed", SEEDS)
def test_rloo_matches_loop(seed):
    b = ref.random_batch(seed, dense=True)
    t = _tensors(b)
    adv, _ = compute_advantages("rloo", token_level_rewards=t["rewards"], response_mask=t["mask"],
                                group_index=b["labels"])
    expected = torch.tensor(ref.rloo(b["rewards"], b["mask"], b["labels"]), dtype=torch.float64)
    assert torch.allclose(adv, expected, atol=1e-9)


@pytest.mark.parametrize("seed", SEEDS)
def test_reinforce_pp_baseline_matches_loop(seed):
    b = ref.random_batch(seed)
    t = _tensors(b)
    adv, ret = compute_advantages("reinforce_pp_baseline", token_level_rewards=t["rewards"],
                                  response_mask=t["mask"], group_index=b["labels"])
    expected = torch.tensor(ref.reinforce_pp_baseline(b["rewards"], b["mask"], b["labels"]), dtype=torch.float64)
    assert torch.allclose(adv, expected, atol=1e-7)
    assert torch.equal(adv, ret)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("gamma", [1.0, 0.9])
def test_reinforce_pp_matches_loop(seed, gamma):
    b = ref.random_batch(seed, dense=True, holes=seed % 2 == 1)
    t = _tensors(b)
    adv, ret = compute_advantages("reinforce_pp", token_level_rewards=t["rewards"], response_mask=t["mask"],
                                  group_index=None, gamma=gamma)
    exp_adv, exp_ret = ref.reinforce_pp(b["rewards"], b["mask"], gamma)
    assert torch.allclose(ret, torch.tensor(exp_ret, dtype=torch.float64), atol=1e-12)
    assert torch.allclose(adv, torch.tensor(exp_adv, dtype=torch.float64), atol=1e-7)


@pytest.mark.parametrize("seed", SEEDS)
def test_remax_matches_loop(seed):
    b = ref.random_batch(seed, dense=True)
    t = _tensors(b)
    adv, ret = compute_advantages("remax", token_level_rewards=t["rewards"], response_mask=t["mask"],
                                  group_index=b["labels"], reward_baselines=t["baselines"])
    exp_adv, exp_ret = ref.remax(b["rewards"], b["mask"], b["baselines"])
    assert torch.allclose(ret, torch.tensor(exp_ret, dtype=torch.float64), atol=1e-12)
    assert torch.allclose(adv, torch.tensor(exp_adv, dtype=torch.float64), atol=1e-12)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize(("gamma", "lam"), [(1.0, 1.0), (0.99, 0.95)])
def test_gae_matches_loop(seed, gamma, lam):
    b = ref.random_batch(seed, dense=True, holes=seed % 2 == 0)
    t = _tensors(b)
    adv, ret = compute_advantages("gae", token_level_rewards=t["rewards"], response_mask=t["mask"],
                                  group_index=None, values=t["values"], gamma=gamma, lam=lam)
    exp_adv, exp_ret = ref.gae(b["rewards"], b["values"], b["mask"], gamma, lam)
    assert torch.allclose(ret, torch.tensor(exp_ret, dtype=torch.float64), atol=1e-12)
    assert torch.allclose(adv, torch.tensor(exp_adv, dtype=torch.float64), atol=1e-7)


def test_no_gradient_and_inputs_untouched():
    b = ref.random_batch(3)
    t = _tensors(b)
    rewards = t["rewards"].clone().requires_grad_(True)
    before = rewards.detach().clone()
    for name in (n for n in advantage_estimator_names() if n not in PASS_AT_K):
        adv, ret = compute_advantages(name, token_level_rewards=rewards, response_mask=t["mask"],
                                      group_index=b["labels"], values=t["values"],
                                      reward_baselines=t["baselines"])
        assert not adv.requires_grad and not ret.requires_grad
        assert adv.dtype == torch.float64
    assert torch.equal(rewards.detach(), before)


def test_bool_mask_accepted():
    b = ref.random_batch(5)
    t = _tensors(b)
    for name in (n for n in advantage_estimator_names() if n not in PASS_AT_K):
        kw = dict(group_index=b["labels"], values=t["values"], reward_baselines=t["baselines"])
        a1, r1 = compute_advantages(name, token_level_rewards=t["rewards"], response_mask=t["mask"], **kw)
        a2, r2 = compute_advantages(name, token_level_rewards=t["rewards"], response_mask=t["mask"].bool(), **kw)
        assert torch.equal(a1, a2) and torch.equal(r1, r2), name
