"""Calibration of the toy visual world: build the VL base and teacher, then measure pass@k on the test split.

    .venv/bin/python bench/visual_calibration.py                      # fresh temporary cache, n = 64
    .venv/bin/python bench/visual_calibration.py --cache-dir ~/.cache/rlvr_bench --json visual.json
    .venv/bin/python bench/visual_calibration.py --set base.train.steps=400 --set base.errors.misread_prob=0.2

Prints the build time of both checkpoints, a table of pass@1 / pass@8 / pass@n per question kind for both
(temperature 1.0, no top-k / top-p truncation, unbiased estimator, graded by the boxed integer), the test
problems the teacher solves at k = n that the base never solves, and the calibration bands of the toy
families (``docs/visual.md``): base pass@1 in 0.15-0.60, base pass@n at least 0.25 above its pass@1, teacher
pass@1 at least 0.20 above the base's, and at least one problem solved by the teacher only.

Sampling is one function, :func:`sample_correct_counts`: plain ``model.generate`` on the processor's outputs
(the interface's prompt path: chat template, then the processor with the chart), ``num_return_sequences = n``.
The project's rollout engine is the real one; this script only has to be simple and independent.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import re
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from rlvr_bench.config.toy_visual import ToyVisualConfig
from rlvr_bench.data.toy_visual import visual_dataset
from rlvr_bench.metrics import pass_at_k
from rlvr_bench.models.pretrain import auto_threads
from rlvr_bench.models.pretrain_vision import build_vl_base, build_vl_teacher, visual_messages

_BOXED = re.compile(r"\\boxed\{([^{}]*)\}")
BANDS = {"base_pass1": (0.15, 0.60), "base_gain_at_n": 0.25, "teacher_gain": 0.20, "teacher_only": 1}


def boxed_correct(completion: str, answer: str) -> bool:
    """True when the last ``\\boxed{...}`` of ``completion`` is ``answer`` (as an integer)."""
    found = _BOXED.findall(completion)
    try:
        return bool(found) and int(found[-1].strip()) == int(answer)
    except ValueError:
        return False


def sample_correct_counts(model_dir: str | Path, rows: Any, *, n: int = 64, temperature: float = 1.0,
                          max_new_tokens: int = 48, problems_per_batch: int = 16, seed: int = 0) -> np.ndarray:
    """Per-row number of correct samples out of ``n`` for the rows' ``problem``/``image``/``answer``."""
    import torch
    from transformers import AutoModelForImageTextToText, AutoProcessor

    processor = AutoProcessor.from_pretrained(model_dir)
    model = AutoModelForImageTextToText.from_pretrained(model_dir).eval()
    tok = processor.tokenizer
    counts = np.zeros(len(rows), dtype=np.int64)
    torch.manual_seed(seed)
    with torch.no_grad():
        for start in range(0, len(rows), problems_per_batch):
            chunk = rows[start : start + problems_per_batch]
            texts = [processor.apply_chat_template(visual_messages(p), tokenize=False, add_generation_prompt=True)
                     for p in chunk["problem"]]
            enc = processor(text=texts, images=chunk["image"], return_tensors="pt", padding=True)
            out = model.generate(**enc, do_sample=True, temperature=temperature, top_k=0, top_p=1.0,
                                 num_return_sequences=n, max_new_tokens=max_new_tokens,
                                 pad_token_id=tok.pad_token_id, eos_token_id=tok.eos_token_id)
            completions = tok.batch_decode(out[:, enc["input_ids"].shape[1]:], skip_special_tokens=True)
            for j, text in enumerate(completions):
                counts[start + j // n] += boxed_correct(text, chunk["answer"][j // n])
    return counts


def _table(counts: dict[str, np.ndarray], kinds: list[str], n: int) -> list[dict[str, Any]]:
    rows = []
    for model_name, c in counts.items():
        for kind in ["all", *sorted(set(kinds))]:
            sel = np.array([kind in ("all", k) for k in kinds])
            row = {"model": model_name, "kind": kind, "problems": int(sel.sum())}
            for k in sorted({1, min(8, n), n}):
                row[f"pass@{k}"] = round(float(pass_at_k(n, c[sel], k).mean()), 3)
            rows.append(row)
    return rows


def check_bands(base: dict[str, float], teacher: dict[str, float], teacher_only: int) -> list[tuple[str, bool, str]]:
    """(band, met, figures) for each calibration band of the toy families."""
    lo, hi = BANDS["base_pass1"]
    return [
        ("base pass@1 in 0.15-0.60", lo <= base["p1"] <= hi, f"{base['p1']:.3f}"),
        ("base pass@n >= pass@1 + 0.25", base["pn"] - base["p1"] >= BANDS["base_gain_at_n"],
         f"{base['pn']:.3f} - {base['p1']:.3f} = {base['pn'] - base['p1']:+.3f}"),
        ("teacher pass@1 >= base + 0.20", teacher["p1"] - base["p1"] >= BANDS["teacher_gain"],
         f"{teacher['p1']:.3f} - {base['p1']:.3f} = {teacher['p1'] - base['p1']:+.3f}"),
        ("problems solved by the teacher only", teacher_only >= BANDS["teacher_only"], str(teacher_only)),
    ]


def _apply_sets(cfg: ToyVisualConfig, sets: list[str]) -> ToyVisualConfig:
    """``--set base.train.steps=400``: override one field of ``ToyVisualConfig`` (value parsed as YAML)."""
    for item in sets:
        key, _, value = item.partition("=")
        *path, leaf = key.split(".")
        node = cfg
        for part in path:
            node = getattr(node, part)
        if not dataclasses.is_dataclass(node) or leaf not in {f.name for f in dataclasses.fields(node)}:
            raise SystemExit(f"error: --set {key}: no such field of toy.visual")
        setattr(node, leaf, yaml.safe_load(value))
    return cfg


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cache-dir", default=None, help="cache root (default: a fresh temporary directory)")
    ap.add_argument("--n", type=int, default=64, help="samples per problem")
    ap.add_argument("--set", action="append", default=[], help="override a toy.visual field, e.g. base.train.steps=400")
    ap.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = ap.parse_args(argv)
    cfg = _apply_sets(ToyVisualConfig(), args.set)
    cache = args.cache_dir or tempfile.mkdtemp(prefix="rlvr-visual-")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    times = {}
    for name, build in (("base", build_vl_base), ("teacher", build_vl_teacher)):
        start = time.perf_counter()
        path = build(cfg, cache_dir=cache)
        times[name] = round(time.perf_counter() - start, 1)
        print(f"{name}: {path} ({times[name]} s)", flush=True)
    test = visual_dataset("test", task=cfg.tasks)
    import torch

    torch.set_num_threads(auto_threads(0))
    counts, sample_seconds = {}, {}
    for name, build in (("base", build_vl_base), ("teacher", build_vl_teacher)):
        start = time.perf_counter()
        counts[name] = sample_correct_counts(build(cfg, cache_dir=cache, progress=False), test, n=args.n)
        sample_seconds[name] = round(time.perf_counter() - start, 1)
    rows = _table(counts, list(test["kind"]), args.n)
    head = list(rows[0])
    print("| " + " | ".join(head) + " |\n|" + "---|" * len(head))
    for r in rows:
        print("| " + " | ".join(str(r[h]) for h in head) + " |")
    teacher_only = int(((counts["teacher"] > 0) & (counts["base"] == 0)).sum())
    base_only = int(((counts["base"] > 0) & (counts["teacher"] == 0)).sum())
    summary = {m: {"p1": float(pass_at_k(args.n, c, 1).mean()), "pn": float(pass_at_k(args.n, c, args.n).mean())}
               for m, c in counts.items()}
    print(f"\nsolved at k={args.n} by the teacher only: {teacher_only}; by the base only: {base_only}")
    print(f"build seconds {times}; sampling seconds {sample_seconds}")
    bands = check_bands(summary["base"], summary["teacher"], teacher_only)
    for band, ok, figures in bands:
        print(f"{'PASS' if ok else 'MISS'}  {band:<38} {figures}")
    if args.json is not None:
        args.json.write_text(json.dumps({"rows": rows, "teacher_only": teacher_only, "base_only": base_only,
                                         "build_seconds": times, "sample_seconds": sample_seconds,
                                         "bands": bands, "config": dataclasses.asdict(cfg)}, indent=1) + "\n")
    return 0 if all(ok for _, ok, _ in bands) else 1


if __name__ == "__main__":
    sys.exit(main())
