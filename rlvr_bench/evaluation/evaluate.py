"""``evaluate()``: pass@1 and pass@k curves of a model on a benchmark, written to the run directory.

For each seed, every problem gets ``n`` samples with the recorded decoding; each sample is scored by the
verifiable reward and written to ``eval/step-<N>/<benchmark>.samples.jsonl`` (streamed: memory does not grow
with n x problems). One line per (step, benchmark) goes to ``eval/summary.jsonl`` with the per-problem
correct counts (per seed), the pass@k curve (mean and std over seeds) and mean@n, so any k <= n can be
recomputed later without sampling again (papers.md: Chen et al. 2021 estimator; arXiv 2504.07086 seeds).

With a trace checker (the toy world's exact ``trace_check`` on toy benchmarks by default, or ``trace_checker=``),
every sample line also records ``cot_correct`` (True / False / None) and the summary the per-problem counts
of samples that are correct *and* whose reasoning is not invalid (``cot_correct``) with their curve
``cot_pass_at_k``: CoT-pass@k of arXiv 2506.14245, the same unbiased estimator with that count as c.

Visual benchmarks (rows with ``image`` and ``image_id``, ``rlvr_bench.data.images``) are sampled by a
vision-language model through its processor: each prompt is rendered with the image placeholder
(``render_prompt`` with the processor), its image goes to ``engine.generate(images=...)``, and every sample line
records the ``image_id`` (never the pixels). A model passed with only its text tokenizer gets its processor from
its checkpoint (``rlvr_bench.models.loading.processing_class_for``), so ``rlvr-bench eval`` and the trainers'
callbacks work unchanged.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from rlvr_bench.data.templates import is_processor, template_sha256
from rlvr_bench.errors import UserError
from rlvr_bench.evaluation.samples import Unit, load_complete_units, plan_units, unit_seed
from rlvr_bench.evaluation.scoring import TraceChecker, make_scorer, resolve_trace_checker, resolved_reward
from rlvr_bench.rollout import Decoding, RolloutEngine, build_engine
from rlvr_bench.utils.dist import get_logger
from rlvr_bench.utils.rundir import RunDir, read_jsonl, write_json_atomic

__all__ = ["EvalResult", "evaluate", "default_ks", "summarize_counts"]

log = get_logger(__name__)


def default_ks(n: int) -> list[int]:
    """Powers of two up to n, plus n itself."""
    ks = [1 << i for i in range(0, 31) if (1 << i) <= n]
    return ks if ks[-1] == n else ks + [n]


@dataclass
class EvalResult:
    """What one ``evaluate`` call measured (also the summary line written to disk)."""

    benchmark: str
    step: int
    n: int
    seeds: list[int]
    ids: list[str]
    correct: dict[int, list[int]]  # seed -> per-problem correct counts
    pass_at_k: dict[int, float]  # k -> mean over seeds
    pass_at_k_std: dict[int, float]
    summary: dict[str, Any] = field(default_factory=dict)
    cot_correct: dict[int, list[int]] | None = None  # seed -> per-problem correct-and-valid-trace counts
    cot_pass_at_k: dict[int, float] | None = None  # CoT-pass@k, mean over seeds (None: nothing checked)

    @property
    def pass_at_1(self) -> float:
        return self.pass_at_k[1]


def summarize_counts(correct: dict[int, list[int]], n: int, ks: Sequence[int]) -> dict[str, Any]:
    """Pass@k per seed, mean and sample std (ddof=1; 0 for one seed) over seeds, and mean@n."""
    from rlvr_bench.metrics import pass_at_k_curve

    per_seed = {s: pass_at_k_curve(n, np.asarray(c), list(ks)) for s, c in correct.items()}
    mean, std = {}, {}
    for k in ks:
        vals = np.array([per_seed[s][k] for s in per_seed], dtype=float)
        mean[k] = float(vals.mean())
        std[k] = float(vals.std(ddof=1)) if len(vals) > 1 else 0.0
    return {"per_seed": {str(s): {str(k): v for k, v in c.items()} for s, c in per_seed.items()},
            "pass_at_k": mean, "pass_at_k_std": std}


def _load_rows(benchmark: Any, limit: int | None, *, full: bool = False
               ) -> tuple[str, list[dict[str, Any]], dict[str, Any] | None]:
    """(benchmark name, rows with id/problem/answer/source, and image/image_id for visual rows) from a name, a
    file or a Dataset; ``full`` keeps every other column of the row as well (for a user's trace checker); and the
    recorded setup of a visual benchmark (its filter and counts; ``visual_benchmarks.benchmark_setup``) or None."""
    from rlvr_bench.data.visual_benchmarks import benchmark_setup

    if isinstance(benchmark, (str, Path)):
        from rlvr_bench.data.benchmarks import load_benchmark

        ds = load_benchmark(str(benchmark), limit=limit)
        name = Path(str(benchmark)).stem if Path(str(benchmark)).suffix else str(benchmark)
    else:
        ds = benchmark if limit is None else benchmark.select(range(min(limit, len(benchmark))))
        name = getattr(ds, "info", None) and ds.info.dataset_name or "dataset"
    visual = "image" in getattr(ds, "column_names", ())
    rows = [{**(dict(r) if full else {}), "id": str(r["id"]), "problem": r["problem"], "answer": str(r["answer"]),
             "source": str(r.get("data_source") or name),
             **({"image": r["image"], "image_id": str(r["image_id"])} if visual else {})} for r in ds]
    if not rows:
        raise ValueError(f"benchmark {name!r} has no problems")
    if len({r["id"] for r in rows}) != len(rows):
        raise ValueError(f"benchmark {name!r} has duplicate ids: sample files need unique problem ids")
    return name, rows, benchmark_setup(ds)


def _prompts(rows: list[dict[str, Any]], template: str, tokenizer: Any, processing: Any = None) -> list[str]:
    """Rendered prompts; visual rows through the processor (the image placeholder), others through the tokenizer."""
    from rlvr_bench.data.templates import render_prompt

    return [render_prompt(template, r["problem"], processing, image=True) if "image" in r
            else render_prompt(template, r["problem"], tokenizer, image=False) for r in rows]


def _processing(model: Any, tokenizer: Any, engine: RolloutEngine | None, batch_size: int
                ) -> tuple[RolloutEngine, Any]:
    """(engine, processing class): a vision-language model's processor (from its checkpoint when only the
    tokenizer was given), else the tokenizer; the engine built around it unless one was given."""
    from rlvr_bench.models.loading import processing_class_for

    if engine is not None:
        return engine, getattr(engine, "processor", None) or tokenizer
    processing = processing_class_for(model, tokenizer)
    return build_engine("hf", model, processing, batch_size=batch_size), processing


def prompt_sha256(prompt: str) -> str:
    """The first 16 hex digits of the rendered prompt's sha256 (stored with every sample line)."""
    return hashlib.sha256(prompt.encode("utf-8")).hexdigest()[:16]


