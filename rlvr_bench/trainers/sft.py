"""``SFTTrainer`` and RFT: supervised fine-tuning on reasoning traces, built on TRL's ``SFTTrainer``.

* **SFT** (``method: sft``): fine-tune on traces from the dataset's solution column or a traces file
  (``rlvr_bench.trainers.sft_data``), the prompt rendered with the recipe's template, the loss on the completion
  only (``sft.completion_only_loss``), optional packing and LoRA.
* **RFT** (``method: rft``; Yuan et al. 2023, arXiv 2308.01825): sample ``sft.rft_samples_per_prompt``
  completions per training prompt from the model itself through ``rlvr_bench.rollout``, keep the verified-correct
  ones, deduplicated, and fine-tune on them: "SFT on the model's own successes", the control between RL (which
  also learns only from its own samples) and SFT on external traces. The sampling is counted as compute.

A vision-language model (its processor as TRL's ``processing_class``) trains on traces with images
(``rlvr_bench.trainers.sft_data``: TRL's vision-language rows); RFT samples its traces with the images.

Both write the run directory every trainer writes (``config.yaml``, ``env.json``, ``metrics.jsonl`` with
``compute/*`` columns, ``checkpoints/step-<N>/``, ``eval/``, ``complete.json``) and evaluate pass@k with the same
``PassAtKCallback`` after every checkpoint (``rlvr_bench.trainers.sft_trl``).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from trl import SFTConfig as TRLSFTConfig
from trl import SFTTrainer as TRLSFTTrainer

from rlvr_bench.config import RecipeConfig
from rlvr_bench.data.templates import text_tokenizer
from rlvr_bench.models.loading import processing_class_for
from rlvr_bench.trainers.common import (
    ComputeMeter,
    evaluation_callback,
    model_path_for,
    prepare_run_dir,
    record_provenance,
    run_stop_rule,
    save_generation_record,
    set_seed,
)
from rlvr_bench.trainers.sft_data import fitting_traces, recipe_traces, to_sft_dataset
from rlvr_bench.trainers.sft_sampling import Shard, prompt_rows, sampling_decoding, verified_traces
from rlvr_bench.trainers.sft_trl import (
    RunDirCallback,
    attach_passk,
    last_trl_checkpoint,
    load_student,
    peft_config,
    train_with_resume,
    trl_args,
)
from rlvr_bench.utils.dist import get_logger, print0
from rlvr_bench.utils.rundir import RunDir

__all__ = ["RFTTrainer", "SFTTrainer", "count_input_tokens", "run_rft", "run_sft"]

log = get_logger(__name__)


def count_input_tokens(inputs: dict[str, Any], pad_id: int | None) -> int:
    """Non-padding tokens of a collated batch (padding-free batches have no padding)."""
    if "attention_mask" in inputs:
        return int(inputs["attention_mask"].sum())
    ids = inputs["input_ids"]
    return int((ids != pad_id).sum()) if pad_id is not None and "position_ids" not in inputs else int(ids.numel())


class _MeteredSFTTrainer(TRLSFTTrainer):
    """TRL's ``SFTTrainer`` that adds the tokens of every micro-batch to a ``ComputeMeter``."""

    meter: ComputeMeter

    def training_step(self, model, inputs, num_items_in_batch=None):
        pad_id = text_tokenizer(self.processing_class).pad_token_id
        n = torch.tensor(count_input_tokens(inputs, pad_id), device=self.args.device)
        self.meter.backward_tokens += int(self.accelerator.gather(n).sum())
        return super().training_step(model, inputs, num_items_in_batch)


