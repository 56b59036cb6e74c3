"""Build the toy VL BASE and VL TEACHER on demand: deterministic for a seed, cached by a content hash.

``build_vl_base`` pretrains the tiny Qwen2.5-VL of ``rlvr_bench.models.toy_vision`` from random weights on
imperfect traces of the bar-chart questions (``rlvr_bench.data.toy_visual.noisy_visual_solution``);
``build_vl_teacher`` trains that base further on clean traces. Both return a Hugging Face directory (model,
processor and ``build.json``) that ``AutoModelForImageTextToText`` / ``AutoProcessor`` load.

The cache, the hashing and the thread handling are the text toy world's (``rlvr_bench.models.pretrain``:
``$RLVR_BENCH_CACHE/toy/<name>-<hash>/``, written atomically); entries are named ``vl-base-<hash>`` and
``vl-teacher-<hash>``. The hash covers the whole ``ToyVisualConfig`` part that decides the weights (for the
teacher, the base's hash too) and :data:`CODE_VERSION`, which must be bumped whenever this code changes
what is built.

Training is the text toy world's recipe with pixel inputs: loss on completion tokens only (mean token
cross-entropy, ``</s>`` included), AdamW, linear warmup then cosine decay, budgets in optimizer steps. The
processor runs once per distinct problem (its ids and pixel patches are cached), so a step costs the
forward and backward passes only.
"""

from __future__ import annotations

import dataclasses
import random
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rlvr_bench.config.toy import ToyTrainConfig
from rlvr_bench.config.toy_visual import ToyVisualConfig
from rlvr_bench.data.toy_visual import (
    VisualProblem,
    iter_visual_problems,
    noisy_visual_solution,
    render_chart,
    sample_visual_problems,
)
from rlvr_bench.models.pretrain import (
    _cached_build,
    _cached_build_on,
    _log_progress,
    _lr_factor,
    _torch_threads,
    _versions,
    auto_threads,
    config_hash,
    toy_cache_root,
)

if TYPE_CHECKING:
    import torch

__all__ = [
    "CODE_VERSION",
    "VisualBatcher",
    "build_vl_base",
    "build_vl_teacher",
    "train_vl",
    "visual_messages",
    "vl_base_hash",
    "vl_checkpoint",
    "vl_completion_loss",
    "vl_teacher_hash",
]

CODE_VERSION = "toy-visual-1"
Pair = tuple[VisualProblem, str]  # (problem, completion without eos)


