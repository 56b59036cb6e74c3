"""The RL trainer's rollout correction (``rollout.correction``) on the toy world: the engine/trainer mismatch is
logged every step, the HF engine shows none, and perturbed behaviour log-probs weight the policy gradient as
the formula says; the engine hooks (prepare_generation / release_memory) run around every rollout."""

from __future__ import annotations

import math

import pytest
import torch

from rlvr_bench.algorithms.rollout_correction import correction_weights
from rlvr_bench.errors import UserError
from rlvr_bench.trainers import rl as rl_module
from rlvr_bench.trainers.rl import RLTrainer
from rlvr_bench.trainers.rl_correction import RolloutCorrection, RolloutCorrectionError
from tests.trainers.rl_helpers import starts_with_digit, tiny_rl_config

STOPS = [str(d) for d in range(10)]  # a random model ends at its first digit: rewards vary within groups
NO_KL = {"use_kl_loss": False}


def _trainer(model_dir, out, correction: str, steps: int, **algorithm) -> RLTrainer:
    cfg = tiny_rl_config(model_dir, out, "grpo", trainer={"steps": steps}, rollout={"stop": STOPS,
                         "correction": correction}, algorithm={**NO_KL, **algorithm})
    return RLTrainer(cfg, reward_fn=starts_with_digit)


def test_hf_engine_has_no_mismatch_and_token_truncate_trains_as_without_it(tiny_model_dir, tmp_path):
    runs = {}
    for mode in ("none", "token_truncate"):
        trainer = _trainer(tiny_model_dir, tmp_path / mode, mode, steps=2, mini_batches=1)  # old = the step's logp
        calls: list[tuple] = []
        _record_hooks(trainer.engine, calls)
        rows = trainer.train().metrics()
        policy = trainer.accelerator.unwrap_model(trainer.model)
        assert [c[0] for c in calls] == ["prepare", "release"] * 2 and all(m is policy for k, m in calls if m)
        runs[mode] = (rows, {k: v.detach().clone() for k, v in policy.state_dict().items()})
    for mode, (rows, _) in runs.items():
        for row in rows:  # logged every step, in any mode: the engine's log-probs are the trainer's
            assert row["rollout_correction/logp_abs_diff_max"] < 1e-4, (mode, row)
            assert abs(row["rollout_correction/k3_kl"]) < 1e-8 and abs(row["rollout_correction/log_ppl_diff"]) < 1e-5
    assert "rollout_correction/weight_mean" not in runs["none"][0][0]
    for row in runs["token_truncate"][0]:
        assert row["rollout_correction/token_frac_corrected"] == 0.0
        assert row["rollout_correction/weight_mean"] == pytest.approx(1.0, abs=1e-5)
    (rows_a, w_a), (rows_b, w_b) = runs["none"], runs["token_truncate"]
    for ra, rb in zip(rows_a, rows_b):  # same samples, same rewards, the same update up to float noise
        assert {k: v for k, v in ra.items() if k.startswith(("rollout/", "reward/"))} == \
               {k: v for k, v in rb.items() if k.startswith(("rollout/", "reward/"))}
    init = _initial_weights(tiny_model_dir)
    update = max(float((w_a[k] - v).abs().max()) for k, v in init.items())  # 2 AdamW steps at lr 1e-3
    apart = max(float((w_a[k] - w_b[k]).abs().max()) for k in w_a)  # weights 1 +- 1e-6 (measured: 3.5e-6)
    assert update > 1e-3 and apart < 0.01 * update


def _record_hooks(engine, calls: list[tuple]) -> None:
    """Record the engine's prepare_generation / release_memory calls (and still run them)."""
    prepare, release = engine.prepare_generation, engine.release_memory
    engine.prepare_generation = lambda model: calls.append(("prepare", model)) or prepare(model)
    engine.release_memory = lambda: calls.append(("release", None)) or release()


def _initial_weights(model_dir) -> dict[str, torch.Tensor]:
    from rlvr_bench.models.loading import load_policy

    return load_policy(model_dir, dtype="float32", device="cpu").state_dict()


