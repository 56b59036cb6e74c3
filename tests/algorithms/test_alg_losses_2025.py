"""The 2025 policy losses (GSPO, SAPO, GMPO/geo_mean, CISPO, Clip-Cov, KL-Cov, GPG): hand values, loop references,
registry entries and knob bounds. verl parity is in ``test_alg_losses_2025_verl.py``."""

from __future__ import annotations

import ast
import math
from pathlib import Path

import alg_loop_reference as ref
import pytest
import torch

import rlvr_bench.algorithms.policy_losses_2025  # noqa: F401  (registers the losses; not wired in yet)
from rlvr_bench.algorithms import LOSS_AGG_MODES, policy_loss, policy_loss_spec

NEW_LOSSES = ("gspo", "sapo", "geo_mean", "cispo", "clip_cov", "kl_cov", "gpg")
SEEDS = range(6)


def _loss(name, old, new, adv, mask, mode="token-mean", **kw):
    return policy_loss(name, old_log_prob=old, log_prob=new, advantages=adv, response_mask=mask,
                       loss_agg_mode=mode, **kw)


def _random(seed: int, scale: float = 0.3, seq_adv: bool = False) -> dict:
    b = ref.random_batch(seed, holes=seed % 3 == 0)
    g = torch.Generator().manual_seed(seed)
    shape = (len(b["mask"]), len(b["mask"][0]))
    mask = torch.tensor(b["mask"], dtype=torch.float64)
    mask[0] = 0.0  # a fully masked row
    adv = torch.randn(shape, generator=g, dtype=torch.float64)
    if seq_adv:
        adv = adv[:, :1].expand(shape).clone()
    old = -torch.rand(shape, generator=g, dtype=torch.float64) * 3
    return {"mask": mask, "old": old, "new": old + torch.randn(shape, generator=g, dtype=torch.float64) * scale,
            "adv": adv}


# ---------------------------------------------------------------- registry and knobs


EXPECTED_KNOBS = {
    "gspo": {"clip_ratio_low": (0.2, "clip_ratio_low"), "clip_ratio_high": (0.2, "clip_ratio_high")},
    "sapo": {"tau_pos": (1.0, "tau_pos"), "tau_neg": (1.05, "tau_neg")},
    "geo_mean": {"clip_ratio_low": (0.2, "clip_ratio_low"), "clip_ratio_high": (0.2, "clip_ratio_high")},
    "cispo": {"clip_ratio_low": (0.2, "clip_ratio_low"), "clip_ratio_high": (0.2, "clip_ratio_high")},
    "clip_cov": {"clip_ratio_low": (0.2, "clip_ratio_low"), "clip_ratio_high": (0.2, "clip_ratio_high"),
                 "clip_cov_ratio": (0.0002, "policy_loss.clip_cov_ratio"),
                 "clip_cov_lb": (1.0, "policy_loss.clip_cov_lb"), "clip_cov_ub": (5.0, "policy_loss.clip_cov_ub")},
    "kl_cov": {"kl_cov_ratio": (0.0002, "policy_loss.kl_cov_ratio"),
               "ppo_kl_coef": (0.1, "policy_loss.ppo_kl_coef")},
    "gpg": {},
}


@pytest.mark.parametrize("name", NEW_LOSSES)
def test_registered_with_verl_names_defaults_and_keys(name):
    spec = policy_loss_spec(name)
    assert spec.verl_name == name
    assert {k: (v.default, v.verl_key) for k, v in spec.knobs.items()} == EXPECTED_KNOBS[name]
    assert all(v.help for v in spec.knobs.values())
    assert spec.fn.__doc__ and "arXiv" in spec.fn.__doc__ and "(bs, T)" in spec.fn.__doc__


@pytest.mark.parametrize(("name", "knob", "bad", "good"), [
    ("gspo", "clip_ratio_low", 1.0, 0.0003),
    ("gspo", "clip_ratio_high", -0.1, 0.0004),
    ("cispo", "clip_ratio_low", -0.01, 0.99),
    ("geo_mean", "clip_ratio_high", -0.4, 0.4),
    ("sapo", "tau_pos", 0.0, 1.0),
    ("sapo", "tau_neg", -1.05, 1.05),
    ("clip_cov", "clip_cov_ratio", 0.0, 1e-4),
    ("clip_cov", "clip_cov_ratio", 1.5, 1.0),
    ("kl_cov", "kl_cov_ratio", 0.0, 2e-3),
    ("kl_cov", "kl_cov_ratio", 1.01, 1.0),
    ("kl_cov", "ppo_kl_coef", -0.1, 0.0),
])
def test_knob_bounds(name, knob, bad, good):
    spec = policy_loss_spec(name).knobs[knob]
    assert "out of range" in spec.problem(bad)
    assert spec.problem(good) is None
    assert spec.problem(None) is None


