"""Strict recipe validation: every user mistake is one line naming the file, the key and what is allowed."""

from __future__ import annotations

from pathlib import Path

import pytest

from rlvr_bench.config import RecipeConfig, RLConfig, config_to_dict, load_config, save_config
from rlvr_bench.config.loader import apply_overrides, field_help
from tests.config.helpers import error_of, write

GOOD = """
method: rl
model: {name_or_path: toy:base}
data: {source: toy}
algorithm: {preset: grpo}
trainer: {steps: 5, learning_rate: 1e-4}
"""


def test_good_recipe_loads_with_types_and_defaults(tmp_path):
    cfg = load_config(write(tmp_path, GOOD))
    assert isinstance(cfg, RecipeConfig)
    assert cfg.trainer.learning_rate == pytest.approx(1e-4)  # "1e-4" is a string to PyYAML
    assert cfg.trainer.steps == 5
    assert cfg.rollout.n == 8 and cfg.evaluation.ks[-1] == 64
    assert cfg.output_dir == str(Path("runs") / "r" / "s0")
    assert cfg.algorithm.clip_ratio_high is None  # filled from the preset by the trainer


def test_overrides_apply_and_parse_values(tmp_path):
    cfg = load_config(write(tmp_path, GOOD), ["trainer.steps=7", "rollout.temperature=0.6",
                                               "evaluation.ks=[1,2]", "model.lora.enabled=true", "seed=3"])
    assert cfg.trainer.steps == 7 and cfg.rollout.temperature == 0.6
    assert cfg.evaluation.ks == [1, 2] and cfg.model.lora.enabled is True and cfg.seed == 3
    assert cfg.output_dir.endswith("s3")


def test_save_and_reload_round_trip(tmp_path):
    cfg = load_config(write(tmp_path, GOOD), ["algorithm.clip_ratio_high=0.28"])
    out = tmp_path / "resolved.yaml"
    save_config(cfg, out)
    again = load_config(out)
    assert config_to_dict(again) == config_to_dict(cfg)


def test_rlconfig_defaults_to_rl_method():
    assert RLConfig().method == "rl"


def test_every_field_has_help():
    rows = field_help()
    assert len(rows) > 60
    assert all(help_ for _, help_, _ in rows)


# ---------------------------------------------------------------- malformed recipes: exact message shapes

CASES = [
    ("unknown top-level key",
     GOOD + "trainr: {steps: 3}\n",
     "r.yaml: unknown key 'trainr' (did you mean 'trainer'?)"),
    ("nested unknown key",
     GOOD.replace("steps: 5", "stesp: 5"),
     "r.yaml: unknown key 'trainer.stesp' (did you mean 'trainer.steps'?)"),
    ("wrong type",
     GOOD.replace("steps: 5", "steps: five"),
     "r.yaml: 'trainer.steps' = 'five' is not a valid int"),
    ("bool given as string",
     GOOD + "logging: {progress: 'yes'}\n",
     "r.yaml: 'logging.progress' = 'yes' is not a valid bool"),
    ("negative learning rate",
     GOOD.replace("1e-4", "-0.001"),
     "r.yaml: 'trainer.learning_rate' = -0.001 is out of range (must be > 0.0)"),
    ("top_p outside (0, 1]",
     GOOD + "rollout: {top_p: 1.5}\n",
     "r.yaml: 'rollout.top_p' = 1.5 is out of range (must be <= 1.0)"),
    ("k larger than n",
     GOOD + "evaluation: {n: 8, ks: [1, 4, 16]}\n",
     "r.yaml: 'evaluation.ks' contains k = 16 larger than evaluation.n = 8 (pass@k needs n >= k samples)"),
    ("missing required field",
     "method: rl\ndata: {source: toy}\n",
     "r.yaml: missing required key 'model.name_or_path' (policy: Hugging Face name, local directory, "
     "or 'toy:base' / 'toy:teacher')"),
    ("missing method",
     "model: {name_or_path: toy:base}\ndata: {source: toy}\n",
     "r.yaml: missing required key 'method' (what this recipe trains)"),
    ("empty file", "", "r.yaml: empty recipe (expected a mapping with at least 'method')"),
    ("not a mapping", "- method\n- rl\n", "r.yaml: a recipe must be a mapping of sections, got list"),
    ("section not a mapping", GOOD + "rollout: 5\n", "r.yaml: 'rollout' must be a mapping, got 5"),
    ("invalid YAML", "method: rl\nmodel: {name_or_path: [\n", None),
    ("unknown algorithm name",
     GOOD.replace("preset: grpo", "preset: grop"),
     "r.yaml: 'algorithm.preset' = 'grop' is not allowed (choose one of: grpo, dr_grpo, dapo, rloo, "
     "reinforce_pp, reinforce_pp_baseline, remax, ppo, gspo, cispo, geo_mean, clip_cov, kl_cov, sapo, top_entropy, "
     "adaptive_entropy, grpo_passk, passk, pkpo, opo, gpg, prorl); did you mean 'grpo'?"),
    ("unknown method",
     GOOD.replace("method: rl", "method: rlhf"),
     None),
    ("bad list element",
     GOOD + "evaluation: {ks: [1, 0]}\n",
     "r.yaml: 'evaluation.ks' = 0 is out of range (must be >= 1)"),
]


