"""One RL optimisation step on CPU: rlvr_bench's ``RLTrainer`` vs TRL's ``GRPOTrainer``, each in its own process.

    .venv/bin/python bench/rl_step.py [--prompts 32] [--n 8] [--max-new-tokens 48] [--warmup 2] [--steps 6] [--async]

The parent launches one child per engine, one after the other (never two at once), each with one torch
thread: ``python bench/rl_step.py --engine ours|trl|trl-ckpt ...`` prints one JSON line. ``--async`` adds two
two-core rows: ``ours-2t``, RLTrainer synchronous with 2 torch threads, and ``ours-async``, RLTrainer with
``rollout.mode: one_step_off`` (TIS correction), whose rollout worker thread and trainer get one thread each;
its phases show the trainer's wait for the worker and the worker's rollout time (overlapped with the update;
``async/*`` metrics). Every child times ``--steps`` steps after ``--warmup`` untimed ones and reports its own
peak RSS (``ru_maxrss`` of that process, so one engine's memory never hides another's). The parent prints medians (min-max), the ratio to TRL with
activation checkpointing off, the peak RSS, each engine's per-phase medians, and the machine load (1-minute
load average before and after, from ``os.getloadavg``) and CPU count.

Same work on both sides: the same toy model (the cached toy base if built, else one random toy model saved by
the parent), the toy train split in order (no shuffling, so step k sees the same prompts), the ``Q:{problem}A:``
template, ``--n`` samples per prompt at temperature 1 (top-p 1, top-k 0), at most ``--max-new-tokens`` tokens,
the math reward, GRPO advantages (group mean, divided by the group std), sequence-mean-token-mean loss, no KL
(no reference model, no reference log-probs), one optimizer step per rollout batch (so no old-log-prob pass),
the whole batch in one forward/backward, AdamW at a constant ``--lr``, gradient clipping at 1.0, fp32.

TRL 1.16 settings changed from their defaults (the list ``_rl_step_engines.TRL_SETTINGS``, printed too):
gradient_checkpointing False (TRL default True; the ``trl-ckpt`` row keeps it on), bf16 False (default True),
use_cpu True, learning_rate --lr (default 1e-6), lr_scheduler_type constant (default linear), loss_type grpo
(default dapo), shuffle_dataset False, logging_strategy no (default steps), logging_nan_inf_filter False
(default True), save_strategy no (default steps), report_to none, disable_tqdm True,
per_device_train_batch_size prompts*n with steps_per_generation 1 and gradient_accumulation_steps 1
(so generation_batch_size = prompts*n: one generate call and one optimizer step per step), num_generations n,
max_completion_length --max-new-tokens (default 512). Already at their fastest equal value and set explicitly:
beta 0.0, num_iterations 1, temperature 1.0, top_p 1.0, top_k 0, scale_rewards group, eval_strategy no,
log_completions False, torch_empty_cache_steps None, dataloader_num_workers 0, dataloader_pin_memory False.
Kept: optim adamw_torch_fused (the TrainingArguments default, the fused form of the same AdamW),
use_transformers_continuous_batching False (plain ``generate``, as RLTrainer's hf engine). TRL's per-step
``accelerator.gather`` calls are identity in one process; TRL always computes token entropies in its loss
forward, as RLTrainer does (its entropy metric).

Step times: ours = ``RLTrainer.train_step()`` (rollout, prepare, update; no logging, checkpoint or evaluation,
as ``train()`` adds); TRL = ``on_step_begin`` to ``on_step_end`` (generation, scoring, loss, backward, optimizer
step); TRL's trainer-loop time between steps is printed separately. Phases are timed by wrapping the engines'
methods from the outside (see ``_rl_step_engines.py``).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ENGINES = {"ours": "rlvr_bench RLTrainer", "ours-2t": "RLTrainer, 2 threads", "ours-async": "RLTrainer 1-step-off",
           "trl": "TRL GRPOTrainer", "trl-ckpt": "TRL GRPOTrainer +ckpt"}
ASYNC_ENGINES = ("ours-2t", "ours-async")  # added by --async: the one-step-off mode beside sync on 2 threads
# (label, phases summed) per engine; "rest" of a group is its total minus the named parts
OURS_PHASES = [("rollout: generate", ["generate"]), ("rollout: scoring", ["score"]),
               ("rollout: other", ["rollout", "-generate", "-score"]),
               ("log-probs, no grad (prepare)", ["logprobs_nograd"]),
               ("advantages etc. (prepare)", ["prepare", "-logprobs_nograd"]),
               ("update: log-prob forward", ["fwd_grad"]), ("update: backward", ["backward"]),
               ("update: clip + AdamW", ["optim"]),
               ("update: other", ["update", "-fwd_grad", "-backward", "-optim"]),
               ("step other", ["total", "-rollout", "-prepare", "-update"])]
ASYNC_PHASES = [("waiting for the rollout worker", ["wait"]),
                ("(the batch's rollout on the worker)", ["worker"]),
                ("log-probs, no grad (prepare)", ["logprobs_nograd"]),
                ("advantages etc. (prepare)", ["prepare", "-logprobs_nograd"]),
                ("update: log-prob forward", ["fwd_grad"]), ("update: backward", ["backward"]),
                ("update: clip + AdamW", ["optim"]),
                ("update: other", ["update", "-fwd_grad", "-backward", "-optim"]),
                ("step other", ["total", "-wait", "-prepare", "-update"])]
TRL_PHASES = [("rollout: generate", ["generate"]), ("rollout: scoring", ["score"]),
              ("rollout: other (advantages etc.)", ["rollout", "-generate", "-score"]),
              ("update: log-prob forward + loss", ["fwd_grad"]), ("update: backward", ["backward"]),
              ("update: clip + AdamW", ["optim"]),
              ("step other", ["total", "-rollout", "-fwd_grad", "-backward", "-optim"])]


def _phase(step: dict[str, float], parts: list[str]) -> float:
    return sum(-step.get(p[1:], 0.0) if p.startswith("-") else step.get(p, 0.0) for p in parts)


def _med(xs: list[float]) -> float:
    return statistics.median(xs) if xs else float("nan")


def _run_child(engine: str, args, model_dir: str, tmp: str) -> dict:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--engine", engine, "--model-dir", model_dir, "--tmp", tmp,
           "--prompts", str(args.prompts), "--n", str(args.n), "--max-new-tokens", str(args.max_new_tokens),
           "--warmup", str(args.warmup), "--steps", str(args.steps), "--lr", str(args.lr), "--seed", str(args.seed)]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false"}
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if proc.returncode != 0 or not lines:
        sys.stderr.write(proc.stderr[-4000:])
        raise SystemExit(f"{engine} child failed (exit {proc.returncode})")
    return json.loads(lines[-1])


def parent(args) -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from _rl_step_engines import TRL_SETTINGS
    from _toy_model import toy_model_dir

    engines = [e for e in args.engines.split(",") if e]
    if args.async_rows:
        engines = [e for e in engines if e not in ASYNC_ENGINES] + list(ASYNC_ENGINES)
    load_before = os.getloadavg()
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        model_dir = toy_model_dir(Path(tmp))
        for e in engines:  # one after the other, never two at once
            results[e] = _run_child(e, args, model_dir, tmp)
    load_after = os.getloadavg()
    w = args.warmup
    rows = {}
    for e, r in results.items():
        totals = [s["total"] for s in r["phases"][w:]]
        rows[e] = (_med(totals), min(totals), max(totals))
    print(f"model: {model_dir}")
    print(f"{args.prompts} prompts x {args.n} samples, max_new_tokens {args.max_new_tokens}, lr {args.lr}; "
          f"{args.warmup} warm-up + {args.steps} timed steps per engine, one process each, run one after the other, "
          f"torch threads {sorted({r['torch_threads'] for r in results.values()})}")
    aff = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    print(f"machine: {os.cpu_count()} CPUs ({aff} usable); load average (1/5/15 min) before "
          + "/".join(f"{x:.2f}" for x in load_before) + ", after " + "/".join(f"{x:.2f}" for x in load_after)
          + "; per child (1 min) " + ", ".join(f"{e} {r['load_start'][0]:.2f}->{r['load_end'][0]:.2f}"
                                              for e, r in results.items()))
    ref = rows.get("trl", (None,))[0]
    print(f"\n{'engine':<24}{'median s/step':>14}{'min-max':>15}{'vs TRL':>8}{'peak RSS MB':>13}"
          f"{'after imports':>15}{'mean resp len':>15}{'accuracy':>10}")
    for e, (m, lo, hi) in rows.items():
        r = results[e]
        ratio = f"{m / ref:.2f}x" if ref else "-"
        print(f"{ENGINES[e]:<24}{m:>14.3f}{f'{lo:.3f}-{hi:.3f}':>15}{ratio:>8}{r['peak_rss_mb']:>13.0f}"
              f"{r['rss_after_imports_mb']:>15.0f}{_med(r['mean_len'][w:]):>15.1f}{_med(r['reward'][w:]):>10.3f}")
    if ref and "ours" in rows:
        verdict = "met" if rows["ours"][0] / ref <= args.goal else "MISSED"
        print(f"ratio ours/TRL (checkpointing off): {rows['ours'][0] / ref:.2f}x; goal <= {args.goal:.2f}x: {verdict}")
    if "ours" in rows and "ours-async" in rows:
        waits = [s["wait"] for s in results["ours-async"]["phases"][w:]]
        two = f", {rows['ours-async'][0] / rows['ours-2t'][0]:.2f}x RLTrainer sync on 2 threads" if "ours-2t" in rows else ""
        print(f"one-step-off (1 thread trainer + 1 thread rollout worker): {rows['ours-async'][0] / rows['ours'][0]:.2f}x "
              f"RLTrainer sync on 1 thread{two}; median wait for the worker {_med(waits):.3f} s/step")
    if ref and "trl-ckpt" in rows:
        print(f"TRL with its default activation checkpointing on: {rows['trl-ckpt'][0] / ref:.2f}x its time off")
    print("(peak RSS: ru_maxrss of each engine's own process; 'after imports': that process after importing torch "
          "and transformers; accuracy: the math reward's mean over the rollout; medians over timed steps)")
    for e, r in results.items():
        spec = ASYNC_PHASES if e == "ours-async" else OURS_PHASES if e.startswith("ours") else TRL_PHASES
        steps = r["phases"][w:]
        total = _med([s["total"] for s in steps])
        print(f"\nphases of {ENGINES[e]} (median s over the timed steps, share of the median step):")
        for label, parts in spec:
            v = _med([_phase(s, parts) for s in steps])
            print(f"  {label:<34}{v:>8.3f}{100 * v / total:>7.1f}%")
        if r.get("gap"):
            print(f"  {'(trainer loop between steps)':<34}{_med(r['gap'][w:]):>8.3f}  not in s/step")
    print("\nTRL settings changed or pinned (setting = value: why):")
    for k, v, why in TRL_SETTINGS:
        print(f"  {k} = {v}: {why}")
    if args.json:
        Path(args.json).write_text(json.dumps({"args": vars(args), "load_before": load_before,
                                               "load_after": load_after, "results": results}, indent=1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prompts", type=int, default=32)
    parser.add_argument("--n", type=int, default=8)
    parser.add_argument("--max-new-tokens", type=int, default=48)
    parser.add_argument("--warmup", type=int, default=2, help="untimed steps first (>= 1)")
    parser.add_argument("--steps", type=int, default=6, help="timed steps (>= 5)")
    parser.add_argument("--lr", type=float, default=1e-4)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--goal", type=float, default=0.60, help="target ratio ours/TRL")
    parser.add_argument("--engines", default="ours,trl,trl-ckpt", help="comma list of " + ", ".join(ENGINES))
    parser.add_argument("--async", dest="async_rows", action="store_true",
                        help="also time RLTrainer sync on 2 threads and rollout.mode=one_step_off (1 + 1 threads)")
    parser.add_argument("--json", help="also write every child's raw numbers here")
    parser.add_argument("--engine", choices=sorted(ENGINES), help=argparse.SUPPRESS)  # child mode
    parser.add_argument("--model-dir", help=argparse.SUPPRESS)
    parser.add_argument("--tmp", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.warmup < 1 or args.steps < 5:
        parser.error("use --warmup >= 1 and --steps >= 5")
    if args.engine is None:
        parent(args)
        return
    import contextlib

    from _rl_step_engines import run_child

    with contextlib.redirect_stdout(sys.stderr):  # library prints must not mix with the JSON line
        result = run_child(args)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