def _stop_rule_decoding(decoding: Decoding, template: str, engine: RolloutEngine) -> tuple[Decoding, dict]:
    """``decoding`` with the stop rule of ``template`` for the engine's tokenizer and model."""
    from rlvr_bench.rollout.stopping import resolve_stop_rule

    tokenizer = getattr(engine, "tokenizer", None)
    if tokenizer is None:
        return decoding, {}
    rule = resolve_stop_rule(tokenizer, template, model=getattr(engine, "model", None), strings=decoding.stop)
    return rule.apply(decoding), rule.as_dict()


def _overlong(prompts: list[str], ids: list[str], tokenizer: Any, engine: RolloutEngine, decoding: Decoding,
              max_prompt_tokens: int | None) -> set[int]:
    """Indices of prompts the model cannot read whole (longer than its context minus max_new_tokens)."""
    from rlvr_bench.data.limits import filter_overlong, prompt_token_limit

    config = getattr(getattr(engine, "model", None), "config", None)
    limit = prompt_token_limit(max_prompt_tokens, config, decoding.max_new_tokens)
    if limit is None or tokenizer is None:
        return set()
    dropped = set(filter_overlong(prompts, tokenizer, limit, names=ids).dropped)
    if dropped:
        log.warning("%d of %d problems are longer than %d prompt tokens: not sampled, scored 0 "
                    "(reason prompt_too_long)", len(dropped), len(prompts), limit)
    return dropped


