"""Load the tokenizer, the trained policy and the frozen reference model.

The same functions serve the offline tiny model (a local directory) and real checkpoints (a local
directory or a Hugging Face model name). Failures are one-line :class:`ModelLoadError` messages: a path
that is not a model directory, a missing directory, an unreachable hub.

A directory holding only a PEFT adapter (``adapter_config.json``, no ``config.json``), as LoRA training
saves it, loads too: the adapter's base model is loaded and the adapter put on it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rlvr_bench.errors import UserError
from rlvr_bench.utils.hub import HubUnavailableError, hub_offline, require_hub

if TYPE_CHECKING:  # pragma: no cover - typing only
    import torch
    from torch import nn
    from transformers import PreTrainedModel, PreTrainedTokenizerBase

__all__ = [
    "DTYPES",
    "HubModelError",
    "LoraSpec",
    "ModelLoadError",
    "apply_lora",
    "count_parameters",
    "enable_checkpointing",
    "load_policy",
    "load_reference",
    "load_tokenizer",
    "lora_spec",
    "resolve_device",
    "resolve_dtype",
]

DTYPES = ("auto", "float32", "bfloat16", "float16")
_MODEL_FILES = ("config.json",)
_ADAPTER_FILE = "adapter_config.json"
_TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "tokenizer.model", "vocab.json")


class ModelLoadError(UserError):
    """A model or tokenizer cannot be loaded (message: one line)."""


class HubModelError(ModelLoadError, HubUnavailableError):
    """A hub model name while the Hugging Face hub cannot be reached (one line, with the fix)."""


@dataclass(frozen=True)
class LoraSpec:
    """LoRA adapter settings (applied with PEFT).

    Attributes:
        r: rank.
        alpha: scale numerator (scale = alpha / r).
        dropout: dropout on the LoRA branch.
        target_modules: module names that get adapters, or ``"all-linear"``.
    """

    r: int = 16
    alpha: int = 32
    dropout: float = 0.05
    target_modules: tuple[str, ...] | str = ("q_proj", "k_proj", "v_proj", "o_proj")


def lora_spec(lora: Any) -> LoraSpec | None:
    """Normalise a LoRA setting: ``None``, a :class:`LoraSpec`, a dict, or any object with the attributes
    ``r``/``alpha``/``dropout``/``target_modules`` (e.g. the recipe's ``LoraConfig``). An ``enabled``
    field that is False means no LoRA."""
    if lora is None or isinstance(lora, LoraSpec):
        return lora
    if isinstance(lora, dict):
        fields = dict(lora)
    elif dataclasses.is_dataclass(lora):
        fields = {f.name: getattr(lora, f.name) for f in dataclasses.fields(lora)}
    else:
        fields = dict(vars(lora))
    if not fields.pop("enabled", True):
        return None
    unknown = sorted(set(fields) - {"r", "alpha", "dropout", "target_modules"})
    if unknown:
        raise ModelLoadError(f"unknown LoRA setting(s) {', '.join(unknown)}; valid: r, alpha, dropout, target_modules")
    targets = fields.get("target_modules", LoraSpec.target_modules)
    if not isinstance(targets, str):
        fields["target_modules"] = tuple(targets)
    return LoraSpec(**fields)


def resolve_device(device: str | torch.device | None = None) -> torch.device:
    """``None`` -> the first CUDA device when there is one, else the CPU."""
    import torch

    if device is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def resolve_dtype(dtype: str | torch.dtype = "auto", device: str | torch.device | None = None) -> torch.dtype:
    """Weights dtype: ``"auto"`` is bfloat16 on a CUDA device with native bf16 support, else float32."""
    import torch

    if isinstance(dtype, torch.dtype):
        return dtype
    if dtype not in DTYPES:
        raise ModelLoadError(f"unknown dtype {dtype!r}; valid: {', '.join(DTYPES)}")
    if dtype != "auto":
        return getattr(torch, dtype)
    dev = resolve_device(device)
    if dev.type == "cuda" and torch.cuda.is_bf16_supported(including_emulation=False):
        return torch.bfloat16
    return torch.float32


def load_tokenizer(
    name_or_path: str | Path, *, padding_side: str = "left", trust_remote_code: bool = False
) -> PreTrainedTokenizerBase:
    """Load a tokenizer; pad token = EOS when it has none; left padding (for generation) by default."""
    from transformers import AutoTokenizer

    source = _check_source(name_or_path, _TOKENIZER_FILES + _MODEL_FILES, "tokenizer")
    if padding_side not in ("left", "right"):
        raise ModelLoadError(f"padding_side must be 'left' or 'right', got {padding_side!r}")
    tok = _call_hub(AutoTokenizer.from_pretrained, source, "tokenizer", trust_remote_code=trust_remote_code)
    tok.padding_side = padding_side
    if tok.pad_token is None:
        if tok.eos_token is None:
            raise ModelLoadError(f"tokenizer '{name_or_path}' has neither a pad nor an EOS token; add one")
        tok.pad_token = tok.eos_token
    return tok


def load_policy(
    name_or_path: str | Path,
    *,
    dtype: str | torch.dtype = "auto",
    device: str | torch.device | None = None,
    lora: Any = None,
    trust_remote_code: bool = False,
    gradient_checkpointing: bool = False,
) -> nn.Module:
    """Load the causal LM that is trained.

    Args:
        name_or_path: local model directory (or PEFT adapter directory) or Hugging Face model name.
        dtype: ``"auto"``, ``"float32"``, ``"bfloat16"``, ``"float16"`` or a ``torch.dtype``.
        device: target device; ``None`` = CUDA when available, else CPU.
        lora: LoRA settings (see :func:`lora_spec`); the base weights are then frozen and only the
            adapter trains. An adapter directory is reloaded trainable.
        trust_remote_code: allow model code from the hub.
        gradient_checkpointing: recompute activations in the backward pass (non-reentrant); turns off
            the KV cache in the config.

    Returns:
        a ``PreTrainedModel`` (or a ``PeftModel`` with LoRA) in the mode transformers loads it (eval);
        trainers switch it to train mode.
    """
    torch_dtype = resolve_dtype(dtype, device)
    model = _load_causal_lm(name_or_path, torch_dtype, trust_remote_code, trainable_adapter=True)
    spec = lora_spec(lora)
    if spec is not None and not _is_peft(model):
        model = apply_lora(model, spec)
    if gradient_checkpointing:
        enable_checkpointing(model)
    return model.to(resolve_device(device))


def load_reference(
    name_or_path: str | Path,
    *,
    dtype: str | torch.dtype = "auto",
    device: str | torch.device | None = None,
    trust_remote_code: bool = False,
) -> PreTrainedModel:
    """Load a frozen copy of a causal LM (KL reference, teacher): eval mode, ``requires_grad`` False.

    A PEFT adapter directory is merged into its base model.
    """
    torch_dtype = resolve_dtype(dtype, device)
    model = _load_causal_lm(name_or_path, torch_dtype, trust_remote_code, trainable_adapter=False)
    if _is_peft(model):
        model = model.merge_and_unload()
    model.requires_grad_(False)
    model.eval()
    return model.to(resolve_device(device))


def apply_lora(model: nn.Module, lora: Any) -> nn.Module:
    """Wrap ``model`` with a PEFT LoRA adapter for causal LM training; returns the ``PeftModel``."""
    from peft import LoraConfig, TaskType, get_peft_model

    spec = lora_spec(lora)
    if spec is None:
        return model
    targets = spec.target_modules if isinstance(spec.target_modules, str) else list(spec.target_modules)
    config = LoraConfig(
        r=spec.r,
        lora_alpha=spec.alpha,
        lora_dropout=spec.dropout,
        target_modules=targets,
        task_type=TaskType.CAUSAL_LM,
    )
    try:
        with _quiet_peft():
            return get_peft_model(model, config)
    except ValueError as err:  # e.g. target modules not found in the model
        raise ModelLoadError(f"cannot apply LoRA: {_first_line(err)}") from None


def enable_checkpointing(model: nn.Module) -> None:
    """Turn on non-reentrant activation checkpointing (works with frozen LoRA bases) and drop the KV cache."""
    base = model.get_base_model() if _is_peft(model) else model
    kwargs = {"use_reentrant": False}
    if hasattr(base, "activation_checkpointing_enable"):  # transformers >= 5.x name
        base.activation_checkpointing_enable(activation_checkpointing_kwargs=kwargs)
    else:
        base.gradient_checkpointing_enable(gradient_checkpointing_kwargs=kwargs)
    if getattr(base, "config", None) is not None:
        base.config.use_cache = False


def count_parameters(model: nn.Module, *, trainable_only: bool = False) -> int:
    """Number of (trainable) parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


# -------------------------------------------------------------------------------------------- internals


def _load_causal_lm(name_or_path: str | Path, torch_dtype: Any, trust_remote_code: bool, *, trainable_adapter: bool):
    from transformers import AutoModelForCausalLM

    source = _check_source(name_or_path, _MODEL_FILES + (_ADAPTER_FILE,), "model")
    if _is_adapter_dir(source):
        return _load_adapter(source, torch_dtype, trust_remote_code, trainable=trainable_adapter)
    return _call_hub(
        AutoModelForCausalLM.from_pretrained, source, "model", dtype=torch_dtype, trust_remote_code=trust_remote_code
    )


def _load_adapter(path: str, torch_dtype: Any, trust_remote_code: bool, *, trainable: bool):
    """Base model named in ``adapter_config.json`` + the adapter in ``path``."""
    from peft import PeftModel

    base_name = json.loads((Path(path) / _ADAPTER_FILE).read_text()).get("base_model_name_or_path")
    if not base_name:
        raise ModelLoadError(f"adapter directory '{path}' does not name its base model (base_model_name_or_path)")
    base = _load_causal_lm(base_name, torch_dtype, trust_remote_code, trainable_adapter=trainable)
    if (Path(path) / "generation_config.json").is_file():  # the run's stop rule, saved with its adapter
        from transformers import GenerationConfig

        base.generation_config = GenerationConfig.from_pretrained(path)
    with _quiet_peft():
        return PeftModel.from_pretrained(base, path, is_trainable=trainable)


@contextlib.contextmanager
def _quiet_peft() -> Iterator[None]:
    """Silence the FutureWarning peft triggers by reading transformers' deprecated checkpointing flag."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*", category=FutureWarning)
        yield


def _is_adapter_dir(source: str) -> bool:
    path = Path(source)
    return path.is_dir() and (path / _ADAPTER_FILE).is_file() and not (path / "config.json").is_file()


def _is_peft(model: Any) -> bool:
    return hasattr(model, "peft_config") and hasattr(model, "get_base_model")


def _check_source(name_or_path: str | Path, needed: tuple[str, ...], what: str) -> str:
    """A local directory with one of ``needed`` files, or a hub-style name; anything else fails here."""
    text = str(name_or_path)
    path = Path(text).expanduser()
    if path.exists():
        if not path.is_dir():
            raise ModelLoadError(f"'{text}' is a file, not a {what} directory")
        if not any((path / f).is_file() for f in needed):
            found = sorted(p.name for p in path.iterdir())[:8]
            raise ModelLoadError(
                f"'{text}' is not a {what} directory (none of {', '.join(needed)}; "
                f"it holds: {', '.join(found) or 'nothing'})"
            )
        return str(path)
    looks_local = text.startswith((".", "/", "~")) or text.count("/") > 1 or "\\" in text
    if looks_local or not text:
        raise ModelLoadError(f"{what} directory '{text}' does not exist")
    return text  # a hub name such as "Qwen/Qwen2.5-Math-1.5B"


def _call_hub(fn: Any, source: str, what: str, **kwargs: Any) -> Any:
    """Call a ``from_pretrained``; hub and file errors become one ``ModelLoadError`` line.

    A hub name while the hub is offline fails at once (:class:`HubModelError`) unless the Hugging Face
    cache holds it: it then loads from the cache only (``local_files_only``), without network retries.
    """
    if not Path(source).exists() and hub_offline():
        if not _in_hub_cache(source, what):
            require_hub(f"{what} {source!r}", "pass a local model directory", error=HubModelError)
        kwargs = {**kwargs, "local_files_only": True}
    try:
        return fn(source, **kwargs)
    except OSError as err:  # transformers raises OSError (and subclasses) for hub / file problems
        where = "directory" if Path(source).exists() else "Hugging Face name (hub unreachable or no such repo?)"
        raise ModelLoadError(f"cannot load {what} from {where} '{source}': {_first_line(err)}") from None


def _in_hub_cache(repo_id: str, what: str) -> bool:
    """True when the Hugging Face cache holds ``repo_id``'s config (model) or tokenizer files."""
    from huggingface_hub import try_to_load_from_cache

    files = _TOKENIZER_FILES + _MODEL_FILES if what == "tokenizer" else _MODEL_FILES
    try:
        return any(isinstance(try_to_load_from_cache(repo_id, f), str) for f in files)
    except (ValueError, OSError):  # not a valid repo id, unreadable cache
        return False


def _first_line(err: BaseException) -> str:
    text = str(err).strip() or type(err).__name__
    return text.splitlines()[0]
