"""The run directory: the contract between train, eval and compare (docs/architecture.md).

```
runs/<study>/<run>/
  config.yaml                 fully resolved config, re-runnable as a recipe
  env.json                    environment record (rlvr_bench.utils.envinfo)
  metrics.jsonl               training logs, one line per step
  checkpoints/step-<N>/       HF save_pretrained + trainer state
  eval/step-<N>/<benchmark>.samples.jsonl
  eval/summary.jsonl
  complete.json               written last: the run finished (the study skips it)
```
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from rlvr_bench.utils.fsio import check_writable, output_error, write_text_atomic

__all__ = ["RunDir", "append_jsonl", "read_jsonl", "write_json_atomic"]

_STEP_RE = re.compile(r"^step-(\d+)$")


def write_json_atomic(path: Path, obj: Any) -> None:
    """Write JSON through a temporary file and ``os.replace`` (never a half-written file).

    Raises:
        rlvr_bench.utils.fsio.OutputLocationError: the file cannot be written (one line: path, reason).
    """
    write_text_atomic(path, json.dumps(obj, indent=2, sort_keys=False, default=str))


def append_jsonl(path: Path, rows: list[dict[str, Any]] | dict[str, Any], *, fsync: bool = False) -> None:
    """Append rows as JSON lines (one ``write`` call, so a crash loses at most a trailing partial line).

    Raises:
        rlvr_bench.utils.fsio.OutputLocationError: the file cannot be written (one line: path, reason).
    """
    if isinstance(rows, dict):
        rows = [rows]
    if not rows:
        return
    data = "".join(json.dumps(r, default=str) + "\n" for r in rows)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "a", encoding="utf-8") as fh:
            fh.write(data)
            fh.flush()
            if fsync:
                os.fsync(fh.fileno())
    except OSError as err:
        raise output_error(path, err) from err


def read_jsonl(path: Path) -> Iterator[dict[str, Any]]:
    """Rows of a JSON-lines file; a truncated last line (a killed writer) is skipped."""
    if not path.exists():
        return
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            if not line.endswith("\n"):
                break  # partial trailing line from a killed process
            line = line.strip()
            if line:
                yield json.loads(line)


class RunDir:
    """Paths and small I/O helpers of one run directory."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    def __repr__(self) -> str:
        return f"RunDir({str(self.path)!r})"

    # paths ------------------------------------------------------------------------------------
    @property
    def config_path(self) -> Path:
        return self.path / "config.yaml"

    @property
    def env_path(self) -> Path:
        return self.path / "env.json"

    @property
    def metrics_path(self) -> Path:
        return self.path / "metrics.jsonl"

    @property
    def checkpoints_dir(self) -> Path:
        return self.path / "checkpoints"

    @property
    def eval_dir(self) -> Path:
        return self.path / "eval"

    @property
    def summary_path(self) -> Path:
        return self.eval_dir / "summary.jsonl"

    @property
    def complete_path(self) -> Path:
        return self.path / "complete.json"

    def checkpoint_dir(self, step: int) -> Path:
        return self.checkpoints_dir / f"step-{step}"

    def samples_path(self, step: int, benchmark: str) -> Path:
        return self.eval_dir / f"step-{step}" / f"{benchmark}.samples.jsonl"

    # state ------------------------------------------------------------------------------------
    def checkpoint_steps(self) -> list[int]:
        """Steps with a complete checkpoint (a ``trainer_state.json`` or model config present)."""
        if not self.checkpoints_dir.is_dir():
            return []
        steps = []
        for child in self.checkpoints_dir.iterdir():
            m = _STEP_RE.match(child.name)
            if m and ((child / "config.json").exists() or (child / "rlvr_state.json").exists()):
                steps.append(int(m.group(1)))
        return sorted(steps)

    def is_complete(self) -> bool:
        return self.complete_path.exists()

    # writes: an OSError becomes one OutputLocationError line naming the path ------------------------
    def check_writable(self) -> None:
        """Create the run directory and prove it takes writes (raises ``OutputLocationError``)."""
        check_writable(self.path)

    def mark_complete(self, info: dict[str, Any] | None = None) -> None:
        write_json_atomic(self.complete_path, info or {})

    def write_env(self, record: dict[str, Any]) -> None:
        write_json_atomic(self.env_path, record)

    def log_metrics(self, row: dict[str, Any]) -> None:
        append_jsonl(self.metrics_path, row)

    def metrics(self) -> list[dict[str, Any]]:
        return list(read_jsonl(self.metrics_path))

    def trim_metrics(self, step: int) -> None:
        """Drop metrics rows after ``step`` (a killed run resumes from its checkpoint at ``step``)."""
        if not self.metrics_path.exists():
            return
        rows = [r for r in read_jsonl(self.metrics_path) if r.get("step", 0) <= step]
        tmp = self.metrics_path.with_name("metrics.jsonl.tmp")
        tmp.write_text("".join(json.dumps(r) + "\n" for r in rows))
        os.replace(tmp, self.metrics_path)

    def summaries(self) -> list[dict[str, Any]]:
        return list(read_jsonl(self.summary_path))
