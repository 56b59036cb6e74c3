"""Build the toy BASE and TEACHER on demand: deterministic for a seed, cached by a content hash.

``build_base`` pretrains the tiny Llama of ``rlvr_bench.models.toy`` on imperfect traces
(``rlvr_bench.data.toy.noisy_solution``); ``build_teacher`` trains that base further on clean traces,
including the family the base only ever saw worked with a wrong strategy. Both return a Hugging Face
directory (model, tokenizer and ``build.json``) that ``AutoModelForCausalLM`` / ``AutoTokenizer`` load.

Cache: ``$RLVR_BENCH_CACHE`` (default ``~/.cache/rlvr_bench``) ``/toy/<name>-<hash>/``. The hash covers
the whole config that decides the weights (for the teacher, the base's hash too) and ``CODE_VERSION``,
which must be bumped whenever this code changes what is built. An entry is written into a temporary
directory and renamed into place, so a killed build never leaves a half-written entry.

Training is a plain torch loop: loss on completion tokens only, AdamW, linear warmup then cosine decay,
budgets in optimizer steps.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import math
import os
import random
import shutil
import sys
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rlvr_bench.config.toy import ToyConfig, ToyTrainConfig
from rlvr_bench.data.toy import iter_problems, noisy_solution, sample_problems, toy_prompt

if TYPE_CHECKING:
    import torch
    from transformers import PreTrainedModel, PreTrainedTokenizerBase

__all__ = [
    "CODE_VERSION",
    "auto_threads",
    "base_hash",
    "build_base",
    "build_teacher",
    "completion_loss",
    "config_hash",
    "teacher_hash",
    "toy_cache_root",
    "toy_checkpoint",
    "train_toy",
]

CODE_VERSION = "toy-world-1"
Pair = tuple[str, str]  # (prompt, completion without eos)


# ---------------------------------------------------------------------------------------------------------
# Hashing and the cache


def config_hash(spec: Any) -> str:
    """First 16 hex digits of the SHA-256 of ``spec`` as canonical JSON (dataclasses become dicts)."""
    if dataclasses.is_dataclass(spec) and not isinstance(spec, type):
        spec = dataclasses.asdict(spec)
    text = json.dumps(spec, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _base_spec(cfg: ToyConfig) -> dict[str, Any]:
    return {
        "kind": "base",
        "code_version": CODE_VERSION,
        "tasks": dataclasses.asdict(cfg.tasks),
        "model": dataclasses.asdict(cfg.model),
        "base": dataclasses.asdict(cfg.base),
    }


def _teacher_spec(cfg: ToyConfig) -> dict[str, Any]:
    return {
        "kind": "teacher",
        "code_version": CODE_VERSION,
        "base_hash": base_hash(cfg),
        "teacher": dataclasses.asdict(cfg.teacher),
    }


def base_hash(cfg: ToyConfig | None = None) -> str:
    """Content hash naming the base's cache entry."""
    return config_hash(_base_spec(ToyConfig() if cfg is None else cfg))


def teacher_hash(cfg: ToyConfig | None = None) -> str:
    """Content hash naming the teacher's cache entry (includes the base's hash)."""
    return config_hash(_teacher_spec(ToyConfig() if cfg is None else cfg))


def toy_cache_root(cache_dir: str | Path | None = None) -> Path:
    """``<cache_dir or $RLVR_BENCH_CACHE or ~/.cache/rlvr_bench>/toy``."""
    root = cache_dir or os.environ.get("RLVR_BENCH_CACHE") or Path.home() / ".cache" / "rlvr_bench"
    return Path(root).expanduser() / "toy"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True
    return True


def _remove_stale_tmp(parent: Path) -> None:
    """Delete temporary build directories left by killed processes (``.tmp-<entry>-<pid>-<random>``)."""
    for tmp in parent.glob(".tmp-*"):
        try:
            pid = int(tmp.name.rsplit("-", 2)[-2])
        except (ValueError, IndexError):
            continue
        if pid != os.getpid() and not _pid_alive(pid):
            shutil.rmtree(tmp, ignore_errors=True)


