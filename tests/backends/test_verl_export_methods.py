"""The verl export of the boundary methods (issue 19): every method verl 0.9.1 has is mapped (loss mode,
estimator, knobs under their verl keys); every one it lacks fails with one line naming it."""

from __future__ import annotations

import pytest

from rlvr_bench.algorithms import PRESETS, policy_loss_spec
from rlvr_bench.algorithms.presets_2025 import PRESETS_2025
from rlvr_bench.backends.verl.errors import UnsupportedRecipeError
from rlvr_bench.backends.verl.plan import build_plan, covered_fields, recipe_leaf_fields
from rlvr_bench.config import config_from_dict
from rlvr_bench.trainers.rl import resolve_algorithm
from tests.backends.helpers import METHODS_NOT_IN_VERL, METHODS_VERL
from tests.backends.test_verl_export import FACTS

A = "actor_rollout_ref.actor"


def _plan(algorithm: dict):
    cfg = config_from_dict({"method": "rl", "model": {"name_or_path": "toy:base"}, "data": {"source": "toy"},
                            "algorithm": algorithm})
    return build_plan(cfg, resolve_algorithm(cfg), FACTS)


def test_every_new_preset_is_classified():
    assert {s.preset for s in PRESETS_2025} == set(METHODS_VERL) | set(METHODS_NOT_IN_VERL)
    assert all(name in PRESETS for name in METHODS_VERL)


@pytest.mark.parametrize("preset", sorted(METHODS_VERL))
def test_methods_verl_has_are_mapped_with_their_knobs(preset):
    plan = _plan({"preset": preset})
    loss_mode, estimator = METHODS_VERL[preset]
    o = plan.overrides
    assert o[f"{A}.policy_loss.loss_mode"] == loss_mode and o["algorithm.adv_estimator"] == estimator
    assert set(recipe_leaf_fields()) <= covered_fields(plan.rows)
    algo = resolve_algorithm(config_from_dict({"method": "rl", "model": {"name_or_path": "toy:base"},
                                               "data": {"source": "toy"}, "algorithm": {"preset": preset}}))
    for name, knob in policy_loss_spec(algo.policy_loss).knobs.items():
        assert o[f"{A}.{knob.verl_key}"] == algo.policy_loss_knobs()[name], name


def test_a_recipe_knob_reaches_its_verl_key():
    o = _plan({"preset": "kl_cov", "knobs": {"kl_cov_ratio": 0.01}}).overrides
    assert o[f"{A}.policy_loss.kl_cov_ratio"] == 0.01 and o[f"{A}.policy_loss.ppo_kl_coef"] == 1.0
    o = _plan({"preset": "sapo", "knobs": {"tau_neg": 1.3}}).overrides
    assert o[f"{A}.tau_neg"] == 1.3 and o[f"{A}.tau_pos"] == 1.0


@pytest.mark.parametrize("preset", sorted(METHODS_NOT_IN_VERL))
def test_methods_verl_lacks_fail_in_one_line_naming_them(preset):
    with pytest.raises(UnsupportedRecipeError) as info:
        _plan({"preset": preset, "use_kl_loss": True})
    message = str(info.value)
    assert "\n" not in message and METHODS_NOT_IN_VERL[preset] in message
    assert len(info.value.problems) == 1, info.value.problems
