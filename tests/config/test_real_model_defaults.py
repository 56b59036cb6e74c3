"""Real-model defaults: data.template and evaluation.benchmarks resolve to the toy world's values only for a
toy recipe; any other model must name them (one-line errors), and the resolved values are what is saved."""

from __future__ import annotations

import pytest

from rlvr_bench.config import ConfigError, config_from_dict, config_to_dict, load_config, save_config
from rlvr_bench.config.loader import field_help, is_toy_recipe
from tests.config.helpers import error_of, write

REAL = """
method: rl
model: {name_or_path: Qwen/Qwen2.5-Math-1.5B}
data: {source: gsm8k}
"""
TOY = """
method: rl
model: {name_or_path: toy:base}
data: {source: toy}
"""


def test_new_fields_exist_with_their_defaults_and_help():
    rows = {key: (help_, default) for key, help_, default in field_help()}
    assert rows["data.template"][1] is None and "required for any other model" in rows["data.template"][0]
    assert rows["data.max_prompt_tokens"][1] is None
    assert rows["data.overlong_prompts"][1] == "drop"
    assert rows["evaluation.stop"][1] == [] and "<|im_end|>" in rows["evaluation.stop"][0]
    assert rows["evaluation.benchmarks"][1] is None
    assert "turn-end token" in rows["rollout.stop"][0]


def test_new_field_constraints(tmp_path):
    path = write(tmp_path, TOY)
    assert error_of(path, ["data.max_prompt_tokens=0"]).endswith(
        "'data.max_prompt_tokens' = 0 is out of range (must be > 0)")
    assert "'data.overlong_prompts' = 'skip' is not allowed (choose one of: drop, error)" in error_of(
        path, ["data.overlong_prompts=skip"])
    cfg = load_config(path, ["data.max_prompt_tokens=3072", "data.overlong_prompts=error"])
    assert (cfg.data.max_prompt_tokens, cfg.data.overlong_prompts) == (3072, "error")


@pytest.mark.parametrize("text", [TOY, TOY.replace("method: rl", "method: toy_base").replace("toy:base", "x"),
                                  TOY.replace("method: rl", "method: toy_teacher")])
def test_toy_recipes_resolve_to_the_toy_world(tmp_path, text):
    cfg = load_config(write(tmp_path, text))
    assert is_toy_recipe(cfg)
    assert cfg.data.template == "toy" and cfg.evaluation.benchmarks == ["toy"]


def test_real_model_without_template_is_one_line(tmp_path):
    path = write(tmp_path, REAL)
    msg = error_of(path)
    assert msg.startswith(f"{path}: model 'Qwen/Qwen2.5-Math-1.5B' is not a toy model: set data.template (e.g. ")
    assert "qwen_boxed" in msg and "toy" in msg
    assert msg.endswith("; the 'toy' template is for the offline toy world")


def test_real_model_without_benchmarks_is_one_line(tmp_path):
    path = write(tmp_path, REAL)
    assert error_of(path, ["data.template=qwen_boxed"]) == (
        f"{path}: model 'Qwen/Qwen2.5-Math-1.5B' is not a toy model: set evaluation.benchmarks "
        "(e.g. [math500, gsm8k]) or evaluation.enabled: false"
    )


def test_real_model_with_evaluation_off_gets_no_benchmarks(tmp_path):
    cfg = load_config(write(tmp_path, REAL), ["data.template=qwen_boxed", "evaluation.enabled=false"])
    assert cfg.evaluation.benchmarks == [] and not is_toy_recipe(cfg)


def test_explicit_toy_values_with_a_real_model_are_kept(tmp_path):
    cfg = load_config(write(tmp_path, REAL), ["data.template=toy", "evaluation.benchmarks=[toy]"])
    assert cfg.data.template == "toy" and cfg.evaluation.benchmarks == ["toy"]


def test_resolved_config_saves_and_revalidates(tmp_path):
    for text, overrides in ((TOY, []), (REAL, ["data.template=plain", "evaluation.enabled=false"])):
        cfg = load_config(write(tmp_path, text), overrides)
        out = tmp_path / "config.yaml"
        save_config(cfg, out)
        again = load_config(out)
        assert config_to_dict(again) == config_to_dict(cfg)
        assert again.data.template is not None and isinstance(again.evaluation.benchmarks, list)


def test_config_from_dict_resolves_too():
    cfg = config_from_dict({"method": "rl", "model": {"name_or_path": "toy:base"}, "data": {"source": "toy"}})
    assert (cfg.data.template, cfg.evaluation.benchmarks) == ("toy", ["toy"])
    with pytest.raises(ConfigError, match="model 'org/m' is not a toy model: set data.template"):
        config_from_dict({"method": "rl", "model": {"name_or_path": "org/m"}, "data": {"source": "toy"}})


def test_every_shipped_recipe_still_validates():
    from rlvr_bench.recipes import recipes_dir, validate_all

    rows, errors = validate_all(recipes_dir())
    assert not errors, errors
    assert len(rows) >= 30


def test_shipped_real_model_recipes_state_their_settings():
    """Every shipped recipe on a real model names its template and benchmarks (nothing falls back to toy)."""
    import yaml

    from rlvr_bench.recipes import recipes_dir

    for path in sorted(recipes_dir().rglob("*.yaml")):
        raw = yaml.safe_load(path.read_text())
        if "method" not in raw or str(raw["model"]["name_or_path"]).startswith("toy:"):
            continue
        assert raw["data"].get("template") not in (None, "toy"), path
        assert raw["evaluation"].get("benchmarks"), path
        assert raw["evaluation"].get("max_new_tokens"), path
        if raw["method"] == "eval":
            continue
        assert raw["trainer"].get("learning_rate"), path
        assert raw["trainer"].get("prompts_per_step" if raw["method"] == "rl" else "batch_size"), path
        if raw["method"] != "sft":  # every other trained method samples
            assert raw["rollout"].get("max_new_tokens"), path
