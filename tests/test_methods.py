"""The method registry: one entry makes a method valid in recipes, runnable, classified in reports and
scheduled by the study."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from rlvr_bench.analysis.runs import method_kind
from rlvr_bench.config import METHODS, ConfigError, config_from_dict
from rlvr_bench.methods import KINDS, Method, get_method, method_names, register, unregister
from rlvr_bench.runner import RUNNERS, resolve_runner
from rlvr_bench.study.runner import _depends_on


def dummy_run(cfg):  # the dummy method's runner
    return Path("nowhere")


@pytest.fixture
def dummy():
    """A registered dummy distillation-like method, removed afterwards."""
    method = register(Method("dummy_distill", "distill", f"{__name__}:dummy_run", ("model.teacher",), "a test"))
    yield method
    unregister(method.name)


def test_builtin_methods_and_the_views_that_follow_the_registry():
    assert tuple(METHODS) == ("rl", "sft", "rft", "distill_seq", "distill_logit", "toy_base", "toy_teacher", "eval")
    assert dict(RUNNERS)["rl"] == "rlvr_bench.trainers.rl:run_rl"
    assert all(get_method(name).kind in KINDS for name in method_names())
    assert get_method("distill_seq").depends_on == ("model.teacher",) and get_method("rl").is_rl


def test_adding_a_method_is_one_registry_entry(dummy):
    assert "dummy_distill" in METHODS and RUNNERS["dummy_distill"] == dummy.runner
    cfg = config_from_dict({"method": "dummy_distill", "data": {"source": "toy"},
                           "model": {"name_or_path": "toy:base", "teacher": "toy:teacher"}})
    assert cfg.method == "dummy_distill"
    assert resolve_runner("dummy_distill") is dummy_run
    assert method_kind("my-run", {"method": "dummy_distill"}) == "distill"
    assert _depends_on(cfg, dummy, "toy:teacher") and not _depends_on(cfg, dummy, "toy:other")
    assert not _depends_on(cfg, get_method("sft"), "toy:teacher")


def test_an_unregistered_method_is_a_one_line_error(dummy):
    unregister("dummy_distill")
    with pytest.raises(ConfigError, match="dummy_distill") as info:
        config_from_dict({"method": "dummy_distill", "model": {"name_or_path": "toy:base"}})
    assert "\n" not in str(info.value)
    with pytest.raises(ConfigError, match="unknown method 'dummy_distill'"):
        resolve_runner("dummy_distill")


def test_registry_rejects_bad_entries():
    with pytest.raises(ValueError, match="kind"):
        Method("x", "dpo", "a:b")
    with pytest.raises(ValueError, match="module:function"):
        Method("x", "rl", "a.b")
    with pytest.raises(ValueError, match="already registered"):
        register(Method("rl", "rl", "a:b"))
    with pytest.raises(ValueError, match="prepare 'a.b' is not 'module:function'"):
        Method("x", "base", "a:b", prepare="a.b")


def test_prepare_only_builds_the_toy_base_and_writes_no_run(tmp_path, monkeypatch, capsys):
    """``train --prepare-only``: the toy base's build (a tiny world here) lands in the cache; no run directory,
    no evaluation; a method without a prepare step says so."""
    from rlvr_bench.cli import main
    from rlvr_bench.runner import run_prepare

    assert resolve_runner("toy_base", what="prepare").__name__ == "prepare_toy_base"
    assert resolve_runner("rl", what="prepare") is None
    monkeypatch.setenv("RLVR_BENCH_CACHE", str(tmp_path / "cache"))
    tiny = ["toy.model.hidden_size=32", "toy.model.num_hidden_layers=1", "toy.model.intermediate_size=64",
            "toy.model.num_attention_heads=2", "toy.model.num_key_value_heads=2", "toy.base.train.steps=4",
            "toy.base.train.batch_size=8", "toy.base.train.warmup_steps=1", "logging.progress=false"]
    out = tmp_path / "run"
    assert main(["train", "--prepare-only", "toy/base.yaml", f"output_dir={out}", *tiny]) == 0
    built = list((tmp_path / "cache" / "toy").glob("base-*/build.json"))
    assert len(built) == 1 and json.loads(built[0].read_text())["steps"] == 4
    assert not out.exists() and "prepared: toy:base" in capsys.readouterr().out
    assert main(["train", "--prepare-only", "toy/grpo.yaml", f"output_dir={out}"]) == 0
    assert "nothing to prepare for method 'rl'" in capsys.readouterr().out and not out.exists()
    assert not run_prepare(config_from_dict({"method": "rl", "data": {"source": "toy"},
                                             "model": {"name_or_path": "toy:base"}}))


@pytest.mark.parametrize(("label", "config", "algorithm", "kind"), [
    ("base", {"method": "rl"}, False, "base"),
    ("x", {"method": "toy_base"}, False, "base"),
    ("teacher", {}, False, "teacher"),
    ("x", {"method": "toy_teacher"}, False, "teacher"),
    ("x", {"method": "rl"}, False, "rl"),
    ("x", {}, True, "rl"),
    ("grpo", None, False, "rl"),
    ("x", {"method": "rft"}, False, "rft"),
    ("rft_big", None, False, "rft"),
    ("x", {"method": "sft"}, False, "sft"),
    ("sft_lora", None, False, "sft"),
    ("x", {"method": "distill_logit"}, False, "distill"),
    ("distill_seq", None, False, "distill"),  # a verl import or an eval-only run: named by its directory
    ("x", {"method": "eval"}, False, "other"),
    ("x", {"method": "not_a_method"}, False, "other"),
    ("x", None, False, "other"),
])
def test_method_kind_reads_the_registry_and_keeps_the_label_fallbacks(label, config, algorithm, kind):
    assert method_kind(label, config, has_algorithm=algorithm) == kind


def test_importing_the_registry_and_the_config_stays_light():
    code = ("import sys, rlvr_bench.methods, rlvr_bench.config, rlvr_bench.runner; "
            "print(json.dumps(sorted(m for m in ('torch', 'transformers', 'rlvr_bench.trainers') if m in sys.modules)))")
    out = subprocess.run([sys.executable, "-c", "import json; " + code], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == []
