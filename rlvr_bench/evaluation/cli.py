"""``rlvr-bench eval MODEL --benchmark NAME|FILE ...``: pass@k of any model, written as a run directory.

Given a checkpoint of a run (``runs/<run>/checkpoints/step-N``, full weights or a LoRA adapter), the
evaluation settings of that run are read from the checkpoint's ``rlvr_generation.json``: template, decoding,
stop rule, benchmarks, n, ks, seeds and batch size (the batch decides the per-unit sampling seeds), so that
``rlvr-bench eval CHECKPOINT`` reproduces the run's own evaluation; every flag given on the command line
overrides its recorded value. Anything else (a hub name, a model from elsewhere) gets :data:`EVAL_DEFAULTS`.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path
from typing import Any

from rlvr_bench.errors import UserError
from rlvr_bench.utils.dist import print0

__all__ = ["run_eval_command"]


def _default_out(model: str) -> Path:
    return Path("runs") / "eval" / re.sub(r"[^A-Za-z0-9_.-]+", "_", model).strip("_")


def _benchmark_arg(name: str, limit: int | None = None):
    """The benchmark's rows, loaded before the model (a missing file or an offline hub fails first): ``toy`` is
    the toy test split, ``toy/<family>`` that family's rows of it (default toy tasks); everything else goes to
    the benchmark loader, named as ``evaluate`` names it."""
    from rlvr_bench.data.train_prompts import is_toy_source, toy_split

    if is_toy_source(name):
        from types import SimpleNamespace

        from rlvr_bench.config.toy import ToyConfig

        return toy_split(SimpleNamespace(toy=ToyConfig()), "test", name)
    from rlvr_bench.data.benchmarks import load_benchmark

    ds = load_benchmark(name, limit=limit)
    ds.info.dataset_name = Path(name).stem if Path(name).suffix else name
    return ds


def _template_for(bench: str, model: str, explicit: str | None, tokenizer) -> str:
    """The prompt template of one benchmark: ``--template``, else the benchmark's own (completion-style
    HumanEval and HumanEval+), a code block request for the other code benchmarks (chat models), ``toy`` for
    toy models, else ``plain``."""
    from rlvr_bench.data.benchmarks import BENCHMARKS
    from rlvr_bench.data.code_benchmarks import code_benchmark_name

    if explicit:
        return explicit
    code = code_benchmark_name(bench)
    own = BENCHMARKS[code].template if code is not None else None
    if own is not None:
        return own
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

EVAL_DEFAULTS: dict[str, Any] = {"n": 64, "ks": None, "seeds": [0], "temperature": 1.0, "top_p": 1.0, "top_k": 0,
                                 "max_new_tokens": 48, "stop": [], "batch_size": None, "max_prompt_tokens": None}
"""Settings of a model without a run record (``--help`` prints them)."""


def recorded_settings(record: dict[str, Any] | None) -> dict[str, Any]:
    """The evaluation settings a checkpoint's generation record holds (empty without a record)."""
    if not record:
        return {}
    dec, ev = record.get("decoding") or {}, record.get("evaluation") or {}
    out = {k: dec[k] for k in ("temperature", "top_p", "top_k", "max_new_tokens") if k in dec}
    out.update({k: ev[k] for k in ("n", "ks", "seeds", "batch_size", "max_prompt_tokens", "limit", "benchmarks")
                if ev.get(k) is not None})
    out["stop"] = list(dec.get("stop") or [])
    out["stop_token_ids"] = list((record.get("stop") or {}).get("token_ids") or dec.get("stop_token_ids") or [])
    out["template"] = record.get("template")
    out["reward"] = record.get("reward")
    return out


def record_from_run_config(model: str) -> dict[str, Any] | None:
    """For a checkpoint saved before checkpoints carried ``rlvr_generation.json`` (or brought back by
    ``verl import``): the same settings read from its run's ``config.yaml`` (``<run>/checkpoints/step-N``);
    the stop ids are then resolved from the template as the run did. None for anything else."""
    import yaml

    path = Path(str(model)).expanduser()
    config = path.parent.parent / "config.yaml"
    if path.parent.name != "checkpoints" or not config.is_file():
        return None
    try:
        raw = yaml.safe_load(config.read_text()) or {}
    except (OSError, yaml.YAMLError):
        return None
    ev, data, rollout = raw.get("evaluation") or {}, raw.get("data") or {}, raw.get("rollout") or {}
    decoding = {k: ev[k] for k in ("temperature", "top_p", "top_k", "max_new_tokens") if k in ev}
    decoding["stop"] = list(ev.get("stop") or [])
    return {"template": ev.get("template") or data.get("template"), "decoding": decoding,
            "reward": (raw.get("reward") or {}).get("name"),
            "evaluation": {"benchmarks": ev.get("benchmarks"), "n": ev.get("n"), "ks": ev.get("ks"),
                           "seeds": ev.get("seeds"), "limit": ev.get("limit"), "batch_size": rollout.get("batch_size"),
                           "max_prompt_tokens": data.get("max_prompt_tokens")}}


def eval_settings(args: argparse.Namespace, record: dict[str, Any] | None) -> dict[str, Any]:
    """Flags given on the command line, else the checkpoint's recorded run settings, else :data:`EVAL_DEFAULTS`."""
    recorded = recorded_settings(record)
    out = {**EVAL_DEFAULTS, "template": None, "limit": None, "benchmarks": None, "stop_token_ids": [],
           "reward": None, **recorded}
    for key in ("n", "ks", "seeds", "temperature", "top_p", "top_k", "max_new_tokens", "template", "limit",
                "batch_size", "max_prompt_tokens"):
        value = getattr(args, key, None)
        if value is not None:
            out[key] = value
    if getattr(args, "benchmark", None):
        out["benchmarks"] = list(args.benchmark)
    if getattr(args, "stop", None):
        out["stop"] = list(dict.fromkeys([*out["stop"], *args.stop]))
    if out["ks"] is not None and getattr(args, "n", None) is not None and getattr(args, "ks", None) is None:
        out["ks"] = [k for k in out["ks"] if k <= out["n"]] or None  # a recorded curve cut at the new n
    return out