def _cached_build(entry: Path, write: Callable[[Path], dict[str, Any]]) -> Path:
    """Return ``entry`` if complete, else run ``write(tmp_dir)`` and rename the result into place."""
    if (entry / "build.json").is_file():
        return entry
    entry.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_tmp(entry.parent)
    tmp = entry.parent / f".tmp-{entry.name}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    try:
        tmp.mkdir()
        record = write(tmp)
        (tmp / "build.json").write_text(json.dumps(record, indent=2, sort_keys=True) + "\n")
        if entry.exists() and not (entry / "build.json").is_file():
            shutil.rmtree(entry)  # an incomplete directory someone else left under the entry's name
        try:
            os.rename(tmp, entry)
        except OSError:  # another process finished the same entry first
            if not (entry / "build.json").is_file():
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return entry


def _cached_build_on(entry: Path, build_base: Callable[[], Path],
                     write: Callable[[Path, Path], dict[str, Any]]) -> Path:
    """:func:`_cached_build` of an entry trained from a base checkpoint (a teacher): the base is built (or
    reused) only when the entry is missing, then ``write(tmp_dir, base_dir)``."""
    if (entry / "build.json").is_file():
        return entry
    base_dir = build_base()
    return _cached_build(entry, lambda tmp: write(tmp, base_dir))


# ---------------------------------------------------------------------------------------------------------
# Training


def auto_threads(current: int = 0) -> int:
    """Torch threads for the next stretch of CPU work: min(cores, 4) when idle, 1 when the machine is busy.

    With more runnable threads than cores, torch's OpenMP threads spin-wait for each other and a toy
    training step took 8x longer with 2 threads than with 1 on a loaded 2-core machine. The one-minute
    load average minus ``current`` (this process's own busy threads) estimates the other processes'
    load. Changing the thread count mid-run is safe here: for the toy model it leaves the weights
    bit-for-bit unchanged (``tests/toy/test_toy_pretrain.py``).
    """
    cores = os.cpu_count() or 1
    try:
        others = os.getloadavg()[0] - current
    except OSError:  # not available on this platform
        others = 0.0
    return 1 if others > max(cores - 1.5, 0.5) else max(1, min(cores, 4))


@contextlib.contextmanager
def _torch_threads(n: int) -> Iterator[int]:
    """Set torch's intra-op threads for a block (``n = 0``: :func:`auto_threads`), then restore them."""
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(n if n > 0 else auto_threads(0))
    try:
        yield torch.get_num_threads()
    finally:
        torch.set_num_threads(previous)


def _collate(tokenizer: PreTrainedTokenizerBase, pairs: Sequence[Pair]) -> dict[str, torch.Tensor]:
    """Right-padded ids, mask and labels (-100 on prompt and padding; eos appended to completions)."""
    import torch

    from rlvr_bench.models.toy import encode_toy

    eos, pad = tokenizer.eos_token_id, tokenizer.pad_token_id
    seqs, labels = [], []
    for prompt, completion in pairs:
        p, c = encode_toy(tokenizer, prompt), encode_toy(tokenizer, completion) + [eos]
        seqs.append(p + c)
        labels.append([-100] * len(p) + c)
    width = max(len(s) for s in seqs)
    ids = torch.full((len(seqs), width), pad, dtype=torch.long)
    lab = torch.full((len(seqs), width), -100, dtype=torch.long)
    mask = torch.zeros((len(seqs), width), dtype=torch.long)
    for i, (s, lb) in enumerate(zip(seqs, labels)):
        ids[i, : len(s)] = torch.tensor(s)
        lab[i, : len(s)] = torch.tensor(lb)
        mask[i, : len(s)] = 1
    return {"input_ids": ids, "attention_mask": mask, "labels": lab}


def _lr_factor(step: int, cfg: ToyTrainConfig) -> float:
    """Linear warmup to 1, then cosine decay to ``min_lr_ratio`` at the last step."""
    if step < cfg.warmup_steps:
        return (step + 1) / cfg.warmup_steps
    span = max(1, cfg.steps - cfg.warmup_steps)
    progress = min(1.0, (step - cfg.warmup_steps) / span)
    return cfg.min_lr_ratio + (1.0 - cfg.min_lr_ratio) * 0.5 * (1.0 + math.cos(math.pi * progress))


