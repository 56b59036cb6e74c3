"""What the TRL-based trainers (SFT, RFT, distillation) share: arguments, the run directory, resume.

TRL trainers are transformers ``Trainer`` s: they write ``checkpoint-<N>/`` (weights, optimizer, scheduler, RNG,
``trainer_state.json``) under their own ``output_dir``. The run-directory contract (``docs/architecture.md``) wants
``checkpoints/step-<N>/`` in HF format with the tokenizer, so:

* TRL's ``output_dir`` is ``<run>/trl/`` and keeps only its latest ``checkpoint-<N>`` (the resume state);
* :class:`RunDirCallback`, placed before the ``PassAtKCallback``, copies the weights and tokenizer of every
  checkpoint TRL saves to ``checkpoints/step-<N>/`` (plus ``rlvr_state.json``: step and compute spent) and turns
  TRL's log lines into ``metrics.jsonl`` rows ``{"step": N, "train/loss": ..., "compute/...": ...}``;
* :func:`train_with_resume` resumes from ``<run>/trl/checkpoint-<N>`` when a run was killed, and writes
  ``complete.json`` when it finished, so a finished run is skipped when it is run again.

Device: ``use_cpu=True, bf16=False`` without CUDA (TRL configs default to bf16, which fails on CPU);
bf16 mixed precision on a GPU that supports it, unless the recipe says otherwise.
"""

from __future__ import annotations

import json
import math
import re
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from transformers import TrainerCallback

from rlvr_bench.config import RecipeConfig
from rlvr_bench.trainers.common import ComputeMeter, installed_trackers
from rlvr_bench.utils.dist import get_logger, world_size
from rlvr_bench.utils.fsio import atomic_dir
from rlvr_bench.utils.rundir import RunDir, write_json_atomic

__all__ = [
    "RunDirCallback",
    "attach_passk",
    "device_settings",
    "last_trl_checkpoint",
    "load_student",
    "peft_config",
    "report_to",
    "train_with_resume",
    "trl_args",
]

log = get_logger(__name__)

TRL_SUBDIR = "trl"
# Processes wait for the main one while it evaluates pass@k after a checkpoint (long on real benchmarks).
DDP_TIMEOUT_S = 4 * 3600
_CKPT_RE = re.compile(r"^checkpoint-(\d+)$")
# Files of a TRL checkpoint that are resume state, not the model: not copied to checkpoints/step-N.
_STATE_FILES = re.compile(r"^(optimizer.*|scheduler.*|rng_state.*|scaler.*|training_args\.bin|trainer_state\.json|"
                          r"README\.md|latest|zero_to_fp32\.py)$")
# TRL log keys renamed in metrics.jsonl (others keep their name under "train/").
_LOG_NAMES = {"learning_rate": "train/lr", "loss": "train/loss", "grad_norm": "train/grad_norm"}
_SUMMARY_KEYS = ("train_runtime", "train_samples_per_second", "train_steps_per_second", "train_loss", "total_flos")


def device_settings(cfg: RecipeConfig) -> dict[str, Any]:
    """``use_cpu``/``bf16``/``fp16`` for a TRL config: CPU without bf16, bf16 on a GPU that supports it."""
    import torch

    want_cpu = cfg.model.device == "cpu" or not torch.cuda.is_available()
    if want_cpu:
        return {"use_cpu": True, "bf16": False, "fp16": False}
    mp = cfg.trainer.mixed_precision
    bf16_ok = torch.cuda.is_bf16_supported(including_emulation=False)
    if mp == "fp16":
        return {"use_cpu": False, "bf16": False, "fp16": True}
    if mp == "bf16" and not bf16_ok:
        from rlvr_bench.config import ConfigError

        raise ConfigError("trainer.mixed_precision = 'bf16' but this GPU has no native bf16; use 'fp16' or 'no'")
    # "no" keeps full precision unless the weights themselves load in bf16 (dtype auto on a bf16 GPU)
    bf16 = mp == "bf16" or (mp == "no" and cfg.model.dtype in ("auto", "bfloat16") and bf16_ok)
    return {"use_cpu": False, "bf16": bf16, "fp16": False}


def report_to(trackers: list[str]) -> list[str]:
    """transformers' ``report_to``: the recipe's installed trackers, or ``["none"]``."""
    return installed_trackers(trackers) or ["none"]


def batch_layout(batch_size: int, micro_batch_size: int, world: int | None = None) -> tuple[int, int]:
    """(per-device batch, gradient accumulation steps) so that per_device x accumulation x world >= batch_size.

    The product equals ``batch_size`` whenever it divides evenly (the usual case); otherwise it is rounded up.
    """
    world = world or world_size()
    per_process = math.ceil(batch_size / world)
    per_device = min(micro_batch_size, per_process)
    return per_device, math.ceil(per_process / per_device)