def test_perturbed_behaviour_logprobs_weight_the_gradient_as_the_formula_says(tiny_model_dir, tmp_path, monkeypatch):
    shift = torch.tensor([-math.log(4), math.log(4), 0.0])  # by row mod 3: ratio x4 (-> cap 2), x1/4, x1
    first_grad: dict[str, tuple] = {}
    prepared: dict[str, dict] = {}
    real_logprobs = rl_module.sequence_logprobs
    for mode in ("none", "token_truncate"):
        trainer = _trainer(tiny_model_dir, tmp_path / mode, mode, steps=1, mini_batches=2)  # old from prepare
        real_prepare = trainer.prepare

        def prepare(batch, real_prepare=real_prepare, mode=mode):
            t = real_prepare(batch)
            rows = torch.arange(t["response_ids"].shape[0]) % 3
            t["behaviour_logprobs"] = t["behaviour_logprobs"] + shift[rows, None] * t["response_mask"]
            prepared[mode] = t
            return t

        def spy(model, t, idx, mode=mode, **kw):  # the first micro-batch's grad-carrying log-probs
            logp, ent = real_logprobs(model, t, idx, **kw)
            if torch.is_grad_enabled() and mode not in first_grad:
                logp.retain_grad()
                first_grad[mode] = (idx, logp)
            return logp, ent

        trainer.prepare = prepare
        monkeypatch.setattr(rl_module, "sequence_logprobs", spy)
        row = trainer.train().metrics()[0]
    t = prepared["token_truncate"]
    mask = t["response_mask"].float()
    weights, _ = correction_weights("token_truncate", t["old_log_probs"], t["behaviour_logprobs"], mask, cap=2.0)
    (idx, logp_w), (idx_plain, logp_plain) = first_grad["token_truncate"], first_grad["none"]
    assert torch.equal(idx, idx_plain) and torch.equal(logp_w.detach(), logp_plain.detach())
    assert torch.allclose(logp_w.grad, weights[idx] * logp_plain.grad, atol=1e-7)
    assert (logp_plain.grad != 0).any() and not torch.allclose(logp_w.grad, logp_plain.grad, atol=1e-7)
    rows = torch.arange(mask.shape[0]) % 3
    assert torch.allclose(weights[rows == 0], 2.0 * mask[rows == 0])  # truncated at the cap
    assert torch.allclose(weights[rows == 1], 0.25 * mask[rows == 1], atol=1e-5)  # no floor: kept
    assert row["rollout_correction/token_frac_corrected"] == pytest.approx(float(mask[rows == 0].sum() / mask.sum()))
    assert row["rollout_correction/logp_abs_diff_max"] == pytest.approx(math.log(4), abs=1e-4)


def test_a_correction_without_engine_logprobs_fails_in_one_line():
    with pytest.raises(RolloutCorrectionError) as err:
        RolloutCorrection("sequence_mask", backend="vllm").begin({"response_mask": torch.ones(2, 3)})
    assert isinstance(err.value, UserError) and "\n" not in str(err.value)
    assert "rollout.correction=sequence_mask" in str(err.value) and "'vllm'" in str(err.value)
    none = RolloutCorrection("none")
    none.begin({"response_mask": torch.ones(2, 3)})  # nothing to measure: no metrics, no error
    logp = torch.zeros(2, 3, requires_grad=True)
    assert none.weigh({}, torch.arange(2), logp, logp.detach()) is logp and none.metrics({}) == {}


@pytest.mark.parametrize("rollout, key", [({"correction": "tis"}, "rollout.correction"),
                                          ({"correction_cap": 0.5}, "rollout.correction_cap"),
                                          ({"correction_floor": 1.5}, "rollout.correction_floor"),
                                          ({"correction_floor": 0.0}, "rollout.correction_floor")])
def test_bad_correction_settings_fail_validation_in_one_line(tiny_model_dir, tmp_path, rollout, key):
    from rlvr_bench.config.loader import ConfigError

    with pytest.raises(ConfigError) as err:
        tiny_rl_config(tiny_model_dir, tmp_path, "grpo", rollout=rollout)
    assert f"'{key}'" in str(err.value) and "\n" not in str(err.value)
