"""What every trainer shares: the run directory, seeding, prompts, rewards, optimizers, RNG state."""

from __future__ import annotations

import dataclasses
import math
import random
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from rlvr_bench.config import RecipeConfig, config_to_dict, save_config
from rlvr_bench.data.train_prompts import (  # noqa: F401 (re-exported for trainers and notebooks)
    check_prompt_lengths,
    is_toy_source,
    load_train_prompts,
    model_config_of,
    toy_split,
)
from rlvr_bench.utils.dist import get_logger
from rlvr_bench.utils.envinfo import environment_record
from rlvr_bench.utils.rundir import RunDir

__all__ = [
    "ComputeMeter",
    "build_optimizer",
    "check_prompt_lengths",
    "evaluation_callback",
    "evaluation_decoding",
    "get_rng_state",
    "installed_trackers",
    "load_train_prompts",
    "prepare_run_dir",
    "record_provenance",
    "run_stop_rule",
    "save_generation_record",
    "set_rng_state",
    "set_seed",
]

log = get_logger(__name__)


def set_seed(seed: int) -> None:
    """Seed python, numpy and torch (all devices)."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def get_rng_state() -> dict[str, Any]:
    """RNG state of every library, for exact resume."""
    state = {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def prepare_run_dir(cfg: RecipeConfig, *, decoding: dict[str, Any] | None = None,
                    resolved: dict[str, Any] | None = None) -> RunDir:
    """Create the run directory and write ``config.yaml`` and ``env.json``.

    ``resolved`` (e.g. the algorithm after its preset was applied) is written into ``config.yaml`` too,
    so the file re-runs exactly what ran.
    """
    run = RunDir(cfg.output_dir)
    run.check_writable()  # a read-only or full location fails here, in one line naming it
    if resolved:
        cfg = dataclasses.replace(cfg, **{k: v for k, v in resolved.items() if hasattr(cfg, k)})
    save_config(cfg, run.config_path)
    run.write_env(environment_record(seeds=[cfg.seed], decoding=decoding, template=cfg.data.template,
                                     extra={"method": cfg.method, "output_dir": str(run.path)}))
    return run


def installed_trackers(names: list[str]) -> list[str]:
    """The recipe's trackers that are importable (config validation has already refused one that is not, so
    this only matters for a config built by hand); wandb logs offline without an API key."""
    import importlib.util
    import os

    out = []
    for name in names:
        if importlib.util.find_spec(name) is None:
            log.warning("tracker %r is not installed; skipped", name)
            continue
        if name == "wandb" and not os.environ.get("WANDB_API_KEY"):
            os.environ.setdefault("WANDB_MODE", "offline")  # offline-safe
        out.append(name)
    return out


def build_optimizer(params, cfg: RecipeConfig, total_steps: int, lr: float | None = None):
    """AdamW plus a warmup + constant/cosine/linear schedule (per optimizer step)."""
    t = cfg.trainer
    opt = torch.optim.AdamW([p for p in params if p.requires_grad], lr=lr or t.learning_rate,
                            betas=(t.adam_beta1, t.adam_beta2), weight_decay=t.weight_decay)

    def factor(step: int) -> float:
        if step < t.warmup_steps:
            return (step + 1) / (t.warmup_steps + 1)
        if t.lr_scheduler == "constant":
            return 1.0
        progress = min(1.0, (step - t.warmup_steps) / max(1, total_steps - t.warmup_steps))
        if t.lr_scheduler == "linear":
            return 1.0 - progress
        return 0.5 * (1.0 + math.cos(math.pi * progress))

    sched = torch.optim.lr_scheduler.LambdaLR(opt, factor)
    return opt, sched


def evaluation_callback(cfg: RecipeConfig, run: RunDir, log_fn=None, final_step: int | None = None):
    """The ``PassAtKCallback`` a recipe's evaluation section describes (None when disabled).

    ``final_step``: the run's last step, below which ``evaluation.intermediate_n`` applies (None: every
    evaluation gets ``evaluation.n``; a transformers trainer supplies its ``max_steps`` itself)."""
    ev = cfg.evaluation
    if not ev.enabled or not ev.benchmarks:
        return None
    from rlvr_bench.evaluation.callback import PassAtKCallback

    benchmarks = [toy_split(cfg, "test", b) if is_toy_source(b) else b for b in ev.benchmarks]
    return PassAtKCallback(run.path, benchmarks, n=ev.n, ks=ev.ks, seeds=ev.seeds, decoding=evaluation_decoding(cfg),
                           template=ev.template or cfg.data.template, limit=ev.limit, reward=cfg.reward.name,
                           at_start=ev.at_start, batch_size=cfg.rollout.batch_size,
                           intermediate_n=ev.intermediate_n, final_step=final_step, log_fn=log_fn,
                           max_prompt_tokens=cfg.data.max_prompt_tokens)


def evaluation_decoding(cfg: RecipeConfig):
    """The ``Decoding`` of the recipe's evaluation section (the stop rule is added by ``evaluate``)."""
    from rlvr_bench.rollout import Decoding

    ev = cfg.evaluation
    return Decoding(temperature=ev.temperature, top_p=ev.top_p, top_k=ev.top_k, max_new_tokens=ev.max_new_tokens,
                    stop=tuple(ev.stop), template=ev.template or cfg.data.template)


