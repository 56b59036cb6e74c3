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
from rlvr_bench.errors import UserError
from rlvr_bench.utils.dist import get_logger
from rlvr_bench.utils.envinfo import environment_record
from rlvr_bench.utils.rundir import RunDir

__all__ = [
    "ComputeMeter",
    "build_optimizer",
    "evaluation_callback",
    "get_rng_state",
    "load_train_prompts",
    "prepare_run_dir",
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
    run.path.mkdir(parents=True, exist_ok=True)
    if resolved:
        cfg = dataclasses.replace(cfg, **{k: v for k, v in resolved.items() if hasattr(cfg, k)})
    save_config(cfg, run.config_path)
    run.write_env(environment_record(seeds=[cfg.seed], decoding=decoding, template=cfg.data.template,
                                     extra={"method": cfg.method, "output_dir": str(run.path)}))
    return run


def load_train_prompts(cfg: RecipeConfig, *, split: str | None = None):
    """Training prompts (a ``datasets.Dataset`` with id/problem/answer[/solution]) for a recipe."""
    split = split or cfg.data.split
    if is_toy_source(cfg.data.source):
        ds = toy_split(cfg, split, cfg.data.source)
        return ds if cfg.data.limit is None else ds.select(range(min(cfg.data.limit, len(ds))))
    from rlvr_bench.data.loading import load_prompts

    d = cfg.data
    return load_prompts(d.source, split=split, problem_column=d.problem_column, answer_column=d.answer_column,
                        solution_column=d.solution_column, id_column=d.id_column, subset=d.subset,
                        limit=d.limit, seed=cfg.seed if d.shuffle else None)


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
    from rlvr_bench.rollout import Decoding

    decoding = Decoding(temperature=ev.temperature, top_p=ev.top_p, top_k=ev.top_k,
                        max_new_tokens=ev.max_new_tokens, template=ev.template or cfg.data.template)
    benchmarks = [toy_split(cfg, "test", b) if is_toy_source(b) else b for b in ev.benchmarks]
    return PassAtKCallback(run.path, benchmarks, n=ev.n, ks=ev.ks, seeds=ev.seeds, decoding=decoding,
                           template=ev.template or cfg.data.template, limit=ev.limit, reward=cfg.reward.name,
                           at_start=ev.at_start, batch_size=cfg.rollout.batch_size,
                           intermediate_n=ev.intermediate_n, final_step=final_step, log_fn=log_fn)


def is_toy_source(source: str) -> bool:
    """``toy`` (every family of ``toy.tasks``) or ``toy/<family>`` (one family's rows of those splits)."""
    return source == "toy" or source.startswith("toy/")


def toy_split(cfg: RecipeConfig, split: str, source: str = "toy"):
    """The toy split of ``cfg.toy.tasks``; ``toy/<family>`` keeps that family's rows (same problems, same ids).

    The evaluation name is ``toy`` or ``toy-<family>`` (it names the samples file).
    """
    from rlvr_bench.data.toy import toy_dataset

    ds = toy_dataset(split, task=cfg.toy.tasks)
    family = source.partition("/")[2]
    if family:
        if family not in cfg.toy.tasks.families:
            raise UserError(f"toy source {source!r}: family {family!r} is not in toy.tasks.families "
                            f"{cfg.toy.tasks.families}")
        ds = ds.filter(lambda row: row["family"] == family)
    ds.info.dataset_name = f"toy-{family}" if family else "toy"
    return ds


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
