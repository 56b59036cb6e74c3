"""An RL run's resume state in its checkpoints: what ``RLTrainer`` writes next to the weights and reads back.

``save_state`` writes the optimizer, scheduler, RNG, critic, past-policy reference and one-step-off state
(``trainer_state.pt``) and the step, data position, compute meter, algorithm and controllers
(``rlvr_state.json``); ``load_state`` restores them, so a killed run resumes with bit-identical weights.
The first argument is the trainer (``rlvr_bench.trainers.rl.RLTrainer``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch

from rlvr_bench.trainers import rl_async
from rlvr_bench.trainers.common import get_rng_state, save_generation_record, set_rng_state
from rlvr_bench.utils.dist import print0
from rlvr_bench.utils.rundir import write_json_atomic

__all__ = ["load_state", "save_state"]


def save_state(trainer: Any, tmp: Path, step: int) -> None:
    """Weights (full or LoRA adapter), tokenizer, evaluation settings and stop rule, resume state."""
    model = trainer.accelerator.unwrap_model(trainer.model)
    model.save_pretrained(tmp)
    trainer.processing.save_pretrained(tmp)  # a vision-language model's processor files too
    save_generation_record(trainer.cfg, tmp, model, trainer.tokenizer)
    state = {"optimizer": trainer.optimizer.state_dict(), "scheduler": trainer.scheduler.state_dict(),
             "rng": get_rng_state(), **rl_async.checkpoint_state(trainer.overlap)}  # the next batch, if any
    if trainer.resets.count:  # the reference is a past policy: only this (latest) resume state keeps it
        state["reference"] = trainer.ref.state_dict()
    if trainer.critic is not None:
        trainer.accelerator.unwrap_model(trainer.critic).save_pretrained(tmp / "critic")
        state["critic_optimizer"] = trainer.critic_opt.state_dict()
    torch.save(state, tmp / "trainer_state.pt")
    write_json_atomic(tmp / "rlvr_state.json", {"step": step, "data_pos": trainer.data_pos,
                                                "meter": trainer.meter.as_dict(), "algorithm": trainer.algo.as_dict(),
                                                "entropy_controller": trainer.entropy_ctl.state_dict(),
                                                "reference_resets": trainer.resets.state_dict()})

def load_state(trainer: Any, step: int) -> None:
    """Restore ``save_state``'s resume state of checkpoint ``step`` into ``trainer``."""
    d = trainer.run.checkpoint_dir(step)
    info = json.loads((d / "rlvr_state.json").read_text())
    state = torch.load(d / "trainer_state.pt", weights_only=False)
    trainer.optimizer.load_state_dict(state["optimizer"])
    trainer.scheduler.load_state_dict(state["scheduler"])
    if trainer.critic is not None:
        trainer.critic_opt.load_state_dict(state["critic_optimizer"])
    trainer.entropy_ctl.load_state_dict(info.get("entropy_controller"))  # None: a checkpoint from before
    trainer.resets.load_state_dict(info.get("reference_resets"))
    if "reference" in state:
        trainer.ref.load_state_dict(state["reference"])
    set_rng_state(state["rng"])
    rl_async.restore(trainer.overlap, state, step, trainer.cfg.trainer.steps)
    trainer.step, trainer.data_pos = info["step"], info["data_pos"]
    trainer.meter.load(info["meter"])
    if trainer.accelerator.is_main_process:  # drop log lines of steps after the checkpoint (killed run)
        trainer.run.trim_metrics(step)
    print0(f"resumed {trainer.run.path} from step {step}")
