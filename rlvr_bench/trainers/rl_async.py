"""One-step-off-policy rollouts for ``RLTrainer`` (``rollout.mode: one_step_off``): the rollout of step t+1
overlaps the update of step t.

The schedule is verl 0.9.1's ``one_step_off_policy`` recipe (``verl/experimental/one_step_off_policy/
ray_trainer.py``: each step takes the batch generated during the previous step, syncs the actor's weights to
the rollout worker, launches the next batch's generation, then computes advantages and updates) and the
``max_staleness=1`` case of TRL 1.16's async GRPO (``trl/experimental/async_grpo``). With policy version v =
the number of training steps behind the weights:

==========  ===========================================================  ======================
step t      rollout worker (second thread, a frozen copy of the policy)  trainer (this thread)
==========  ===========================================================  ======================
1           B1 with v0 (the trainer waits for it), then B2 with v0       update v0 -> v1 on B1
t >= 2      B(t+1) with v(t-1), copied before the update starts          update v(t-1) -> vt on Bt
==========  ===========================================================  ======================

so step t trains on a batch one version stale (step 1: none), and the last step launches nothing. The copy
has its own torch threads (half of the trainer's, at least one; the trainer keeps the rest), its own engine
and the step's own sampling seed, so a run is as reproducible as a synchronous one: nothing the worker does
depends on the timing of the two threads.

Staleness is corrected by the rollout correction (``rollout.correction``, ``rlvr_bench.trainers.rl_correction``):
the engine records the stale copy's log-probs of the sampled tokens (the behaviour policy), the trainer
recomputes the old log-probs with the current weights (verl's decoupled mode; with one update per batch they
are the update's own forward, no extra pass), and the importance weight exp(old - behaviour) multiplies each
token's policy loss. ``rollout.correction: none`` leaves the staleness uncorrected (it is still measured:
``rollout_correction/kl``, ...). Every step logs ``async/staleness`` (versions between the batch's policy and
the trainer's), ``async/policy_version`` (the version that generated the batch), ``async/wait_seconds`` (how
long the trainer waited for the worker: the part of the rollout the update did not hide) and
``async/rollout_seconds`` (the worker's time on the batch).

Checkpoints: saving waits for the in-flight rollout and stores the finished batch with the resume state
(``trainer_state.pt``, key ``one_step_off``), after the data position it consumed, so a resumed run trains
on exactly the batch the uninterrupted one would have. The mode needs the ``hf`` engine and one process.
"""

from __future__ import annotations

import copy
import threading
import time
from typing import TYPE_CHECKING, Any

import torch

from rlvr_bench.errors import UserError

if TYPE_CHECKING:
    from rlvr_bench.trainers.rl import RLTrainer
    from rlvr_bench.trainers.rl_batch import RolloutBatch

__all__ = ["STATE_KEY", "AsyncRolloutError", "OneStepOffRollout", "checkpoint_state", "make_overlap", "restore"]

STATE_KEY = "one_step_off"
"""Key of the pending batch in ``trainer_state.pt``."""


class AsyncRolloutError(UserError):
    """``rollout.mode: one_step_off`` with something it cannot run with (engine, processes, checkpoint)."""


