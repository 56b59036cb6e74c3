"""Resumable sample files: ``eval/step-<N>/<benchmark>.samples.jsonl``.

The file is the source of truth. Work is split into deterministic units (one seed x a fixed range of
problems); a unit's lines are appended in one write after it is sampled and scored. On restart, lines of
complete units are kept, anything else (a unit cut short by SIGKILL, a partial trailing line) is dropped by
an atomic rewrite, and only the missing units are sampled again, with the same per-unit seed, so a resumed
evaluation gives the same lines as an uninterrupted one.

A line of a visual benchmark also records the row's ``image_id`` (``rlvr_bench.data.images``), never its pixels.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["Unit", "load_complete_units", "plan_units", "unit_seed"]


@dataclass(frozen=True)
class Unit:
    """One seed x problems[start:stop]."""

    seed: int
    start: int
    stop: int


def plan_units(num_problems: int, seeds: list[int], n: int, batch_size: int) -> list[Unit]:
    """Deterministic units: each holds about ``batch_size`` sequences (at least one problem)."""
    per_unit = max(1, batch_size // max(n, 1))
    return [Unit(seed, a, min(a + per_unit, num_problems)) for seed in seeds
            for a in range(0, num_problems, per_unit)]


def unit_seed(unit: Unit) -> int:
    """The sampling seed of a unit: a hash of (seed, start), independent of what else runs."""
    digest = hashlib.sha256(f"{unit.seed}:{unit.start}".encode()).digest()
    return int.from_bytes(digest[:8], "little") & (2**63 - 1)


def load_complete_units(path: Path, units: list[Unit], ids: list[str], n: int) -> tuple[set[Unit], list[dict[str, Any]]]:
    """Read a samples file; keep only lines of complete units (rewriting the file if anything is dropped).

    Returns (complete units, their rows in file order).
    """
    if not path.exists():
        return set(), []
    rows: list[dict[str, Any]] = []
    dropped = False
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            if not line.endswith("\n"):
                dropped = True  # partial line of a killed writer
                break
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError:
                dropped = True
                break
    index = {pid: i for i, pid in enumerate(ids)}
    seen: dict[tuple[int, int], set[int]] = defaultdict(set)
    for r in rows:
        if r.get("id") in index:
            seen[(r["seed"], index[r["id"]])].add(r["sample"])
    complete = {u for u in units if all(len(seen[(u.seed, p)]) == n for p in range(u.start, u.stop))}
    keep_keys = {(u.seed, p) for u in complete for p in range(u.start, u.stop)}
    kept: list[dict[str, Any]] = []
    emitted: set[tuple[int, int, int]] = set()
    for r in rows:
        p = index.get(r.get("id"))
        key = (r.get("seed"), p)
        sample_key = (r.get("seed"), p, r.get("sample"))
        if p is not None and key in keep_keys and sample_key not in emitted:
            kept.append(r)
            emitted.add(sample_key)
        else:
            dropped = True
    if dropped:
        tmp = path.with_name(path.name + ".tmp")
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.write("".join(json.dumps(r) + "\n" for r in kept))
        os.replace(tmp, path)
    return complete, kept