def visual_messages(problem: str) -> list[dict[str, Any]]:
    """The interface's chat messages for one problem: the image, then the problem text."""
    return [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": problem}]}]


# ---------------------------------------------------------------------------------------------------------
# Hashing


def _base_spec(cfg: ToyVisualConfig) -> dict[str, Any]:
    return {"kind": "vl-base", "code_version": CODE_VERSION, "tasks": dataclasses.asdict(cfg.tasks),
            "model": dataclasses.asdict(cfg.model), "base": dataclasses.asdict(cfg.base)}


def _teacher_spec(cfg: ToyVisualConfig) -> dict[str, Any]:
    return {"kind": "vl-teacher", "code_version": CODE_VERSION, "base_hash": vl_base_hash(cfg),
            "teacher": dataclasses.asdict(cfg.teacher)}


def vl_base_hash(cfg: ToyVisualConfig | None = None) -> str:
    """Content hash naming the VL base's cache entry."""
    return config_hash(_base_spec(ToyVisualConfig() if cfg is None else cfg))


def vl_teacher_hash(cfg: ToyVisualConfig | None = None) -> str:
    """Content hash naming the VL teacher's cache entry (includes the base's hash)."""
    return config_hash(_teacher_spec(ToyVisualConfig() if cfg is None else cfg))


# ---------------------------------------------------------------------------------------------------------
# Batches


class VisualBatcher:
    """Collates (problem, completion) pairs into model inputs through the processor, one call per problem.

    The prompt goes through the interface's path (chat template, then the processor with the chart), so
    training sees exactly the ids and pixels that sampling does. Ids, pixel patches and grids are cached by
    problem key (the charts are few: at most ``9 ** num_bars`` per question).
    """

    def __init__(self, processor: Any, cfg: ToyVisualConfig):
        self.processor, self.task = processor, cfg.tasks
        self.image_token_id = processor.tokenizer.convert_tokens_to_ids(processor.image_token)
        self._cache: dict[str, tuple[list[int], torch.Tensor, torch.Tensor]] = {}

    def _prompt(self, prob: VisualProblem) -> tuple[list[int], torch.Tensor, torch.Tensor]:
        if prob.key not in self._cache:
            text = self.processor.apply_chat_template(visual_messages(prob.problem), tokenize=False,
                                                      add_generation_prompt=True)
            out = self.processor(text=[text], images=[render_chart(prob.heights, self.task)], return_tensors="pt")
            self._cache[prob.key] = (out["input_ids"][0].tolist(), out["pixel_values"], out["image_grid_thw"])
        return self._cache[prob.key]

    def __call__(self, pairs: Sequence[Pair]) -> dict[str, torch.Tensor]:
        """Right-padded ``input_ids``/``attention_mask``/``labels``/``mm_token_type_ids`` (batch, length),
        ``pixel_values`` (patches of all images, 3 * 2 * 14 * 14) and ``image_grid_thw`` (batch, 3); labels
        are -100 on the prompt and the padding."""
        import torch

        from rlvr_bench.models.toy import encode_toy

        tok = self.processor.tokenizer
        seqs, labels, pixels, grids = [], [], [], []
        for prob, completion in pairs:
            ids, pix, grid = self._prompt(prob)
            comp = encode_toy(tok, completion) + [tok.eos_token_id]
            seqs.append(ids + comp)
            labels.append([-100] * len(ids) + comp)
            pixels.append(pix)
            grids.append(grid)
        width = max(len(s) for s in seqs)
        input_ids = torch.full((len(seqs), width), tok.pad_token_id, dtype=torch.long)
        lab = torch.full((len(seqs), width), -100, dtype=torch.long)
        mask = torch.zeros((len(seqs), width), dtype=torch.long)
        for i, (s, lb) in enumerate(zip(seqs, labels)):
            input_ids[i, : len(s)] = torch.tensor(s)
            lab[i, : len(s)] = torch.tensor(lb)
            mask[i, : len(s)] = 1
        return {"input_ids": input_ids, "attention_mask": mask, "labels": lab,
                "mm_token_type_ids": (input_ids == self.image_token_id).long(),
                "pixel_values": torch.cat(pixels), "image_grid_thw": torch.cat(grids)}


# ---------------------------------------------------------------------------------------------------------
# Training


def train_vl(model: Any, batcher: VisualBatcher, pairs: Iterator[Pair], cfg: ToyTrainConfig, *,
             progress: bool = False, label: str = "toy vl") -> dict[str, Any]:
    """Train ``model`` in place for ``cfg.steps`` steps on (problem, completion) pairs from ``pairs``.

    Returns the record of ``rlvr_bench.models.pretrain.train_toy``: ``steps``, ``seconds``, ``cpu_seconds``,
    ``threads``, ``loss_first``/``loss_last`` (mean of the first/last 20 steps) and ``loss_curve``.
    """
    import torch

    model.train()
    optim = torch.optim.AdamW(model.parameters(), lr=cfg.lr, betas=(cfg.beta1, cfg.beta2),
                              weight_decay=cfg.weight_decay)
    sched = torch.optim.lr_scheduler.LambdaLR(optim, lambda s: _lr_factor(s, cfg))
    losses: list[float] = []
    threads_used: dict[int, int] = {}
    with _torch_threads(cfg.num_threads) as threads:
        start, cpu_start = time.perf_counter(), time.process_time()
        for step in range(cfg.steps):
            if cfg.num_threads == 0 and step % 50 == 0 and step:
                threads = auto_threads(threads)
                torch.set_num_threads(threads)
            threads_used[threads] = threads_used.get(threads, 0) + 1
            loss = model(**batcher([next(pairs) for _ in range(cfg.batch_size)])).loss
            loss.backward()
            if cfg.grad_clip > 0:
                torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
            optim.step()
            sched.step()
            optim.zero_grad(set_to_none=True)
            losses.append(float(loss.detach()))
            if progress and ((step + 1) % 100 == 0 or step + 1 == cfg.steps):
                _log_progress(label, step + 1, cfg.steps, losses[-1], start)
        seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu_start
    model.eval()
    tenth = max(1, len(losses) // 10)
    return {"steps": cfg.steps, "seconds": round(seconds, 2), "cpu_seconds": round(cpu_seconds, 2),
            "threads": {str(k): v for k, v in sorted(threads_used.items())},
            "loss_first": round(sum(losses[:20]) / len(losses[:20]), 4),
            "loss_last": round(sum(losses[-20:]) / len(losses[-20:]), 4),
            "loss_curve": [round(sum(losses[i : i + tenth]) / len(losses[i : i + tenth]), 4)
                           for i in range(0, len(losses), tenth)]}


def vl_completion_loss(model: Any, batcher: VisualBatcher, pairs: Sequence[Pair], batch_size: int = 128) -> float:
    """Mean per-token cross-entropy of the completions (``</s>`` included) given their prompts and charts."""
    import torch

    total, count = 0.0, 0
    model.eval()
    with torch.no_grad():
        for i in range(0, len(pairs), batch_size):
            batch = batcher(pairs[i : i + batch_size])
            labels = batch.pop("labels")
            logits = model(**batch).logits[:, :-1]
            nll = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.size(-1)), labels[:, 1:].reshape(-1),
                                                    ignore_index=-100, reduction="sum")
            total += float(nll)
            count += int((labels[:, 1:] != -100).sum())
    return total / max(count, 1)