class SFTTrainer:
    """Supervised fine-tuning on reasoning traces (TRL ``SFTTrainer`` underneath).

    Args:
        config: a recipe (``method`` sft, or rft / distill_seq through the subclasses).
        model, tokenizer: an already-loaded model to train (notebooks) and its tokenizer, or its processor for a
            vision-language model; default: ``config.model.name_or_path``.
        train_dataset: traces (rows with ``problem``/``solution`` or ``prompt``/``completion``); default: the recipe's
            (``sft.traces_file`` or ``data.solution_column``).
        reward_fn: ``f(texts, answers) -> list[float]`` verifier for sampled traces (RFT, distillation); default:
            ``config.reward``.

    ``train()`` returns the run directory; a run with ``complete.json`` is skipped, a killed one resumes from TRL's
    latest checkpoint (its traces are reused from ``traces/``).
    """

    method = "sft"
    samples_from_student = False  # True when traces() samples the model being trained (RFT)
    samples_traces = False  # True when traces() samples a model (RFT, sequence-level distillation)

    def __init__(self, config: RecipeConfig, *, model: Any = None, tokenizer: Any = None,
                 train_dataset: Any = None, reward_fn: Callable[[list[str], list[str]], list[float]] | None = None) -> None:
        self.cfg = config
        self.reward_fn = reward_fn
        self.run = RunDir(config.output_dir)
        self.meter = ComputeMeter()
        self.model, self.tokenizer = model, tokenizer
        self.processing: Any = tokenizer  # the processor of a vision-language model, else the tokenizer
        self.train_dataset = train_dataset
        self.info: dict[str, Any] = {"method": self.method}
        self.args: TRLSFTConfig | None = None
        self.trainer: TRLSFTTrainer | None = None

    # ------------------------------------------------------------------------------------ hooks
    def traces(self) -> Any:
        """The traces to fine-tune on (subclasses sample them); runs on the main process first."""
        return self.train_dataset if self.train_dataset is not None else recipe_traces(self.cfg)

    def decoding_record(self) -> dict[str, Any] | None:
        """Decoding parameters recorded in ``env.json`` (those of any sampling this method does)."""
        return None

    def preload_prompts(self) -> None:
        """Methods that sample the model being trained load their prompts here, before the model (RFT)."""
        return None

    # ------------------------------------------------------------------------------------ run
    def build(self) -> TRLSFTTrainer:
        """TRL arguments, models, traces and the TRL trainer (without training)."""
        cfg, s = self.cfg, self.cfg.sft
        if cfg.trainer.torch_threads:
            torch.set_num_threads(cfg.trainer.torch_threads)
        set_seed(cfg.seed)
        self.args = TRLSFTConfig(**trl_args(cfg, self.run, max_length=s.max_length, packing=s.packing,
                                            completion_only_loss=s.completion_only_loss))
        if self.args.process_index == 0 and last_trl_checkpoint(self.run) is None:
            prepare_run_dir(cfg, decoding=self.decoding_record())
        # bad input fails before the model loads (RFT: its prompts; the traces are sampled from the model)
        traces = self.preload_prompts() if self.samples_from_student else self.prepare_traces()
        if self.model is None:
            source = model_path_for(cfg.model.name_or_path, cfg)
            self.model, tok = load_student(cfg, source, self.args.device)
            self.processing = self.processing or tok
        self.processing = processing_class_for(self.model, self.processing)
        self.tokenizer = text_tokenizer(self.processing)
        self.stop_rule = run_stop_rule(cfg, self.model, self.tokenizer)
        if traces is None:
            traces = self.prepare_traces()
        traces = fitting_traces(cfg, traces, self.model, self.tokenizer)
        if self.args.process_index == 0 and last_trl_checkpoint(self.run) is None:
            record_provenance(self.run, cfg, self.model, self.tokenizer, self.stop_rule,
                              [str(r.get("answer", "")) for r in _rows(traces)], self.reward_fn is not None)
        dataset = to_sft_dataset(traces, cfg.data.template, self.processing)
        self.info["train_examples"] = len(dataset)
        print0(f"{self.method}: {len(dataset)} training examples")
        self.callback = RunDirCallback(self.run, self.processing, self.meter,
                                       record=lambda d, m: save_generation_record(cfg, d, m, self.tokenizer))
        callbacks = [self.callback]
        passk = evaluation_callback(cfg, self.run, final_step=cfg.trainer.steps)
        if passk is not None:
            callbacks.append(passk)
        trainer = _MeteredSFTTrainer(model=self.model, args=self.args, train_dataset=dataset,
                                     processing_class=self.processing, peft_config=peft_config(cfg),
                                     callbacks=callbacks)
        trainer.meter = self.meter
        attach_passk(trainer, passk)
        self.trainer = trainer
        return trainer

    def shard(self) -> Shard:
        """This process's share of trace sampling (every process samples its slice of the prompts)."""
        return Shard(self.args.process_index, self.args.world_size, self.args.distributed_state.wait_for_everyone)

    def prepare_traces(self) -> Any:
        """``traces()``; files and datasets are read on the main process first (it downloads and caches them),
        sampled traces are sampled by every process in parallel (``shard``)."""
        if self.samples_traces:
            return self.traces()
        with self.args.main_process_first(local=False, desc="preparing traces"):
            return self.traces()

    def train(self) -> RunDir:
        """Fine-tune for ``trainer.steps`` steps (see the class docstring); returns the run directory."""
        if self.run.is_complete():
            print0(f"{self.run.path} is complete; nothing to do")
            return self.run
        trainer = self.build()
        return train_with_resume(trainer, self.run, self.meter, self.callback, self.info)


class RFTTrainer(SFTTrainer):
    """Rejection-sampling fine-tuning (arXiv 2308.01825): SFT on the model's own verified, distinct samples."""

    method = "rft"
    samples_from_student = True
    samples_traces = True

    def decoding_record(self) -> dict[str, Any]:
        return sampling_decoding(self.cfg).as_dict()

    def preload_prompts(self) -> None:
        """Load (and so check) the prompts to sample before the model loads; returns None (no traces yet)."""
        if self.train_dataset is None:
            self._rows = prompt_rows(self.cfg, self.cfg.sft.rft_max_prompts)
        return None

    def traces(self) -> list[dict[str, Any]]:
        """Sample from the model being trained (before any update), keep the correct distinct completions."""
        if self.train_dataset is not None:
            return self.train_dataset
        cfg = self.cfg
        rows = getattr(self, "_rows", None) or prompt_rows(cfg, cfg.sft.rft_max_prompts)
        traces, stats = verified_traces(cfg, self.run, "rft", self.model, self.processing, rows,
                                        n=cfg.sft.rft_samples_per_prompt, keep_correct_only=True,
                                        shard=self.shard(), reward_fn=self.reward_fn)
        self.info["sampling"] = stats.as_dict()
        self.meter.samples += stats.samples
        self.meter.gen_tokens += stats.tokens
        return traces


def _rows(traces: Any) -> list[dict[str, Any]]:
    """Trace rows as dicts (a ``datasets.Dataset`` or a list)."""
    return traces if isinstance(traces, list) else [dict(r) for r in traces]


def run_sft(cfg: RecipeConfig) -> Path:
    """``rlvr-bench train`` entry point for ``method: sft``."""
    return SFTTrainer(cfg).train().path


def run_rft(cfg: RecipeConfig) -> Path:
    """``rlvr-bench train`` entry point for ``method: rft``."""
    return RFTTrainer(cfg).train().path
