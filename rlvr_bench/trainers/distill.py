"""``DistillTrainer``: distil a teacher into the student, sequence-level or on-policy on the logits.

* **Sequence-level** (``method: distill_seq``, ``mode="seq"``; Kim & Rush 2016): the teacher samples
  ``distill.samples_per_prompt`` traces for each training prompt through ``rlvr_bench.rollout``, optionally only the
  verified-correct ones are kept (``distill.keep_correct_only``), and the student is fine-tuned on them with the SFT
  trainer (TRL ``SFTTrainer``). Works across tokenizers: only text passes from teacher to student.
* **On-policy logit distillation** (``method: distill_logit``, ``mode="logit"``; GKD, Agarwal et al. 2024,
  arXiv 2306.13649): the student samples completions and is trained towards the teacher's next-token distribution
  on them with the generalized Jensen-Shannon divergence (``distill.beta``: 0 forward KL, 1 reverse KL). This is
  TRL's ``DistillationTrainer`` (the stable successor of the experimental ``GKDTrainer``), which is fully
  on-policy; with ``distill.lmbda < 1`` a fraction ``1 - lmbda`` of the generation batches is sampled from the
  teacher instead (GKD's ``seq_kd`` mix). Teacher and student must share the vocabulary; a teacher with another
  tokenizer fails at start with a one-line :class:`DistillError`.

With images (a vision-language teacher and student on visual prompts) sequence-level distillation samples the teacher
with each prompt's image and fine-tunes the student on the traces with the same images (TRL's vision-language SFT);
logit distillation takes no images (TRL's ``DistillationTrainer`` generates from text prompt ids): such a recipe fails
at start with a one-line :class:`DistillError` naming ``distill_seq``.

Teacher samples and teacher tokens (generated, or read in the teacher's forward passes) are compute and are
counted in ``metrics.jsonl`` as ``compute/teacher_samples`` and ``compute/teacher_tokens``.
"""

from __future__ import annotations

import gc
import random
from pathlib import Path
from typing import Any

import torch
from trl import DistillationConfig, DistillationTrainer
from trl.trainer.utils import pad

from rlvr_bench.config import ConfigError, RecipeConfig
from rlvr_bench.data.templates import text_tokenizer
from rlvr_bench.errors import UserError
from rlvr_bench.models.loading import load_tokenizer
from rlvr_bench.trainers.common import (
    ComputeMeter,
    evaluation_callback,
    model_config_of,
    model_path_for,
    prepare_run_dir,
    record_provenance,
    run_stop_rule,
    save_generation_record,
    set_seed,
)
from rlvr_bench.trainers.rl_batch import derive_seed
from rlvr_bench.trainers.sft import SFTTrainer
from rlvr_bench.trainers.sft_sampling import fitting_rows, prompt_rows, sampling_decoding, verified_traces
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

__all__ = ["DistillError", "DistillTrainer", "check_shared_vocabulary", "run_distill_logit", "run_distill_seq"]

log = get_logger(__name__)

MODES = {"distill_seq": "seq", "distill_logit": "logit"}


class DistillError(UserError):
    """Teacher and student cannot be distilled as asked (message: one line)."""


def teacher_source(cfg: RecipeConfig) -> str:
    """The teacher's path (``toy:teacher`` is built on first use); a recipe without one fails in one line."""
    if not cfg.model.teacher:
        raise ConfigError(f"method {cfg.method!r} needs a teacher: set model.teacher (e.g. toy:teacher)")
    return model_path_for(cfg.model.teacher, cfg)


def load_teacher(cfg: RecipeConfig, device: Any) -> tuple[Any, Any, str]:
    """The frozen teacher, its processing class (tokenizer, or a vision-language teacher's processor) and its path."""
    from rlvr_bench.models.loading import load_processing_class, load_reference

    source = teacher_source(cfg)
    model = load_reference(source, dtype=cfg.model.dtype, device=str(device),
                           trust_remote_code=cfg.model.trust_remote_code)
    return model, load_processing_class(source, trust_remote_code=cfg.model.trust_remote_code), source


def check_shared_vocabulary(student: Any, student_tok: Any, teacher: Any, teacher_tok: Any, teacher_name: str) -> None:
    """Raise :class:`DistillError` unless both models score the same token ids (logit distillation needs it)."""
    sv = student.config.get_text_config().vocab_size
    tv = teacher.config.get_text_config().vocab_size
    hint = "; use method distill_seq, which passes only text and works across tokenizers"
    if sv != tv:
        raise DistillError(f"logit distillation needs a teacher with the student's vocabulary: the student has "
                           f"vocab_size {sv}, teacher '{teacher_name}' has {tv}{hint}")
    s_vocab, t_vocab = student_tok.get_vocab(), teacher_tok.get_vocab()
    if s_vocab != t_vocab:
        diff = sorted(set(s_vocab.items()) ^ set(t_vocab.items()), key=lambda kv: kv[1])[0]
        raise DistillError(f"logit distillation needs the student's tokenizer, but teacher '{teacher_name}' maps "
                           f"tokens differently (e.g. {diff[0]!r} -> id {diff[1]} in only one of them){hint}")


def _free(*models: Any) -> None:
    del models
    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


class _SeqDistillSFT(SFTTrainer):
    """Sequence-level distillation: SFT on traces sampled from the teacher."""

    method = "distill_seq"
    samples_traces = True

    def __init__(self, config: RecipeConfig, *, teacher: Any = None, teacher_tokenizer: Any = None, **kwargs: Any):
        super().__init__(config, **kwargs)
        self.teacher, self.teacher_tokenizer = teacher, teacher_tokenizer

    def decoding_record(self) -> dict[str, Any]:
        return sampling_decoding(self.cfg).as_dict()

    def traces(self) -> list[dict[str, Any]]:
        if self.train_dataset is not None:
            return self.train_dataset
        cfg, d = self.cfg, self.cfg.distill
        teacher, tok, source = self.teacher, self.teacher_tokenizer, cfg.model.teacher
        loaded = teacher is None
        if loaded:
            teacher, tok, source = load_teacher(cfg, self.args.device)
        rows = prompt_rows(cfg, d.max_prompts)
        traces, stats = verified_traces(cfg, self.run, "teacher", teacher, tok, rows, n=d.samples_per_prompt,
                                        keep_correct_only=d.keep_correct_only, shard=self.shard(),
                                        source=str(source), reward_fn=self.reward_fn)
        self.info["sampling"] = stats.as_dict()
        self.meter.teacher_samples += stats.samples
        self.meter.teacher_tokens += stats.tokens
        if loaded:
            _free(teacher)
        return traces


class _MeteredDistillationTrainer(DistillationTrainer):
    """TRL's ``DistillationTrainer`` that counts compute and mixes in teacher samples when ``lmbda < 1``."""

    meter: ComputeMeter
    lmbda: float = 1.0
    mix_seed: int = 0

    def _gather_sum(self, value: int | torch.Tensor) -> int:
        t = torch.as_tensor(value, device=self.accelerator.device).reshape(1)
        return int(self.accelerator.gather(t).sum())

    def _generate_single_turn(self, prompt_ids, images, multimodal_fields, has_tool_images=False):
        rng = random.Random(derive_seed(self.mix_seed, "lmbda", self.state.global_step))
        if self.lmbda >= 1.0 or rng.random() < self.lmbda:
            out = super()._generate_single_turn(prompt_ids, images, multimodal_fields, has_tool_images)
            self.meter.samples += self._gather_sum(len(out))
            self.meter.gen_tokens += self._gather_sum(sum(len(c) for c in out))
            return out
        out = self._teacher_generate(prompt_ids)
        self.meter.teacher_samples += self._gather_sum(len(out))
        self.meter.teacher_tokens += self._gather_sum(sum(len(c) for c in out))
        return out

    @torch.no_grad()
    def _teacher_generate(self, prompt_ids: list[list[int]]) -> list[list[int]]:
        """Completions sampled from the teacher (cut after the first EOS), for GKD's off-policy batches."""
        device = self.accelerator.device
        ids = pad([torch.tensor(p) for p in prompt_ids], padding_value=self._tokenizer.pad_token_id,
                  padding_side="left").to(device)
        mask = pad([torch.ones(len(p), dtype=torch.long) for p in prompt_ids], padding_value=0,
                   padding_side="left").to(device)
        teacher = self.accelerator.unwrap_model(self.teacher_model)
        seqs = teacher.generate(input_ids=ids, attention_mask=mask, generation_config=self.generation_config)
        out = []
        for row in seqs[:, ids.shape[1]:].tolist():
            cut = next((i for i, t in enumerate(row) if t in self.eos_token_ids), None)
            out.append(row[:cut + 1] if cut is not None else row)
        return out

    def _generate_and_score_completions(self, inputs):
        output = super()._generate_and_score_completions(inputs)
        tokens = self._gather_sum(output["prompt_mask"].sum() + output["completion_mask"].sum())
        self.meter.backward_tokens += tokens
        self.meter.teacher_tokens += tokens  # the teacher reads every sequence in its forward pass
        return output