def _log_progress(label: str, step: int, total: int, loss: float, start: float) -> None:
    rate = step / (time.perf_counter() - start)
    print(f"[{label}] step {step}/{total} loss {loss:.4f} ({rate:.1f} steps/s)", file=sys.stderr, flush=True)


def train_toy(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    pairs: Iterator[Pair],
    cfg: ToyTrainConfig,
    *,
    progress: bool = False,
    label: str = "toy",
) -> dict[str, Any]:
    """Train ``model`` in place for ``cfg.steps`` steps on (prompt, completion) pairs from ``pairs``.

    The loss is the mean token cross-entropy over completion tokens (eos included). Returns a record:
    ``steps``, ``seconds`` (wall), ``cpu_seconds`` (this process, all threads), ``threads`` (steps run
    with each thread count), ``loss_first``/``loss_last`` (mean of the first/last 20 steps) and
    ``loss_curve`` (mean loss per tenth of the run).
    """
    import torch

    model.train()
    optim = torch.optim.AdamW(
        model.parameters(), lr=cfg.lr, betas=(cfg.beta1, cfg.beta2), weight_decay=cfg.weight_decay
    )
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
            loss = model(**_collate(tokenizer, [next(pairs) for _ in range(cfg.batch_size)])).loss
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
    return {
        "steps": cfg.steps,
        "seconds": round(seconds, 2),
        "cpu_seconds": round(cpu_seconds, 2),
        "threads": {str(k): v for k, v in sorted(threads_used.items())},
        "loss_first": round(sum(losses[:20]) / len(losses[:20]), 4),
        "loss_last": round(sum(losses[-20:]) / len(losses[-20:]), 4),
        "loss_curve": [round(sum(losses[i : i + tenth]) / len(losses[i : i + tenth]), 4)
                       for i in range(0, len(losses), tenth)],
    }


def completion_loss(
    model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, pairs: Sequence[Pair], batch_size: int = 256
) -> float:
    """Mean per-token cross-entropy of the completions (eos included) given their prompts."""
    import torch

    total, count = 0.0, 0
    model.eval()
    with torch.no_grad():
        for i in range(0, len(pairs), batch_size):
            batch = _collate(tokenizer, pairs[i : i + batch_size])
            logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
            labels = batch["labels"][:, 1:]
            nll = torch.nn.functional.cross_entropy(
                logits[:, :-1].reshape(-1, logits.size(-1)), labels.reshape(-1), ignore_index=-100, reduction="sum"
            )
            total += float(nll)
            count += int((labels != -100).sum())
    return total / max(count, 1)


# ---------------------------------------------------------------------------------------------------------
# Base and teacher


def _stream(cfg: ToyConfig, weights: Sequence[float], seed_tag: str, noisy: bool) -> Iterator[Pair]:
    """Endless (prompt, completion) pairs from the train split: noisy traces for the base, gold otherwise."""
    rng = random.Random(seed_tag)
    errors = cfg.base.errors
    for prob in iter_problems(rng, cfg.tasks, split="train", weights=weights):
        completion = noisy_solution(prob, rng, errors) if noisy else prob.solution
        yield toy_prompt(prob.problem), completion


def _heldout_losses(model: Any, tokenizer: Any, cfg: ToyConfig) -> dict[str, float]:
    """Gold-trace loss on the test split, per family (how well each family's clean solution is modelled)."""
    probs = sample_problems("test", cfg.tasks.num_test, cfg.tasks)
    out = {}
    for fam in cfg.tasks.families:
        pairs = [(toy_prompt(p.problem), p.solution) for p in probs if p.family == fam]
        if pairs:
            out[fam] = round(completion_loss(model, tokenizer, pairs), 4)
    return out


def _versions() -> dict[str, str]:
    import tokenizers
    import torch
    import transformers

    return {"torch": torch.__version__, "transformers": transformers.__version__, "tokenizers": tokenizers.__version__}


