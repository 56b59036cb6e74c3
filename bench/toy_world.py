"""Benchmark of the offline toy world: build base and teacher from scratch, then measure pass@k.

    .venv/bin/python bench/toy_world.py                 # fresh temporary cache, n = 64, 200 test problems
    .venv/bin/python bench/toy_world.py --cache-dir ~/.cache/rlvr_bench --json out.json

Prints the build time of the base and of the teacher, the time of a cached rebuild, a table of pass@1 /
pass@8 / pass@64 per family for both (temperature 1.0, unbiased estimator; math families graded by the
boxed integer, the code family by its hidden tests in the project's sandbox), and how many test problems
the teacher solves at k = n that the base never solves. The sampling loop is plain batched HF
``generate`` (left padding, ``do_sample``, no top-k / top-p truncation); the project's rollout engine is
the real one, this script only has to be simple and independent.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from rlvr_bench.config.toy import ToyConfig
from rlvr_bench.data.toy import toy_dataset, toy_prompt
from rlvr_bench.metrics import pass_at_k
from rlvr_bench.models.pretrain import auto_threads, build_base, build_teacher

_BOXED = re.compile(r"\\boxed\{([^{}]*)\}")


def boxed_correct(completion: str, answer: str) -> bool:
    """True when the last ``\\boxed{...}`` of ``completion`` is ``answer`` (as an integer)."""
    found = _BOXED.findall(completion)
    if not found:
        return False
    try:
        return int(found[-1].strip()) == int(answer)
    except ValueError:
        return False


def sample_correct_counts(
    model_dir: str | Path,
    problems: list[str],
    answers: list[str],
    *,
    n: int = 64,
    temperature: float = 1.0,
    max_new_tokens: int = 48,
    batch_size: int = 1024,
    seed: int = 0,
) -> np.ndarray:
    """Per-problem number of correct samples out of ``n`` (batched sampling, left padding)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir).eval()
    jobs = [i for i in range(len(problems)) for _ in range(n)]
    counts = np.zeros(len(problems), dtype=np.int64)
    torch.manual_seed(seed)
    with torch.no_grad():
        for start in range(0, len(jobs), batch_size):
            chunk = jobs[start : start + batch_size]
            enc = tok([toy_prompt(problems[i]) for i in chunk], return_tensors="pt", padding=True)
            out = model.generate(
                **enc, do_sample=True, temperature=temperature, top_k=0, top_p=1.0,
                max_new_tokens=max_new_tokens, pad_token_id=tok.pad_token_id, eos_token_id=tok.eos_token_id,
            )
            texts = tok.batch_decode(out[:, enc["input_ids"].shape[1]:], skip_special_tokens=True)
            for i, ok in zip(chunk, grade(texts, [answers[i] for i in chunk])):
                counts[i] += ok
    return counts


def grade(texts: list[str], answers: list[str]) -> list[bool]:
    """Math rows: the boxed integer; code rows (the answer is a test spec): the hidden tests in the sandbox."""
    from rlvr_bench.rewards.code_reward import code_score_batch
    from rlvr_bench.rewards.code_tests import is_code_tests

    code = [i for i, a in enumerate(answers) if is_code_tests(a)]
    code_set = set(code)
    ok = [False if i in code_set else boxed_correct(t, a) for i, (t, a) in enumerate(zip(texts, answers))]
    for i, score in zip(code, code_score_batch([texts[i] for i in code], [answers[i] for i in code])):
        ok[i] = score == 1.0
    return ok


def _row(name: str, counts: np.ndarray, n: int, ks: list[int]) -> str:
    vals = [float(np.mean(pass_at_k(n, counts, k))) for k in ks]
    return f"{name:<22}" + "".join(f"{v:>10.3f}" for v in vals) + f"{len(counts):>8d}"