class DistillTrainer:
    """Distil ``config.model.teacher`` into the student (see the module docstring).

    Args:
        config: a recipe (``method`` distill_seq or distill_logit).
        mode: ``"seq"`` or ``"logit"``; default from ``config.method``.
        model, tokenizer: an already-loaded student (notebooks); default: ``config.model.name_or_path``.
        teacher, teacher_tokenizer: an already-loaded teacher; default: ``config.model.teacher``.
        train_dataset: seq: traces to use instead of sampling the teacher; logit: a dataset with a ``prompt`` column.
        reward_fn: seq: ``f(texts, answers) -> list[float]`` verifier of the teacher's traces; default: ``config.reward``.
    """

    def __init__(self, config: RecipeConfig, *, mode: str | None = None, model: Any = None, tokenizer: Any = None,
                 teacher: Any = None, teacher_tokenizer: Any = None, train_dataset: Any = None,
                 reward_fn: Any = None) -> None:
        self.cfg = config
        self.reward_fn = reward_fn
        self.mode = mode or MODES.get(config.method)
        if self.mode not in ("seq", "logit"):
            raise ConfigError(f"DistillTrainer mode must be 'seq' or 'logit' (method {config.method!r})")
        self.run = RunDir(config.output_dir)
        self.meter = ComputeMeter()
        self.model, self.tokenizer = model, tokenizer
        self.teacher, self.teacher_tokenizer = teacher, teacher_tokenizer
        self.train_dataset = train_dataset
        self.info: dict[str, Any] = {"method": f"distill_{self.mode}"}
        self.trainer: Any = None

    def train(self) -> RunDir:
        """Run the distillation (a complete run is skipped, a killed one resumes); returns the run directory."""
        if self.run.is_complete():
            print0(f"{self.run.path} is complete; nothing to do")
            return self.run
        if self.mode == "seq":
            inner = _SeqDistillSFT(self.cfg, model=self.model, tokenizer=self.tokenizer, teacher=self.teacher,
                                   teacher_tokenizer=self.teacher_tokenizer, train_dataset=self.train_dataset,
                                   reward_fn=self.reward_fn)
            run = inner.train()
            self.trainer, self.meter, self.info = inner.trainer, inner.meter, inner.info
            return run
        trainer, callback = self.build_logit()
        return train_with_resume(trainer, self.run, self.meter, callback, self.info)

    def build_logit(self) -> tuple[_MeteredDistillationTrainer, RunDirCallback]:
        """TRL arguments, student, teacher, prompts and TRL's ``DistillationTrainer`` (without training)."""
        cfg, d, r = self.cfg, self.cfg.distill, self.cfg.rollout
        if cfg.trainer.torch_threads:
            torch.set_num_threads(cfg.trainer.torch_threads)
        set_seed(cfg.seed)
        args = DistillationConfig(**trl_args(
            cfg, self.run, max_completion_length=r.max_new_tokens, temperature=d.temperature, top_p=r.top_p,
            top_k=r.top_k, beta=d.beta, disable_dropout=True, shuffle_dataset=cfg.data.shuffle))
        if args.process_index == 0 and last_trl_checkpoint(self.run) is None:
            prepare_run_dir(cfg, decoding={"temperature": d.temperature, "top_p": r.top_p, "top_k": r.top_k,
                                           "max_new_tokens": r.max_new_tokens, "template": cfg.data.template})
        source = model_path_for(cfg.model.name_or_path, cfg)
        if self.tokenizer is None:
            self.tokenizer = load_tokenizer(source, trust_remote_code=cfg.model.trust_remote_code)
        dataset = self.train_dataset if self.train_dataset is not None else logit_prompts(  # before the model
            cfg, self.tokenizer, model_config_of(source, self.model))
        if self.model is None:
            self.model, _ = load_student(cfg, source, args.device)
        rule = run_stop_rule(cfg, self.model, self.tokenizer)
        name = str(cfg.model.teacher)
        if self.teacher is None:
            self.teacher, teacher_tok, name = load_teacher(cfg, args.device)
            self.teacher_tokenizer = self.teacher_tokenizer or teacher_tok
        check_shared_vocabulary(self.model, self.tokenizer, self.teacher,
                                text_tokenizer(self.teacher_tokenizer or self.tokenizer),
                                name)
        if args.process_index == 0 and last_trl_checkpoint(self.run) is None:
            record_provenance(self.run, cfg, self.model, self.tokenizer, rule)
        self.info.update({"train_prompts": len(dataset), "teacher": name, "beta": d.beta, "lmbda": d.lmbda})
        callback = RunDirCallback(self.run, self.tokenizer, self.meter,
                                  record=lambda dest, m: save_generation_record(cfg, dest, m, self.tokenizer))
        callbacks = [callback]
        passk = evaluation_callback(cfg, self.run, final_step=cfg.trainer.steps)
        if passk is not None:
            callbacks.append(passk)
        trainer = _MeteredDistillationTrainer(model=self.model, teacher_model=self.teacher, args=args,
                                              train_dataset=dataset, processing_class=self.tokenizer,
                                              peft_config=peft_config(cfg), callbacks=callbacks)
        trainer.meter, trainer.lmbda, trainer.mix_seed = self.meter, d.lmbda, cfg.seed
        attach_passk(trainer, passk)
        self.trainer = trainer
        return trainer, callback


