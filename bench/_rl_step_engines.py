"""The child side of ``bench/rl_step.py``: one engine (ours | ours-2t | ours-async | trl | trl-ckpt) in this process,
one JSON line out.

Each child measures its own wall time per step, its own peak RSS (``ru_maxrss`` of this process) and a per-phase
breakdown, by wrapping the engines' methods from the outside (no library file is changed).
"""

from __future__ import annotations

import functools
import os
import resource
import time
from typing import Any

# TRL 1.16 GRPOConfig / TrainingArguments settings this benchmark changes from their defaults (and why). Listed
# in the output and in bench/rl_step.py's docstring; the GRPO algorithm stays the one RLTrainer runs.
TRL_SETTINGS: list[tuple[str, Any, str]] = [
    ("gradient_checkpointing", False, "TRL default True (recomputes activations in backward); trl-ckpt keeps True"),
    ("bf16", False, "TRL default True (bf16 autocast; CPU-slow); fp32 like RLTrainer"),
    ("use_cpu", True, "CPU run, like RLTrainer here"),
    ("beta", 0.0, "no KL, no reference model (TRL 1.16 default already 0.0)"),
    ("num_iterations", 1, "one update per rollout batch (default 1)"),
    ("steps_per_generation", 1, "one optimizer step per generation batch: no old-log-prob pass (default = grad accum)"),
    ("gradient_accumulation_steps", 1, "one optimizer step per step (default 1)"),
    ("per_device_train_batch_size", "prompts*n", "the whole rollout batch in one forward, like micro_batch_size"),
    ("(generation_batch_size)", "prompts*n", "derived from the two above: one generate call per step"),
    ("num_generations", "n", "group size"),
    ("max_completion_length", "max_new_tokens", "default 512"),
    ("temperature/top_p/top_k", "1.0/1.0/0", "TRL defaults, = RLTrainer's rollout defaults"),
    ("learning_rate", 1e-4, "TRL default 1e-6"),
    ("lr_scheduler_type", "constant", "TrainingArguments default linear decay; RLTrainer's is constant"),
    ("loss_type", "grpo", "TRL default dapo; grpo = seq-mean-token-mean, the grpo preset's aggregation"),
    ("scale_rewards", "group", "default; = norm_adv_by_std"),
    ("shuffle_dataset", False, "default True; both engines take the toy train split in order (same prompts)"),
    ("logging_strategy", "no", "default steps (every 10 in TRL): no log/metric reduction between steps"),
    ("logging_nan_inf_filter", False, "default True: a per-step isnan/isinf check on the loss"),
    ("save_strategy", "no", "default steps (every 500)"),
    ("eval_strategy", "no", "default no"),
    ("log_completions", False, "default False"),
    ("torch_empty_cache_steps", None, "default None (never)"),
    ("report_to", "none", "no tracker"),
    ("disable_tqdm", True, "no progress bar"),
    ("dataloader_num_workers/pin_memory", "0/False", "defaults on CPU"),
    ("optim", "adamw_torch_fused", "TrainingArguments default, kept (fused AdamW; RLTrainer uses torch AdamW)"),
]


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class Phases:
    """Seconds per named phase within the current step; ``close()`` files the step."""

    def __init__(self) -> None:
        self.cur: dict[str, float] = {}
        self.steps: list[dict[str, float]] = []

    def add(self, name: str, dt: float) -> None:
        self.cur[name] = self.cur.get(name, 0.0) + dt

    def close(self, total: float) -> None:
        self.steps.append({**self.cur, "total": total})
        self.cur = {}

    def wrap(self, obj: Any, attr: str, name: str | Any) -> None:
        """Replace ``obj.attr`` by a timed call; ``name`` may be a function of nothing (chosen per call)."""
        fn = getattr(obj, attr)

        @functools.wraps(fn)
        def timed(*a, **k):
            label = name() if callable(name) else name
            t0 = time.perf_counter()
            try:
                return fn(*a, **k)
            finally:
                self.add(label, time.perf_counter() - t0)

        setattr(obj, attr, timed)


def _common_imports() -> float:
    import torch  # noqa: F401
    import transformers  # noqa: F401

    return _rss_mb()


