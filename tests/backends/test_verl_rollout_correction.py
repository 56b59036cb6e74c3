"""The verl export of ``rollout.correction*`` (verl 0.9.1's ``algorithm.rollout_correction``): the rows, the
one-line refusal, and parity through verl's composed config: the export's overrides, composed strictly with
verl's Hydra config, make verl's own rollout-correction code compute our weights and metrics, and verl's
policy losses with those weights take our gradient (``verl_rollout_correction_check.py``, in the verl
environment; skipped without one)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rlvr_bench.backends.verl.errors import UnsupportedRecipeError
from rlvr_bench.backends.verl.overrides import hydra_args
from rlvr_bench.backends.verl.plan import build_plan, covered_fields, recipe_leaf_fields
from rlvr_bench.config import config_from_dict
from rlvr_bench.trainers.rl import resolve_algorithm
from tests.backends.helpers import run_verl_script
from tests.backends.test_verl_export import FACTS

RC = "algorithm.rollout_correction"
SCRIPT = Path(__file__).with_name("verl_rollout_correction_check.py")
CASES = [("none", 2.0, None), ("token_truncate", 1.5, None), ("token_mask", 2.0, 0.5), ("token_mask", 3.0, None),
         ("sequence_truncate", 2.0, None), ("sequence_mask", 4.0, 0.25)]  # each case costs a Hydra composition
TOL = 1e-5


def _plan(mode: str, cap: float = 2.0, floor: float | None = None):
    cfg = config_from_dict({"method": "rl", "model": {"name_or_path": "toy:base"}, "data": {"source": "toy"},
                            "rollout": {"correction": mode, "correction_cap": cap, "correction_floor": floor}})
    return build_plan(cfg, resolve_algorithm(cfg), FACTS)


def _args(plan) -> list[str]:
    return hydra_args({k: v for k, v in plan.overrides.items()
                       if k.startswith(RC) or k.endswith("rollout.calculate_log_probs")})


@pytest.mark.parametrize("mode, cap, floor, rollout_is, threshold", [
    ("none", 2.0, None, None, None),
    ("token_truncate", 2.0, None, "token", 2.0),
    ("sequence_truncate", 3.0, None, "sequence", 3.0),
    ("token_mask", 2.0, 0.5, "token", "0.5_2.0"),
    ("token_mask", 5.0, None, "token", "1e-12_5.0"),
    ("sequence_mask", 2.0, 0.5, "sequence", "0.5_2.0"),
])
def test_modes_reach_verls_rollout_correction_keys(mode, cap, floor, rollout_is, threshold):
    plan = _plan(mode, cap, floor)
    o = plan.overrides
    assert o[f"{RC}.rollout_is"] == rollout_is and o[f"{RC}.rollout_rs"] is None and o[f"{RC}.bypass_mode"] is False
    assert o["actor_rollout_ref.rollout.calculate_log_probs"] is True
    assert o.get(f"{RC}.rollout_is_threshold") == threshold
    assert set(recipe_leaf_fields()) <= covered_fields(plan.rows)
    fields = {r.field: r for r in plan.rows}
    assert fields["rollout.correction"].status == "exact"
    assert fields["rollout.correction_cap"].status == ("unused" if mode == "none" else "exact")


def test_a_floor_on_a_truncate_mode_is_refused_in_one_line():
    with pytest.raises(UnsupportedRecipeError) as info:
        _plan("token_truncate", 2.0, 0.5)
    assert len(info.value.problems) == 1 and "\n" not in str(info.value)
    assert info.value.problems[0].startswith("rollout.correction_floor=0.5: verl 0.9.1 truncates")


@pytest.fixture(scope="module")
def parity() -> list[dict]:
    cases = [{"mode": m, "cap": c, "floor": f, "args": _args(_plan(m, c, f))} for m, c, f in CASES]
    return run_verl_script(SCRIPT, json.dumps(cases), "0", "1")["cases"]


@pytest.mark.slow
def test_verl_computes_our_weights_and_metrics_from_the_exported_config(parity):
    assert {(c["mode"], c["cap"], c["floor"]) for c in parity} == set(CASES)
    for c in parity:
        where = f"{c['mode']} cap={c['cap']} floor={c['floor']} seed={c['seed']}"
        assert c["mask_equal"], where  # no rejection sampling: verl's response mask is left as it was
        assert all(d <= TOL for d in c["metric_diffs"].values()), (where, c["metric_diffs"])
        assert c["verl_has_weights"] == (c["mode"] != "none"), where
        if c["verl_has_weights"]:
            assert c["weight_diff"] <= TOL, (where, c["weight_diff"])
    assert all(0 < c["frac_corrected"] < 1 for c in parity if c["mode"] != "none")  # the bounds were exercised


@pytest.mark.slow
def test_the_weighted_gradient_is_verls_for_every_token_level_loss(parity):
    for c in parity:
        for loss, g in c.get("grads", {}).items():
            assert g["grad_diff"] <= TOL, (c["mode"], c["seed"], loss, g)
            assert g["grad_norm"] > 0
