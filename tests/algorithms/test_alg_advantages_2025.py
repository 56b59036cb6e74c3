"""The 2025 advantage estimators (grpo_passk, passk, pkpo, opo, gpg): registry entries, hand values, the loop
references on random groups, the pass@k properties, k validation and recipe validation. verl parity of
grpo_passk, opo and gpg is in ``test_alg_advantages_2025_verl.py``."""

from __future__ import annotations

import math
import random
import statistics

import alg_loop_reference as ref
import pytest
import torch

from rlvr_bench.algorithms import advantage_estimator_spec, compute_advantages, scores_to_token_rewards
from rlvr_bench.algorithms.advantages_2025 import PASSK_CORRECT_THRESHOLD

NEW = ("grpo_passk", "passk", "pkpo", "opo", "gpg")
SEEDS = range(8)


def _outcome(scores: list[float], lengths: list[int] | None = None, length: int = 4):
    lengths = lengths or [length] * len(scores)
    mask = torch.zeros(len(scores), length, dtype=torch.float64)
    for i, n in enumerate(lengths):
        mask[i, :n] = 1
    return scores_to_token_rewards(torch.tensor(scores, dtype=torch.float64), mask), mask


def _adv(name: str, scores: list[float], labels=None, lengths=None, **kw) -> list[float]:
    rewards, mask = _outcome(scores, lengths)
    labels = [0] * len(scores) if labels is None else labels
    adv, ret = compute_advantages(name, token_level_rewards=rewards, response_mask=mask, group_index=labels, **kw)
    assert torch.equal(adv, ret)
    return adv[:, 0].tolist()  # every response has token 0


def random_groups(seed: int, min_size: int = 2, binary: bool = False) -> dict:
    """Groups of min_size..7 responses (shuffled labels), right-padded lengths 1..T, outcome rewards in
    {0, 0.5, 1} (ties) or {0, 1}, on the last valid token, plus small dense rewards on odd seeds (continuous
    scores)."""
    rng = random.Random(seed)
    sizes = [rng.randint(min_size, 7) for _ in range(rng.randint(2, 5))]
    labels = [f"p{g}" for g, n in enumerate(sizes) for _ in range(n)]
    rng.shuffle(labels)
    bs, length = len(labels), rng.randint(2, 7)
    mask = [[0.0] * length for _ in range(bs)]
    rewards = [[0.0] * length for _ in range(bs)]
    for i in range(bs):
        n = rng.randint(1, length)
        for t in range(n):
            mask[i][t] = 1.0
            if seed % 2 == 1 and not binary:
                rewards[i][t] = rng.uniform(-0.1, 0.1)
        rewards[i][n - 1] += rng.choice([0.0, 1.0] if binary else [0.0, 1.0, 1.0, 0.5])
    return {"labels": labels, "mask": mask, "rewards": rewards, "min_size": min(sizes)}


def _run(name: str, b: dict, **kw) -> tuple[torch.Tensor, torch.Tensor]:
    return compute_advantages(name, token_level_rewards=torch.tensor(b["rewards"], dtype=torch.float64),
                              response_mask=torch.tensor(b["mask"], dtype=torch.float64),
                              group_index=b["labels"], **kw)[0], torch.tensor(b["mask"], dtype=torch.float64)


# ---------------------------------------------------------------- registry


def test_registry_entries():
    verl = {"grpo_passk": "grpo_passk", "opo": "opo", "gpg": "gpg", "passk": None, "pkpo": None}
    for name in NEW:
        spec = advantage_estimator_spec(name)
        assert spec.verl_name == verl[name]
        assert (spec.verl_missing_reason is None) == (verl[name] is not None)
        assert spec.min_group_size == 2 and not spec.needs_values and not spec.needs_greedy_baseline
        assert "arXiv" in spec.fn.__doc__ and "(bs, T)" in spec.fn.__doc__
    for name in ("passk", "pkpo"):
        k = advantage_estimator_spec(name).params["k"]
        assert (k.default, k.integer, k.at_most_group_size, k.verl_key, k.ge) == (4, True, True, None, 1)
        assert k.problem(16, group_size=8) == "is larger than the group size rollout.n = 8"
        assert k.problem(2.5) == "must be a whole number" and k.problem(0) is not None
    assert dict(advantage_estimator_spec("grpo_passk").knobs) == {"norm_adv_by_std": True, "eps": 1e-6}
    assert all(not advantage_estimator_spec(n).params for n in ("grpo_passk", "opo", "gpg"))