def run_ours(args, mode: str = "sync", threads: int = 1) -> dict[str, Any]:
    """RLTrainer's steps; ``mode`` is ``rollout.mode`` (one_step_off: the worker thread and the trainer get one of
    ``threads`` each), ``threads`` = ``trainer.torch_threads``."""
    import torch

    import rlvr_bench.trainers.rl as rl_mod
    import rlvr_bench.trainers.rl_batch as rl_batch
    from rlvr_bench.config import config_from_dict
    from rlvr_bench.trainers.rl import RLTrainer

    total_steps = args.warmup + args.steps
    cfg = config_from_dict({
        "method": "rl", "seed": args.seed, "output_dir": os.path.join(args.tmp, "ours"),
        "model": {"name_or_path": args.model_dir},
        "data": {"source": "toy", "template": "toy", "shuffle": False},
        "algorithm": {"preset": "grpo", "use_kl_loss": False, "mini_batches": 1, "ppo_epochs": 1},
        "trainer": {"steps": total_steps, "prompts_per_step": args.prompts, "learning_rate": args.lr,
                    "lr_scheduler": "constant", "micro_batch_size": args.prompts * args.n, "torch_threads": threads},
        "rollout": {"n": args.n, "max_new_tokens": args.max_new_tokens, "temperature": 1.0, "top_p": 1.0,
                    "top_k": 0, "mode": mode, "correction": "token_truncate" if mode != "sync" else "none"},
        "evaluation": {"enabled": False}, "logging": {"trackers": [], "progress": False}})
    trainer = RLTrainer(cfg)  # sets the threads (one_step_off: split between the two sides)
    ph = Phases()
    ph.wrap(trainer.engine, "generate", "generate")
    ph.wrap(rl_batch, "score_rollouts", "score")
    ph.wrap(trainer, "rollout", "rollout")
    ph.wrap(trainer, "prepare", "prepare")
    ph.wrap(trainer, "update", "update")
    ph.wrap(rl_mod, "sequence_logprobs", lambda: "fwd_grad" if torch.is_grad_enabled() else "logprobs_nograd")
    ph.wrap(trainer.accelerator, "backward", "backward")
    ph.wrap(trainer.accelerator, "clip_grad_norm_", "optim")
    ph.wrap(trainer.optimizer, "step", "optim")
    lengths, accuracy = [], []
    for step in range(1, total_steps + 1):
        trainer.step = step
        t0 = time.perf_counter()
        metrics = trainer.train_step()
        ph.close(time.perf_counter() - t0)
        if "async/wait_seconds" in metrics:  # one_step_off: the worker's rollout ran beside this step's update
            ph.steps[-1].update(wait=metrics["async/wait_seconds"], worker=metrics["async/rollout_seconds"])
        lengths.append(metrics["rollout/tokens"] / max(metrics["rollout/samples"], 1.0))
        accuracy.append(metrics["rollout/accuracy"])
    return {"phases": ph.steps, "mean_len": lengths, "reward": accuracy,
            "settings": {"preset": "grpo", "use_kl_loss": False, "ppo_epochs": 1, "mini_batches": 1,
                         "rollout.mode": mode, "rollout.correction": cfg.rollout.correction, "torch_threads": threads,
                         "micro_batch_size": args.prompts * args.n, "lr_scheduler": "constant",
                         "gradient_checkpointing": cfg.model.gradient_checkpointing,
                         "loss_agg_mode": trainer.algo.loss_agg_mode}}


