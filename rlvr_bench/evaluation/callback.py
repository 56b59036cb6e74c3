"""``PassAtKCallback``: pass@k evaluation after every checkpoint.

One object, two uses:

* a transformers ``TrainerCallback``: TRL/transformers trainers (the SFT and distillation trainers) call
  ``on_train_begin`` (step 0, optional) and ``on_save`` (every checkpoint) with the model and tokenizer;
* a plain callable ``callback(model, tokenizer, step)`` for the project's RL trainer.

Results go to the run directory (``eval/step-<N>/...``, ``eval/summary.jsonl``), to ``metrics.jsonl`` as
``eval/<benchmark>/pass@k`` keys, and to an optional ``log_fn(metrics, step)`` (the trackers).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from transformers import TrainerCallback

from rlvr_bench.evaluation.evaluate import evaluate
from rlvr_bench.rollout import Decoding
from rlvr_bench.utils.dist import get_logger, is_main_process
from rlvr_bench.utils.rundir import RunDir

__all__ = ["PassAtKCallback"]

log = get_logger(__name__)


class PassAtKCallback(TrainerCallback):
    """Evaluate pass@k on ``benchmarks`` after every checkpoint (see module docstring).

    Args:
        run_dir: the run directory results are written to.
        benchmarks: short names, files or Datasets.
        n, ks, seeds, decoding, template, limit, reward, max_prompt_tokens: as in ``evaluate``.
        at_start: evaluate the initial model as step 0 when training begins.
        intermediate_n: samples per problem at checkpoints before ``final_step`` (None = ``n``); pass@k is
            then reported for the ks up to it. Step 0 and the final checkpoint always get ``n``.
        final_step: the run's last step (a transformers trainer's ``state.max_steps`` takes precedence);
            None = every evaluation is treated as final.
        log_fn: called with ``({"eval/<bench>/pass@k": value, ...}, step)``.
    """

    def __init__(self, run_dir: str | Path, benchmarks: Sequence[Any], *, n: int = 64,
                 ks: Sequence[int] | None = None, seeds: Sequence[int] = (0,), decoding: Decoding | None = None,
                 template: str = "toy", limit: int | None = None, reward: str = "auto", at_start: bool = True,
                 batch_size: int = 1024, intermediate_n: int | None = None, final_step: int | None = None,
                 log_fn: Callable[[dict[str, float], int], None] | None = None,
                 max_prompt_tokens: int | None = None) -> None:
        self.run = RunDir(run_dir)
        self.benchmarks = list(benchmarks)
        self.kwargs = dict(n=n, ks=ks, seeds=seeds, decoding=decoding, template=template, limit=limit,
                           reward=reward, batch_size=batch_size, max_prompt_tokens=max_prompt_tokens)
        self.at_start = at_start
        self.intermediate_n = intermediate_n
        self.final_step = final_step
        self.log_fn = log_fn
        self.history: list[dict[str, Any]] = []

    # plain callable ------------------------------------------------------------------------------
    def __call__(self, model: Any, tokenizer: Any, step: int) -> dict[str, float]:
        """Evaluate ``model`` at ``step`` on every benchmark; returns the flat metrics logged."""
        if not is_main_process():
            return {}
        metrics: dict[str, float] = {}
        kwargs = self._settings(step)
        for bench in self.benchmarks:
            res = evaluate(model, bench, tokenizer=tokenizer, run_dir=self.run.path, step=step, **kwargs)
            for k, v in res.pass_at_k.items():
                metrics[f"eval/{res.benchmark}/pass@{k}"] = v
            metrics[f"eval/{res.benchmark}/pass@1_std"] = res.pass_at_k_std[1]
            log.info("step %d %s: pass@1 %.3f  pass@%d %.3f", step, res.benchmark, res.pass_at_1,
                     max(res.pass_at_k), res.pass_at_k[max(res.pass_at_k)])
        self.run.log_metrics({"step": step, **metrics})
        self.history.append({"step": step, **metrics})
        if self.log_fn is not None:
            self.log_fn(metrics, step)
        return metrics

    def _settings(self, step: int) -> dict[str, Any]:
        """``evaluate`` keyword arguments at ``step``: the lighter ``intermediate_n`` between the ends."""
        light = self.intermediate_n
        if light is None or light >= self.kwargs["n"] or step == 0 or self.final_step is None \
                or step >= self.final_step:
            return self.kwargs
        ks = self.kwargs["ks"]
        return {**self.kwargs, "n": light, "ks": None if ks is None else ([k for k in ks if k <= light] or [1])}

    # transformers TrainerCallback ------------------------------------------------------------------
    def on_train_begin(self, args, state, control, model=None, processing_class=None, **kwargs):
        if self.at_start and state.global_step == 0:
            self(model, processing_class or kwargs.get("tokenizer"), 0)

    def on_save(self, args, state, control, model=None, processing_class=None, **kwargs):
        if getattr(state, "max_steps", 0) > 0:
            self.final_step = state.max_steps
        self(model, processing_class or kwargs.get("tokenizer"), state.global_step)