def split_threads(total: int) -> tuple[int, int]:
    """(trainer, rollout worker) torch threads out of ``total``: the worker gets half, at least one each."""
    worker = max(1, total // 2)
    return max(1, total - worker), worker


class OneStepOffRollout:
    """The rollout worker of one run (see module docstring).

    Args:
        trainer: the ``RLTrainer``; its ``rollout(step=, model=)`` is what the worker runs.
        threads: torch threads of trainer + worker together (None: ``torch.get_num_threads()``).
    """

    def __init__(self, trainer: RLTrainer, threads: int | None = None) -> None:
        self.trainer = trainer
        policy = trainer.accelerator.unwrap_model(trainer.model)
        self.copy = copy.deepcopy(policy).eval().requires_grad_(False)
        theirs = dict(self.copy.named_parameters())
        # frozen weights (a LoRA base) never change: only trainable parameters and buffers are synced
        self._pairs = [(theirs[n], p) for n, p in policy.named_parameters() if p.requires_grad]
        self._pairs += list(zip(self.copy.buffers(), policy.buffers()))
        self.main_threads, self.worker_threads = split_threads(threads or torch.get_num_threads())
        torch.set_num_threads(self.main_threads)
        self._thread: threading.Thread | None = None
        self._out: dict[str, Any] = {}
        self.pending: tuple[int, int, RolloutBatch, float] | None = None  # (step, version, batch, seconds) done

    # ---------------------------------------------------------------------------------------- schedule
    def next_batch(self, step: int, last: bool) -> RolloutBatch:
        """Step ``step``'s batch (waiting for the worker), with the next step's rollout launched unless ``last``;
        ``batch.stats`` gains ``async/staleness``, ``async/policy_version``, ``async/wait_seconds`` and
        ``async/rollout_seconds``."""
        t0 = time.perf_counter()
        if self._thread is None and self.pending is None:
            self._launch(step, step - 1)  # the first step (or a checkpoint saved at the last step): fresh
        self.wait()
        got_step, version, batch, seconds = self.pending
        if got_step != step:
            raise RuntimeError(f"the rollout worker produced step {got_step}'s batch for step {step}")
        self.pending = None
        waited = time.perf_counter() - t0
        if not last:
            self._launch(step + 1, step - 1)  # the weights now: step - 1 updates, before this step's
        batch.stats.update({"async/staleness": float(step - 1 - version), "async/policy_version": float(version),
                            "async/wait_seconds": waited, "async/rollout_seconds": seconds})
        return batch

    def wait(self) -> None:
        """Join the in-flight rollout (its batch becomes ``pending``); re-raise what it raised."""
        if self._thread is None:
            return
        self._thread.join()
        self._thread = None
        out, self._out = self._out, {}
        if "error" in out:
            raise out["error"]
        self.pending = out["result"]

    @torch.no_grad()
    def _launch(self, step: int, version: int) -> None:
        for mine, theirs in self._pairs:  # the copy becomes the policy as it is now
            mine.copy_(theirs)
        self._thread = threading.Thread(target=self._work, args=(step, version), name=f"rlvr-rollout-{step}",
                                        daemon=True)
        self._thread.start()

    def _work(self, step: int, version: int) -> None:
        torch.set_num_threads(self.worker_threads)  # this thread's own OpenMP team
        t0 = time.perf_counter()
        try:
            batch = self.trainer.rollout(step=step, model=self.copy)
            self._out = {"result": (step, version, batch, time.perf_counter() - t0)}
        except BaseException as err:  # re-raised in the trainer's thread by wait()
            self._out = {"error": err}


def make_overlap(trainer: RLTrainer) -> OneStepOffRollout | None:
    """The worker for ``rollout.mode: one_step_off`` (None for ``sync``).

    Raises:
        AsyncRolloutError: another engine than ``hf``, or more than one process.
    """
    cfg = trainer.cfg
    if cfg.rollout.mode == "sync":
        return None
    if cfg.rollout.backend != "hf":
        raise AsyncRolloutError(f"rollout.mode={cfg.rollout.mode} generates with a copy of the policy on a second "
                                f"thread, which only the hf engine does (rollout.backend={cfg.rollout.backend}): use "
                                "rollout.backend=hf or rollout.mode=sync")
    if trainer.world > 1:
        raise AsyncRolloutError(f"rollout.mode={cfg.rollout.mode} runs in one process ({trainer.world} were "
                                "launched): launch one process or use rollout.mode=sync")
    return OneStepOffRollout(trainer, cfg.trainer.torch_threads)


def checkpoint_state(overlap: OneStepOffRollout | None) -> dict[str, Any]:
    """What a checkpoint adds to ``trainer_state.pt``: the finished next batch (waits for it); {} if none."""
    if overlap is None:
        return {}
    overlap.wait()
    if overlap.pending is None:
        return {}
    step, version, batch, seconds = overlap.pending
    return {STATE_KEY: {"step": step, "version": version, "batch": batch, "seconds": seconds}}


def restore(overlap: OneStepOffRollout | None, state: dict[str, Any], step: int, final_step: int) -> None:
    """Resume the pending batch of a checkpoint saved at ``step``.

    Raises:
        AsyncRolloutError: the checkpoint and the recipe's ``rollout.mode`` disagree (a synchronous run cannot
            resume a one-step-off checkpoint without dropping its batch, nor the reverse without a stale batch).
    """
    saved = state.get(STATE_KEY)
    if overlap is None:
        if saved is not None:
            raise AsyncRolloutError(f"checkpoint step-{step} was saved by a rollout.mode=one_step_off run (it holds "
                                    "the next step's batch): resume it with rollout.mode=one_step_off")
        return
    if saved is None:
        if step < final_step:
            raise AsyncRolloutError(f"checkpoint step-{step} was saved by a rollout.mode=sync run (no pending batch): "
                                    "resume it with rollout.mode=sync, or start a new output_dir")
        return
    overlap.pending = (int(saved["step"]), int(saved["version"]), saved["batch"], float(saved["seconds"]))
