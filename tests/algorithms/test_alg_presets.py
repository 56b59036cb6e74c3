"""Presets: keys, internal consistency, paper-specific settings, and the table in docs/algorithms.md."""

from __future__ import annotations

import ast
import dataclasses
import re
import sys
from pathlib import Path

import pytest

from rlvr_bench.algorithms import (
    KL_KINDS,
    LOSS_AGG_MODES,
    PRESET_KEYS,
    PRESET_REFERENCES,
    PRESETS,
    advantage_estimator_names,
    canonical_kl_kind,
    preset,
    preset_names,
    presets_common_markdown,
    presets_table_markdown,
)

DOC = Path(__file__).resolve().parents[2] / "docs" / "algorithms.md"
CLASSIC = ["grpo", "dr_grpo", "dapo", "rloo", "reinforce_pp", "reinforce_pp_baseline", "remax", "ppo"]
BOUNDARY = ["gspo", "cispo", "geo_mean", "clip_cov", "kl_cov", "sapo", "top_entropy", "adaptive_entropy",
            "grpo_passk", "passk", "pkpo", "opo", "gpg", "prorl"]
EXPECTED = CLASSIC + BOUNDARY


def test_names_and_keys():
    assert preset_names() == EXPECTED
    assert set(PRESET_REFERENCES) == set(EXPECTED)
    for name in EXPECTED:
        assert PRESETS[name].preset == name
        assert tuple(PRESETS[name].as_dict())[:len(PRESET_KEYS)] == PRESET_KEYS, name
        assert "arXiv" in PRESET_REFERENCES[name]


@pytest.mark.parametrize("name", EXPECTED)
def test_preset_values_are_valid_and_consistent(name):
    p = preset(name).as_dict()
    assert p["adv_estimator"] in advantage_estimator_names()
    assert p["loss_agg_mode"] in LOSS_AGG_MODES
    assert p["kl_loss_type"] in KL_KINDS and canonical_kl_kind(p["kl_loss_type"]) == p["kl_loss_type"]
    assert p["clip_ratio_c"] is None or p["clip_ratio_c"] > 1
    assert 0 < p["clip_ratio_low"] < 1
    # CISPO's paper sets no effective lower bound on the IS weight: eps_low 0.99 above its eps_high
    assert p["clip_ratio_high"] >= p["clip_ratio_low"] or name == "cispo"
    assert p["needs_critic"] == (p["adv_estimator"] == "gae")
    assert p["needs_greedy_baseline"] == (p["adv_estimator"] == "remax")
    assert p["needs_reference"] == (p["use_kl_loss"] or p["use_kl_in_reward"])
    assert (p["kl_loss_coef"] > 0) == p["use_kl_loss"]
    assert (p["kl_coef"] > 0) == p["use_kl_in_reward"]
    assert isinstance(p["ppo_epochs"], int) and p["ppo_epochs"] >= 1
    assert isinstance(p["mini_batches"], int) and p["mini_batches"] >= 1


def test_paper_settings():
    dapo, dr, grpo, ppo = (preset(n).as_dict() for n in ("dapo", "dr_grpo", "grpo", "ppo"))
    assert (dapo["clip_ratio_low"], dapo["clip_ratio_high"], dapo["loss_agg_mode"]) == (0.2, 0.28, "token-mean")
    assert dapo["dynamic_sampling"] and dapo["overlong_penalty"] and not dapo["needs_reference"]
    assert not dr["norm_adv_by_std"] and dr["loss_agg_mode"] == "seq-mean-token-sum-norm"
    assert grpo["loss_agg_mode"] == "seq-mean-token-mean" and grpo["use_kl_loss"]
    assert (grpo["kl_loss_type"], grpo["kl_loss_coef"]) == ("k3", 0.001)
    assert ppo["adv_estimator"] == "gae" and ppo["gamma"] == ppo["lam"] == 1.0 and ppo["ppo_epochs"] > 1


def test_preset_is_frozen_and_rejects_unknown():
    p = preset("grpo")
    with pytest.raises(dataclasses.FrozenInstanceError):
        p.clip_ratio_high = 99  # type: ignore[misc]
    assert PRESETS["grpo"].clip_ratio_high == 0.2
    with pytest.raises(ValueError, match="valid: grpo, dr_grpo"):
        preset("trpo")


@pytest.mark.parametrize(("marker", "names"), [("presets-table", CLASSIC), ("presets-2025-table", BOUNDARY)])
def test_doc_table_matches_presets(marker, names):
    text = DOC.read_text(encoding="utf-8")
    block = re.search(rf"<!-- {marker}:start -->\n(.*?)<!-- {marker}:end -->", text, re.S)
    assert block, f"docs/algorithms.md lost its {marker} markers"
    expected = presets_table_markdown(names=names) + "\n" + presets_common_markdown(names=names)
    assert block.group(1) == expected, (
        "docs/algorithms.md is out of date; replace the block between the markers with:\n" + expected
    )


def test_doc_has_a_section_per_preset():
    text = DOC.read_text(encoding="utf-8")
    for name in EXPECTED:
        assert f"`{name}`" in text, name


def test_algorithms_imports_only_torch_and_stdlib():
    """Layering (design.md): the package depends on torch and the standard library only, and a module's
    top level only defines things (imports, constants, functions, classes, registrations)."""
    package = Path(__file__).resolve().parents[2] / "rlvr_bench" / "algorithms"
    allowed_roots = {"torch", "__future__"} | set(sys.stdlib_module_names)
    for path in sorted(package.glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                roots = {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                roots = {node.module.split(".")[0]}
            else:
                continue
            assert roots <= allowed_roots, f"{path.name} imports {roots - allowed_roots}"
        for node in tree.body:
            assert isinstance(node, (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.ClassDef, ast.Assign,
                                     ast.AnnAssign, ast.Expr)), f"{path.name}:{node.lineno} does work at import"
            if isinstance(node, ast.Expr):
                assert isinstance(node.value, ast.Constant), f"{path.name}:{node.lineno} calls at import"