@pytest.mark.parametrize("label,text,expected", CASES, ids=[c[0] for c in CASES])
def test_malformed_recipe_gives_one_line(tmp_path, label, text, expected):
    path = write(tmp_path, text)
    msg = error_of(path)
    assert msg.startswith(str(path)), msg
    if expected is not None:
        assert msg == str(tmp_path / expected), msg


def test_deeply_nested_unknown_key_suggests(tmp_path):
    path = write(tmp_path, "method: rl\nmodel: {name_or_path: x, lora: {alpah: 4}}\ndata: {source: toy}\n")
    assert error_of(path) == f"{path}: unknown key 'model.lora.alpah' (did you mean 'model.lora.alpha'?)"


def test_invalid_yaml_names_line(tmp_path):
    path = write(tmp_path, "method: rl\nmodel: {name_or_path: [\n")
    msg = error_of(path)
    assert msg.startswith(f"{path}: invalid YAML at line ")


def test_unknown_method_lists_choices(tmp_path):
    msg = error_of(write(tmp_path, GOOD.replace("method: rl", "method: rlhf")))
    assert "'method' = 'rlhf' is not allowed (choose one of: rl, sft, rft" in msg


def test_bad_override_key_and_shape(tmp_path):
    path = write(tmp_path, GOOD)
    assert error_of(path, ["trainer.lerning_rate=1"]) == (
        "override 'trainer.lerning_rate=1': unknown key 'trainer.lerning_rate' "
        "(did you mean 'trainer.learning_rate'?)"
    )
    assert error_of(path, ["trainer.steps"]) == "override 'trainer.steps': expected section.key=value"
    assert error_of(path, ["trainer.steps.x=1"]).startswith("override 'trainer.steps.x=1': 'trainer.steps' is not")


def test_missing_file(tmp_path):
    assert error_of(tmp_path / "nope.yaml") == f"{tmp_path / 'nope.yaml'}: recipe file not found"


def test_apply_overrides_does_not_mutate_input():
    raw = {"trainer": {"steps": 1}}
    out = apply_overrides(raw, ["trainer.steps=2"])
    assert raw["trainer"]["steps"] == 1 and out["trainer"]["steps"] == 2


def test_nested_section_defaults_come_from_the_parent_default():
    """toy.teacher.train has its own defaults (150 steps, seed 1), not ToyTrainConfig's (600, seed 0)."""
    from rlvr_bench.config import config_from_dict, field_help

    raw = {"method": "toy_teacher", "model": {"name_or_path": "toy:teacher"}, "data": {"source": "toy"}}
    cfg = config_from_dict(raw)
    assert (cfg.toy.teacher.train.steps, cfg.toy.teacher.train.seed) == (150, 1)
    assert cfg.toy.base.train.steps == 600
    raw["toy"] = {"teacher": {"train": {"lr": 1e-3}}}
    cfg = config_from_dict(raw)
    assert (cfg.toy.teacher.train.lr, cfg.toy.teacher.train.steps, cfg.toy.teacher.train.warmup_steps) == (1e-3, 150, 15)
    assert dict((k, d) for k, _, d in field_help())["toy.teacher.train.steps"] == 150


