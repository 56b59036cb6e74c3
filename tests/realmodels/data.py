"""Tiny local math data for the real-architecture fixtures: a benchmark file and a traces file (jsonl)."""

from __future__ import annotations

import json
from pathlib import Path

__all__ = ["math_rows", "trace_rows", "write_math_jsonl", "write_traces_jsonl"]

# (a, b) pairs: small sums whose text is plain ASCII (the fixture tokenizers know printable ASCII + newline)
_PAIRS = ((2, 3), (4, 1), (7, 5), (6, 6), (9, 8), (3, 4), (5, 2), (8, 1), (1, 1), (12, 7), (15, 9), (20, 22))


def math_rows(n: int = 6) -> list[dict[str, str]]:
    """``n`` rows ``{"id": "q0", "problem": "What is 2+3?", "answer": "5"}`` (n at most 12)."""
    if not 0 < n <= len(_PAIRS):
        raise ValueError(f"n must be in 1..{len(_PAIRS)}, got {n}")
    return [{"id": f"q{i}", "problem": f"What is {a}+{b}?", "answer": str(a + b)}
            for i, (a, b) in enumerate(_PAIRS[:n])]


def trace_rows(n: int = 6) -> list[dict[str, str]]:
    """:func:`math_rows` with a worked ``solution``: ``"2+3=5. The answer is \\\\boxed{5}."``."""
    rows = math_rows(n)
    for r, (a, b) in zip(rows, _PAIRS):
        r["solution"] = f"{a}+{b}={a + b}. The answer is \\boxed{{{a + b}}}."
    return rows


def _write(path: str | Path, rows: list[dict[str, str]]) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def write_math_jsonl(path: str | Path, n: int = 6) -> Path:
    """Write :func:`math_rows` (id, problem, answer) to ``path`` (a ``.jsonl`` benchmark file)."""
    return _write(path, math_rows(n))


def write_traces_jsonl(path: str | Path, n: int = 6) -> Path:
    """Write :func:`trace_rows` (id, problem, answer, solution) to ``path``: usable as ``sft.traces_file``
    (problem + solution columns) and as a data file."""
    return _write(path, trace_rows(n))