# ---------------------------------------------------------------- hand values


def test_passk_hand_values():
    # N = 4, 1 correct (N_neg = 3), k = 2: R = 1 - C(3,2)/C(4,2) = 1 - 3/6 = 1/2, sigma = sqrt(1/4) = 1/2;
    # A_pos = (1 - 1/2) / (1/2) = 1; A_neg = (1 - 1/2 - C(2,1)/C(3,1)) / (1/2) = (1/2 - 2/3) * 2 = -1/3
    assert _adv("passk", [1.0, 0.0, 0.0, 0.0], k=2) == pytest.approx([1.0, -1 / 3, -1 / 3, -1 / 3], abs=1e-12)
    # N = 4, 2 correct, k = 2: R = 1 - C(2,2)/C(4,2) = 5/6, sigma = sqrt(5/36) = sqrt(5)/6;
    # A_pos = (1/6) / (sqrt(5)/6) = 1/sqrt(5); A_neg = (1/6 - C(1,1)/C(3,1)) / (sqrt(5)/6) = -1/sqrt(5)
    r5 = 1 / math.sqrt(5)
    assert _adv("passk", [0.0, 1.0, 1.0, 0.0], k=2) == pytest.approx([-r5, r5, r5, -r5], abs=1e-12)
    # default k = 4 on N = 8 with 3 correct: R = 1 - C(5,4)/C(8,4) = 1 - 5/70 = 13/14
    r = 13 / 14
    sigma = math.sqrt(r * (1 - r))
    neg = (1 - r - math.comb(4, 3) / math.comb(7, 3)) / sigma
    assert _adv("passk", [1.0] * 3 + [0.0] * 5) == pytest.approx([(1 - r) / sigma] * 3 + [neg] * 5, abs=1e-12)


def test_passk_correctness_threshold():
    assert PASSK_CORRECT_THRESHOLD == 0.5
    # 0.5 is wrong, 0.51 correct; an in-reward KL shift (+-0.01) never flips a verdict
    assert _adv("passk", [0.51, 0.5, 0.01, -0.3], k=2) == _adv("passk", [1.0, 0.0, 0.0, 0.0], k=2)
    assert _adv("passk", [0.99, -0.01, 0.02, 0.0], k=2) == _adv("passk", [1.0, 0.0, 0.0, 0.0], k=2)


def test_pkpo_hand_values():
    # binary, N = 4, 1 correct, k = 2: the (k-1) = 1-subsets J of the 3 others are all wrong, so the correct
    # response gains (1 - 0)^+ = 1 on each: A = 3/3 = 1 = C(N_neg, k-1)/C(N-1, k-1) = C(3,1)/C(3,1);
    # a wrong response never raises a max: A = 0
    assert _adv("pkpo", [1.0, 0.0, 0.0, 0.0], k=2) == [1.0, 0.0, 0.0, 0.0]
    # 2 correct, k = 2: a correct one gains on the 2 wrong of its 3 others: 2/3
    assert _adv("pkpo", [0.0, 1.0, 1.0, 0.0], k=2) == pytest.approx([0.0, 2 / 3, 2 / 3, 0.0], abs=1e-15)
    # N = 5, 1 correct, k = 3: J ranges over the C(4,2) = 6 pairs of the others, all wrong: A = 6/6 = 1
    assert _adv("pkpo", [0.0, 0.0, 1.0, 0.0, 0.0], k=3) == [0.0, 0.0, 1.0, 0.0, 0.0]
    # continuous g = (0.2, 0.5, 0.9), k = 2: A_i = mean over the other j of (g_i - g_j)^+
    #   0.2 -> 0;  0.5 -> (0.3 + 0) / 2 = 0.15;  0.9 -> (0.7 + 0.4) / 2 = 0.55
    assert _adv("pkpo", [0.2, 0.5, 0.9], k=2) == pytest.approx([0.0, 0.15, 0.55], abs=1e-12)
    # k = 3 = n: only the best gains, over the max of the two others: 0.9 - 0.5
    assert _adv("pkpo", [0.2, 0.5, 0.9], k=3) == pytest.approx([0.0, 0.0, 0.4], abs=1e-12)