def _write_summary(run: RunDir, summary: dict[str, Any]) -> None:
    """Replace the (step, benchmark) line of summary.jsonl (never a duplicate line)."""
    others = [r for r in read_jsonl(run.summary_path)
              if (r.get("step"), r.get("benchmark")) != (summary["step"], summary["benchmark"])]
    run.summary_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = run.summary_path.with_name("summary.jsonl.tmp")
    tmp.write_text("".join(json.dumps(r, default=str) + "\n" for r in [*others, summary]))
    tmp.replace(run.summary_path)


def evaluate(
    model: Any,
    benchmark: Any,
    *,
    tokenizer: Any = None,
    n: int = 64,
    ks: Sequence[int] | None = None,
    seeds: Sequence[int] = (0,),
    decoding: Decoding | None = None,
    template: str = "toy",
    run_dir: str | Path | None = None,
    step: int = 0,
    limit: int | None = None,
    reward: str = "auto",
    reward_timeout: float = 5.0,
    engine: RolloutEngine | None = None,
    batch_size: int = 1024,
    progress: Callable[[int, int], None] | None = None,
    max_prompt_tokens: int | None = None,
    trace_checker: TraceChecker | bool | None = None,
) -> EvalResult:
    """Sample, score and summarise; resumable when ``run_dir`` is given.

    Args:
        model: a loaded causal LM, or a path / hub name / ``toy:base`` (loaded here).
        benchmark: short name, local file, or a ``datasets.Dataset`` with id/problem/answer columns.
        n: samples per problem per seed; ks: pass@k values (each <= n; default powers of 2).
        decoding: temperature/top_p/top_k/max_new_tokens/stop (default: temperature 1.0).
        run_dir: where ``eval/step-<step>/...`` and ``eval/summary.jsonl`` go (a temporary-free in-memory
            run when None: nothing is written and nothing can resume).
        max_prompt_tokens: problems whose rendered prompt is longer are not sampled and score 0 (reason
            ``prompt_too_long``); None = the model's context length minus ``max_new_tokens``.
        trace_checker: judges each sample's reasoning for CoT-pass@k: a callable ``(problem_row,
            completion) -> True / False / None`` (the row holds every column of the benchmark, with
            ``id``/``problem``/``answer``/``source``); None (default) = the toy ``trace_check`` on toy rows
            (``toy/addsub``, ``toy/muladd``), no check on other data; False = no check.

    Sampling stops by the stop rule of ``template`` (``rlvr_bench.rollout.stopping``): end-of-text ids, the
    template's turn-end token and the decoding's stop strings, recorded in the summary and the meta file.
    Returns:
        ``EvalResult`` with per-seed per-problem correct counts and the pass@k curve.
    """
    decoding = decoding or Decoding(template=template)
    if decoding.template is None:
        decoding = Decoding(**{**decoding.as_dict(), "template": template})
    ks = sorted(set(ks or default_ks(n)))
    if ks[-1] > n or ks[0] < 1:
        raise ValueError(f"every k must be in [1, n={n}], got {ks}")
    seeds = [int(s) for s in seeds]
    if engine is None and isinstance(model, (str, Path)):
        from rlvr_bench.models.resolve import load_model_and_tokenizer

        model, tokenizer = load_model_and_tokenizer(str(model))
    engine, processing = _processing(model, tokenizer, engine, batch_size)
    tokenizer = getattr(engine, "tokenizer", tokenizer)
    decoding, stop = _stop_rule_decoding(decoding, template, engine)
    name, rows, setup = _load_rows(benchmark, limit, full=callable(trace_checker))
    visual = "image" in rows[0]
    if visual and not is_processor(processing):
        raise UserError(f"benchmark {name!r} has images but the model has no image processor: evaluate a "
                        "vision-language model (its processor: AutoProcessor) on it")
    checker, checker_name = resolve_trace_checker(trace_checker, [r["source"] for r in rows])
    ids = [r["id"] for r in rows]
    prompts = _prompts(rows, template, tokenizer, processing)
    overlong = _overlong(prompts, ids, tokenizer, engine, decoding, max_prompt_tokens)
    scorer = make_scorer(reward, timeout=reward_timeout)
    units = plan_units(len(rows), seeds, n, batch_size)
    run = RunDir(run_dir) if run_dir is not None else None
    path = run.samples_path(step, name) if run else None
    done, kept = load_complete_units(path, units, ids, n) if path else (set(), [])
    tally = _Tally(seeds, rows, checker)
    for r in kept:
        tally.add(r)
    t0 = time.perf_counter()
    todo = [u for u in units if u not in done]
    for i, unit in enumerate(todo):
        lines = _run_unit(unit, engine, prompts, rows, n, decoding, scorer, overlong, checker)
        if path is not None:
            _append(path, lines)
        for line in lines:
            tally.add(line)
        if progress:
            progress(i + 1, len(todo))
    seconds = time.perf_counter() - t0
    tokens, truncated = tally.tokens, tally.truncated
    correct = {s: tally.counts[s].tolist() for s in seeds}
    stats = summarize_counts(correct, n, ks)
    total = n * len(rows) * len(seeds)
    summary = {
        "step": step, "benchmark": name, "n": n, "seeds": seeds, "ks": ks, "num_problems": len(rows),
        "ids": ids, "sources": [r["source"] for r in rows], "correct": {str(s): c for s, c in correct.items()},
        "pass_at_k": {str(k): v for k, v in stats["pass_at_k"].items()},
        "pass_at_k_std": {str(k): v for k, v in stats["pass_at_k_std"].items()},
        "pass_at_k_per_seed": stats["per_seed"],
        "mean_at_n": stats["pass_at_k"][1], "truncated_fraction": truncated / total,
        "tokens": tokens, "seconds_this_call": seconds, "samples": total,
        "decoding": decoding.as_dict(), "template": template, "reward": reward, "engine": engine.describe(),
        "stop": stop, "template_sha256": template_sha256(template, processing if visual else tokenizer),
        "reward_resolved": resolved_reward(reward, [r["answer"] for r in rows]),
        "overlong_prompts": sorted(ids[i] for i in overlong),
        **({"benchmark_setup": setup} if setup else {}),
        **tally.cot_summary(checker_name, n, ks),
    }
    if run is not None:
        meta = {k: summary[k] for k in ("decoding", "template", "template_sha256", "stop", "reward",
                                        "reward_resolved", "engine", "n", "seeds")}
        meta["template_text"] = _template_text(template, processing if visual else tokenizer, visual)
        write_json_atomic(path.with_name(f"{name}.meta.json"), meta)
        _write_summary(run, summary)
    cot = summary.get("cot_pass_at_k")
    return EvalResult(benchmark=name, step=step, n=n, seeds=seeds, ids=ids, correct=correct,
                      pass_at_k=stats["pass_at_k"], pass_at_k_std=stats["pass_at_k_std"], summary=summary,
                      cot_correct={int(s): c for s, c in summary["cot_correct"].items()} if cot else None,
                      cot_pass_at_k={int(k): v for k, v in cot.items()} if cot else None)


