"""What tells two results apart by their files: the model's revision or weights hash, the template hashes.

``env.json`` and every sample file record these next to the library versions (``rlvr_bench.utils.envinfo``):
two runs that name the same model and template but used other weights, another hub revision or another chat
template can then be told apart without rerunning anything.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

__all__ = ["WEIGHT_SUFFIXES", "model_provenance", "weights_sha256"]

WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".gguf")
_CHUNK = 1 << 22
_CACHE: dict[tuple[str, float, int], str] = {}


def _weight_files(directory: Path) -> list[Path]:
    """Weight files of a model or adapter directory (not the optimizer or trainer state)."""
    skip = ("optimizer", "trainer_state", "scheduler", "rng", "training_args")
    return sorted(p for p in directory.iterdir() if p.is_file() and p.suffix in WEIGHT_SUFFIXES
                  and not p.name.startswith(skip))


def _file_sha256(path: Path) -> str:
    stat = path.stat()
    key = (str(path.resolve()), stat.st_mtime, stat.st_size)
    if key not in _CACHE:
        digest = hashlib.sha256()
        with open(path, "rb") as fh:
            while chunk := fh.read(_CHUNK):
                digest.update(chunk)
        _CACHE[key] = digest.hexdigest()
    return _CACHE[key]


def weights_sha256(directory: str | Path) -> str | None:
    """sha256 over the weight files of a local directory (names and contents, in name order); None when it
    holds none. Each file's hash is remembered per process (keyed by path, size and modification time)."""
    directory = Path(directory)
    files = _weight_files(directory) if directory.is_dir() else []
    if not files:
        return None
    digest = hashlib.sha256()
    for f in files:
        digest.update(f"{f.name}:{_file_sha256(f)}\n".encode())
    return digest.hexdigest()


def model_provenance(name_or_path: str | Path, model: Any = None) -> dict[str, Any]:
    """``{"name_or_path", "resolved_path", "revision", "weights_sha256"}`` of a model reference.

    ``revision`` is the hub commit the weights were loaded from (``config._commit_hash``) when the model came
    from the hub; ``weights_sha256`` hashes a local directory's weight files (a LoRA adapter directory: the
    adapter's, plus its base model's provenance under ``base``).
    """
    import json

    text = str(name_or_path)
    path = Path(text).expanduser()
    config = getattr(model, "config", None)
    record: dict[str, Any] = {"name_or_path": text, "resolved_path": str(path.resolve()) if path.exists() else None,
                              "revision": getattr(config, "_commit_hash", None), "weights_sha256": None}
    if path.is_dir():
        record["weights_sha256"] = weights_sha256(path)
        adapter = path / "adapter_config.json"
        if adapter.is_file() and not (path / "config.json").is_file():
            try:
                base = json.loads(adapter.read_text()).get("base_model_name_or_path")
            except (OSError, json.JSONDecodeError):
                base = None
            if base:
                record["base"] = model_provenance(base)
    return record