def test_grpo_passk_hand_values():
    # r_max - r_second = 1 - 0; unbiased std of (1, 0, 0, 0) = sqrt(1/4 * 4/3 ... ) = 0.5 -> 1 / (0.5 + 1e-6)
    assert _adv("grpo_passk", [0.0, 1.0, 0.0, 0.0]) == pytest.approx([0.0, 1 / (0.5 + 1e-6), 0.0, 0.0], rel=1e-12)
    assert _adv("grpo_passk", [0.0, 1.0, 0.0, 0.0], norm_adv_by_std=False) == [0.0, 1.0, 0.0, 0.0]
    assert _adv("grpo_passk", [1.0, 0.0, 1.0, 0.0]) == [0.0] * 4  # tied best: r_max - r_second = 0
    sd = statistics.stdev([0.2, 0.9, 0.5])
    assert _adv("grpo_passk", [0.2, 0.9, 0.5]) == pytest.approx([0.0, 0.4 / (sd + 1e-6), 0.0], rel=1e-12)


def test_opo_hand_values():
    # lengths 2, 4, 1; b = (2*1 + 4*0 + 1*1) / 7 = 3/7; the singleton "b" group has b = 0
    out = _adv("opo", [1.0, 0.0, 1.0, 0.7], labels=["a", "a", "a", "b"], lengths=[2, 4, 1, 3])
    assert out == pytest.approx([4 / 7, -3 / 7, 4 / 7, 0.7], abs=1e-12)
    # equal lengths: the plain group mean (Dr. GRPO's advantage)
    assert _adv("opo", [1.0, 0.0, 0.0, 0.0]) == pytest.approx([0.75, -0.25, -0.25, -0.25], abs=1e-12)


def test_gpg_hand_values():
    # bs 4, one non-zero score: alpha = 4 / 1 = 4; group means 0.5 and 0 -> 4 * (+-0.5), 0
    assert _adv("gpg", [1.0, 0.0, 0.0, 0.0], labels=[0, 0, 1, 1]) == [2.0, -2.0, 0.0, 0.0]
    # no non-zero score: alpha = bs / max(0, 1) = bs, the advantages are 0 anyway
    assert _adv("gpg", [0.0, 0.0], labels=[0, 0]) == [0.0, 0.0]
    # a singleton keeps alpha * s (mean 0), alpha = 3 / 2
    assert _adv("gpg", [1.0, 1.0, 0.0], labels=["x", "y", "y"]) == pytest.approx([1.5, 0.75, -0.75])


def test_opo_empty_group_is_zero_not_nan():
    rewards = torch.tensor([[0.0, 0.0, 0.0], [1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 0.0]])
    mask = torch.tensor([[0.0, 0.0, 0.0], [0.0, 0.0, 0.0], [1.0, 1.0, 0.0], [1.0, 1.0, 1.0]])
    adv, _ = compute_advantages("opo", token_level_rewards=rewards, response_mask=mask, group_index=[0, 0, 1, 1])
    # group 0 has no response token (verl: 0/0 = NaN everywhere); group 1: b = (2*1 + 3*0) / 5 = 0.4
    assert not torch.isnan(adv).any()
    assert torch.allclose(adv, torch.tensor([[0.0] * 3, [0.0] * 3, [0.6, 0.6, 0.0], [-0.4] * 3]))


# ---------------------------------------------------------------- loop references on random groups


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("norm", [True, False])
def test_grpo_passk_matches_loop(seed, norm):
    b = random_groups(seed)
    adv, mask = _run("grpo_passk", b, norm_adv_by_std=norm)
    expected = ref.grpo_passk(b["rewards"], b["mask"], b["labels"], norm)
    assert torch.allclose(adv, torch.tensor(expected, dtype=torch.float64), atol=1e-9)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("name", ["passk", "pkpo"])
def test_pass_at_k_estimators_match_loop(seed, name):
    b = random_groups(seed, min_size=1 if name == "pkpo" else 2)
    loop = getattr(ref, name)
    for k in range(1, b["min_size"] + 1):
        adv, _ = _run(name, b, k=k)
        expected = loop(b["rewards"], b["mask"], b["labels"], k)
        assert torch.allclose(adv, torch.tensor(expected, dtype=torch.float64), atol=1e-12), k


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("name", ["opo", "gpg"])
def test_opo_gpg_match_loop(seed, name):
    b = ref.random_batch(seed, dense=seed % 2 == 1)  # includes singleton groups
    adv, _ = _run(name, b)
    expected = getattr(ref, name)(b["rewards"], b["mask"], b["labels"])
    assert torch.allclose(adv, torch.tensor(expected, dtype=torch.float64), atol=1e-12)


