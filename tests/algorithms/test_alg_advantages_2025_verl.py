"""verl 0.9.1 parity of the 2025 estimators grpo_passk, opo, gpg and of the gpg policy loss, to 1e-5.

Runs ``tests/algorithms/verl_advantages_2025_check.py`` once in the verl environment
(``.venv-verl/bin/python``, or ``$RLVR_BENCH_VERL_PYTHON``) with ``PYTHONPATH`` = the checkout, and asserts
on its JSON: advantages and returns through verl's own ``ray_trainer.compute_advantage``, the gpg loss and
its gradient w.r.t. log_prob. Skipped when the verl environment is missing (``make verl-env``).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.backends.helpers import run_verl_script

REPO = Path(__file__).resolve().parents[2]
SCRIPT = Path(__file__).with_name("verl_advantages_2025_check.py")
SEEDS = ("0", "1", "2", "3")
TOL = 1e-5


@pytest.fixture(scope="module")
def result() -> dict:
    return run_verl_script(SCRIPT, *SEEDS)


@pytest.mark.parametrize(("name", "norm"), [("grpo_passk", True), ("grpo_passk", False), ("opo", True),
                                            ("gpg", True)])
def test_advantages_match_verl(result, name, norm):
    mine = [c for c in result["advantages"] if c["estimator"] == name and c["norm"] == norm]
    assert len(mine) == len(SEEDS)
    for c in mine:
        where = f"{name} norm={norm} seed={c['seed']}"
        assert not c["nan"], where
        assert c["adv_diff"] <= TOL and c["ret_diff"] <= TOL, f"{where}: {c['adv_diff']}, {c['ret_diff']}"
    assert all(c["nonzero_rows"] > 0 and c["adv_scale"] > 0.1 for c in mine)  # a non-trivial comparison


def test_grpo_passk_both_reject_a_singleton_group(result):
    assert result["singleton"] == {"verl": "ValueError", "ours": "ValueError"}


def test_gpg_loss_and_gradient_match_verl(result):
    cases = result["losses"]
    assert {c["mode"] for c in cases} == {"token-mean", "seq-mean-token-mean", "seq-mean-token-sum"}
    assert len(cases) == 3 * len(SEEDS)
    for c in cases:
        where = f"gpg mode={c['mode']} seed={c['seed']}"
        assert c["loss_diff"] <= TOL, f"{where}: ours {c['loss_ours']} verl {c['loss_verl']}"
        assert c["grad_diff"] <= TOL, f"{where}: max |grad ours - grad verl| = {c['grad_diff']}"
        assert c["ours_metric_keys"] == c["verl_metric_keys"] == [], where
    assert any(c["grad_norm"] > 0 for c in cases)
