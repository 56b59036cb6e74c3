"""verl export without verl: the mapping table, unsupported fields, the files, prompts, reward and quoting."""

from __future__ import annotations

import json
import subprocess

import pyarrow.parquet as pq
import pytest
import yaml

from rlvr_bench.backends.verl.errors import UnsupportedRecipeError
from rlvr_bench.backends.verl.launch import PLACEMENT, launch_args
from rlvr_bench.backends.verl.overrides import bash_arg, hydra_value
from rlvr_bench.backends.verl.plan import (
    ExportFacts,
    build_plan,
    covered_fields,
    recipe_leaf_fields,
)
from rlvr_bench.cli import main as cli_main
from rlvr_bench.config import config_from_dict
from rlvr_bench.trainers.rl import resolve_algorithm
from tests.backends.helpers import PRESETS, REPO, TOY_RECIPE, export_real, export_toy, toy_overrides

FACTS = ExportFacts(model_path="$EXPORT_DIR/model", model_note="", critic_path="$EXPORT_DIR/model",
                    train_file="$EXPORT_DIR/data/train.parquet", val_files=["$EXPORT_DIR/data/val_toy.parquet"],
                    num_train=2000, max_prompt_length=64, prompt_length_note="", chat_template=None,
                    experiment_name="t")


def _cfg(**sections):
    raw = {"method": "rl", "model": {"name_or_path": "toy:base"}, "data": {"source": "toy"}}
    for key, value in sections.items():
        raw[key] = {**raw.get(key, {}), **value} if isinstance(value, dict) else value
    return config_from_dict(raw)


VERL_ESTIMATOR = {"grpo": "grpo", "dr_grpo": "grpo", "dapo": "grpo", "rloo": "rloo", "reinforce_pp": "reinforce_plus_plus",
                  "reinforce_pp_baseline": "reinforce_plus_plus_baseline", "remax": "remax", "ppo": "gae"}


@pytest.mark.parametrize("preset", PRESETS)
def test_every_recipe_field_has_a_row(preset):
    cfg = _cfg(algorithm={"preset": preset})
    plan = build_plan(cfg, resolve_algorithm(cfg), FACTS)
    assert set(recipe_leaf_fields()) <= covered_fields(plan.rows)
    assert plan.overrides["algorithm.adv_estimator"] == VERL_ESTIMATOR[preset]


def test_preset_values_reach_verl_keys():
    dapo = _cfg(algorithm={"preset": "dapo"})
    o = build_plan(dapo, resolve_algorithm(dapo), FACTS).overrides
    assert o["actor_rollout_ref.actor.clip_ratio_high"] == 0.28 and o["actor_rollout_ref.actor.clip_ratio_c"] == 10.0
    assert o["actor_rollout_ref.actor.loss_agg_mode"] == "token-mean"
    assert o["algorithm.filter_groups.enable"] is True and o["algorithm.filter_groups.metric"] == "task_score"
    assert o["actor_rollout_ref.actor.ppo_mini_batch_size"] == 32 // 16
    grpo = _cfg(algorithm={"preset": "grpo"})
    o = build_plan(grpo, resolve_algorithm(grpo), FACTS).overrides
    assert o["actor_rollout_ref.actor.use_kl_loss"] is True
    assert o["actor_rollout_ref.actor.kl_loss_type"] == "low_var_kl" and o["actor_rollout_ref.actor.kl_loss_coef"] == 0.001
    rloo = _cfg(algorithm={"preset": "rloo", "kl_coef": 0.01})
    o = build_plan(rloo, resolve_algorithm(rloo), FACTS).overrides
    assert o["algorithm.use_kl_in_reward"] is True and o["algorithm.kl_ctrl.kl_coef"] == 0.01
    assert o["algorithm.kl_penalty"] == "kl" and o["critic.enable"] is False
    ppo = _cfg(algorithm={"preset": "ppo", "critic_lr": 3e-6})
    o = build_plan(ppo, resolve_algorithm(ppo), FACTS).overrides
    assert o["critic.enable"] is True and o["critic.optim.lr"] == 3e-6 and o["actor_rollout_ref.actor.ppo_epochs"] == 4
    remax = _cfg(algorithm={"preset": "remax"})
    assert build_plan(remax, resolve_algorithm(remax), FACTS).use_v1 is False