def run(cache_dir: Path, n: int, ks: list[int], progress: bool) -> dict[str, Any]:
    """Build (timed), rebuild from cache (timed), evaluate; returns every measured number."""
    cfg = ToyConfig()
    t0 = time.perf_counter()
    base = build_base(cfg, cache_dir=cache_dir, progress=progress)
    t1 = time.perf_counter()
    teacher = build_teacher(cfg, cache_dir=cache_dir, progress=progress)
    t2 = time.perf_counter()
    assert build_base(cfg, cache_dir=cache_dir) == base and build_teacher(cfg, cache_dir=cache_dir) == teacher
    t3 = time.perf_counter()
    times = {"base_s": t1 - t0, "teacher_s": t2 - t1, "total_s": t2 - t0, "cached_rebuild_s": t3 - t2}
    print(f"build: base {times['base_s']:.1f} s, teacher {times['teacher_s']:.1f} s, "
          f"total {times['total_s']:.1f} s; cached rebuild of both {times['cached_rebuild_s']:.3f} s")
    result_builds = {}
    for name, path in (("base", base), ("teacher", teacher)):
        rec = json.loads((path / "build.json").read_text())
        result_builds[name] = {k: rec[k] for k in ("steps", "seconds", "cpu_seconds", "threads", "losses")}
        print(f"  {name}: {rec['steps']} steps, training {rec['seconds']:.1f} s wall / {rec['cpu_seconds']:.1f} "
              f"CPU-s, threads {rec['threads']}, 1-min load average now {os.getloadavg()[0]:.1f}")
    test = toy_dataset("test", task=cfg.tasks)
    fams = np.array(test["family"])
    result: dict[str, Any] = {"times": times, "builds": result_builds, "n": n, "ks": ks, "counts": {},
                              "eval_s": {}}
    for name, path in (("base", base), ("teacher", teacher)):
        t = time.perf_counter()
        counts = sample_correct_counts(path, test["problem"], test["answer"], n=n)
        result["eval_s"][name] = time.perf_counter() - t
        result["counts"][name] = counts.tolist()
    print(f"\npass@k on the toy test split (n = {n}, temperature 1.0)")
    print(f"{'model / family':<22}" + "".join(f"{'pass@' + str(k):>10}" for k in ks) + f"{'probs':>8}")
    for name in ("base", "teacher"):
        counts = np.array(result["counts"][name])
        print(_row(f"{name} / all", counts, n, ks))
        for fam in dict.fromkeys(fams):
            print(_row(f"{name} / {fam}", counts[fams == fam], n, ks))
    b, t = np.array(result["counts"]["base"]), np.array(result["counts"]["teacher"])
    only = int(((t > 0) & (b == 0)).sum())
    result["teacher_only"] = only
    print(f"\nsolved by the teacher at k = {n} and never by the base: {only} of {len(b)} "
          f"({only / len(b):.1%}); base-only: {int(((b > 0) & (t == 0)).sum())}")
    print(f"evaluation time: base {result['eval_s']['base']:.1f} s, teacher {result['eval_s']['teacher']:.1f} s")
    return result


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cache-dir", type=Path, default=None, help="cache root (default: a fresh temporary one)")
    ap.add_argument("--n", type=int, default=64, help="samples per problem")
    ap.add_argument("--ks", type=int, nargs="+", default=[1, 8, 64])
    ap.add_argument("--json", type=Path, default=None, help="also write every number to this file")
    ap.add_argument("--quiet", action="store_true", help="no training progress")
    ap.add_argument("--threads", type=int, default=0, help="torch threads for sampling (0 = automatic)")
    args = ap.parse_args(argv)
    import torch
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    torch.set_num_threads(args.threads or auto_threads())
    with tempfile.TemporaryDirectory(prefix="toy-world-bench-") as tmp:
        cache = args.cache_dir if args.cache_dir is not None else Path(tmp)
        result = run(cache, args.n, [k for k in args.ks if k <= args.n], progress=not args.quiet)
    if args.json is not None:
        args.json.write_text(json.dumps(result, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
