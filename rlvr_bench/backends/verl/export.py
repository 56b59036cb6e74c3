"""``rlvr-bench verl export RECIPE --out DIR``: everything verl needs to train the recipe on a cluster.

The export directory::

    launch.sh          the exact verl command (one node, or the head node of a Ray cluster)
    overrides.yaml     the same Hydra overrides as a YAML mapping (``$EXPORT_DIR`` = this directory)
    mapping.md         every recipe field -> verl key, with a status (plan.py)
    reward_fn.py       verl's custom_reward_function: the recipe's reward (RecipeReward)
    reward_manager.py  verl's reward manager: passes truncation and length to reward_fn.py
    data/train.parquet, data/val_<benchmark>.parquet   prompts in verl's layout (data.py); rows with images in
                       verl's multimodal layout (an ``images`` column, ``<image>`` in the prompt: _add_images)
    model/             the toy model, when the recipe uses toy:base / toy:teacher
    recipe.yaml        the recipe with every algorithm value written out (re-runnable locally)
    export.json        manifest read by ``rlvr-bench verl import``
"""

from __future__ import annotations

import datetime as _dt
import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from rlvr_bench.backends.verl.errors import VerlBackendError
from rlvr_bench.backends.verl.plan import ExportFacts, VerlPlan, build_plan
from rlvr_bench.backends.verl.stop_loop import AGENT_LOOPS_FILE, agent_loops_yaml

if TYPE_CHECKING:
    from rlvr_bench.algorithms import ResolvedAlgorithm

__all__ = ["EXPORT_MANIFEST", "VERL_VERSION", "ExportResult", "export_recipe", "resolved_recipe_dict"]

EXPORT_MANIFEST = "export.json"
VERL_VERSION = "0.9.1"
"""The verl release the keys were checked against (``make verl-env`` installs it)."""


@dataclass(frozen=True)
class ExportResult:
    """Where the export went and what it decided."""

    out: Path
    plan: VerlPlan
    facts: ExportFacts
    output_dir: str


def export_recipe(recipe: str | Path, overrides: list[str] | tuple[str, ...], out: str | Path) -> ExportResult:
    """Export a recipe for verl (see the module docstring for the files written).

    Raises:
        UnsupportedRecipeError: fields with no verl equivalent (checked before any data is loaded).
        VerlBackendError: ``out`` is a non-empty directory that is not an earlier export.
        ConfigError / DataError: the recipe or its data cannot be loaded.
    """
    from rlvr_bench.recipes import load_recipe
    from rlvr_bench.trainers.rl import resolve_algorithm

    cfg = load_recipe(recipe, list(overrides))
    algo = resolve_algorithm(cfg)
    build_plan(cfg, algo, _placeholder_facts())  # unsupported fields fail before the slow parts
    out = _prepare_out(Path(out))
    name = Path(recipe).stem
    facts = _write_data_and_model(cfg, algo, out, f"{name}-s{cfg.seed}")
    plan = build_plan(cfg, algo, facts)
    _write_files(cfg, plan, facts, out, recipe=Path(recipe), overrides=list(overrides))
    return ExportResult(out=out, plan=plan, facts=facts, output_dir=str(cfg.output_dir))


def _placeholder_facts() -> ExportFacts:
    return ExportFacts(model_path="model", model_note="", critic_path=None, train_file="train.parquet",
                       val_files=[], num_train=10**9, max_prompt_length=64, prompt_length_note="",
                       chat_template=None, experiment_name="check")


def _prepare_out(out: Path) -> Path:
    out = out.expanduser().resolve()
    if out.exists() and not out.is_dir():
        raise VerlBackendError(f"--out {out} exists and is not a directory")
    if out.is_dir() and any(out.iterdir()) and not (out / EXPORT_MANIFEST).is_file():
        raise VerlBackendError(f"--out {out} is a non-empty directory that is not an rlvr_bench verl export")
    out.mkdir(parents=True, exist_ok=True)
    for stale in ("data", "model", "critic"):  # re-export: no files of an earlier recipe left behind
        if (out / stale).is_dir():
            shutil.rmtree(out / stale)
    return out


# ------------------------------------------------------------------------------------ data and model


