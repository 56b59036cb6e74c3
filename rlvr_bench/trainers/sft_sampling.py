"""Sample traces from a model and keep the verified ones: the data of RFT and of sequence-level distillation.

RFT (Yuan et al. 2023, arXiv 2308.01825, "Scaling Relationship on Learning Mathematical Reasoning with Large
Language Models"): sample k completions per training prompt from the model itself, keep the ones the verifier
accepts, deduplicated per problem (the paper dedupes reasoning paths by their equations; here by their
whitespace-normalised text), and fine-tune on them. Sequence-level distillation (Kim & Rush 2016) is the same
loop with a teacher sampling and, optionally, no filter.

Samples go through ``rlvr_bench.rollout`` (the engine training and evaluation use) and are scored by the
recipe's verifiable reward (``rlvr_bench.evaluation.scoring``). A truncated completion is never kept: it has
no final answer. The kept traces are written to ``<run>/traces/<name>.jsonl`` with a ``.json`` record of what
produced them and what it cost, and reused when a run is started again with the same settings. Under
``accelerate launch`` every process samples its slice of the prompts (``<name>.part<rank>.jsonl``) and all read the
union.

Visual prompts (rows with an ``image``) are sampled by a vision-language model with their images (the engine gets the
model's processor); kept traces carry the ``image`` and its ``image_id``. The saved traces record the ``image_id``
only, and the images are put back from the prompt rows when the traces are read again.
"""

from __future__ import annotations

import hashlib
import json
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from rlvr_bench.config import RecipeConfig
from rlvr_bench.utils.dist import get_logger, print0
from rlvr_bench.utils.rundir import RunDir, read_jsonl, write_json_atomic

__all__ = [
    "SamplingStats",
    "Shard",
    "load_cached_traces",
    "prompt_rows",
    "fitting_rows",
    "sample_traces",
    "sampling_decoding",
    "sampling_stop_rule",
    "save_traces",
    "verified_traces",
]

log = get_logger(__name__)


@dataclass
class SamplingStats:
    """What sampling traces cost and yielded."""

    prompts: int = 0
    samples: int = 0
    tokens: int = 0
    truncated: int = 0
    correct: int = 0
    kept: int = 0
    prompts_kept: int = 0  # prompts with at least one kept trace
    seconds: float = 0.0

    def as_dict(self) -> dict[str, float]:
        return asdict(self)

    def add(self, other: SamplingStats) -> None:
        """Sum ``other`` in (the shards of one sampling); seconds: the slowest shard."""
        for f in fields(self):
            mine, theirs = getattr(self, f.name), getattr(other, f.name)
            setattr(self, f.name, max(mine, theirs) if f.name == "seconds" else mine + theirs)


@dataclass
class Shard:
    """Which slice of the prompts this process samples, and how to wait for the others."""

    rank: int = 0
    world: int = 1
    barrier: Callable[[], None] = field(default=lambda: None, repr=False)


def _key(text: str) -> str:
    return " ".join(text.split())


