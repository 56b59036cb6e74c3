"""Registries carry their metadata: estimator / policy-loss / preset specs, and resolution into what runs."""

from __future__ import annotations

import copy
import dataclasses
from pathlib import Path
from typing import Any

import pytest

from rlvr_bench.algorithms import (
    ADVANTAGE_ESTIMATORS,
    ALGORITHM_KEYS,
    BASE,
    PRESETS,
    AdvantageEstimatorSpec,
    KnobSpec,
    ResolvedAlgorithm,
    advantage_estimator_spec,
    algorithm_problems,
    policy_loss_spec,
    preset,
    preset_names,
    register_advantage_estimator,
    registry_names,
    resolve_algorithm,
    verl_adv_estimator_names,
)

# The resolution as it was before presets became typed (trainers/rl.py, dicts): the reference for as_dict().
_OLD_EXTRA = {"kl_penalty_type": "k1", "max_resample_rounds": 3, "overlong_buffer_len": None,
              "critic_lr": None, "cliprange_value": 0.5, "entropy_coeff": 0.0, "loss_scale_factor": None}
_OLD_PRESET_KEYS = (
    "adv_estimator", "norm_adv_by_std", "loss_agg_mode", "clip_ratio_low", "clip_ratio_high",
    "clip_ratio_c", "use_kl_loss", "kl_loss_coef", "kl_loss_type", "use_kl_in_reward", "kl_coef",
    "dynamic_sampling", "overlong_penalty", "ppo_epochs", "mini_batches", "gamma", "lam",
    "needs_critic", "needs_reference", "needs_greedy_baseline",
)