def run_stop_rule(cfg: RecipeConfig, model: Any, tokenizer: Any):
    """The run's stop rule (``rlvr_bench.rollout.stopping``): the training template's turn end, the
    tokenizer's and the model's end-of-text ids and ``rollout.stop``. It is also written into the model's
    generation config, so TRL's on-policy generation stops the same way and full checkpoints carry it."""
    from rlvr_bench.rollout.stopping import resolve_stop_rule, set_generation_eos

    rule = resolve_stop_rule(tokenizer, cfg.data.template, model=model, strings=tuple(cfg.rollout.stop))
    if rule.turn_end_ids:
        log.info("template %r: generation also stops at %s", cfg.data.template,
                 ", ".join(t for t, i in zip(rule.tokens, rule.token_ids) if i in rule.turn_end_ids))
    set_generation_eos(model, rule)
    return rule


def save_generation_record(cfg: RecipeConfig, directory: str | Path, model: Any, tokenizer: Any) -> None:
    """Write the evaluation settings and stop rule into a checkpoint directory (full or LoRA), so that
    ``rlvr-bench eval CHECKPOINT`` samples the way the run's own evaluation did."""
    from rlvr_bench.rollout.stopping import resolve_stop_rule, write_generation_record

    ev, decoding = cfg.evaluation, evaluation_decoding(cfg)
    rule = resolve_stop_rule(tokenizer, decoding.template, model=model, strings=decoding.stop)
    extra = {"train_template": cfg.data.template, "reward": cfg.reward.name, "method": cfg.method,
             "evaluation": {"benchmarks": list(ev.benchmarks or []), "n": ev.n, "ks": list(ev.ks),
                            "seeds": list(ev.seeds), "limit": ev.limit, "batch_size": cfg.rollout.batch_size,
                            "max_prompt_tokens": cfg.data.max_prompt_tokens}}
    write_generation_record(directory, rule=rule, template=decoding.template, decoding=rule.apply(decoding),
                            model=model, extra=extra)


def record_provenance(run: RunDir, cfg: RecipeConfig, model: Any, tokenizer: Any, rule: Any,
                      answers: list[str] | None = None, custom_reward: bool = False) -> None:
    """Add what tells this run's results apart to ``env.json``: the model's revision or weights hash, the stop
    rule, the template and chat-template hashes, and what the reward resolved to on the training rows."""
    from rlvr_bench.data.templates import chat_template_sha256, template_sha256
    from rlvr_bench.evaluation.scoring import resolved_reward
    from rlvr_bench.utils.provenance import model_provenance

    record = {
        "model": model_provenance(model_path_for(cfg.model.name_or_path, cfg), model),
        "stop": rule.as_dict() if rule is not None else None,
        "template_sha256": template_sha256(cfg.data.template, tokenizer),
        "chat_template_sha256": chat_template_sha256(tokenizer),
        "reward_resolved": resolved_reward(cfg.reward.name, answers or [], custom=custom_reward),
    }
    import json

    env = json.loads(run.env_path.read_text()) if run.env_path.is_file() else {}
    run.write_env({**env, **record})


@dataclasses.dataclass
class ComputeMeter:
    """Compute spent, so methods can be compared at equal budget (cumulative over the run)."""

    samples: int = 0  # sequences generated (incl. DAPO's filtered ones, ReMax's greedy ones)
    gen_tokens: int = 0  # tokens generated
    forward_tokens: int = 0  # tokens through no-grad forward passes (old/ref log-probs, values)
    backward_tokens: int = 0  # tokens through forward+backward passes
    teacher_samples: int = 0  # distillation: teacher sequences generated
    teacher_tokens: int = 0
    wall_seconds: float = 0.0
    _t0: float = dataclasses.field(default_factory=time.perf_counter, repr=False)

    def tick(self) -> None:
        now = time.perf_counter()
        self.wall_seconds += now - self._t0
        self._t0 = now

    def as_dict(self) -> dict[str, float]:
        self.tick()
        return {f"compute/{k}": v for k, v in dataclasses.asdict(self).items() if not k.startswith("_")}

    def load(self, d: dict[str, float]) -> None:
        for k, v in d.items():
            name = k.removeprefix("compute/")
            if hasattr(self, name) and not name.startswith("_"):
                setattr(self, name, type(getattr(self, name))(v))
        self._t0 = time.perf_counter()


def resolved_dict(cfg: RecipeConfig) -> dict[str, Any]:
    return config_to_dict(cfg)


def model_path_for(ref: str, cfg: RecipeConfig) -> str:
    """Resolve ``toy:base``/``toy:teacher`` with the recipe's toy section; other references unchanged."""
    from rlvr_bench.models.resolve import resolve_model_path

    return resolve_model_path(ref, cfg.toy)


def checkpoint_paths(run: RunDir, step: int) -> dict[str, Path]:
    d = run.checkpoint_dir(step)
    return {"dir": d, "state": d / "rlvr_state.json", "optim": d / "optimizer.pt", "rng": d / "rng.pt"}