def _stream(cfg: ToyVisualConfig, weights: Sequence[float], seed_tag: str, noisy: bool) -> Iterator[Pair]:
    """Endless (problem, completion) pairs from the train split: noisy traces for the base, gold otherwise."""
    rng = random.Random(seed_tag)
    for prob in iter_visual_problems(rng, cfg.tasks, split="train", weights=weights):
        yield prob, (noisy_visual_solution(prob, rng, cfg.base.errors, cfg.tasks) if noisy else prob.solution)


def _heldout_losses(model: Any, batcher: VisualBatcher, cfg: ToyVisualConfig) -> dict[str, float]:
    """Gold-trace loss on the test split, per question kind."""
    probs = sample_visual_problems("test", cfg.tasks.num_test, cfg.tasks)
    return {kind: round(vl_completion_loss(model, batcher, [(p, p.solution) for p in probs if p.kind == kind]), 4)
            for kind in cfg.tasks.kinds if any(p.kind == kind for p in probs)}


def _record(name: str, digest: str, spec: dict[str, Any], stats: dict[str, Any], heldout: dict[str, float],
            model: Any) -> dict[str, Any]:
    return {"name": name, "hash": digest, "code_version": CODE_VERSION, "config": spec,
            "params": sum(p.numel() for p in model.parameters()),
            "vision_params": sum(p.numel() for p in model.model.visual.parameters()),
            "steps": stats["steps"], "seconds": stats["seconds"], "cpu_seconds": stats["cpu_seconds"],
            "threads": stats["threads"],
            "losses": {k: stats[k] for k in ("loss_first", "loss_last", "loss_curve")} | {"heldout_gold": heldout},
            "versions": _versions()}


