"""``rlvr-bench verl import CKPT_DIR --out RUN_DIR``: verl actor checkpoints -> an rlvr_bench run directory.

verl writes ``<default_local_dir>/global_step_<N>/actor/`` (sharded FSDP or Megatron state plus a
``huggingface/`` folder with config and tokenizer). Each step is converted with verl's own model merger::

    python -m verl.model_merger merge --backend fsdp --local_dir .../global_step_N/actor --target_dir ...

(or copied when verl already saved full Hugging Face weights there), into the run-directory contract::

    RUN_DIR/config.yaml              the exported recipe, every algorithm value explicit
    RUN_DIR/env.json                 environment record (+ backend verl, verl version, source checkpoints)
    RUN_DIR/metrics.jsonl            verl's per-step metrics (from the export's verl_metrics.jsonl)
    RUN_DIR/checkpoints/step-<N>/    Hugging Face model + tokenizer
    RUN_DIR/verl_import.json         the same provenance (``rlvr-bench eval --out`` rewrites env.json)
    RUN_DIR/complete.json            when the final step was imported

so ``rlvr-bench eval``, ``compare`` and ``study`` treat it as a local run. Importing again skips the steps
already converted.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rlvr_bench.backends.verl.errors import VerlBackendError

__all__ = ["IMPORT_RECORD", "ImportResult", "eval_command", "find_checkpoints", "find_manifest", "import_checkpoints", "merge_command"]

IMPORT_RECORD = "verl_import.json"
"""Provenance of an imported run (backend, verl version, source checkpoints, overrides)."""

_STEP = re.compile(r"^global_step_(\d+)$")
_WEIGHTS = ("*.safetensors", "pytorch_model*.bin")


@dataclass(frozen=True)
class ImportResult:
    """The run directory written and the steps converted now / found already converted."""

    run_dir: Path
    converted: list[int]
    skipped: list[int]


def find_checkpoints(ckpt_dir: Path) -> dict[int, Path]:
    """``{step: .../global_step_N/actor}`` under an export dir, a checkpoints dir or one global_step dir."""
    candidates = [ckpt_dir, ckpt_dir / "checkpoints"]
    found: dict[int, Path] = {}
    m = _STEP.match(ckpt_dir.name)
    if m and (ckpt_dir / "actor").is_dir():
        return {int(m.group(1)): ckpt_dir / "actor"}
    for root in candidates:
        if not root.is_dir():
            continue
        for child in root.iterdir():
            m = _STEP.match(child.name)
            if m and (child / "actor").is_dir():
                found[int(m.group(1))] = child / "actor"
        if found:
            break
    return dict(sorted(found.items()))


def find_manifest(ckpt_dir: Path) -> dict[str, Any] | None:
    """The export manifest (export.json) in ``ckpt_dir`` or up to two levels above, with its directory."""
    from rlvr_bench.backends.verl.export import EXPORT_MANIFEST

    for root in (ckpt_dir, *list(ckpt_dir.parents)[:3]):
        path = root / EXPORT_MANIFEST
        if path.is_file():
            manifest = json.loads(path.read_text())
            manifest["_export_dir"] = str(root)
            return manifest
    return None


def _backend(actor: Path) -> str:
    if (actor / "fsdp_config.json").is_file():
        return "fsdp"
    if (actor / "dist_ckpt").is_dir() or (actor / "model" / "dist_ckpt").is_dir():
        return "megatron"
    raise VerlBackendError(f"{actor} holds neither an FSDP (fsdp_config.json) nor a Megatron (dist_ckpt) checkpoint")


def merge_command(python: str, actor: Path, target: Path) -> list[str]:
    """verl 0.9's model-merger command for one actor checkpoint."""
    return [python, "-m", "verl.model_merger", "merge", "--backend", _backend(actor), "--local_dir", str(actor),
            "--target_dir", str(target)]


def _has_weights(folder: Path) -> bool:
    return folder.is_dir() and any(any(folder.glob(p)) for p in _WEIGHTS)


def _convert(actor: Path, target: Path) -> None:
    """One step: full HF weights already saved by verl -> copy; else verl's model merger."""
    from rlvr_bench.backends.verl.launch import verl_python

    tmp = target.with_name(target.name + ".partial")
    if tmp.exists():
        shutil.rmtree(tmp)
    if _has_weights(actor / "huggingface"):
        shutil.copytree(actor / "huggingface", tmp)
    else:
        done = subprocess.run(merge_command(verl_python(), actor, tmp), capture_output=True, text=True)
        if done.returncode != 0 or not _has_weights(tmp):
            tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no weights written"]
            raise VerlBackendError(f"verl's model merger failed on {actor}: {tail[0]}")
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp.rename(target)