class _Tally:
    """Running per-problem counts of one evaluation: correct, correct-with-valid-trace, tokens, truncation."""

    def __init__(self, seeds: list[int], rows: list[dict[str, Any]], checker: TraceChecker | None) -> None:
        self.rows, self.checker = rows, checker
        self.pos = {r["id"]: i for i, r in enumerate(rows)}
        self.counts = {s: np.zeros(len(rows), dtype=np.int64) for s in seeds}
        self.cot = {s: np.zeros(len(rows), dtype=np.int64) for s in seeds}
        self.tokens = self.truncated = 0
        self.cot_samples = {"checked": 0, "valid": 0, "invalid": 0, "correct_invalid": 0}

    def add(self, line: dict[str, Any]) -> None:
        """Count one sample line (a line written before trace checks existed is checked here, in memory)."""
        p, seed, correct = self.pos[line["id"]], line["seed"], bool(line["correct"])
        self.counts[seed][p] += correct
        self.tokens += line["tokens"]
        self.truncated += line["finish_reason"] == "length"
        if self.checker is None:
            return
        verdict = line["cot_correct"] if "cot_correct" in line else (
            None if line["finish_reason"] == "prompt_too_long" else self.checker(self.rows[p], line["completion"]))
        # CoT-pass@k counts a correct sample unless its trace is invalid (None = no opinion: the answer stands)
        self.cot[seed][p] += correct and verdict is not False
        if verdict is not None:
            self.cot_samples["checked"] += 1
            self.cot_samples["valid" if verdict else "invalid"] += 1
            self.cot_samples["correct_invalid"] += correct and not verdict

    def cot_summary(self, checker_name: str | None, n: int, ks: Sequence[int]) -> dict[str, Any]:
        """The summary's CoT fields: none without a checker, the curve only when some sample was checked."""
        if self.checker is None:
            return {}
        out: dict[str, Any] = {"trace_checker": checker_name, "cot_samples": dict(self.cot_samples)}
        if self.cot_samples["checked"]:
            cot = {s: c.tolist() for s, c in self.cot.items()}
            stats = summarize_counts(cot, n, ks)
            out.update({"cot_correct": {str(s): c for s, c in cot.items()},
                        "cot_pass_at_k": {str(k): v for k, v in stats["pass_at_k"].items()},
                        "cot_pass_at_k_std": {str(k): v for k, v in stats["pass_at_k_std"].items()},
                        "cot_pass_at_k_per_seed": stats["per_seed"]})
        return out