def _train_and_save(model: Any, processor: Any, cfg: ToyVisualConfig, train: ToyTrainConfig, pairs: Iterator[Pair],
                    tmp: Path, *, label: str, progress: bool) -> tuple[dict[str, Any], dict[str, float]]:
    from rlvr_bench.models.toy_vision import save_vl

    batcher = VisualBatcher(processor, cfg)
    with _torch_threads(train.num_threads):
        stats = train_vl(model, batcher, pairs, train, progress=progress, label=label)
        heldout = _heldout_losses(model, batcher, cfg)
    save_vl(model, processor, tmp)
    return stats, heldout


def build_vl_base(cfg: ToyVisualConfig | None = None, *, cache_dir: str | Path | None = None,
                  progress: bool = True) -> Path:
    """The toy VL base checkpoint directory, trained on imperfect traces on first use, then cached.

    Args:
        cfg: the visual world's settings (None = defaults); ``tasks``, ``model`` and ``base`` matter.
        cache_dir: cache root (default ``$RLVR_BENCH_CACHE`` or ``~/.cache/rlvr_bench``).
        progress: print training progress to stderr.

    Returns:
        ``<cache>/toy/vl-base-<hash>/`` with the model, the processor and ``build.json``.
    """
    from rlvr_bench.models.toy_vision import build_vision_processor, build_vl_model

    cfg = ToyVisualConfig() if cfg is None else cfg
    spec, digest = _base_spec(cfg), vl_base_hash(cfg)

    def write(tmp: Path) -> dict[str, Any]:
        train = cfg.base.train
        processor = build_vision_processor()
        model = build_vl_model(cfg.model, seed=train.seed, tokenizer=processor.tokenizer)
        pairs = _stream(cfg, cfg.base.kind_weights, f"toy-vl-base-data:{train.seed}", noisy=True)
        stats, heldout = _train_and_save(model, processor, cfg, train, pairs, tmp, label="toy vl base",
                                         progress=progress)
        return _record("vl-base", digest, spec, stats, heldout, model)

    return _cached_build(toy_cache_root(cache_dir) / f"vl-base-{digest}", write)


def build_vl_teacher(cfg: ToyVisualConfig | None = None, *, cache_dir: str | Path | None = None,
                     progress: bool = True) -> Path:
    """The toy VL teacher directory: the VL base (built if needed) trained further on clean traces.

    Same arguments as :func:`build_vl_base`; ``cfg.teacher`` also matters. Returns
    ``<cache>/toy/vl-teacher-<hash>/``.
    """
    from rlvr_bench.models.toy_vision import load_vl

    cfg = ToyVisualConfig() if cfg is None else cfg
    spec, digest = _teacher_spec(cfg), vl_teacher_hash(cfg)
    entry = toy_cache_root(cache_dir) / f"vl-teacher-{digest}"

    def write(tmp: Path, base_dir: Path) -> dict[str, Any]:
        import torch

        train = cfg.teacher.train
        model, processor = load_vl(base_dir)
        torch.manual_seed(train.seed)
        pairs = _stream(cfg, cfg.teacher.kind_weights, f"toy-vl-teacher-data:{train.seed}", noisy=False)
        stats, heldout = _train_and_save(model, processor, cfg, train, pairs, tmp, label="toy vl teacher",
                                         progress=progress)
        return _record("vl-teacher", digest, spec, stats, heldout, model)

    return _cached_build_on(entry, lambda: build_vl_base(cfg, cache_dir=cache_dir, progress=progress), write)


def vl_checkpoint(name: str, cfg: ToyVisualConfig | None = None, *, cache_dir: str | Path | None = None,
                  progress: bool = True) -> Path:
    """``"vl-base"`` or ``"vl-teacher"`` (a ``"toy:"`` prefix is accepted) -> its built, cached directory."""
    kind = name.removeprefix("toy:")
    builders = {"vl-base": build_vl_base, "vl-teacher": build_vl_teacher}
    if kind not in builders:
        raise ValueError(f"unknown toy VL checkpoint {name!r}; valid: toy:vl-base, toy:vl-teacher")
    return builders[kind](cfg, cache_dir=cache_dir, progress=progress)