# ---------------------------------------------------------------- pass@k properties


@pytest.mark.parametrize("k", [1, 2, 3, 4, 6])
def test_pass_at_k_zero_when_the_groups_pass_at_k_is_0_or_1(k):
    n = 6
    for name in ("passk", "pkpo"):
        assert _adv(name, [0.0] * n, k=k) == [0.0] * n, name  # pass@k = 0: all wrong
        assert _adv(name, [1.0] * n, k=k) == [0.0] * n, name  # pass@k = 1: all correct
    for n_neg in range(1, k):  # fewer than k wrong: every k-subset holds a correct response, R = 1
        scores = [1.0] * (n - n_neg) + [0.0] * n_neg
        assert _adv("passk", scores, k=k) == [0.0] * n
        if n_neg < k - 1:  # pkpo: every (k-1)-subset of the others holds a correct one too
            assert _adv("pkpo", scores, k=k) == [0.0] * n


def test_pkpo_with_k_minus_1_wrong_still_rewards_the_correct():
    """Pass@k estimate 1 but the unbiased gradient is not 0: the (k-1) wrong ones can fill a subset."""
    k, scores = 3, [1.0, 1.0, 1.0, 0.0, 0.0]  # N = 5, N_neg = 2 = k - 1
    # a correct response gains only with J = the 2 wrong: 1 of C(4,2) = 6 subsets
    assert _adv("pkpo", scores, k=k) == pytest.approx([1 / 6] * 3 + [0.0] * 2)
    assert _adv("passk", scores, k=k) == [0.0] * 5


def test_pkpo_limits():
    for seed in (1, 2, 3):
        b = random_groups(seed, min_size=2)
        adv1, _ = _run("pkpo", b, k=1)
        rloo, _ = _run("rloo", b)
        assert torch.allclose(adv1, rloo, atol=1e-12)  # k = 1: RLOO
    same = {"labels": [0] * 5, "mask": [[1.0]] * 5, "rewards": [[0.3], [0.9], [0.1], [0.9], [0.4]]}
    full, _ = _run("pkpo", same, k=5)
    passk_unnormed, _ = _run("grpo_passk", same, norm_adv_by_std=False)
    assert torch.equal(full, passk_unnormed)  # k = n: grpo_passk without the std (tied best: 0)
    same["rewards"][1] = [0.95]
    full, _ = _run("pkpo", same, k=5)
    passk_unnormed, _ = _run("grpo_passk", same, norm_adv_by_std=False)
    assert torch.allclose(full, passk_unnormed, atol=1e-15) and full[1, 0] == pytest.approx(0.05)


def test_passk_with_k_1_is_grpo_with_the_biased_std():
    scores = [1.0, 0.0, 0.0, 1.0, 1.0]
    p = 3 / 5
    sigma = math.sqrt(p * (1 - p))
    expected = [(s - p) / sigma for s in scores]
    assert _adv("passk", scores, k=1) == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize(("n", "k", "p"), [(6, 3, 0.3), (5, 2, 0.7), (4, 4, 0.2), (7, 1, 0.5)])
def test_pkpo_policy_gradient_is_unbiased_for_pass_at_k_over_k(n, k, p):
    """Bernoulli(p) bandit: E[(1/n) sum_i A_i d/dp log P(x_i)] = (1/k) d/dp (1 - (1 - p)^k) = (1 - p)^(k-1),
    summed exactly over the number c of correct responses."""
    total = 0.0
    for c in range(n + 1):
        scores = [1.0] * c + [0.0] * (n - c)
        adv = _adv("pkpo", scores, k=k)
        score_fn = [1 / p if x else -1 / (1 - p) for x in scores]
        estimate = sum(a * g for a, g in zip(adv, score_fn)) / n
        total += math.comb(n, c) * p**c * (1 - p) ** (n - c) * estimate
    assert total == pytest.approx((1 - p) ** (k - 1), rel=1e-12)


# ---------------------------------------------------------------- k and group-size validation