def _local_model(ref: str, cfg: Any, out: Path, dest: str) -> tuple[str, str, Path | None]:
    """(path verl loads, note, local directory or None) for a model reference."""
    from rlvr_bench.backends.verl.overrides import EXPORT_DIR_TOKEN
    from rlvr_bench.trainers.common import model_path_for

    if str(ref).startswith("toy:"):
        src = Path(model_path_for(ref, cfg))
        shutil.copytree(src, out / dest, ignore=shutil.ignore_patterns("*.pt", "optimizer*", "rng*"))
        return f"{EXPORT_DIR_TOKEN}/{dest}", f"{ref} built locally and copied to <export>/{dest}", out / dest
    path = Path(str(ref)).expanduser()
    if path.is_dir():
        return str(path.resolve()), "local directory: must be readable at this path on every node", path.resolve()
    return str(ref), "Hugging Face name: every node downloads it (or set HF_HOME to a shared cache)", None


def _tokenizer(local_dir: Path | None, ref: str, trust_remote_code: bool) -> Any:
    """The policy's tokenizer when it is available offline, else None."""
    from transformers import AutoTokenizer

    try:
        return AutoTokenizer.from_pretrained(str(local_dir or ref), local_files_only=True,
                                             trust_remote_code=trust_remote_code)
    except (OSError, ValueError):
        return None


def _val_datasets(cfg: Any) -> list[tuple[str, Any]]:
    from rlvr_bench.data.benchmarks import load_benchmark

    ev = cfg.evaluation
    out = []
    for bench in ev.benchmarks:
        if bench == "toy":
            from rlvr_bench.data.toy import toy_dataset

            ds = toy_dataset("test", task=cfg.toy.tasks)
            ds = ds if ev.limit is None else ds.select(range(min(ev.limit, len(ds))))
        else:
            ds = load_benchmark(bench, limit=ev.limit)
        out.append((Path(bench).stem if Path(bench).suffix else bench, ds))
    return out


def _write_data_and_model(cfg: Any, algo: ResolvedAlgorithm, out: Path, experiment: str) -> ExportFacts:
    from rlvr_bench.backends.verl import data as D
    from rlvr_bench.backends.verl.overrides import EXPORT_DIR_TOKEN
    from rlvr_bench.data.templates import get_template
    from rlvr_bench.data.train_prompts import load_train_prompts

    model_path, model_note, local = _local_model(cfg.model.name_or_path, cfg, out, "model")
    critic_path = None
    if algo.needs_critic:
        critic_ref = cfg.model.critic or cfg.model.name_or_path
        critic_path = model_path if critic_ref == cfg.model.name_or_path else _local_model(critic_ref, cfg, out, "critic")[0]
    tokenizer = _tokenizer(local, cfg.model.name_or_path, cfg.model.trust_remote_code)
    template = get_template(cfg.data.template)
    eval_template = get_template(cfg.evaluation.template or cfg.data.template)
    if eval_template.chat != template.chat:  # verl renders every prompt through one chat template
        eval_template = template
    chat_template = None if template.chat else D.plain_chat_template(tokenizer)
    kind = D.reward_kind(cfg)
    prompts = _fitting_prompts(cfg, load_train_prompts(cfg), tokenizer, local)
    visual = "image" in prompts.column_names
    if visual:  # verl renders image prompts with the model's processor and its own chat template
        chat_template = None
    train = _add_images(D.verl_rows(prompts, template, split="train", reward=kind), prompts)
    D.write_parquet(train, out / "data" / "train.parquet")
    all_rows, val_files = list(train), []
    for name, ds in _val_datasets(cfg):
        rows = _add_images(D.verl_rows(ds, eval_template, split=name, reward=kind, data_source=name), ds)
        D.write_parquet(rows, out / "data" / f"val_{name}.parquet")
        val_files.append(f"{EXPORT_DIR_TOKEN}/data/val_{name}.parquet")
        all_rows.extend(rows)
    length = D.prompt_length(all_rows, tokenizer, chat_template)
    if visual:
        length = _with_image_tokens(length, all_rows, local)
    stop_ids, stop_strings, stop_note = _stop_rule(cfg, tokenizer, local)
    return ExportFacts(model_path=model_path, model_note=model_note, critic_path=critic_path,
                       train_file=f"{EXPORT_DIR_TOKEN}/data/train.parquet", val_files=val_files,
                       num_train=len(train), max_prompt_length=length.tokens, prompt_length_note=length.note,
                       chat_template=chat_template, experiment_name=experiment, stop_token_ids=stop_ids,
                       stop_strings=stop_strings, stop_note=stop_note)


