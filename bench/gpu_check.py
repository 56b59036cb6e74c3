"""One prepared check of the GPU path (docs/gpu.md): both rollout engines, hf and vllm, on one small real model.

    bash bench/gpu_check.sh [--dry-run] [options]      # installs the vllm extra into .venv, then runs this file
    .venv/bin/python bench/gpu_check.py [--dry-run] [--model Qwen/Qwen2.5-0.5B-Instruct] [--problems 20] [--n 8]
        [--max-new-tokens 512] [--steps 5] [--out runs/gpu_check] [--override rollout.correction=token_truncate]

Stages (the evaluations and trainings each in their own process; a failed stage is a row of the table, never
an abort):

1. env: torch and its CUDA device, the installed vLLM.
2. model: ``--model`` from the hub (or its local cache); when the hub is unreachable, a random
   ``Qwen2ForCausalLM`` of Qwen2.5-0.5B's shape (24 layers, hidden 896, 14 heads, 2 KV heads, tied
   embeddings) with the offline Qwen-format test tokenizer (``tests/realmodels/builders.py``, 99 tokens, so
   the embedding is smaller than the real 151,936 rows).
3. data: the first ``--problems`` MATH-500 problems (hub, or a copy in ``$RLVR_BENCH_DATA_DIR``), else the 12
   hand-written sums of ``tests/realmodels/data.py``; written to ``<out>/problems.jsonl``.
4. eval-hf, eval-vllm: ``evaluate`` (template ``qwen_boxed``, ``--n`` samples per problem at temperature 1,
   ``--max-new-tokens``) with each engine: generated tokens per second (sampling and scoring, the
   ``seconds_this_call`` of the summary), pass@1; then their agreement: the paired per-problem difference of
   pass@1 (vllm - hf) and its standard error.
5. grpo-hf, grpo-vllm: ``rlvr-bench train`` of a ``--steps``-step GRPO recipe (8 prompts x 8 samples, bf16,
   no evaluation) with ``rollout.backend`` hf and vllm: seconds per step (median over the steps after the
   first; the first, which includes the engine's warm-up, apart) from ``compute/wall_seconds`` in
   metrics.jsonl, and the engine/trainer log-prob mismatch (``rollout_correction/kl`` and
   ``rollout_correction/logp_abs_diff_mean``, means over the steps).
6. the table, on stdout and in ``<out>/gpu_check.md``; the raw numbers in ``<out>/gpu_check.json``, each
   child's output in ``<out>/logs/``.

``--dry-run`` prints this plan with every command, and runs nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
ENGINES = ("hf", "vllm")
TEMPLATE = "qwen_boxed"
QWEN_05B_SHAPE = dict(hidden_size=896, intermediate_size=4864, num_hidden_layers=24, num_attention_heads=14,
                      num_key_value_heads=2, max_position_embeddings=32768, rope_theta=1000000.0,
                      rms_norm_eps=1e-6, tie_word_embeddings=True)
MISMATCH_KEYS = ("rollout_correction/kl", "rollout_correction/logp_abs_diff_mean")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--dry-run", action="store_true", help="print the plan and its commands; run nothing")
    p.add_argument("--model", default="Qwen/Qwen2.5-0.5B-Instruct")
    p.add_argument("--problems", type=int, default=20, help="MATH-500 problems evaluated and trained on")
    p.add_argument("--n", type=int, default=8, help="evaluation samples per problem")
    p.add_argument("--max-new-tokens", type=int, default=512)
    p.add_argument("--steps", type=int, default=5, help="GRPO steps per backend")
    p.add_argument("--out", default="runs/gpu_check")
    p.add_argument("--timeout", type=int, default=900, help="seconds per child process")
    p.add_argument("--override", action="append", default=[], help="extra recipe override for both GRPO runs")
    p.add_argument("--allow-cpu", action="store_true",
                   help="run the stages without a CUDA GPU too (a smoke test of this script with a tiny local "
                   "--model directory; the vllm stages then fail, in one line each)")
    p.add_argument("--child-eval", choices=ENGINES, help=argparse.SUPPRESS)
    p.add_argument("--model-dir", help=argparse.SUPPRESS)
    p.add_argument("--data", help=argparse.SUPPRESS)
    return p.parse_args(argv)


# ------------------------------------------------------------------------------------------------- plan


def eval_command(args: argparse.Namespace, engine: str, model_dir: str, data: str) -> list[str]:
    return [sys.executable, str(Path(__file__)), "--child-eval", engine, "--model-dir", model_dir, "--data", data,
            "--n", str(args.n), "--max-new-tokens", str(args.max_new_tokens)]


def grpo_command(args: argparse.Namespace, engine: str, recipe: str) -> list[str]:
    return [sys.executable, "-m", "rlvr_bench.cli", "train", recipe, f"rollout.backend={engine}",
            f"output_dir={Path(args.out) / f'grpo-{engine}'}", *args.override]


def plan(args: argparse.Namespace) -> list[tuple[str, str]]:
    """(stage, what runs) in order; the model and data paths as they will be named."""
    out = Path(args.out)
    model, data, recipe = "$MODEL", str(out / "problems.jsonl"), str(out / "grpo.yaml")
    rows = [("env", "torch + CUDA device, vLLM version"),
            ("model", f"{args.model} from the hub (or its cache) -> $MODEL; hub unreachable: a random Qwen2 of "
                      f"Qwen2.5-0.5B's shape in {out / 'random-qwen2-0.5b'}"),
            ("data", f"the first {args.problems} MATH-500 problems (else 12 hand-written sums) -> {data}")]
    rows += [(f"eval-{e}", " ".join(eval_command(args, e, model, data))) for e in ENGINES]
    rows.append(("agreement", "pass@1 vllm - hf, paired over problems, +- 2 standard errors"))
    rows.append(("recipe", f"{recipe}: GRPO, trainer.steps={args.steps}, 8 prompts x 8 samples, bf16, "
                           f"max_new_tokens={args.max_new_tokens}, no evaluation"))
    rows += [(f"grpo-{e}", " ".join(grpo_command(args, e, recipe))) for e in ENGINES]
    rows.append(("table", f"stdout and {out / 'gpu_check.md'}; raw numbers {out / 'gpu_check.json'}"))
    return rows


# ------------------------------------------------------------------------------------ model and data


def prepare_model(args: argparse.Namespace, out: Path) -> tuple[str, str]:
    """(local model dir, note): the hub model, else a random Qwen2 of Qwen2.5-0.5B's shape."""
    if Path(args.model).is_dir():
        return str(Path(args.model).resolve()), f"{args.model} (local directory)"
    os.environ.setdefault("HF_HUB_DOWNLOAD_TIMEOUT", "30")
    try:
        from huggingface_hub import snapshot_download

        path = snapshot_download(args.model, allow_patterns=["*.json", "*.safetensors", "*.txt", "*.model"])
        return path, f"{args.model} (hub)"
    except Exception as exc:  # noqa: BLE001 - any hub failure means: build the offline stand-in
        reason = f"{type(exc).__name__}: {str(exc).splitlines()[0][:80] if str(exc) else ''}"
    import torch
    from transformers import GenerationConfig, Qwen2Config, Qwen2ForCausalLM

    sys.path.insert(0, str(ROOT))
    from tests.realmodels.builders import QWEN_EOS, build_qwen_tokenizer

    path = out / "random-qwen2-0.5b"
    if not (path / "config.json").is_file():
        tok = build_qwen_tokenizer()
        eos = tok.convert_tokens_to_ids(QWEN_EOS)
        torch.manual_seed(0)
        config = Qwen2Config(vocab_size=len(tok), eos_token_id=eos, bos_token_id=None, **QWEN_05B_SHAPE)
        model = Qwen2ForCausalLM(config).to(torch.bfloat16)
        model.generation_config = GenerationConfig(eos_token_id=eos)
        model.save_pretrained(path)
        tok.save_pretrained(path)
    return str(path), f"random Qwen2 with Qwen2.5-0.5B's layers, 99-token test vocabulary (hub: {reason})"


def prepare_data(args: argparse.Namespace, out: Path) -> tuple[str, str]:
    """(problems.jsonl, note): MATH-500's first problems, else the hand-written sums."""
    path = out / "problems.jsonl"
    try:
        from rlvr_bench.data.benchmarks import load_benchmark

        ds = load_benchmark("math500", limit=args.problems)
        rows = [{"id": str(r["id"]), "problem": r["problem"], "answer": str(r["answer"])} for r in ds]
        note = f"MATH-500, first {len(rows)}"
    except Exception as exc:  # noqa: BLE001 - offline: the hand-written fallback
        sys.path.insert(0, str(ROOT))
        from tests.realmodels.data import math_rows

        rows = math_rows(min(args.problems, 12))
        note = f"{len(rows)} hand-written sums (MATH-500: {type(exc).__name__})"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return str(path), note


def grpo_recipe(args: argparse.Namespace, model: str, data: str) -> str:
    recipe = {
        "method": "rl", "description": "bench/gpu_check.py: a few GRPO steps", "seed": 0,
        "model": {"name_or_path": model, "dtype": "bfloat16"},
        "data": {"source": data, "template": TEMPLATE},
        "algorithm": {"preset": "grpo", "use_kl_loss": False},
        "rollout": {"n": 8, "temperature": 1.0, "max_new_tokens": args.max_new_tokens, "batch_size": 256},
        "trainer": {"steps": args.steps, "prompts_per_step": 8, "learning_rate": 1.0e-6, "micro_batch_size": 16,
                    "mixed_precision": "bf16"},
        "reward": {"name": "math"}, "evaluation": {"enabled": False},
        "logging": {"trackers": [], "progress": False},
    }
    return json.dumps(recipe, indent=1)  # JSON is YAML


# ----------------------------------------------------------------------------------------------- stages


def run_child(cmd: list[str], log: Path, timeout: int) -> tuple[bool, str]:
    """Run ``cmd`` with output to ``log``; (ok, its last stdout line or the error's last line)."""
    log.parent.mkdir(parents=True, exist_ok=True)
    try:
        proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired as exc:
        log.write_text(f"{exc.stdout or ''}\n{exc.stderr or ''}")
        return False, f"timed out after {timeout} s"
    log.write_text(f"$ {' '.join(cmd)}\n--- stdout\n{proc.stdout}\n--- stderr\n{proc.stderr}")
    lines = [ln for ln in proc.stdout.splitlines() if ln.strip()]
    if proc.returncode != 0:
        err = [ln for ln in proc.stderr.splitlines() if ln.strip()]
        return False, f"exit {proc.returncode}: {(err or lines or [''])[-1][:160]}"
    return True, lines[-1] if lines else ""


def child_eval(args: argparse.Namespace) -> None:
    """(child process) Evaluate with one engine; print one JSON line."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from rlvr_bench.evaluation import evaluate
    from rlvr_bench.rollout import Decoding, build_engine

    tok = AutoTokenizer.from_pretrained(args.model_dir)
    if args.child_eval == "hf":
        cuda = torch.cuda.is_available()
        model = AutoModelForCausalLM.from_pretrained(args.model_dir, dtype=torch.bfloat16 if cuda else torch.float32)
        model = model.to("cuda" if cuda else "cpu")
        engine = build_engine("hf", model, tok, batch_size=1024)
    else:
        engine = build_engine("vllm", args.model_dir, tok, gpu_memory_utilization=0.85)
    res = evaluate(args.model_dir, args.data, tokenizer=tok, n=args.n, ks=[1], engine=engine, template=TEMPLATE,
                   decoding=Decoding(temperature=1.0, max_new_tokens=args.max_new_tokens), reward="math")
    s = res.summary
    print(json.dumps({"tokens_per_s": s["tokens"] / max(s["seconds_this_call"], 1e-9), "tokens": s["tokens"],
                      "seconds": s["seconds_this_call"], "pass1": res.pass_at_k[1], "n": args.n,
                      "correct": res.correct[0], "truncated_fraction": s["truncated_fraction"]}))


def agreement(hf: dict[str, Any], vllm: dict[str, Any]) -> dict[str, Any]:
    """pass@1 difference (vllm - hf), paired over problems, with its standard error."""
    n = hf["n"]
    diffs = [(v - h) / n for h, v in zip(hf["correct"], vllm["correct"])]
    mean = statistics.fmean(diffs)
    se = statistics.stdev(diffs) / len(diffs) ** 0.5 if len(diffs) > 1 else float("nan")
    return {"diff": mean, "se": se, "agree": mean == 0 or abs(mean) <= 2 * se}


def read_grpo(run_dir: Path) -> dict[str, Any]:
    """Seconds per step and the log-prob mismatch from a run's metrics.jsonl."""
    rows = [json.loads(ln) for ln in (run_dir / "metrics.jsonl").read_text().splitlines() if ln.strip()]
    steps = [r for r in rows if r.get("step", 0) >= 1 and "compute/wall_seconds" in r]
    walls = [r["compute/wall_seconds"] for r in steps]
    per_step = [b - a for a, b in zip(walls, walls[1:])]
    found = [k for k in MISMATCH_KEYS if any(k in r for r in steps)]
    keys = found or sorted({k for r in steps for k in r if k.startswith("rollout_correction/")})[:2]
    return {"steps": len(steps), "first_step_s": walls[0] if walls else None,
            "s_per_step": statistics.median(per_step) if per_step else None,
            "mismatch": {k: statistics.fmean(r[k] for r in steps if k in r) for k in keys}}