def run_trl(args, checkpointing: bool) -> dict[str, Any]:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer, TrainerCallback
    from trl import GRPOConfig, GRPOTrainer

    from rlvr_bench.data.toy import toy_dataset
    from rlvr_bench.rewards import make_trl_reward

    torch.set_num_threads(1)
    ds = toy_dataset("train").map(lambda r: {"prompt": f"Q:{r['problem']}A:"})  # the "toy" template
    ph = Phases()
    info: dict[str, list[float]] = {"mean_len": [], "reward": [], "gap": []}

    class Timer(TrainerCallback):
        t0 = t_end = None

        def on_train_begin(self, a, state, control, optimizer=None, **kw):
            ph.wrap(optimizer, "step", "optim")

        def on_step_begin(self, a, state, control, **kw):
            self.t0 = time.perf_counter()
            if self.t_end is not None:  # the trainer loop between steps (data loader, log/save checks)
                info["gap"].append(self.t0 - self.t_end)
            ph.cur = {}

        def on_step_end(self, a, state, control, **kw):
            self.t_end = time.perf_counter()
            ph.close(self.t_end - self.t0)

    n = args.prompts * args.n
    conf = GRPOConfig(
        output_dir=os.path.join(args.tmp, "trl"), seed=args.seed, use_cpu=True, bf16=False,
        gradient_checkpointing=checkpointing, beta=0.0, num_iterations=1, steps_per_generation=1,
        gradient_accumulation_steps=1, per_device_train_batch_size=n, num_generations=args.n,
        max_completion_length=args.max_new_tokens, temperature=1.0, top_p=1.0, top_k=0,
        learning_rate=args.lr, lr_scheduler_type="constant", loss_type="grpo", scale_rewards="group",
        shuffle_dataset=False, max_steps=args.warmup + args.steps, logging_strategy="no",
        logging_nan_inf_filter=False, save_strategy="no", eval_strategy="no", log_completions=False,
        torch_empty_cache_steps=None, report_to="none", disable_tqdm=True, dataloader_num_workers=0,
        dataloader_pin_memory=False)
    tok = AutoTokenizer.from_pretrained(args.model_dir)
    trainer = GRPOTrainer(model=AutoModelForCausalLM.from_pretrained(args.model_dir),
                          reward_funcs=make_trl_reward("math"), args=conf, train_dataset=ds,
                          processing_class=tok, callbacks=[Timer()])
    reward_fn = trainer._calculate_rewards

    def rewards(inputs, prompts, completions, completion_ids_list):
        info["mean_len"].append(sum(len(c) for c in completion_ids_list) / max(len(completion_ids_list), 1))
        t0 = time.perf_counter()
        out = reward_fn(inputs, prompts, completions, completion_ids_list)
        ph.add("score", time.perf_counter() - t0)
        info["reward"].append(float(torch.nanmean(out.sum(-1) if out.dim() > 1 else out)))
        return out

    trainer._calculate_rewards = rewards
    ph.wrap(trainer, "_generate", "generate")
    ph.wrap(trainer, "_generate_and_score_completions", "rollout")
    ph.wrap(trainer, "compute_loss", "fwd_grad")
    ph.wrap(trainer.accelerator, "backward", "backward")
    ph.wrap(trainer.accelerator, "clip_grad_norm_", "optim")
    trainer.train()
    used = {k: getattr(conf, k) for k in ("gradient_checkpointing", "bf16", "beta", "num_iterations",
                                          "steps_per_generation", "generation_batch_size",
                                          "per_device_train_batch_size", "gradient_accumulation_steps",
                                          "num_generations", "max_completion_length", "temperature", "top_p",
                                          "top_k", "learning_rate", "loss_type", "scale_rewards",
                                          "shuffle_dataset", "logging_nan_inf_filter", "log_completions",
                                          "torch_empty_cache_steps", "torch_compile",
                                          "use_transformers_continuous_batching")}
    used.update({k: str(getattr(conf, k)) for k in ("lr_scheduler_type", "logging_strategy", "save_strategy",
                                                    "eval_strategy", "optim")})
    return {"phases": ph.steps, **info, "settings": used}


def run_child(args) -> dict[str, Any]:
    load0 = os.getloadavg()
    rss_imports = _common_imports()
    t0 = time.perf_counter()
    if args.engine == "ours":
        out = run_ours(args)
    elif args.engine == "ours-2t":
        out = run_ours(args, threads=2)
    elif args.engine == "ours-async":
        out = run_ours(args, mode="one_step_off", threads=2)
    else:
        out = run_trl(args, checkpointing=args.engine == "trl-ckpt")
    import torch

    return {"engine": args.engine, "pid": os.getpid(), "torch_threads": torch.get_num_threads(),
            "warmup": args.warmup, "rss_after_imports_mb": rss_imports, "peak_rss_mb": _rss_mb(),
            "run_s": time.perf_counter() - t0, "load_start": load0, "load_end": os.getloadavg(), **out}