def _template_text(template: str, tokenizer: Any, image: bool = False) -> str:
    """The template rendered for the problem ``{problem}``: what every prompt of this file looks like."""
    from rlvr_bench.data.templates import render_prompt

    return render_prompt(template, "{problem}", tokenizer, image=image)


def _run_unit(unit: Unit, engine: RolloutEngine, prompts: list[str], rows: list[dict[str, Any]], n: int,
              decoding: Decoding, scorer: Callable, overlong: set[int] = frozenset(),
              checker: TraceChecker | None = None) -> list[dict[str, Any]]:
    """Sample and score one unit; returns its sample lines (problems in ``overlong`` are not sampled).

    With a ``checker``, every line gets ``cot_correct``: its verdict on the completion (None when the
    prompt was too long to sample)."""
    todo = [p for p in range(unit.start, unit.stop) if p not in overlong]
    images = {"images": [rows[p]["image"] for p in todo]} if todo and "image" in rows[todo[0]] else {}
    result = engine.generate([prompts[p] for p in todo], n=n, decoding=decoding, seed=unit_seed(unit), **images) \
        if todo else None
    samples = {p: result.completions[j * n:(j + 1) * n] for j, p in enumerate(todo)} if result else {}
    flat = [(p, c) for p in todo for c in samples[p]]
    verdicts = scorer([c.text for _, c in flat], [rows[p]["answer"] for p, _ in flat]) if flat else []
    by_problem = {p: [] for p in todo}
    for (p, comp), v in zip(flat, verdicts):
        by_problem[p].append((comp, v))
    lines = []
    for p in range(unit.start, unit.stop):
        row, digest = rows[p], prompt_sha256(prompts[p])
        if p in overlong:
            lines.extend({"id": row["id"], "seed": unit.seed, "sample": j, "completion": "", "pred": None,
                          "correct": False, "score": 0.0, "reason": "prompt_too_long", "tokens": 0,
                          "finish_reason": "prompt_too_long", "prompt_sha256": digest,
                          **({"image_id": row["image_id"]} if "image_id" in row else {}),
                          **({"cot_correct": None} if checker else {})} for j in range(n))
            continue
        for j, (comp, v) in enumerate(by_problem[p]):
            # a truncated completion is not a final answer: recorded, scored 0 with its own reason
            correct = bool(v.correct) and not comp.truncated
            reason = "truncated" if comp.truncated else v.reason
            lines.append({
                "id": row["id"], "seed": unit.seed, "sample": j, "completion": comp.text, "pred": v.pred,
                "correct": correct, "score": v.score if not comp.truncated else 0.0, "reason": reason,
                "tokens": comp.num_tokens, "finish_reason": comp.finish_reason, "prompt_sha256": digest,
                **({"image_id": row["image_id"]} if "image_id" in row else {}),
            })
            if checker is not None:
                lines[-1]["cot_correct"] = checker(row, comp.text)
    return lines


def _append(path: Path, lines: list[dict[str, Any]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a", encoding="utf-8") as fh:
        fh.write("".join(json.dumps(line) + "\n" for line in lines))
        fh.flush()