def stage_env() -> dict[str, Any]:
    from importlib.metadata import PackageNotFoundError, version

    import torch

    try:
        vllm_version = version("vllm")
    except PackageNotFoundError:
        vllm_version = None
    cuda = torch.cuda.is_available()
    return {"torch": torch.__version__, "cuda": cuda, "device": torch.cuda.get_device_name(0) if cuda else None,
            "vllm": vllm_version, "install": os.environ.get("GPU_CHECK_INSTALL", "not run (bench/gpu_check.sh does)")}


# ------------------------------------------------------------------------------------------------ table


def _fmt(value: Any, spec: str = ".3g") -> str:
    return "-" if value is None else format(value, spec) if isinstance(value, (int, float)) else str(value)


def table(r: dict[str, Any]) -> str:
    """The one table: a row per check, a column per engine."""
    env, ev, gr = r.get("env", {}), r.get("eval", {}), r.get("grpo", {})
    lines = ["| check | hf | vllm | note |", "|---|---|---|---|",
             f"| environment | torch {_fmt(env.get('torch'))} | vllm {_fmt(env.get('vllm'))} | "
             f"{_fmt(env.get('device') or 'no CUDA device')}; install: {_fmt(env.get('install'))} |",
             f"| model | | | {r.get('model_note', '-')} |", f"| data | | | {r.get('data_note', '-')} |"]

    def cell(stage: dict[str, Any], key: str, spec: str = ".3g") -> str:
        if not stage:
            return "not run"
        if stage.get("ok"):
            return _fmt(stage["data"].get(key), spec)
        return "FAILED: " + str(stage.get("error", "?"))[:120].replace("|", "/")

    lines.append("| eval tokens/s | " + " | ".join(cell(ev.get(e, {}), "tokens_per_s", ".0f") for e in ENGINES)
                 + " | generated tokens / (sampling + scoring) seconds |")
    lines.append("| eval pass@1 | " + " | ".join(cell(ev.get(e, {}), "pass1") for e in ENGINES) + " | |")
    agree = r.get("agreement")
    lines.append("| pass@1 agreement | | | " + (
        f"vllm - hf = {agree['diff']:+.3f} (SE {agree['se']:.3f}): {'agree' if agree['agree'] else 'DIFFER'}"
        if agree else "- (needs both evaluations)") + " |")
    lines.append("| GRPO s/step | " + " | ".join(cell(gr.get(e, {}), "s_per_step") for e in ENGINES)
                 + " | median over steps 2.. (first step, with warm-up: "
                 + ", ".join(f"{e} {_fmt(gr.get(e, {}).get('data', {}).get('first_step_s'))}" for e in ENGINES)
                 + ") |")
    mism = [f"{e}: " + (", ".join(f"{k.split('/')[-1]} {v:.3g}" for k, v in gr[e]["data"]["mismatch"].items())
                        or "no rollout_correction/* metric")
            for e in ENGINES if gr.get(e, {}).get("ok")]
    lines.append("| GRPO log-prob mismatch | | | " + ("; ".join(mism) or "-") + " |")
    return "\n".join(lines)