def _check(settings: dict[str, Any]) -> list[int]:
    """Validate the merged settings (one-line errors); returns the ks."""
    from rlvr_bench.evaluation.evaluate import default_ks

    n = settings["n"]
    if n < 1:
        raise UserError(f"--n must be >= 1, got {n}")
    if not settings["benchmarks"]:
        raise UserError("--benchmark is required (the model is not a run's checkpoint that names its benchmarks)")
    ks = settings["ks"] or default_ks(n)
    bad = [k for k in ks if k < 1 or k > n]
    if bad:
        raise UserError(f"--ks {bad[0]} is outside [1, n={n}] (pass@k needs n >= k samples)")
    if not 0 < settings["top_p"] <= 1 or settings["temperature"] < 0:
        raise UserError("--top-p must be in (0, 1] and --temperature >= 0")
    if settings["max_new_tokens"] < 1:
        raise UserError(f"--max-new-tokens must be >= 1, got {settings['max_new_tokens']}")
    return ks


def run_eval_command(args: argparse.Namespace) -> int:
    from rlvr_bench.models.resolve import load_model_and_tokenizer
    from rlvr_bench.rollout import Decoding
    from rlvr_bench.rollout.stopping import read_generation_record

    record = read_generation_record(args.model) or record_from_run_config(args.model)
    settings = eval_settings(args, record)
    ks = _check(settings)
    if record is not None:
        print0(f"{args.model}: the run's evaluation settings (template {settings['template']}, temperature "
               f"{settings['temperature']}, max_new_tokens {settings['max_new_tokens']}, stop ids "
               f"{settings['stop_token_ids']}); flags override them")
    out = Path(args.out) if args.out else _default_out(args.model)
    from rlvr_bench.utils.rundir import RunDir

    RunDir(out).check_writable()  # before anything loads
    benches = {b: _benchmark_arg(b, settings["limit"]) for b in settings["benchmarks"]}  # data before the model
    model, tokenizer = load_model_and_tokenizer(args.model)
    templates = {b: _template_for(b, args.model, settings["template"], tokenizer) for b in benches}
    template = settings["template"] or (next(iter(templates.values())) if len(set(templates.values())) == 1 else None)
    decoding = Decoding(temperature=settings["temperature"], top_p=settings["top_p"], top_k=settings["top_k"],
                        max_new_tokens=settings["max_new_tokens"], template=template, stop=tuple(settings["stop"]),
                        stop_token_ids=tuple(settings["stop_token_ids"]))
    _write_env(out, args, settings, decoding, template, templates, model, tokenizer,
               sorted(recorded_settings(record)))
    for bench, data in benches.items():
        _evaluate_one(model, tokenizer, bench, data, templates[bench], decoding, settings, ks, out, args.step)
    print0(f"results: {out}/eval/summary.jsonl")
    return 0


def _evaluate_one(model: Any, tokenizer: Any, bench: str, data: Any, template: str, decoding: Any,
                  settings: dict[str, Any], ks: list[int], out: Path, step: int) -> None:
    from rlvr_bench.data.code_benchmarks import is_code_benchmark
    from rlvr_bench.evaluation.evaluate import evaluate

    code = is_code_benchmark(bench)
    batch = settings["batch_size"] or (CODE_BATCH_SIZE if code else 1024)
    reward = "code" if code else (settings["reward"] or "auto")
    res = evaluate(model, data, tokenizer=tokenizer, n=settings["n"], ks=ks, seeds=settings["seeds"],
                   decoding=_decoding_for(decoding, template), template=template, run_dir=out, step=step,
                   limit=settings["limit"], reward=reward, batch_size=batch,
                   max_prompt_tokens=settings["max_prompt_tokens"])
    curve = "  ".join(f"pass@{k} {res.pass_at_k[k]:.3f}" for k in ks)
    print0(f"{res.benchmark} ({len(res.ids)} problems, n={settings['n']}, seeds={settings['seeds']}): {curve}")


def _write_env(out: Path, args: argparse.Namespace, settings: dict[str, Any], decoding: Any, template: str | None,
               templates: dict[str, str], model: Any, tokenizer: Any, from_run: list[str]) -> None:
    """``env.json`` of the evaluation: versions, decoding, the model's provenance and the stop rule."""
    from rlvr_bench.data.templates import chat_template_sha256
    from rlvr_bench.rollout.stopping import resolve_stop_rule
    from rlvr_bench.utils.envinfo import environment_record
    from rlvr_bench.utils.provenance import model_provenance
    from rlvr_bench.utils.rundir import RunDir

    rule = resolve_stop_rule(tokenizer, template, model=model, strings=decoding.stop)
    RunDir(out).path.mkdir(parents=True, exist_ok=True)
    RunDir(out).write_env(environment_record(
        seeds=list(settings["seeds"]), decoding=rule.apply(decoding).as_dict(), template=template,
        extra={"model": str(args.model), "benchmarks": settings["benchmarks"], "templates": templates,
               "model_provenance": model_provenance(args.model, model), "stop": rule.as_dict(),
               "chat_template_sha256": chat_template_sha256(tokenizer),
               "settings_from_run": from_run}))
