"""``rlvr-bench eval MODEL --benchmark NAME|FILE ...``: pass@k of any model, written as a run directory."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from rlvr_bench.errors import UserError
from rlvr_bench.utils.dist import print0

__all__ = ["run_eval_command"]


def _default_out(model: str) -> Path:
    return Path("runs") / "eval" / re.sub(r"[^A-Za-z0-9_.-]+", "_", model).strip("_")


def _benchmark_arg(name: str):
    """The toy benchmark is the toy test split; everything else goes to the benchmark loader."""
    if name == "toy":
        from rlvr_bench.data.toy import toy_dataset

        ds = toy_dataset("test")
        ds.info.dataset_name = "toy"
        return ds
    return name


def _template_for(bench: str, model: str, explicit: str | None, tokenizer) -> str:
    """The prompt template of one benchmark: ``--template``, else completion-style HumanEval, a code
    block request for the other code benchmarks (chat models), ``toy`` for toy models, else ``plain``."""
    from rlvr_bench.data.code_benchmarks import code_benchmark_name

    if explicit:
        return explicit
    code = code_benchmark_name(bench)
    if code == "humaneval":
        return "humaneval_completion"
    if code is not None:
        return "code_chat" if getattr(tokenizer, "chat_template", None) else "plain"
    return "toy" if str(model).startswith("toy:") else "plain"


def _decoding_for(decoding, template: str):
    """Completion-style HumanEval stops at the Codex stop sequences (added to any given stops)."""
    from rlvr_bench.data.code_benchmarks import HUMANEVAL_STOP
    from rlvr_bench.rollout import Decoding

    if template != "humaneval_completion":
        return Decoding(**{**decoding.as_dict(), "template": template})
    stop = tuple(dict.fromkeys((*decoding.stop, *HUMANEVAL_STOP)))
    return Decoding(**{**decoding.as_dict(), "template": template, "stop": stop})


CODE_BATCH_SIZE = 64
"""Sequences per forward batch for code benchmarks: their prompts run to 1,500 characters, and with the
default of 1024 sequences the attention of a batch alone takes gigabytes (measured: over 8 GB for the
tiny toy model on CPU before it was stopped)."""


def run_eval_command(args: argparse.Namespace) -> int:
    from rlvr_bench.evaluation.evaluate import default_ks, evaluate
    from rlvr_bench.models.resolve import load_model_and_tokenizer
    from rlvr_bench.rollout import Decoding

    if args.n < 1:
        raise UserError(f"--n must be >= 1, got {args.n}")
    ks = args.ks or default_ks(args.n)
    bad = [k for k in ks if k < 1 or k > args.n]
    if bad:
        raise UserError(f"--ks {bad[0]} is outside [1, n={args.n}] (pass@k needs n >= k samples)")
    if not 0 < args.top_p <= 1 or args.temperature < 0:
        raise UserError("--top-p must be in (0, 1] and --temperature >= 0")
    model, tokenizer = load_model_and_tokenizer(args.model)
    templates = {b: _template_for(b, args.model, args.template, tokenizer) for b in args.benchmark}
    template = args.template or (next(iter(templates.values())) if len(set(templates.values())) == 1 else None)
    decoding = Decoding(temperature=args.temperature, top_p=args.top_p, top_k=args.top_k,
                        max_new_tokens=args.max_new_tokens, template=template)
    out = Path(args.out) if args.out else _default_out(args.model)
    from rlvr_bench.data.code_benchmarks import is_code_benchmark
    from rlvr_bench.utils.envinfo import environment_record
    from rlvr_bench.utils.rundir import RunDir

    RunDir(out).path.mkdir(parents=True, exist_ok=True)
    RunDir(out).write_env(environment_record(seeds=list(args.seeds), decoding=decoding.as_dict(), template=template,
                                             extra={"model": str(args.model), "benchmarks": args.benchmark,
                                                    "templates": templates}))
    for bench in args.benchmark:
        tpl = templates[bench]
        code = is_code_benchmark(bench)
        res = evaluate(model, _benchmark_arg(bench), tokenizer=tokenizer, n=args.n, ks=ks, seeds=args.seeds,
                       decoding=_decoding_for(decoding, tpl), template=tpl, run_dir=out, step=args.step,
                       limit=args.limit, reward="code" if code else "auto",
                       **({"batch_size": CODE_BATCH_SIZE} if code else {}))
        curve = "  ".join(f"pass@{k} {res.pass_at_k[k]:.3f}" for k in ks)
        print0(f"{res.benchmark} ({len(res.ids)} problems, n={args.n}, seeds={args.seeds}): {curve}")
    print0(f"results: {out}/eval/summary.jsonl")
    return 0