# ------------------------------------------------------------------------------------------------- main


def _safe(results: dict[str, Any], key: str, fn: Any) -> Any:
    try:
        return fn()
    except Exception as exc:  # noqa: BLE001 - a failed stage becomes a table row
        results.setdefault("errors", {})[key] = f"{type(exc).__name__}: {exc}"[:200]
        return None


def run_all(args: argparse.Namespace) -> dict[str, Any]:
    out = (ROOT / args.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    r: dict[str, Any] = {"args": vars(args), "started": time.strftime("%Y-%m-%d %H:%M:%S")}
    r["env"] = _safe(r, "env", stage_env) or {}
    if not r["env"].get("cuda") and not args.allow_cpu:
        r["model_note"] = r["data_note"] = "skipped: no CUDA GPU here (--allow-cpu runs the stages anyway)"
        return r
    model = _safe(r, "model", lambda: prepare_model(args, out))
    data = _safe(r, "data", lambda: prepare_data(args, out))
    (model_dir, r["model_note"]) = model or (None, f"FAILED: {r.get('errors', {}).get('model')}")
    (data_file, r["data_note"]) = data or (None, f"FAILED: {r.get('errors', {}).get('data')}")
    r["eval"], r["grpo"] = {}, {}
    if model_dir and data_file:
        for e in ENGINES:
            ok, line = run_child(eval_command(args, e, model_dir, data_file), out / "logs" / f"eval-{e}.log",
                                 args.timeout)
            r["eval"][e] = {"ok": ok, "data": json.loads(line)} if ok else {"ok": False, "error": line}
        if all(r["eval"][e]["ok"] for e in ENGINES):
            r["agreement"] = agreement(r["eval"]["hf"]["data"], r["eval"]["vllm"]["data"])
        recipe = out / "grpo.yaml"
        recipe.write_text(grpo_recipe(args, model_dir, data_file))
        for e in ENGINES:
            shutil.rmtree(out / f"grpo-{e}", ignore_errors=True)  # a fresh run, not a resume
            ok, line = run_child(grpo_command(args, e, str(recipe)), out / "logs" / f"grpo-{e}.log", args.timeout)
            got = _safe(r, f"grpo-{e}", lambda e=e: read_grpo(out / f"grpo-{e}")) if ok else None
            r["grpo"][e] = {"ok": got is not None, "data": got or {},
                            "error": line if not ok else r.get("errors", {}).get(f"grpo-{e}")}
    return r


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.child_eval:
        child_eval(args)
        return 0
    if args.dry_run:
        print(f"bench/gpu_check.py plan (out: {args.out}); nothing is run:")
        for stage, what in plan(args):
            print(f"  [{stage}] {what}")
        return 0
    results = run_all(args)
    text = table(results)
    out = (ROOT / args.out).resolve()
    (out / "gpu_check.md").write_text(text + "\n")
    (out / "gpu_check.json").write_text(json.dumps(results, indent=2, default=str))
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