def trl_args(cfg: RecipeConfig, run: RunDir, **extra: Any) -> dict[str, Any]:
    """Keyword arguments shared by ``trl.SFTConfig`` and ``trl.DistillationConfig`` for a recipe.

    Budgets are ``trainer.steps`` optimizer steps of ``trainer.batch_size`` sequences (prompts, for on-policy
    distillation), ``trainer.micro_batch_size`` per forward pass. ``extra`` overrides any value.
    """
    t = cfg.trainer
    per_device, accum = batch_layout(t.batch_size, t.micro_batch_size)
    schedule = {"constant": "constant_with_warmup", "cosine": "cosine", "linear": "linear"}[t.lr_scheduler]
    save_steps = t.save_every or t.steps
    args = dict(
        output_dir=str(run.path / TRL_SUBDIR), max_steps=t.steps, per_device_train_batch_size=per_device,
        gradient_accumulation_steps=accum, learning_rate=t.learning_rate, lr_scheduler_type=schedule,
        warmup_steps=t.warmup_steps, weight_decay=t.weight_decay, adam_beta1=t.adam_beta1, adam_beta2=t.adam_beta2,
        max_grad_norm=t.max_grad_norm, logging_steps=cfg.logging.log_every, save_strategy="steps",
        save_steps=save_steps, save_total_limit=1, seed=cfg.seed, data_seed=cfg.seed,
        report_to=report_to(cfg.logging.trackers),
        gradient_checkpointing=cfg.model.gradient_checkpointing, disable_tqdm=not cfg.logging.progress,
        dataloader_pin_memory=False, ddp_timeout=DDP_TIMEOUT_S, **device_settings(cfg),
    )
    if cfg.model.gradient_checkpointing:
        args["gradient_checkpointing_kwargs"] = {"use_reentrant": False}
    args.update(extra)
    return args


def peft_config(cfg: RecipeConfig):
    """A ``peft.LoraConfig`` from ``model.lora`` (None when LoRA is off)."""
    lora = cfg.model.lora
    if not lora.enabled:
        return None
    from peft import LoraConfig, TaskType

    return LoraConfig(r=lora.r, lora_alpha=lora.alpha, lora_dropout=lora.dropout,
                      target_modules=list(lora.target_modules), task_type=TaskType.CAUSAL_LM)


def load_student(cfg: RecipeConfig, source: str, device: Any) -> tuple[Any, Any]:
    """Load the trained model on ``device`` (full weights; TRL adds LoRA from :func:`peft_config`) and its processing
    class: the tokenizer, or a vision-language model's processor."""
    from rlvr_bench.models.loading import load_policy, load_processing_class

    model = load_policy(source, dtype=cfg.model.dtype, device=str(device), trust_remote_code=cfg.model.trust_remote_code)
    return model, load_processing_class(source, trust_remote_code=cfg.model.trust_remote_code)


def last_trl_checkpoint(run: RunDir) -> Path | None:
    """TRL's latest ``checkpoint-<N>`` under ``<run>/trl`` (a killed run resumes from it), or None."""
    root = run.path / TRL_SUBDIR
    if not root.is_dir():
        return None
    found = [(int(m.group(1)), p) for p in root.iterdir() if (m := _CKPT_RE.match(p.name))
             and (p / "trainer_state.json").is_file()]
    return max(found)[1] if found else None


class RunDirCallback(TrainerCallback):
    """Bridge a TRL trainer to the run directory (see the module docstring).

    Args:
        run: the run directory.
        tokenizer: saved next to every ``checkpoints/step-<N>`` copy.
        meter: compute spent; its ``compute/*`` columns go into every metrics row and ``rlvr_state.json``.
        record: ``record(directory, model)`` writes the run's evaluation settings and stop rule into each copy
            (``rlvr_bench.trainers.common.save_generation_record``), full weights or LoRA adapter alike.
    """

    def __init__(self, run: RunDir, tokenizer: Any, meter: ComputeMeter,
                 record: Callable[[Path, Any], None] | None = None) -> None:
        self.run = run
        self.tokenizer = tokenizer
        self.meter = meter
        self.record = record
        self.summary: dict[str, float] = {}

    def on_log(self, args, state, control, logs=None, **kwargs):
        if not state.is_world_process_zero or not logs:
            return
        if all(k.startswith("eval/") for k in logs):  # pass@k, written to metrics.jsonl by PassAtKCallback
            return
        if any(k in logs for k in _SUMMARY_KEYS):
            self.summary.update({k: v for k, v in logs.items() if isinstance(v, (int, float))})
            return
        row: dict[str, Any] = {"step": state.global_step}
        for key, value in logs.items():
            if isinstance(value, (int, float)) and not isinstance(value, bool) and key != "epoch":
                row[_LOG_NAMES.get(key, f"train/{key}")] = float(value)
        row["train/epoch"] = float(logs.get("epoch", state.epoch or 0.0))
        row.update(self.meter.as_dict())
        self.run.log_metrics(row)

    def on_save(self, args, state, control, model=None, **kwargs):
        if not state.is_world_process_zero:
            return
        step = state.global_step
        src = Path(args.output_dir) / f"checkpoint-{step}"
        copy_checkpoint(src, self.run.checkpoint_dir(step), self.tokenizer,
                        {"step": step, "meter": self.meter.as_dict(), "trl_checkpoint": str(src)},
                        record=(lambda d: self.record(d, model)) if self.record and model is not None else None)