def _record(name: str, digest: str, spec: dict[str, Any], stats: dict[str, Any], heldout: dict[str, float],
            model: Any) -> dict[str, Any]:
    return {
        "name": name,
        "hash": digest,
        "code_version": CODE_VERSION,
        "config": spec,
        "params": sum(p.numel() for p in model.parameters()),
        "steps": stats["steps"],
        "seconds": stats["seconds"],
        "cpu_seconds": stats["cpu_seconds"],
        "threads": stats["threads"],
        "losses": {k: stats[k] for k in ("loss_first", "loss_last", "loss_curve")} | {"heldout_gold": heldout},
        "versions": _versions(),
    }


def build_base(cfg: ToyConfig | None = None, *, cache_dir: str | Path | None = None, progress: bool = True) -> Path:
    """The toy base checkpoint directory, trained on imperfect traces on first use, then cached.

    Args:
        cfg: the toy world settings (None = defaults); ``cfg.tasks``, ``cfg.model`` and ``cfg.base`` matter.
        cache_dir: cache root (default ``$RLVR_BENCH_CACHE`` or ``~/.cache/rlvr_bench``).
        progress: print training progress to stderr.

    Returns:
        ``<cache>/toy/base-<hash>/`` with the model, the tokenizer and ``build.json``.
    """
    from rlvr_bench.models.toy import build_toy_model, build_toy_tokenizer, save_toy

    cfg = ToyConfig() if cfg is None else cfg
    spec, digest = _base_spec(cfg), base_hash(cfg)

    def write(tmp: Path) -> dict[str, Any]:
        tok = build_toy_tokenizer(cfg.model.max_position_embeddings)
        train = cfg.base.train
        model = build_toy_model(cfg.model, seed=train.seed, tokenizer=tok)
        pairs = _stream(cfg, cfg.base.family_weights, f"toy-base-data:{train.seed}", noisy=True)
        with _torch_threads(train.num_threads):
            stats = train_toy(model, tok, pairs, train, progress=progress, label="toy base")
            heldout = _heldout_losses(model, tok, cfg)
        save_toy(model, tok, tmp)
        return _record("base", digest, spec, stats, heldout, model)

    return _cached_build(toy_cache_root(cache_dir) / f"base-{digest}", write)


def build_teacher(
    cfg: ToyConfig | None = None, *, cache_dir: str | Path | None = None, progress: bool = True
) -> Path:
    """The toy teacher checkpoint directory: the base (built if needed) trained further on clean traces.

    Same arguments as :func:`build_base`; ``cfg.teacher`` also matters. Returns
    ``<cache>/toy/teacher-<hash>/``.
    """
    from rlvr_bench.models.toy import load_toy, save_toy

    cfg = ToyConfig() if cfg is None else cfg
    spec, digest = _teacher_spec(cfg), teacher_hash(cfg)
    entry = toy_cache_root(cache_dir) / f"teacher-{digest}"

    def write(tmp: Path, base_dir: Path) -> dict[str, Any]:
        import torch

        train = cfg.teacher.train
        model, tok = load_toy(base_dir)
        torch.manual_seed(train.seed)
        pairs = _stream(cfg, cfg.teacher.family_weights, f"toy-teacher-data:{train.seed}", noisy=False)
        with _torch_threads(train.num_threads):
            stats = train_toy(model, tok, pairs, train, progress=progress, label="toy teacher")
            heldout = _heldout_losses(model, tok, cfg)
        save_toy(model, tok, tmp)
        return _record("teacher", digest, spec, stats, heldout, model)

    return _cached_build_on(entry, lambda: build_base(cfg, cache_dir=cache_dir, progress=progress), write)


def toy_checkpoint(name: str, cfg: ToyConfig | None = None, *, cache_dir: str | Path | None = None,
                   progress: bool = True) -> Path:
    """``"base"`` or ``"teacher"`` (a ``"toy:"`` prefix is accepted) -> its built, cached directory."""
    kind = name.removeprefix("toy:")
    builders = {"base": build_base, "teacher": build_teacher}
    if kind not in builders:
        raise ValueError(f"unknown toy checkpoint {name!r}; valid: toy:base, toy:teacher")
    return builders[kind](cfg, cache_dir=cache_dir, progress=progress)