def _old_resolve(name: str, overrides: dict[str, Any], max_new_tokens: int, lr: float) -> dict[str, Any]:
    algo = {**{k: v for k, v in preset(name).as_dict().items() if k in _OLD_PRESET_KEYS}, **_OLD_EXTRA}
    for key, value in overrides.items():
        if key != "preset" and value is not None:
            algo[key] = value
    algo["preset"] = name
    algo["needs_reference"] = bool(algo["use_kl_loss"] or algo["use_kl_in_reward"])
    algo["needs_critic"] = algo["adv_estimator"] == "gae"
    algo["needs_greedy_baseline"] = algo["adv_estimator"] == "remax"
    if algo["overlong_buffer_len"] is None:
        algo["overlong_buffer_len"] = max(1, max_new_tokens // 4)
    if algo["critic_lr"] is None:
        algo["critic_lr"] = lr
    if algo["loss_scale_factor"] is None and algo["loss_agg_mode"] == "seq-mean-token-sum-norm":
        algo["loss_scale_factor"] = float(max_new_tokens)
    return algo


OVERRIDES = [
    {},
    {"clip_ratio_high": 0.3, "adv_estimator": "gae", "use_kl_loss": True},
    {"loss_agg_mode": "seq-mean-token-sum-norm", "critic_lr": 1e-5, "overlong_buffer_len": 7},
    {"use_kl_in_reward": False, "use_kl_loss": False, "adv_estimator": "remax", "clip_ratio_c": None},
]


@pytest.mark.parametrize("overrides", OVERRIDES)
@pytest.mark.parametrize("name", list(PRESETS)[:8])  # the presets that existed before typed presets
def test_resolved_dict_is_the_old_dict(name, overrides):
    got = resolve_algorithm(name, overrides, max_new_tokens=48, learning_rate=2e-4).as_dict()
    expected = _old_resolve(name, overrides, 48, 2e-4)
    new = {"policy_loss": "vanilla", "entropy_top_ratio": None, "entropy_target": None, "entropy_coeff_step": 0.005,
           "entropy_coeff_max": None,
           "reference_reset_every": 0, "knobs": {}}  # the keys added since, at their off values
    for key, value in new.items():
        assert got.pop(key) == value, key
    assert list(got) == list(expected)  # same keys in the same order, the new ones before preset
    for key in expected:
        assert repr(got[key]) == repr(expected[key]) and type(got[key]) is type(expected[key]), key
    assert tuple(resolve_algorithm(name, {}, max_new_tokens=8, learning_rate=1.0).as_dict()) == ALGORITHM_KEYS


def test_resolution_defaults_and_errors():
    algo = resolve_algorithm("dr_grpo", {"preset": "ignored", "gamma": None}, max_new_tokens=3, learning_rate=0.5)
    assert isinstance(algo, ResolvedAlgorithm) and algo.preset == "dr_grpo"
    assert (algo.overlong_buffer_len, algo.critic_lr, algo.loss_scale_factor) == (1, 0.5, 3.0)
    with pytest.raises(dataclasses.FrozenInstanceError):
        algo.gamma = 0.5  # type: ignore[misc]
    with pytest.raises(ValueError, match="unknown algorithm setting"):
        resolve_algorithm("grpo", {"clip_ratio_hgh": 0.3}, max_new_tokens=8, learning_rate=1.0)
    with pytest.raises(ValueError, match="valid: grpo, dr_grpo"):
        resolve_algorithm("trpo", {}, max_new_tokens=8, learning_rate=1.0)


def test_presets_derive_from_base_and_needs_follow_metadata():
    for name, spec in PRESETS.items():
        assert spec.preset == name and type(spec) is type(BASE)
        est = advantage_estimator_spec(spec.adv_estimator)
        assert spec.needs_critic == est.needs_values
        assert spec.needs_greedy_baseline == est.needs_greedy_baseline
        assert spec.needs_reference == bool(spec.use_kl_loss or spec.use_kl_in_reward)
    assert registry_names("presets") == preset_names()


def test_estimator_specs():
    grpo, gae, remax = (advantage_estimator_spec(n) for n in ("grpo", "gae", "remax"))
    assert isinstance(grpo, AdvantageEstimatorSpec) and grpo.min_group_size == 2 and grpo.knobs["eps"] == 1e-6
    assert gae.needs_values and not gae.needs_greedy_baseline and gae.min_group_size == 1
    assert remax.needs_greedy_baseline and not remax.needs_values
    assert verl_adv_estimator_names() == {
        "gae": "gae", "grpo": "grpo", "rloo": "rloo", "reinforce_pp": "reinforce_plus_plus",
        "reinforce_pp_baseline": "reinforce_plus_plus_baseline", "remax": "remax",
        "grpo_passk": "grpo_passk", "opo": "opo", "gpg": "gpg"}
    with pytest.raises(TypeError):
        grpo.knobs["eps"] = 1.0  # type: ignore[index]
    with pytest.raises(ValueError, match="exactly one of verl_name and verl_missing_reason"):
        register_advantage_estimator("x", verl_name=None)
    with pytest.raises(ValueError, match="valid: gae, gpg, grpo"):
        advantage_estimator_spec("nope")


def test_policy_loss_specs_and_knob_checks():
    vanilla = policy_loss_spec("vanilla")
    assert list(vanilla.knobs) == ["clip_ratio_low", "clip_ratio_high", "clip_ratio_c"]
    assert {k: v.verl_key for k, v in vanilla.knobs.items()} == {k: k for k in vanilla.knobs}
    assert vanilla.verl_name == "vanilla"
    assert KnobSpec(3.0, "c", gt=1.0).problem(1.0) == "is out of range (must be > 1.0)"
    assert KnobSpec(3.0, "c", gt=1.0).problem(None) is None
    assert algorithm_problems("grpo", {"clip_ratio_low": 1.0}) == [
        ("clip_ratio_low", 1.0, "is out of range (must be < 1.0)")]
    assert algorithm_problems("dapo", {"clip_ratio_c": 2.0, "clip_ratio_high": None}) == []
    assert registry_names("policy_losses") == ["cispo", "clip_cov", "geo_mean", "gpg", "gspo", "kl_cov", "sapo",
                                              "vanilla"]
    assert BASE.policy_loss_knobs() == {"clip_ratio_low": 0.2, "clip_ratio_high": 0.2, "clip_ratio_c": 3.0}


@pytest.mark.parametrize("algorithm,message", [
    ({"clip_ratio_c": 1.0}, "r.yaml: 'algorithm.clip_ratio_c' = 1.0 is out of range (must be > 1.0)"),
    ({"clip_ratio_low": -0.1}, "r.yaml: 'algorithm.clip_ratio_low' = -0.1 is out of range (must be >= 0.0)"),
    ({"policy_loss": "vanila"}, "r.yaml: 'algorithm.policy_loss' = 'vanila' is not allowed (choose one of: "
                                "cispo, clip_cov, geo_mean, gpg, gspo, kl_cov, sapo, vanilla); did you mean 'vanilla'?"),
    ({"preset": "grop"}, "r.yaml: 'algorithm.preset' = 'grop' is not allowed (choose one of: "
                         f"{', '.join(preset_names())}); did you mean 'grpo'?"),
])
def test_recipe_validation_reads_the_registries(algorithm, message):
    from rlvr_bench.config import ConfigError, config_from_dict

    raw = {"method": "rl", "model": {"name_or_path": "toy:base"}, "data": {"source": "toy"},
           "algorithm": algorithm}
    with pytest.raises(ConfigError) as err:
        config_from_dict(raw, source="r.yaml")
    assert str(err.value) == message
    ok = config_from_dict({**raw, "algorithm": {"policy_loss": "vanilla", "clip_ratio_c": None}}, source="r.yaml")
    assert ok.algorithm.policy_loss == "vanilla"


# ------------------------------------------------------------- adding an estimator touches one place

def _dummy_advantage(*, token_level_rewards, response_mask, **_):
    adv = token_level_rewards.sum(-1, keepdim=True) * response_mask
    return adv, adv


@pytest.fixture
def dummy_estimators():
    """Two estimators registered the way a user would (one with a verl name, one without); removed after."""
    before = copy.copy(ADVANTAGE_ESTIMATORS)
    register_advantage_estimator("dummy_critic", needs_values=True, verl_name="gae")(_dummy_advantage)
    register_advantage_estimator("dummy_greedy", needs_greedy_baseline=True, needs_reference=True,
                                 verl_name=None, verl_missing_reason="verl has no dummy")(_dummy_advantage)
    yield
    ADVANTAGE_ESTIMATORS.clear()
    ADVANTAGE_ESTIMATORS.update(before)


def _rl_raw(estimator: str) -> dict[str, Any]:
    return {"method": "rl", "model": {"name_or_path": "toy:base"}, "data": {"source": "toy"},
            "algorithm": {"preset": "grpo", "adv_estimator": estimator, "use_kl_loss": False}}


def test_registered_estimator_is_usable_everywhere(dummy_estimators, tmp_path):
    from rlvr_bench.config import ConfigError, config_from_dict

    cfg = config_from_dict(_rl_raw("dummy_critic"), source="r.yaml")  # validation reads the registry
    assert cfg.algorithm.adv_estimator == "dummy_critic"
    with pytest.raises(ConfigError, match="'algorithm.adv_estimator' = 'dummy_critc' is not allowed .*dummy_critic"):
        config_from_dict(_rl_raw("dummy_critc"), source="r.yaml")

    from rlvr_bench.trainers.rl import resolve_algorithm as trainer_resolve

    algo = trainer_resolve(cfg)
    assert algo.needs_critic and not algo.needs_greedy_baseline and not algo.needs_reference
    greedy = trainer_resolve(config_from_dict(_rl_raw("dummy_greedy"), source="r.yaml"))
    assert greedy.needs_greedy_baseline and greedy.needs_reference and not greedy.needs_critic
    assert greedy.as_dict()["needs_greedy_baseline"] is True

    from rlvr_bench.backends.verl.errors import UnsupportedRecipeError
    from rlvr_bench.backends.verl.plan import build_plan
    from tests.backends.test_verl_export import FACTS

    assert build_plan(cfg, algo, FACTS).overrides["algorithm.adv_estimator"] == "gae"  # the spec's verl name
    with pytest.raises(UnsupportedRecipeError, match="no verl equivalent: verl has no dummy"):
        build_plan(cfg, greedy, FACTS)


def test_doc_names_the_one_place():
    text = (Path(__file__).resolve().parents[2] / "docs" / "algorithms.md").read_text(encoding="utf-8")
    assert "## Adding an algorithm" in text and "register_advantage_estimator" in text