def import_checkpoints(ckpt_dir: str | Path, out: str | Path | None = None) -> ImportResult:
    """Convert every verl actor checkpoint under ``ckpt_dir`` into the run directory ``out``.

    Args:
        ckpt_dir: the export directory, its ``checkpoints/`` folder, or one ``global_step_<N>`` folder.
        out: run directory; default: the recipe's ``output_dir`` recorded in the export.

    Raises:
        VerlBackendError: no checkpoints, no export manifest, or the merger failed.
    """
    from rlvr_bench.utils.rundir import RunDir

    ckpt_dir = Path(ckpt_dir).expanduser().resolve()
    steps = find_checkpoints(ckpt_dir)
    if not steps:
        raise VerlBackendError(f"no verl checkpoints (global_step_<N>/actor) under {ckpt_dir}")
    manifest = find_manifest(ckpt_dir)
    if manifest is None:
        raise VerlBackendError(f"no export.json at or above {ckpt_dir}: import needs the rlvr_bench export that "
                               "produced the checkpoints (its recipe becomes config.yaml)")
    run = RunDir(Path(out or manifest["output_dir"]).expanduser())
    converted, skipped = [], []
    for step, actor in steps.items():
        if (run.checkpoint_dir(step) / "config.json").is_file():
            skipped.append(step)
            continue
        _convert(actor, run.checkpoint_dir(step))
        converted.append(step)
    _write_run_files(run, manifest, steps)
    return ImportResult(run_dir=run.path, converted=converted, skipped=skipped)


def _verl_version() -> str | None:
    try:
        from rlvr_bench.backends.verl.launch import verl_python

        done = subprocess.run([verl_python(), "-c", "import verl; print(verl.__version__)"], capture_output=True,
                              text=True, timeout=120)
        return done.stdout.strip() or None
    except (VerlBackendError, subprocess.SubprocessError, OSError):
        return None


def _write_run_files(run: Any, manifest: dict[str, Any], steps: dict[int, Path]) -> None:
    import yaml

    from rlvr_bench.utils.envinfo import environment_record
    from rlvr_bench.utils.rundir import append_jsonl, write_json_atomic

    export_dir = Path(manifest["_export_dir"])
    recipe = yaml.safe_load((export_dir / "recipe.yaml").read_text())
    recipe["output_dir"] = str(run.path)
    run.path.mkdir(parents=True, exist_ok=True)
    run.config_path.write_text(yaml.safe_dump(recipe, sort_keys=False))
    extra = {"method": "rl", "backend": "verl", "verl_version": _verl_version() or manifest.get("verl_version"),
             "export_dir": str(export_dir), "source_checkpoints": {str(k): str(v) for k, v in steps.items()},
             "output_dir": str(run.path), "weights_dtype": "bfloat16 (verl model merger)",
             "verl_overrides": manifest.get("overrides", {})}
    run.write_env(environment_record(seeds=[manifest.get("seed")], decoding=manifest.get("decoding"),
                                     template=manifest.get("template"), extra=extra))
    write_json_atomic(run.path / IMPORT_RECORD, extra)  # survives `rlvr-bench eval --out` rewriting env.json
    metrics = export_dir / "verl_metrics.jsonl"
    if metrics.is_file():
        rows = [json.loads(line) for line in metrics.read_text().splitlines() if line.strip()]
        run.metrics_path.unlink(missing_ok=True)
        append_jsonl(run.metrics_path, [{"step": r.get("step"), "backend": "verl", **r.get("data", {})} for r in rows])
    final = int(recipe.get("trainer", {}).get("steps", -1))
    if final in steps:
        run.mark_complete({"backend": "verl", "steps": sorted(steps)})


def eval_command(run_dir: Path, step: int) -> str:
    """The ``rlvr-bench eval`` command for one imported step, with the recipe's evaluation settings."""
    import shlex

    import yaml

    cfg = yaml.safe_load((Path(run_dir) / "config.yaml").read_text())
    ev, data = cfg.get("evaluation", {}), cfg.get("data", {})
    parts = ["rlvr-bench", "eval", str(Path(run_dir) / "checkpoints" / f"step-{step}")]
    for bench in ev.get("benchmarks", []):
        parts += ["--benchmark", str(bench)]
    n, ks = int(ev.get("n", 64)), list(ev.get("ks") or [])
    light, final = ev.get("intermediate_n"), int((cfg.get("trainer") or {}).get("steps", 0))
    if light and int(light) < n and 0 < step < final:  # a checkpoint before the last: the lighter check
        n = int(light)
        ks = [k for k in ks if k <= n] or ([1] if ks else [])
    parts += ["--n", str(n), "--seeds", ",".join(str(s) for s in ev.get("seeds", [0])),
              "--temperature", str(ev.get("temperature", 1.0)), "--top-p", str(ev.get("top_p", 1.0)),
              "--max-new-tokens", str(ev.get("max_new_tokens", 40)),
              "--template", str(ev.get("template") or data.get("template", "plain"))]
    if ks:
        parts += ["--ks", ",".join(str(k) for k in ks)]
    if ev.get("limit"):
        parts += ["--limit", str(ev["limit"])]
    parts += ["--out", str(run_dir), "--step", str(step)]
    return " ".join(shlex.quote(p) for p in parts)