def test_unknown_knob_and_bad_ratio_rejected():
    z = torch.zeros(2, 3)
    with pytest.raises(ValueError, match="has no knob clip_ratio_c"):
        _loss("gspo", z, z, z, torch.ones(2, 3), clip_ratio_c=3.0)
    with pytest.raises(ValueError, match="clip_cov_ratio must be > 0"):
        _loss("clip_cov", z, z, z, torch.ones(2, 3), clip_cov_ratio=0.0)
    with pytest.raises(ValueError, match="kl_cov_ratio must be > 0"):
        _loss("kl_cov", z, z, z, torch.ones(2, 3), kl_cov_ratio=0.0)


def test_module_imports_only_torch_and_the_package():
    import rlvr_bench.algorithms.policy_losses_2025 as mod

    tree = ast.parse(Path(mod.__file__).read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            assert all(a.name == "torch" for a in node.names), ast.dump(node)
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 1 or node.module in ("__future__", "typing", "torch"), node.module


# ---------------------------------------------------------------- hand values (2 sequences x 3 tokens)


MASK = torch.tensor([[1.0, 1.0, 1.0], [1.0, 1.0, 0.0]])


def test_gspo_hand_values():
    old = torch.zeros(2, 3)
    # row 0: log-ratios 0.1, 0.2, 0.3 -> s_0 = e^0.2 = 1.2214 (> 1.2: clipped for A = +1)
    # row 1: -0.3, -0.1 (the masked 5.0 is ignored) -> s_1 = e^-0.2 = 0.8187 (in range, A = -1)
    new = torch.tensor([[0.1, 0.2, 0.3], [-0.3, -0.1, 5.0]], requires_grad=True)
    adv = torch.tensor([[1.0, 1.0, 1.0], [-1.0, -1.0, -1.0]])
    loss, metrics = _loss("gspo", old, new, adv, MASK)
    s1 = math.exp(-0.2)
    assert loss.item() == pytest.approx((3 * -1.2 + 2 * s1) / 5, rel=1e-6)
    loss.backward()
    # clipped row: no gradient; row 1: d(-A s_1)/d log_prob_t = s_1 (the sequence ratio, not the token's)
    assert torch.allclose(new.grad, torch.tensor([[0.0, 0.0, 0.0], [s1 / 5, s1 / 5, 0.0]]))
    assert metrics["pg_clipfrac"] == pytest.approx(3 / 5)
    assert metrics["ppo_kl"] == pytest.approx(-(0.6 - 0.4) / 5, rel=1e-5)
    assert metrics["pg_clipfrac_lower"] == 0.0
    seq, _ = _loss("gspo", old, new, adv, MASK, "seq-mean-token-mean")
    assert seq.item() == pytest.approx((-1.2 + s1) / 2, rel=1e-6)  # uses loss_agg_mode (unlike the paper)


def test_gspo_log_ratio_clamped_above_at_10():
    old = torch.zeros(1, 2)
    new = torch.tensor([[30.0, 0.0]], requires_grad=True)
    loss, _ = _loss("gspo", old, new, -torch.ones(1, 2), torch.ones(1, 2))
    assert loss.item() == pytest.approx(math.exp(10.0), rel=1e-6)  # log s = 15 -> 10; A < 0: unclipped
    loss.backward()
    assert torch.equal(new.grad, torch.zeros(1, 2))  # the clamp is active: no gradient


def test_sapo_hand_values_and_fixed_aggregation():
    old = torch.zeros(2, 3)
    ratio = torch.tensor([[1.0, 2.0, 0.5], [1.5, 1.0, 1.0]])
    adv = torch.tensor([[1.0, -1.0, 0.0], [2.0, -1.0, 0.0]])

    def gate(r, tau):
        return 4.0 / tau / (1.0 + math.exp(-tau * (r - 1.0)))

    # tau_pos = 1 for A > 0, tau_neg = 1.05 for A <= 0 (A = 0 contributes 0 whatever its gate)
    row0 = (-gate(1.0, 1.0) + gate(2.0, 1.05) + 0.0) / 3
    row1 = (-2 * gate(1.5, 1.0) + gate(1.0, 1.05)) / 2
    for mode in LOSS_AGG_MODES:  # verl's SAPO always aggregates with seq-mean-token-mean
        loss, metrics = _loss("sapo", old, torch.log(ratio), adv, MASK, mode)
        assert loss.item() == pytest.approx((row0 + row1) / 2, rel=1e-6), mode
    assert metrics["pg_clipfrac"] == metrics["pg_clipfrac_lower"] == 0.0
    custom, _ = _loss("sapo", old, torch.log(ratio), adv, MASK, tau_pos=2.0, tau_neg=3.0)
    expected = ((-gate(1.0, 2.0) + gate(2.0, 3.0)) / 3 + (-2 * gate(1.5, 2.0) + gate(1.0, 3.0)) / 2) / 2
    assert custom.item() == pytest.approx(expected, rel=1e-6)


def test_sapo_on_policy_gradient_is_reinforce():
    """f'(1) = 1: on-policy, SAPO's gradient equals the clipped surrogate's (seq-mean-token-mean)."""
    d = _random(1)
    lp_sapo = d["old"].clone().requires_grad_(True)
    lp_ppo = d["old"].clone().requires_grad_(True)
    _loss("sapo", d["old"], lp_sapo, d["adv"], d["mask"], "token-mean", tau_pos=1.5, tau_neg=4.0)[0].backward()
    _loss("vanilla", d["old"], lp_ppo, d["adv"], d["mask"], "seq-mean-token-mean")[0].backward()
    assert torch.allclose(lp_sapo.grad, lp_ppo.grad, atol=1e-12)


def test_geo_mean_hand_values():
    old = torch.zeros(3, 3)
    mask = torch.tensor([[1.0, 1.0, 1.0], [1.0, 1.0, 0.0], [0.0, 0.0, 0.0]])
    new = torch.tensor([[0.1, 0.5, 0.3], [-0.5, 0.1, 9.0], [1.0, 1.0, 1.0]])
    adv = torch.tensor([[1.0, 1.0, 1.0], [-1.0, -1.0, -1.0], [0.0, 0.0, 0.0]])
    # row 0 (A > 0): log-ratios clipped above at 0.2 -> 0.1, 0.2, 0.2 -> rho = e^(0.5/3)
    # row 1 (A < 0): clipped below at -0.2 -> -0.2, 0.1 -> rho = e^-0.05; row 2 fully masked, still counted
    expected = (-math.exp(0.5 / 3) + math.exp(-0.05) + 0.0) / 3
    for mode in LOSS_AGG_MODES:  # loss_agg_mode (and the global batch info) ignored, as verl
        loss, metrics = _loss("geo_mean", old, new, adv, mask, mode, global_batch_size=64.0, dp_size=4)
        assert loss.item() == pytest.approx(expected, rel=1e-6), mode
    assert metrics["pg_clipfrac"] == pytest.approx(2 / 5)
    assert metrics["pg_clipfrac_lower"] == pytest.approx(1 / 5)
    assert metrics["ppo_kl"] == pytest.approx(-(0.9 - 0.4) / 5, rel=1e-5)


def test_cispo_hand_values():
    old = torch.tensor([[-1.0, -2.0, -0.5], [-1.0, -1.0, -1.0]])
    ratio = torch.tensor([[1.5, 0.5, 1.1], [1.0, 1.0, 1.0]])
    new = (old + torch.log(ratio)).requires_grad_(True)
    adv = torch.tensor([[1.0, 1.0, -2.0], [0.5, 0.5, 0.5]])
    loss, metrics = _loss("cispo", old, new, adv, MASK)
    w = [[1.2, 0.8, 1.1], [1.0, 1.0, 0.0]]  # clip(r, 0.8, 1.2); row 1 token 2 masked
    lp = new.detach().tolist()
    a = adv.tolist()
    expected = sum(-w[i][t] * a[i][t] * lp[i][t] for i in range(2) for t in range(3)) / 5
    assert loss.item() == pytest.approx(expected, rel=1e-6)
    loss.backward()
    # every token keeps a gradient, weighted by the stop-gradient clipped ratio
    assert torch.allclose(new.grad, torch.tensor([[-1.2, -0.8, 2.2], [-0.5, -0.5, 0.0]]) / 5)
    assert metrics["pg_clipfrac"] == pytest.approx(2 / 5)
    assert metrics["pg_clipfrac_lower"] == 0.0


def _cov_batch():
    # on-policy; mean A = 0, mean log_prob = -1.25 -> cov row 0 = [1.5, 0.5, -3.5], row 1 = [-0.5] * 3
    lp = torch.tensor([[-0.5, -1.0, -3.0], [-1.0, -1.0, -1.0]])
    adv = torch.tensor([[2.0, 2.0, 2.0], [-2.0, -2.0, -2.0]])
    return lp, adv, torch.ones(2, 3)


def test_clip_cov_hand_values():
    lp, adv, mask = _cov_batch()
    new = lp.clone().requires_grad_(True)
    # candidates: 1 < cov < 5 -> only token (0, 0); k = max(int(2e-4 * 6), 1) = 1: its loss is dropped
    loss, metrics = _loss("clip_cov", lp, new, adv, mask)
    assert loss.item() == pytest.approx((0 - 2 - 2 + 2 + 2 + 2) / 6, rel=1e-6)
    loss.backward()
    assert torch.allclose(new.grad, torch.tensor([[0.0, -2.0, -2.0], [2.0, 2.0, 2.0]]) / 6)
    assert metrics == pytest.approx({"pg_clipfrac": 1 / 6, "ppo_kl": 0.0})
    # a window holding no token: plain PPO; a wide window with ratio 1: every candidate dropped
    plain, m = _loss("clip_cov", lp, lp, adv, mask, clip_cov_lb=5.0, clip_cov_ub=6.0)
    assert plain.item() == pytest.approx(0.0, abs=1e-7) and m["pg_clipfrac"] == 0.0
    wide, m = _loss("clip_cov", lp, lp, adv, mask, clip_cov_ratio=1.0, clip_cov_lb=0.0, clip_cov_ub=5.0)
    assert wide.item() == pytest.approx((-2 + 2 + 2 + 2) / 6) and m["pg_clipfrac"] == pytest.approx(2 / 6)


def test_clip_cov_random_choice_is_seeded_by_torch_global_rng():
    d = _random(2, scale=0.05)
    kw = {"clip_cov_ratio": 0.1, "clip_cov_lb": -10.0, "clip_cov_ub": 10.0}
    n_valid = int(d["mask"].sum())
    results = []
    for seed in (5, 5, 6):
        torch.manual_seed(seed)
        loss, metrics = _loss("clip_cov", d["old"], d["new"], d["adv"], d["mask"], **kw)
        assert metrics["pg_clipfrac"] * n_valid == pytest.approx(max(int(0.1 * n_valid), 1))
        results.append(loss.item())
    assert results[0] == results[1]
    assert results[0] != results[2]


def test_kl_cov_hand_values():
    lp, adv, mask = _cov_batch()
    old = lp.clone()
    old[0, 0] -= 0.1  # log-ratio 0.1 on the top-covariance token (0, 0)
    new = lp.clone().requires_grad_(True)
    loss, metrics = _loss("kl_cov", old, new, adv, mask)
    # k = max(1, int(6 * 2e-4)) = 1: token (0, 0) gets + 0.1 |0.1|; the rest is -A r
    r = math.exp(0.1)
    assert loss.item() == pytest.approx((-2 * r + 0.01 - 2 - 2 + 6) / 6, rel=1e-6)
    loss.backward()
    assert new.grad[0, 0].item() == pytest.approx((-2 * r + 0.1) / 6, rel=1e-6)
    assert torch.allclose(new.grad[0, 1:], torch.tensor([-2.0, -2.0]) / 6)
    assert metrics == pytest.approx({"ppo_kl": 0.1 / 6})  # mean |log-ratio|, as verl
    strong, _ = _loss("kl_cov", old, new.detach(), adv, mask, ppo_kl_coef=1.0)
    assert strong.item() == pytest.approx((-2 * r + 0.1 - 2 - 2 + 6) / 6, abs=1e-6)  # float32 log-ratio
    empty, _ = _loss("kl_cov", old, new.detach(), adv, torch.zeros(2, 3), "seq-mean-token-sum-norm")
    assert empty.item() == 0.0  # no valid token: no top-k (verl: k == 0), nothing selected


# ---------------------------------------------------------------- loop references


def gspo_loop(old, new, adv, mask, lo, hi):
    """Token losses and d(loss_t)/d(log_prob_t) of GSPO-token, one element at a time."""
    loss, grad = [], []
    for i in range(len(old)):
        n = max(sum(mask[i]), 1.0)
        log_s = sum(mask[i][t] * (new[i][t] - old[i][t]) for t in range(len(old[i]))) / n
        clamped = log_s > 10.0
        s = math.exp(min(log_s, 10.0))
        row_l, row_g = [], []
        for t in range(len(old[i])):
            a = adv[i][t]
            unclipped, clipped = -a * s, -a * min(max(s, 1 - lo), 1 + hi)
            row_l.append(max(unclipped, clipped))
            in_range = 1 - lo < s < 1 + hi
            takes_unclipped = unclipped > clipped or in_range
            row_g.append(0.0 if clamped or not takes_unclipped else -a * s)
        loss.append(row_l)
        grad.append(row_g)
    return loss, grad


def cispo_loop(old, new, adv, mask, lo, hi):
    loss, grad = [], []
    for i in range(len(old)):
        row_l, row_g = [], []
        for t in range(len(old[i])):
            w = min(max(math.exp(max(-20.0, min(20.0, new[i][t] - old[i][t]))), 1 - lo), 1 + hi)
            row_l.append(-w * adv[i][t] * new[i][t])
            row_g.append(-w * adv[i][t])
        loss.append(row_l)
        grad.append(row_g)
    return loss, grad


def geo_mean_loop(old, new, adv, mask, lo, hi):
    total = 0.0
    for i in range(len(old)):
        n = sum(mask[i])
        log_rho = a_bar = 0.0
        for t in range(len(old[i])):
            d, a = new[i][t] - old[i][t], adv[i][t]
            if a > 0:
                d_star = min(d, hi)  # pessimistic: clip the gain from above
            elif a < 0:
                d_star = max(d, -lo)  # and the loss from below
            else:
                d_star = 0.0
            log_rho += mask[i][t] * d_star
            a_bar += mask[i][t] * a
        total += -(a_bar / (n + 1e-8)) * math.exp(log_rho / (n + 1e-8))
    return total / len(old)


def _token_mean_grad(token_grad, mask):
    n = sum(map(sum, mask))
    return [[g * m / n for g, m in zip(gr, mr)] for gr, mr in zip(token_grad, mask)]


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("mode", LOSS_AGG_MODES)
@pytest.mark.parametrize(("lo", "hi"), [(0.2, 0.2), (0.0003, 0.0004), (0.1, 0.3)])
def test_gspo_matches_loop(seed, mode, lo, hi):
    d = _random(seed, scale=0.3, seq_adv=seed % 2 == 0)
    new = d["new"].clone().requires_grad_(True)
    loss, _ = _loss("gspo", d["old"], new, d["adv"], d["mask"], mode, clip_ratio_low=lo, clip_ratio_high=hi)
    lists = [ref.to_lists(t) for t in (d["old"], d["new"], d["adv"], d["mask"])]
    token_loss, token_grad = gspo_loop(*lists, lo, hi)
    assert loss.item() == pytest.approx(ref.agg(token_loss, lists[3], mode), abs=1e-9)
    if mode == "token-mean":
        loss.backward()
        assert torch.allclose(new.grad, torch.tensor(_token_mean_grad(token_grad, lists[3]), dtype=torch.float64),
                              atol=1e-12)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("mode", LOSS_AGG_MODES)
@pytest.mark.parametrize(("lo", "hi"), [(0.2, 0.2), (0.9, 0.28)])
def test_cispo_matches_loop(seed, mode, lo, hi):
    d = _random(seed, scale=1.0)
    new = d["new"].clone().requires_grad_(True)
    loss, _ = _loss("cispo", d["old"], new, d["adv"], d["mask"], mode, clip_ratio_low=lo, clip_ratio_high=hi)
    lists = [ref.to_lists(t) for t in (d["old"], d["new"], d["adv"], d["mask"])]
    token_loss, token_grad = cispo_loop(*lists, lo, hi)
    assert loss.item() == pytest.approx(ref.agg(token_loss, lists[3], mode), abs=1e-9)
    if mode == "token-mean":
        loss.backward()
        assert torch.allclose(new.grad, torch.tensor(_token_mean_grad(token_grad, lists[3]), dtype=torch.float64),
                              atol=1e-12)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize(("lo", "hi"), [(0.2, 0.2), (0.4, 0.4), (0.05, 0.1)])
def test_geo_mean_matches_loop(seed, lo, hi):
    d = _random(seed, scale=0.5, seq_adv=seed % 2 == 0)
    d["adv"][1] = 0.0  # a row with A = 0
    loss, _ = _loss("geo_mean", d["old"], d["new"], d["adv"], d["mask"], clip_ratio_low=lo, clip_ratio_high=hi)
    lists = [ref.to_lists(t) for t in (d["old"], d["new"], d["adv"], d["mask"])]
    assert loss.item() == pytest.approx(geo_mean_loop(*lists, lo, hi), abs=1e-9)


@pytest.mark.parametrize("name", NEW_LOSSES)
def test_masked_tokens_do_not_matter(name):
    d = _random(3)
    noisy_new, noisy_adv = d["new"].clone(), d["adv"].clone()
    off = d["mask"] == 0
    noisy_new[off] += 3.0
    noisy_adv[off] = 7.0
    torch.manual_seed(0)
    a, _ = _loss(name, d["old"], d["new"], d["adv"] * d["mask"], d["mask"], "seq-mean-token-mean")
    torch.manual_seed(0)
    b, _ = _loss(name, d["old"], noisy_new, noisy_adv, d["mask"], "seq-mean-token-mean")
    # clip_cov / kl_cov: the covariance uses masked / valid-only means, so the selection is unchanged too
    assert a.item() == pytest.approx(b.item(), abs=1e-12)


# ---------------------------------------------------------------- GPG (REINFORCE, no ratio, no clip)


def test_gpg_hand_values_and_gradient():
    old = torch.full((2, 3), -7.0)  # ignored: no importance ratio
    new = torch.tensor([[-0.5, -1.0, -2.0], [-0.1, -3.0, 9.0]], requires_grad=True)
    adv = torch.tensor([[1.0, 1.0, 1.0], [-2.0, -2.0, -2.0]])
    loss, metrics = _loss("gpg", old, new, adv, MASK)
    # -log_prob * A on the 5 valid tokens: row 0: 0.5 + 1 + 2 = 3.5; row 1: -0.2 - 6 = -6.2 (9.0 masked)
    assert loss.item() == pytest.approx((3.5 - 6.2) / 5, rel=1e-6)
    assert metrics == {}  # as verl
    loss.backward()
    assert torch.allclose(new.grad, torch.tensor([[-1.0, -1.0, -1.0], [2.0, 2.0, 0.0]]) / 5)  # -A / n_tokens
    seq, _ = _loss("gpg", old, new.detach(), adv, MASK, "seq-mean-token-mean")
    assert seq.item() == pytest.approx((3.5 / 3 - 6.2 / 2) / 2, rel=1e-6)
    other_old, _ = _loss("gpg", torch.zeros(2, 3), new.detach(), adv, MASK)
    assert other_old.item() == loss.item()


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("mode", LOSS_AGG_MODES)
def test_gpg_matches_loop_and_is_on_policy_vanilla_gradient(seed, mode):
    d = _random(seed, scale=0.5)
    new = d["new"].clone().requires_grad_(True)
    loss, _ = _loss("gpg", d["old"], new, d["adv"], d["mask"], mode)
    lists = [ref.to_lists(t) for t in (d["new"], d["adv"])]
    token_loss = [[-lp * a for lp, a in zip(lr, ar)] for lr, ar in zip(*lists)]
    assert loss.item() == pytest.approx(ref.agg(token_loss, ref.to_lists(d["mask"]), mode), abs=1e-9)
    loss.backward()
    # on-policy (old = new) the clipped surrogate's gradient is -A grad log_prob too: the same gradient
    on_policy = d["new"].clone().requires_grad_(True)
    _loss("vanilla", d["new"], on_policy, d["adv"], d["mask"], mode)[0].backward()
    assert torch.allclose(new.grad, on_policy.grad, atol=1e-12)