@pytest.mark.parametrize("name", ["passk", "pkpo"])
def test_invalid_k_raises_through_compute_advantages(name):
    rewards, mask = _outcome([1.0, 0.0, 0.0, 1.0])
    kw = dict(token_level_rewards=rewards, response_mask=mask, group_index=[0, 0, 1, 1])
    for bad in (0, -1, 2.5, True, "2"):
        with pytest.raises(ValueError, match="k must be a whole number >= 1"):
            compute_advantages(name, k=bad, **kw)
    with pytest.raises(ValueError, match="k = 3 is larger than a group of 2 responses"):
        compute_advantages(name, k=3, **kw)
    with pytest.raises(ValueError, match="k = 4 is larger than a group of 2"):  # the default k
        compute_advantages(name, **kw)
    with pytest.raises(ValueError, match=f"{name!r} has no parameter kk; its parameters: k"):
        compute_advantages(name, kk=2, **kw)
    with pytest.raises(ValueError, match="needs group_index"):
        compute_advantages(name, k=1, token_level_rewards=rewards, response_mask=mask, group_index=None)
    two, _ = compute_advantages(name, k=2.0, **kw)  # a whole float is accepted
    assert torch.equal(two, compute_advantages(name, k=2, **kw)[0])


def test_grpo_passk_needs_two_per_group_and_no_k():
    rewards, mask = _outcome([1.0, 0.0, 0.5])
    with pytest.raises(ValueError, match=r"grpo_passk.*at least 2 responses per group; group 1 .* has 1"):
        compute_advantages("grpo_passk", token_level_rewards=rewards, response_mask=mask, group_index=[0, 0, 1])
    with pytest.raises(ValueError, match="has no parameter k"):
        compute_advantages("grpo_passk", token_level_rewards=rewards, response_mask=mask, group_index=[0] * 3, k=2)


def _rl(algorithm: dict, n: int = 8) -> dict:
    return {"method": "rl", "model": {"name_or_path": "toy:base"}, "data": {"source": "toy"},
            "rollout": {"n": n}, "algorithm": algorithm}


def test_recipe_validation_of_k():
    from rlvr_bench.config import ConfigError, config_from_dict

    with pytest.raises(ConfigError) as err:
        config_from_dict(_rl({"adv_estimator": "passk", "knobs": {"k": 16}}), source="r.yaml")
    msg = str(err.value)
    assert "\n" not in msg
    assert msg == "r.yaml: 'algorithm.knobs.k' = 16 is larger than the group size rollout.n = 8"
    with pytest.raises(ConfigError, match="'algorithm.knobs.k' = 2.5 must be a whole number"):
        config_from_dict(_rl({"adv_estimator": "pkpo", "knobs": {"k": 2.5}}), source="r.yaml")
    with pytest.raises(ConfigError, match="is not a knob of policy loss 'vanilla' or advantage estimator 'grpo"):
        config_from_dict(_rl({"adv_estimator": "grpo_passk", "knobs": {"k": 2}}), source="r.yaml")
    ok = config_from_dict(_rl({"adv_estimator": "passk", "knobs": {"k": 8}}), source="r.yaml")
    assert ok.algorithm.knobs == {"k": 8}
    assert config_from_dict(_rl({"adv_estimator": "pkpo"}, n=4), source="r.yaml").algorithm.adv_estimator == "pkpo"


# ---------------------------------------------------------------- common behaviour


@pytest.mark.parametrize("name", NEW)
def test_no_gradient_masked_padding_dtype_and_bool_mask(name):
    b = random_groups(4, min_size=4)
    rewards = torch.tensor(b["rewards"], dtype=torch.float64, requires_grad=True)
    mask = torch.tensor(b["mask"], dtype=torch.float64)
    kw = {"k": 2} if name in ("passk", "pkpo") else {}
    adv, ret = compute_advantages(name, token_level_rewards=rewards, response_mask=mask, group_index=b["labels"], **kw)
    assert not adv.requires_grad and adv.dtype == torch.float64 and torch.equal(adv, ret)
    assert torch.equal(adv[mask == 0], torch.zeros_like(adv[mask == 0]))
    assert torch.equal(adv, adv[:, :1] * mask)  # one scalar per response, broadcast over its tokens
    bool_adv, _ = compute_advantages(name, token_level_rewards=rewards, response_mask=mask.bool(),
                                     group_index=b["labels"], **kw)
    assert torch.equal(adv, bool_adv)
    f32, _ = compute_advantages(name, token_level_rewards=rewards.detach().float(), response_mask=mask,
                                group_index=b["labels"], **kw)
    assert f32.dtype == torch.float32 and torch.allclose(f32.double(), adv, atol=1e-5)