def logit_prompts(cfg: RecipeConfig, tokenizer: Any, model_config: Any = None):
    """TRL ``prompt`` rows for on-policy distillation: rendered text (plain templates) or messages (chat ones);
    prompts over ``data.max_prompt_tokens`` are dropped (logged)."""
    from datasets import Dataset

    from rlvr_bench.data.templates import get_template, render_prompt

    tpl = get_template(cfg.data.template)
    rows = prompt_rows(cfg, None)
    if rows and rows[0].get("image") is not None:
        raise DistillError(f"logit distillation (distill_logit) takes no images: TRL's DistillationTrainer samples "
                           f"text prompts only, and '{cfg.data.source}' has images; use method distill_seq (the "
                           "teacher samples with the images, the student is fine-tuned on them)")
    rows = fitting_rows(cfg, rows, model_config, tokenizer)
    if tpl.chat:
        if getattr(tokenizer, "chat_template", None) is None:
            raise ConfigError(f"template {tpl.name!r} is a chat template but the student's tokenizer has none")
        return Dataset.from_dict({"prompt": [tpl.messages(r["problem"]) for r in rows]})
    return Dataset.from_dict({"prompt": [render_prompt(tpl, r["problem"]) for r in rows]})


def run_distill_seq(cfg: RecipeConfig) -> Path:
    """``rlvr-bench train`` entry point for ``method: distill_seq``."""
    return DistillTrainer(cfg, mode="seq").train().path


def run_distill_logit(cfg: RecipeConfig) -> Path:
    """``rlvr-bench train`` entry point for ``method: distill_logit``."""
    return DistillTrainer(cfg, mode="logit").train().path