def test_dr_grpo_scale_factor_restores_local_aggregation():
    cfg = _cfg(algorithm={"preset": "dr_grpo"}, rollout={"max_new_tokens": 40, "n": 8},
               trainer={"prompts_per_step": 32})
    o = build_plan(cfg, resolve_algorithm(cfg), FACTS).overrides
    # local: sum / 40; verl 0.9.1: sum / (8 prompts x 8 responses) / factor
    assert o["actor_rollout_ref.actor.loss_scale_factor"] == pytest.approx(40 / 64)


def test_unsupported_fields_are_all_named():
    cfg = _cfg(model={"dtype": "float32", "reference": "other/model", "lora": {"enabled": True}},
               trainer={"lr_scheduler": "linear"})
    with pytest.raises(UnsupportedRecipeError) as err:
        build_plan(cfg, resolve_algorithm(cfg), FACTS)
    text = str(err.value)
    for name in ("model.dtype='float32'", "model.reference='other/model'", "model.lora.dropout=0.05",
                 "trainer.lr_scheduler='linear'"):
        assert name in text
    assert "\n" not in text.replace("\\n", "")  # one line for the CLI


def test_cli_reports_unsupported_field_in_one_line(tmp_path, tiny_model_dir, capsys):
    code = cli_main(["verl", "export", str(TOY_RECIPE), *toy_overrides(tiny_model_dir), "model.dtype=float32",
                     "--out", str(tmp_path / "x")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and err[0].startswith("error: ") and "model.dtype" in err[0]
    assert not (tmp_path / "x").exists()  # checked before anything is written


@pytest.fixture(scope="module")
def toy_export(tmp_path_factory, tiny_model_dir):
    return export_toy(tiny_model_dir, tmp_path_factory.mktemp("verl_export") / "grpo")


def test_export_files_and_parquet_layout(toy_export):
    out = toy_export.out
    for name in ("launch.sh", "overrides.yaml", "mapping.md", "reward_fn.py", "reward_manager.py", "recipe.yaml",
                 "export.json", "data/train.parquet", "data/val_toy.parquet"):
        assert (out / name).is_file(), name
    table = pq.read_table(out / "data" / "train.parquet")
    assert table.column_names == ["data_source", "prompt", "ability", "reward_model", "extra_info"]
    row = table.slice(0, 1).to_pylist()[0]
    from rlvr_bench.trainers.common import load_train_prompts

    cfg = config_from_dict({"method": "rl", "model": {"name_or_path": "x"},
                            "data": {"source": "toy", "template": "toy", "limit": 64},
                            "evaluation": {"enabled": False}})
    first = load_train_prompts(cfg)[0]
    assert row["prompt"] == [{"role": "user", "content": f"Q:{first['problem']}A:"}]
    assert row["reward_model"] == {"style": "rule", "ground_truth": first["answer"]}
    assert row["extra_info"]["id"] == first["id"] and row["extra_info"]["reward"] == "math"
    assert row["ability"] == "math" and row["data_source"].startswith("toy/")
    assert table.num_rows == 64 and pq.read_table(out / "data" / "val_toy.parquet").num_rows == 16


def test_launch_sh_passes_exactly_the_overrides(toy_export):
    out = toy_export.out
    args = launch_args(out, {"NGPUS_PER_NODE": "4", "NNODES": "2"})
    wanted = yaml.safe_load((out / "overrides.yaml").read_text())
    assert [a.split("=", 1)[0] for a in args[:-len(PLACEMENT)]] == list(wanted)
    assert args[-3:] == ["trainer.nnodes=2", "trainer.n_gpus_per_node=4",
                         "actor_rollout_ref.rollout.tensor_model_parallel_size=1"]
    assert f"data.train_files='{out}/data/train.parquet'" in args
    dry = subprocess.run(["bash", str(out / "launch.sh")], env={"DRY_RUN": "1", "NGPUS_PER_NODE": "1", "PATH": "/usr/bin:/bin"},
                         capture_output=True, text=True, check=True).stdout
    assert dry.startswith("python3 -m verl.trainer.main_ppo") and "algorithm.adv_estimator=grpo" in dry
    script = (out / "launch.sh").read_text()
    assert "ray start --head" in script and "preset grpo" in script


def test_mapping_table_lists_every_field(toy_export):
    md = (toy_export.out / "mapping.md").read_text()
    for field in recipe_leaf_fields():
        section = field.split(".")[0]
        assert f"`{field}`" in md or f"`{section}.*`" in md, field


def test_reward_module_is_the_recipe_reward(toy_export):
    import importlib.util

    spec = importlib.util.spec_from_file_location("exported_reward_fn", toy_export.out / "reward_fn.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    score = module.compute_score(data_source="toy/addsub", solution_str="1+2=3 \\boxed{3}", ground_truth="3",
                                 extra_info={"truncated": False, "response_length": 9})
    assert score["score"] == 1.0 and score["acc"] is True
    assert module.compute_score(data_source="toy/addsub", solution_str="1+2=3 \\boxed{3}", ground_truth="3",
                                extra_info={"truncated": True, "response_length": 40})["score"] == 0.0


def test_manifest_and_resolved_recipe(toy_export):
    manifest = json.loads((toy_export.out / "export.json").read_text())
    assert manifest["preset"] == "grpo" and manifest["verl_version"] == "0.9.1"
    from rlvr_bench.config import load_config

    resolved = load_config(toy_export.out / "recipe.yaml")
    assert resolved.algorithm.kl_loss_type == "k3" and resolved.algorithm.mini_batches == 4


def test_reexport_replaces_and_refuses_foreign_dirs(tmp_path, tiny_model_dir):
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine")
    code = cli_main(["verl", "export", str(TOY_RECIPE), *toy_overrides(tiny_model_dir), "--out", str(foreign)])
    assert code == 2 and (foreign / "notes.txt").read_text() == "mine"


QUOTING_CASES = ["plain", "two words", "it's", 'say "hi"', "{{ bos_token }}{% for m in x %}{{ m['content'] }}",
                 "$HOME and `date`", "back\\slash", "true", "1e-3", "null", "a,b=[c]"]


@pytest.mark.parametrize("value", QUOTING_CASES)
def test_bash_quoting_passes_the_argument_unchanged(value):
    arg = f"k={hydra_value(value)}"
    echoed = subprocess.run(["bash", "-c", f"printf '%s' {bash_arg(arg)}"], capture_output=True, text=True,
                            check=True).stdout
    assert echoed == arg


def test_export_dir_placeholder_expands_only_itself():
    arg = "data.train_files=" + hydra_value("$EXPORT_DIR/data/train.parquet")
    echoed = subprocess.run(["bash", "-c", f"EXPORT_DIR='/a b/c'; HOME=/h; printf '%s' {bash_arg(arg)}"],
                            capture_output=True, text=True, check=True).stdout
    assert echoed == "data.train_files='/a b/c/data/train.parquet'"


def test_real_recipe_exports_offline_copies(tmp_path, monkeypatch):
    result = export_real(tmp_path, monkeypatch)
    o = result.plan.overrides
    assert o["actor_rollout_ref.model.path"] == "Qwen/Qwen2.5-7B" and o["data.train_batch_size"] == 256
    assert o["actor_rollout_ref.rollout.n"] == 8 and o["actor_rollout_ref.actor.optim.lr"] == 1e-6
    assert o["data.max_response_length"] == 8192 and o["actor_rollout_ref.actor.use_kl_loss"] is False
    assert o["algorithm.use_kl_in_reward"] is False and o["actor_rollout_ref.rollout.temperature"] == 1.0
    assert o["actor_rollout_ref.rollout.val_kwargs.temperature"] == 0.6
    assert o["actor_rollout_ref.rollout.val_kwargs.top_p"] == 0.95
    assert "custom_chat_template" not in " ".join(o)  # a chat template: the model's own renders it
    row = pq.read_table(result.out / "data" / "train.parquet").slice(0, 1).to_pylist()[0]
    assert row["prompt"][0]["role"] == "system" and "\\boxed{}" in row["prompt"][1]["content"]


def test_docs_table_matches_the_rules():
    from rlvr_bench.backends.verl.table import reference_markdown

    doc = (REPO / "docs" / "verl.md").read_text()
    start, end = "<!-- mapping-table:start -->\n", "<!-- mapping-table:end -->"
    assert doc[doc.index(start) + len(start):doc.index(end)] == reference_markdown()


def test_plain_template_tokens_equal_the_local_engines(tiny_model):
    from rlvr_bench.backends.verl.data import chat_token_ids, plain_chat_template
    from rlvr_bench.data.templates import get_template, render_prompt
    from rlvr_bench.rollout.hf import HFEngine

    model, tokenizer = tiny_model
    engine = HFEngine(model, tokenizer)
    template = get_template("toy")
    for problem in ("25+11+1=?", "7*3+2=?"):
        local = engine._encode([render_prompt(template, problem, tokenizer)])[0]
        assert chat_token_ids(tokenizer, template.messages(problem), plain_chat_template(tokenizer)) == local


def test_plain_chat_template_adds_the_bos_a_tokenizer_adds():
    from tokenizers import Tokenizer, models, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    from rlvr_bench.backends.verl.data import chat_token_ids, plain_chat_template

    backend = Tokenizer(models.WordLevel({"<s>": 0, "</s>": 1, "<unk>": 2, "a": 3, "b": 4}, unk_token="<unk>"))
    backend.pre_tokenizer = pre_tokenizers.Whitespace()
    backend.post_processor = processors.TemplateProcessing(single="<s> $A", special_tokens=[("<s>", 0)])
    tok = PreTrainedTokenizerFast(tokenizer_object=backend, bos_token="<s>", eos_token="</s>", unk_token="<unk>")
    template = plain_chat_template(tok)
    assert template.startswith("{{ bos_token }}")
    assert chat_token_ids(tok, [{"role": "user", "content": "a b a"}], template) == tok("a b a")["input_ids"] == [0, 3, 4, 3]


def test_cli_export_prints_the_table_and_next_steps(tmp_path, tiny_model_dir, capsys):
    code = cli_main(["verl", "export", str(TOY_RECIPE), *toy_overrides(tiny_model_dir, "dapo"),
                     "--out", str(tmp_path / "dapo")])
    out = capsys.readouterr().out
    assert code == 0
    assert "algorithm.clip_ratio_high" in out and "actor_rollout_ref.actor.clip_ratio_high=0.28" in out
    assert "bash " + str(tmp_path / "dapo" / "launch.sh") in out and "rlvr-bench verl import" in out
    reward_fn = (tmp_path / "dapo" / "reward_fn.py").read_text()
    assert "overlong_buffer_len=10" in reward_fn and "max_response_length=40" in reward_fn


def test_eval_commands_use_the_lighter_n_before_the_last_checkpoint(tmp_path):
    import yaml

    from rlvr_bench.backends.verl.checkpoints import eval_command

    (tmp_path / "config.yaml").write_text(yaml.safe_dump({
        "data": {"template": "toy"}, "trainer": {"steps": 20},
        "evaluation": {"benchmarks": ["toy"], "n": 64, "ks": [1, 4, 16, 64], "intermediate_n": 16, "seeds": [0]}}))
    mid, last = eval_command(tmp_path, 10).split(), eval_command(tmp_path, 20).split()
    assert mid[mid.index("--n") + 1] == "16" and mid[mid.index("--ks") + 1] == "1,4,16"
    assert last[last.index("--n") + 1] == "64" and last[last.index("--ks") + 1] == "1,4,16,64"


def test_the_stop_rule_goes_to_verl_through_the_agent_loop(tmp_path):
    """Turn-end ids and stop strings: the export's agent loop carries them to vLLM; end-of-text alone: nothing."""
    import dataclasses

    from rlvr_bench.backends.verl.stop_loop import AGENT_LOOP_NAME, agent_loops_yaml, read_stop_settings

    cfg = _cfg(rollout={"stop": ["###"]})
    facts = dataclasses.replace(FACTS, stop_token_ids=(2, 98), stop_strings=("###",), stop_note="stop ids [2, 98]")
    plan = build_plan(cfg, resolve_algorithm(cfg), facts)
    assert plan.overrides["actor_rollout_ref.rollout.agent.default_agent_loop"] == AGENT_LOOP_NAME
    assert plan.overrides["actor_rollout_ref.rollout.agent.agent_loop_config_path"].endswith("agent_loops.yaml")
    bare = build_plan(_cfg(), resolve_algorithm(_cfg()), FACTS)
    assert not any(k.startswith("actor_rollout_ref.rollout.agent.") for k in bare.overrides)
    path = tmp_path / "agent_loops.yaml"
    path.write_text(agent_loops_yaml((2, 98), ("###",)))
    assert read_stop_settings(path) == {"stop_token_ids": [2, 98], "stop": ["###"]}
    assert read_stop_settings(tmp_path / "none.yaml") == {}