def copy_checkpoint(src: Path, dest: Path, tokenizer: Any, state: dict[str, Any],
                    record: Callable[[Path], None] | None = None) -> None:
    """Copy the model files of TRL checkpoint ``src`` (not its optimizer/RNG state) to ``dest`` atomically (a
    failed copy leaves no ``dest``); ``record(directory)`` adds the evaluation settings and stop rule."""
    with atomic_dir(dest) as tmp:
        for item in src.iterdir():
            if item.is_file() and not _STATE_FILES.match(item.name):
                shutil.copy2(item, tmp / item.name)
        if not (tmp / "tokenizer_config.json").exists() and tokenizer is not None:
            tokenizer.save_pretrained(tmp)
        if record is not None:
            record(tmp)
        write_json_atomic(tmp / "rlvr_state.json", state)


def attach_passk(trainer: Any, passk: Any) -> None:
    """Send the pass@k metrics of ``passk`` to the trainer's trackers too (TensorBoard, W&B) at their step."""
    if passk is None:
        return

    def log_fn(metrics: dict[str, float], step: int) -> None:
        trainer.callback_handler.on_log(trainer.args, trainer.state, trainer.control, logs=dict(metrics))

    passk.log_fn = log_fn


def _finish_last_checkpoint(trainer: Any, run: RunDir, callback: RunDirCallback) -> None:
    """Copy and evaluate the last checkpoint if a killed run stopped between TRL's save and the evaluation."""
    from rlvr_bench.evaluation.callback import PassAtKCallback

    step = trainer.state.global_step
    src = Path(trainer.args.output_dir) / f"checkpoint-{step}"
    if step not in run.checkpoint_steps() and (src / "trainer_state.json").is_file():
        record = callback.record
        copy_checkpoint(src, run.checkpoint_dir(step), callback.tokenizer,
                        {"step": step, "meter": callback.meter.as_dict(), "trl_checkpoint": str(src)},
                        record=(lambda d: record(d, trainer.model)) if record is not None else None)
    evaluated = {s.get("step") for s in run.summaries()}
    for cb in trainer.callback_handler.callbacks:
        if isinstance(cb, PassAtKCallback) and step in run.checkpoint_steps() and step not in evaluated:
            cb(trainer.model, callback.tokenizer, step)


def train_with_resume(trainer: Any, run: RunDir, meter: ComputeMeter, callback: RunDirCallback,
                      info: dict[str, Any] | None = None) -> RunDir:
    """Run ``trainer.train()`` (resuming from ``<run>/trl`` when a checkpoint is there); mark the run complete."""
    resume = last_trl_checkpoint(run)
    step = 0
    if resume is not None:
        state = json.loads((resume / "trainer_state.json").read_text())
        step = int(state.get("global_step", 0))
        saved = run.checkpoint_dir(step) / "rlvr_state.json"
        if saved.exists():
            meter.load(json.loads(saved.read_text()).get("meter", {}))
        if trainer.args.process_index == 0:
            run.trim_metrics(step)
        log.info("resuming %s from %s (step %d)", run.path, resume, step)
    if resume is None or step < trainer.args.max_steps:
        trainer.train(resume_from_checkpoint=str(resume) if resume is not None else None)
    else:  # training had finished; only the last checkpoint's copy or evaluation may be missing
        trainer._load_from_checkpoint(str(resume))  # transformers' own loader (full weights or PEFT adapter)
        trainer.state.global_step = step
    if trainer.args.process_index == 0:
        _finish_last_checkpoint(trainer, run, callback)
        run.mark_complete({"steps": trainer.state.global_step, **(info or {}), **callback.summary,
                           **meter.as_dict()})
    return run