def sample_traces(engine: Any, rows: Sequence[dict[str, Any]], *, n: int, decoding: Any,
                  scorer: Callable[[list[str], list[str]], list[Any]], render: Callable[[str], str],
                  keep_correct_only: bool = True, dedupe: bool = True, seed: int = 0,
                  chunk_prompts: int = 256) -> tuple[list[dict[str, Any]], SamplingStats]:
    """Sample ``n`` completions per row and keep the verified (and, with ``dedupe``, distinct) ones.

    Args:
        engine: a ``rlvr_bench.rollout`` engine around the sampling model.
        rows: dicts with ``id``, ``problem`` and ``answer`` (and ``image``/``image_id`` for visual prompts).
        decoding: ``rlvr_bench.rollout.Decoding`` of the samples.
        scorer: ``(texts, answers) -> verdicts`` with a ``correct`` attribute (``make_scorer``).
        render: problem text -> prompt text (the recipe's template).
        keep_correct_only: keep only completions the verifier accepts (RFT always does).
        dedupe: keep one copy of each distinct completion per problem.
        seed: sampling seed; chunk ``i`` uses ``seed + i``.
        chunk_prompts: prompts per ``generate`` call (bounds memory).

    Returns:
        (kept trace rows ``{id, problem, answer, solution, correct}`` (+ ``image``, ``image_id``), statistics).
    """
    stats = SamplingStats(prompts=len(rows))
    kept: list[dict[str, Any]] = []
    t0 = time.perf_counter()
    for chunk, start in enumerate(range(0, len(rows), chunk_prompts)):
        part = list(rows[start:start + chunk_prompts])
        visual = {"images": [r["image"] for r in part]} if part and part[0].get("image") is not None else {}
        result = engine.generate([render(r["problem"]) for r in part], n=n, decoding=decoding, seed=seed + chunk,
                                 **visual)
        texts = [c.text for c in result.completions]
        answers = [str(part[i // n]["answer"]) for i in range(len(texts))]
        verdicts = scorer(texts, answers)
        stats.samples += len(texts)
        stats.tokens += result.num_tokens
        for j, row in enumerate(part):
            seen: set[str] = set()
            any_kept = False
            for comp, verdict in zip(result.completions[j * n:(j + 1) * n], verdicts[j * n:(j + 1) * n]):
                correct = bool(verdict.correct) and not comp.truncated
                stats.truncated += comp.truncated
                stats.correct += correct
                if comp.truncated or (keep_correct_only and not correct) or not comp.text.strip():
                    continue
                key = _key(comp.text)
                if dedupe and key in seen:
                    continue
                seen.add(key)
                any_kept = True
                kept.append({"id": str(row["id"]), "problem": row["problem"], "answer": str(row["answer"]),
                             "solution": comp.text, "correct": correct,
                             **({"image": row["image"], "image_id": row["image_id"]} if visual else {})})
            stats.prompts_kept += any_kept
    stats.kept = len(kept)
    stats.seconds = time.perf_counter() - t0
    log.info("sampled %d completions for %d prompts: %d correct, %d kept (%d prompts), %.1fs", stats.samples,
             stats.prompts, stats.correct, stats.kept, stats.prompts_kept, stats.seconds)
    return kept, stats


def _paths(run: RunDir, name: str) -> tuple[Path, Path]:
    return run.path / "traces" / f"{name}.jsonl", run.path / "traces" / f"{name}.json"


def save_traces(run: RunDir, name: str, rows: list[dict[str, Any]], stats: SamplingStats,
                settings: dict[str, Any]) -> Path:
    """Write ``traces/<name>.jsonl`` and its record (settings + statistics); returns the jsonl path."""
    data, meta = _paths(run, name)
    data.parent.mkdir(parents=True, exist_ok=True)
    tmp = data.with_name(data.name + ".tmp")
    tmp.write_text("".join(json.dumps({k: v for k, v in r.items() if k != "image"}) + "\n" for r in rows))
    tmp.replace(data)
    write_json_atomic(meta, {"settings": settings, "stats": stats.as_dict(), "rows": len(rows)})
    return data


def load_cached_traces(run: RunDir, name: str,
                       settings: dict[str, Any]) -> tuple[list[dict[str, Any]], SamplingStats] | None:
    """The traces saved by an earlier start of this run with the same ``settings``, else None."""
    data, meta = _paths(run, name)
    if not (data.is_file() and meta.is_file()):
        return None
    record = json.loads(meta.read_text())
    if record.get("settings") != json.loads(json.dumps(settings, default=str)):
        log.warning("%s was made with other settings; sampling again", data)
        return None
    rows = list(read_jsonl(data))
    if len(rows) != record.get("rows"):
        return None
    return rows, SamplingStats(**record["stats"])


def sampling_decoding(cfg: RecipeConfig, temperature: float | None = None):
    """``Decoding`` for trace sampling: the recipe's rollout section (temperature overridable)."""
    from rlvr_bench.rollout import Decoding

    r = cfg.rollout
    return Decoding(temperature=r.temperature if temperature is None else temperature, top_p=r.top_p, top_k=r.top_k,
                    max_new_tokens=r.max_new_tokens, stop=tuple(r.stop), template=cfg.data.template)


def sampling_stop_rule(cfg: RecipeConfig, model: Any, tokenizer: Any):
    """The stop rule of the sampling model (its tokenizer's end-of-text and the template's turn end,
    ``rollout.stop``): the one RL rollouts and evaluation use (``rlvr_bench.rollout.stopping``)."""
    from rlvr_bench.rollout.stopping import resolve_stop_rule

    return resolve_stop_rule(tokenizer, cfg.data.template, model=model, strings=tuple(cfg.rollout.stop))


def fitting_rows(cfg: RecipeConfig, rows: list[dict[str, Any]], model_config: Any,
                 tokenizer: Any) -> list[dict[str, Any]]:
    """``rows`` without the prompts longer than ``data.max_prompt_tokens`` (logged; see ``check_prompt_lengths``)."""
    from rlvr_bench.data.train_prompts import check_prompt_lengths

    kept, _ = check_prompt_lengths(cfg, [r["problem"] for r in rows], [str(r["id"]) for r in rows], tokenizer,
                                   model_config, cfg.rollout.max_new_tokens)
    return rows if len(kept) == len(rows) else [rows[i] for i in kept]


def prompt_rows(cfg: RecipeConfig, limit: int | None) -> list[dict[str, Any]]:
    """Training prompts as dicts, shuffled with the recipe seed, at most ``limit`` of them."""
    from rlvr_bench.data.train_prompts import load_train_prompts

    ds = load_train_prompts(cfg)
    visual = "image" in ds.column_names
    rows = [{"id": r["id"], "problem": r["problem"], "answer": r["answer"],
             **({"image": r["image"], "image_id": r["image_id"]} if visual else {})} for r in ds]
    random.Random(cfg.seed).shuffle(rows)
    return rows[:limit] if limit is not None else rows


def verified_traces(cfg: RecipeConfig, run: RunDir, name: str, model: Any, tokenizer: Any,
                    rows: list[dict[str, Any]], *, n: int, keep_correct_only: bool, shard: Shard | None = None,
                    temperature: float | None = None, source: str | None = None,
                    reward_fn: Callable | None = None) -> tuple[list[dict[str, Any]], SamplingStats]:
    """Sample ``n`` completions per row with ``model``, keep the verified distinct ones; cached in the run.

    Each process samples ``rows[rank::world]``; the result is the union of all shards (the same on every process)
    and the summed statistics (samples and tokens spent, traces kept).

    Raises:
        TracesError: no trace was kept.
    """
    from rlvr_bench.data.templates import text_tokenizer

    shard = shard or Shard()
    processing, tokenizer = tokenizer, text_tokenizer(tokenizer)  # a vision-language model's processor, or the tokenizer
    decoding = sampling_stop_rule(cfg, model, tokenizer).apply(sampling_decoding(cfg, temperature))
    rows = fitting_rows(cfg, rows, getattr(model, "config", None), tokenizer)
    ids = hashlib.sha256("\n".join(r["id"] for r in rows).encode()).hexdigest()[:16]
    settings = {"model": source or getattr(getattr(model, "config", None), "_name_or_path", None), "n": n,
                "prompts": len(rows), "ids_sha256": ids, "decoding": decoding.as_dict(), "seed": cfg.seed,
                "reward": getattr(reward_fn, "__name__", "custom") if reward_fn else cfg.reward.name,
                "keep_correct_only": keep_correct_only, "world": shard.world}

    def part(rank: int) -> str:
        return name if shard.world == 1 else f"{name}.part{rank}"

    if load_cached_traces(run, part(shard.rank), {**settings, "rank": shard.rank}) is None:
        _sample_shard(cfg, run, part(shard.rank), model, processing, rows[shard.rank::shard.world],
                      {**settings, "rank": shard.rank}, n=n, decoding=decoding, keep_correct_only=keep_correct_only,
                      reward_fn=reward_fn, seed=cfg.seed + 7919 * shard.rank)
    else:
        print0(f"{name}: reusing the traces in {run.path / 'traces'}")
    shard.barrier()
    traces: list[dict[str, Any]] = []
    stats = SamplingStats()
    for r in range(shard.world):
        loaded = load_cached_traces(run, part(r), {**settings, "rank": r})
        if loaded is None:
            raise RuntimeError(f"traces of process {r} are missing in {run.path / 'traces'}")
        traces.extend(loaded[0])
        stats.add(loaded[1])
    images = {r["id"]: r["image"] for r in rows if r.get("image") is not None}
    for trace in traces:  # saved traces record the image_id only: the image comes from its prompt row
        if trace["id"] in images:
            trace["image"] = images[trace["id"]]
    if not traces:
        from rlvr_bench.trainers.sft_data import TracesError

        raise TracesError(f"{name}: no verified trace among {stats.samples} samples of {stats.prompts} prompts; "
                          "sample more (more prompts or samples per prompt) or use a stronger model")
    return traces, stats


def _sample_shard(cfg: RecipeConfig, run: RunDir, part: str, model: Any, tokenizer: Any, rows: list[dict[str, Any]],
                  settings: dict[str, Any], *, n: int, decoding: Any, keep_correct_only: bool,
                  reward_fn: Callable | None, seed: int) -> None:
    """Sample and verify one process's rows; write them to ``traces/<part>.jsonl``. ``tokenizer``: the processing class
    (a vision-language model's processor renders and encodes the prompts with their images)."""
    from rlvr_bench.data.templates import render_prompt
    from rlvr_bench.evaluation.scoring import make_scorer
    from rlvr_bench.rollout import build_engine

    engine = build_engine(cfg.rollout.backend, model, tokenizer, batch_size=cfg.rollout.batch_size)
    scorer = make_scorer(cfg.reward.name, timeout=cfg.reward.timeout, weights=cfg.reward.weights,
                         code_mode=cfg.reward.code_mode, custom=reward_fn)
    traces, stats = sample_traces(engine, rows, n=n, decoding=decoding, scorer=scorer,
                                  render=lambda p: render_prompt(cfg.data.template, p, tokenizer),
                                  keep_correct_only=keep_correct_only, seed=seed)
    save_traces(run, part, traces, stats, settings)