def _add_images(rows: list[dict[str, Any]], ds: Any) -> list[dict[str, Any]]:
    """verl's multimodal layout (verl's examples/data_preprocess/geo3k.py) for rows with images: the user message
    starts with ``<image>`` (verl splits it into an image part and a text part for the processor), the ``images``
    column holds the image as PNG bytes, ``extra_info`` its ``image_id``. Rows without images are unchanged."""
    if "image" not in getattr(ds, "column_names", ()):
        return rows
    from rlvr_bench.data.images import png_bytes

    for row, src in zip(rows, ds):
        row["prompt"][-1]["content"] = "<image>" + row["prompt"][-1]["content"]
        row["images"] = [{"bytes": png_bytes(src["image"]), "path": None}]
        row["extra_info"]["image_id"] = str(src["image_id"])
    return rows


def _with_image_tokens(length: Any, rows: list[dict[str, Any]], local: Path | None) -> Any:
    """``data.max_prompt_length`` with room for the image tokens: the longest text prompt plus the most tokens any
    image takes (the model's image processor: patches / merge^2), when the processor is available here."""
    import io
    import math

    from PIL import Image

    from rlvr_bench.backends.verl.data import PromptLength

    try:
        from transformers import AutoImageProcessor

        proc = AutoImageProcessor.from_pretrained(str(local), local_files_only=True) if local else None
    except (OSError, ValueError):
        proc = None
    grids = [proc(images=[Image.open(io.BytesIO(r["images"][0]["bytes"]))], return_tensors="pt").get("image_grid_thw")
             for r in rows if r.get("images")] if proc is not None else [None]
    if any(g is None for g in grids):
        return PromptLength(length.tokens, length.note + "; image tokens not counted (no Qwen-VL image processor "
                            "here: raise data.max_prompt_length by the largest image's tokens)")
    most = max(int(g.prod()) for g in grids) // getattr(proc, "merge_size", 1) ** 2
    return PromptLength(64 * math.ceil((length.tokens + most) / 64), f"{length.note}; + {most} image tokens")


def _fitting_prompts(cfg: Any, ds: Any, tokenizer: Any, local: str | None) -> Any:
    """The training prompts without those over ``data.max_prompt_tokens`` (as the local trainer drops them);
    unchanged when the tokenizer is not available here."""
    if tokenizer is None:
        return ds
    from rlvr_bench.data.train_prompts import check_prompt_lengths, model_config_of

    kept, _ = check_prompt_lengths(cfg, list(ds["problem"]), [str(i) for i in ds["id"]], tokenizer,
                                   model_config_of(local) if local else None, cfg.rollout.max_new_tokens)
    return ds if len(kept) == len(ds) else ds.select(kept)


def _stop_rule(cfg: Any, tokenizer: Any, local: str | None) -> tuple[tuple[int, ...], tuple[str, ...], str]:
    """(stop ids, other stop strings, note) of the recipe's stop rule for verl's vLLM rollouts."""
    if tokenizer is None:
        return (), tuple(cfg.rollout.stop), ("tokenizer not available here: verl stops at the model's end-of-text "
                                             "ids only (plus rollout.stop strings)")
    from rlvr_bench.rollout.stopping import resolve_stop_rule

    gen = None
    if local:
        try:
            from transformers import GenerationConfig

            gen = GenerationConfig.from_pretrained(local)
        except (OSError, ValueError):
            gen = None
    holder = type("Model", (), {"generation_config": gen})() if gen is not None else None
    rule = resolve_stop_rule(tokenizer, cfg.data.template, model=holder, strings=tuple(cfg.rollout.stop))
    note = f"stop ids {list(rule.token_ids)} ({', '.join(rule.tokens)})"
    if not (rule.turn_end_ids or rule.string_ids or rule.strings):  # vLLM stops at end-of-text by itself
        return (), (), note + ": end-of-text only, vLLM's default"
    return rule.token_ids, rule.strings, note