# ------------------------------------------------------------- overrides read against the field's type


@pytest.mark.parametrize("override,key,expected", [
    ("trainer.mixed_precision=no", ("trainer", "mixed_precision"), "no"),  # YAML 1.1 would read False
    ("trainer.learning_rate=1e-4", ("trainer", "learning_rate"), 0.0001),  # PyYAML would read a string
    ("evaluation.stop=['<|im_end|>']", ("evaluation", "stop"), ["<|im_end|>"]),
    ("rollout.stop=[no, on]", ("rollout", "stop"), ["no", "on"]),  # list[str] items stay text
    ("model.reference=null", ("model", "reference"), None),
    ("model.critic=~", ("model", "critic"), None),
    ("data.subset=2023", ("data", "subset"), "2023"),
    ("data.split='yes'", ("data", "split"), "yes"),
    ("logging.progress=false", ("logging", "progress"), False),
    ("trainer.steps=7", ("trainer", "steps"), 7),
])
def test_override_value_is_read_against_the_field_type(tmp_path, override, key, expected):
    cfg = load_config(write(tmp_path, GOOD), [override])
    section, name = key
    assert getattr(getattr(cfg, section), name) == expected


def test_text_override_reaches_the_choices_check_as_text(tmp_path):
    """``data.template=on`` is the string 'on' (rejected later by the template registry, not as a bool)."""
    assert apply_overrides({}, ["data.template=on"]) == {"data": {"template": "on"}}
    msg = error_of(write(tmp_path, GOOD), ["trainer.mixed_precision=yes"])
    assert "'trainer.mixed_precision' = 'yes' is not allowed (choose one of: no, bf16, fp16)" in msg


def test_non_text_override_still_parses_yaml(tmp_path):
    cfg = load_config(write(tmp_path, GOOD), ["logging.progress=no", "reward.weights={math: 1.0, format: 0.1}",
                                               "evaluation.ks=[1, 2]"])
    assert cfg.logging.progress is False  # a bool field: YAML reads no / yes
    assert cfg.reward.weights == {"math": 1.0, "format": 0.1} and cfg.evaluation.ks == [1, 2]
    msg = error_of(write(tmp_path, GOOD), ["trainer.steps=many"])
    assert msg.endswith("'trainer.steps' = 'many' is not a valid int")


# ------------------------------------------------------------------------------- cross-field checks


def test_warmup_longer_than_the_run_is_one_line(tmp_path):
    path = write(tmp_path, GOOD)
    msg = error_of(path, ["trainer.warmup_steps=6"])
    assert msg == (f"{path}: 'trainer.warmup_steps' = 6 is longer than the run (trainer.steps = 5); "
                   "lower warmup_steps or raise steps")
    assert load_config(path, ["trainer.warmup_steps=5"]).trainer.warmup_steps == 5  # equal is fine


def _missing(*absent: str):
    import importlib.util

    real = importlib.util.find_spec

    def find_spec(name, *args, **kwargs):
        return None if name in absent else real(name, *args, **kwargs)

    return find_spec


@pytest.mark.parametrize("tracker,install", [
    ("wandb", "pip install wandb, or pip install -e '.[wandb]'"),
    ("trackio", "pip install trackio"),
    ("tensorboard", "pip install tensorboard, or pip install -e ."),
])
def test_tracker_not_installed_fails_at_validation(tmp_path, monkeypatch, tracker, install):
    import importlib.util

    monkeypatch.setattr(importlib.util, "find_spec", _missing(tracker))
    path = write(tmp_path, GOOD + f"logging: {{trackers: [{tracker}]}}\n")
    assert error_of(path) == (
        f"{path}: logging.trackers names '{tracker}' but the {tracker} package is not installed ({install}); "
        "remove it from logging.trackers to run without it"
    )


def test_installed_or_no_trackers_load(tmp_path, monkeypatch):
    import importlib.util

    monkeypatch.setattr(importlib.util, "find_spec", _missing("wandb"))
    path = write(tmp_path, GOOD)
    assert load_config(path, ["logging.trackers=[]"]).logging.trackers == []
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a, **k: object())
    assert load_config(path, ["logging.trackers=[wandb, trackio]"]).logging.trackers == ["wandb", "trackio"]
