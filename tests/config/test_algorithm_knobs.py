"""``algorithm.knobs``: every registry knob without a field of its own, validated against its KnobSpec."""

from __future__ import annotations

import pytest

from rlvr_bench.algorithms import KnobSpec, resolve_algorithm
from rlvr_bench.config import load_config
from tests.config.helpers import error_of, write

RECIPE = """\
method: rl
model: {name_or_path: toy:base}
data: {source: toy}
rollout: {n: 8}
algorithm: {preset: grpo, policy_loss: sapo, knobs: {tau_pos: 2.0}}
"""


def test_a_loss_knob_reaches_the_resolved_algorithm(tmp_path):
    cfg = load_config(write(tmp_path, RECIPE))
    algo = resolve_algorithm(cfg.algorithm.preset, vars(cfg.algorithm), max_new_tokens=8, learning_rate=1e-3)
    assert algo.policy_loss_knobs() == {"tau_pos": 2.0, "tau_neg": 1.05}  # the other knob: its default
    assert algo.as_dict()["knobs"] == {"tau_pos": 2.0}


def test_recipe_knobs_merge_over_the_presets():
    algo = resolve_algorithm("sapo", {"knobs": {"tau_neg": 1.2}}, max_new_tokens=8, learning_rate=1e-3)
    assert algo.policy_loss_knobs() == {"tau_pos": 1.0, "tau_neg": 1.2}


@pytest.mark.parametrize(("knobs", "expected"), [
    ("{tau_pos: -1}", "'algorithm.knobs.tau_pos' = -1 is out of range (must be > 0.0)"),
    ("{tau_pos: fast}", "'algorithm.knobs' = {'tau_pos': 'fast'} is not a valid dict[str, bool or int or float]"),
    ("{k: 2}", "'algorithm.knobs.k' = 2 is not a knob of policy loss 'sapo' or advantage estimator 'grpo'"),
    ("{clip_ratio_low: 0.1}", "'algorithm.knobs.clip_ratio_low' = 0.1 has its own field: set "
                              "algorithm.clip_ratio_low instead"),
])
def test_bad_knobs_fail_in_one_line(tmp_path, knobs, expected):
    path = write(tmp_path, RECIPE.replace("{tau_pos: 2.0}", knobs))
    assert expected in error_of(path)


def test_knob_spec_problems():
    k = KnobSpec(4, "k of pass@k", ge=1, integer=True, at_most_group_size=True)
    assert k.problem(4, group_size=8) is None and k.problem(None) is None
    assert k.problem(2.5) == "must be a whole number"
    assert k.problem(0) == "is out of range (must be >= 1)"
    assert k.problem(16, group_size=8) == "is larger than the group size rollout.n = 8"
    assert k.problem(True) == "must be a number" and k.problem("4") == "must be a number"