# ---------------------------------------------------------------------------------------------- files


def resolved_recipe_dict(cfg: Any, algorithm: ResolvedAlgorithm) -> dict[str, Any]:
    """The recipe as a dict with every algorithm field set to its effective value (re-runnable)."""
    import dataclasses

    from rlvr_bench.config import AlgorithmConfig, config_to_dict

    raw = config_to_dict(cfg)
    names = [f.name for f in dataclasses.fields(AlgorithmConfig)]
    values = algorithm.as_dict()
    raw["algorithm"] = {k: cfg.algorithm.preset if k == "preset" else values.get(k) for k in names}
    return raw


def _reward_fn_text(plan: VerlPlan, name: str) -> str:
    args = ", ".join(f"{k}={v!r}" for k, v in plan.reward_settings.items())
    return (f'"""verl custom reward for recipe {name}: rlvr_bench\'s scoring with the recipe\'s reward settings.\n\n'
            "verl loads this file (reward.custom_reward_function.path) and calls compute_score(data_source=...,\n"
            "solution_str=..., ground_truth=..., extra_info=...) for every response; RecipeReward scores it as\n"
            "the local trainer does (truncated -> 0, DAPO overlong penalty when on). rlvr_bench must be\n"
            'importable on every node (docs/verl.md, Environments).\n"""\n\n'
            "from rlvr_bench.backends.verl.reward import RecipeReward\n\n"
            f"compute_score = RecipeReward({args})\n")


_MANAGER_TEXT = ('"""verl reward manager (reward.reward_manager.module.path): rlvr_bench\'s, re-exported."""\n\n'
                 "from rlvr_bench.backends.verl.reward_manager import RlvrBenchRewardManager\n\n"
                 '__all__ = ["RlvrBenchRewardManager"]\n')


def _write_files(cfg: Any, plan: VerlPlan, facts: ExportFacts, out: Path, *, recipe: Path,
                 overrides: list[str]) -> None:
    from rlvr_bench.backends.verl.launch import launch_script
    from rlvr_bench.backends.verl.table import mapping_markdown

    name = recipe.stem
    (out / "reward_fn.py").write_text(_reward_fn_text(plan, name))
    (out / "reward_manager.py").write_text(_MANAGER_TEXT)
    if facts.stop_token_ids or facts.stop_strings:
        (out / AGENT_LOOPS_FILE).write_text(agent_loops_yaml(facts.stop_token_ids, facts.stop_strings))
    header = (f"# verl {VERL_VERSION} Hydra overrides for recipe {name}: launch.sh passes exactly these, in this\n"
              "# order, then trainer.nnodes / trainer.n_gpus_per_node / rollout TP from its environment.\n"
              "# $EXPORT_DIR is the directory of this file. Why each key has its value: mapping.md.\n")
    body = yaml.safe_dump(plan.overrides, sort_keys=False, width=1000, allow_unicode=True)
    (out / "overrides.yaml").write_text(header + body)
    launch = out / "launch.sh"
    launch.write_text(launch_script(cfg, plan, facts, recipe=recipe, overrides=overrides))
    launch.chmod(0o755)
    (out / "mapping.md").write_text(mapping_markdown(plan, facts, title=f"Recipe {name} -> verl {VERL_VERSION}"))
    resolved = resolved_recipe_dict(cfg, plan.algorithm)
    (out / "recipe.yaml").write_text(f"# {name}, resolved for the verl export (every algorithm value explicit)\n"
                                     + yaml.safe_dump(resolved, sort_keys=False))
    manifest = {
        "rlvr_bench_export": 1, "verl_version": VERL_VERSION, "recipe": str(recipe), "recipe_name": name,
        "recipe_overrides": overrides, "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "output_dir": cfg.output_dir, "seed": cfg.seed, "preset": cfg.algorithm.preset,
        "template": cfg.data.template, "model": cfg.model.name_or_path, "decoding": dict(vars(cfg.rollout)),
        "use_v1": plan.use_v1, "num_train": facts.num_train, "max_prompt_length": facts.max_prompt_length,
        "overrides": plan.overrides,
    }
    (out / EXPORT_MANIFEST).write_text(json.dumps(manifest, indent=2, default=str))
