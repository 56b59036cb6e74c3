"""Load the tokenizer, the trained policy and the frozen reference model.

The same functions serve the offline tiny model (a local directory) and real checkpoints (a local
directory or a Hugging Face model name). Failures are one-line :class:`ModelLoadError` messages: a path
that is not a model directory, a missing directory, an unreachable hub.

A directory holding only a PEFT adapter (``adapter_config.json``, no ``config.json``), as LoRA training
saves it, loads too: the adapter's base model is loaded and the adapter put on it.

Vision-language checkpoints (a config with a ``vision_config``, e.g. Qwen2.5-VL) load through the same functions
with ``AutoModelForImageTextToText``; their *processing class* is the processor (``AutoProcessor``: the image
processor, the text tokenizer and the chat template) where a text model's is its tokenizer. The one way to get
either is :func:`load_processing_class` (or :func:`processing_class_for` with a loaded model);
``rlvr_bench.data.templates.text_tokenizer`` gives the text tokenizer of either. Without torchvision (CPU installs)
transformers cannot build a Qwen2-VL-family processor, whose video processor needs it: :func:`load_processor`
then builds the same processor class without its video processor (images only) from the checkpoint's image
processor (the PIL backend), tokenizer and chat template, and saves it back in the same files.
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
    "is_vision_config",
    "is_vision_model",
    "load_policy",
    "load_processing_class",
    "load_processor",
    "load_reference",
    "load_tokenizer",
    "processing_class_for",
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
    return _setup_tokenizer(tok, padding_side, str(name_or_path))


def _setup_tokenizer(tok: Any, padding_side: str, name: str) -> Any:
    tok.padding_side = padding_side
    if tok.pad_token is None:
        if tok.eos_token is None:
            raise ModelLoadError(f"tokenizer '{name}' has neither a pad nor an EOS token; add one")
        tok.pad_token = tok.eos_token
    return tok


def is_vision_config(config: Any) -> bool:
    """True for a vision-language model's config (it has a ``vision_config``)."""
    return getattr(config, "vision_config", None) is not None


def is_vision_model(model_or_path: Any, *, trust_remote_code: bool = False) -> bool:
    """True when a loaded model (PEFT-wrapped or not) or a checkpoint (directory, adapter directory or hub name) is a
    vision-language model; its config is read without the weights."""
    config = getattr(model_or_path, "config", None)
    if config is not None:
        return is_vision_config(config)
    return is_vision_config(_model_config(str(model_or_path), trust_remote_code))


def load_processor(name_or_path: str | Path, *, trust_remote_code: bool = False) -> Any:
    """A vision-language checkpoint's processor (image processor + text tokenizer + chat template), its tokenizer
    set up as :func:`load_tokenizer` sets one up (left padding, a pad token)."""
    from transformers import AutoProcessor

    source = _check_source(name_or_path, _TOKENIZER_FILES + _MODEL_FILES + (_ADAPTER_FILE,), "processor")
    if _is_adapter_dir(source) and not (Path(source) / "preprocessor_config.json").is_file():
        source = _adapter_base(source)
    try:
        processor = _call_hub(AutoProcessor.from_pretrained, source, "processor", trust_remote_code=trust_remote_code)
    except ImportError as err:  # torchvision missing: the video processor cannot be built
        if "torchvision" not in str(err).lower():
            raise ModelLoadError(f"cannot load the processor of '{source}': {_first_line(err)}") from None
        processor = _image_only_processor(source, trust_remote_code)
    if not hasattr(processor, "image_processor"):
        raise ModelLoadError(f"'{source}' has no image processor (got {type(processor).__name__}); "
                             "a vision-language model needs one (preprocessor_config.json)")
    _setup_tokenizer(processor.tokenizer, "left", str(name_or_path))
    return processor


def load_processing_class(name_or_path: str | Path, *, trust_remote_code: bool = False) -> Any:
    """What turns a model's inputs into ids: the processor of a vision-language model, else the tokenizer."""
    if is_vision_model(name_or_path, trust_remote_code=trust_remote_code):
        return load_processor(name_or_path, trust_remote_code=trust_remote_code)
    return load_tokenizer(name_or_path, trust_remote_code=trust_remote_code)


def processing_class_for(model: Any, given: Any = None, *, trust_remote_code: bool = False) -> Any:
    """The processing class to use with a loaded ``model``: ``given`` when it already fits (a processor, or any
    tokenizer of a text model), else the processor of the vision-language checkpoint the model was loaded from
    (its config's ``_name_or_path``), so callers that hold only the text tokenizer still get the pixels right."""
    if not is_vision_model(model) or hasattr(given, "image_processor"):
        return given
    source = getattr(getattr(model, "config", None), "_name_or_path", None)
    if not source:
        raise ModelLoadError("a vision-language model needs its processor (AutoProcessor); pass it as the "
                             "tokenizer / processing class")
    return load_processor(source, trust_remote_code=trust_remote_code)


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
    """A causal LM, or a vision-language model (``AutoModelForImageTextToText``) when its config says so."""
    from transformers import AutoModelForCausalLM, AutoModelForImageTextToText

    source = _check_source(name_or_path, _MODEL_FILES + (_ADAPTER_FILE,), "model")
    if _is_adapter_dir(source):
        return _load_adapter(source, torch_dtype, trust_remote_code, trainable=trainable_adapter)
    auto = AutoModelForImageTextToText if is_vision_model(source, trust_remote_code=trust_remote_code) \
        else AutoModelForCausalLM
    return _call_hub(auto.from_pretrained, source, "model", dtype=torch_dtype, trust_remote_code=trust_remote_code)


def _model_config(source: str, trust_remote_code: bool) -> Any:
    """A checkpoint's config without its weights (an adapter directory: its base model's)."""
    from transformers import AutoConfig

    source = _check_source(source, _MODEL_FILES + (_ADAPTER_FILE,), "model")
    if _is_adapter_dir(source):
        source = _adapter_base(source)
    return _call_hub(AutoConfig.from_pretrained, source, "model", trust_remote_code=trust_remote_code)


def _adapter_base(path: str) -> str:
    base = json.loads((Path(path) / _ADAPTER_FILE).read_text()).get("base_model_name_or_path")
    if not base:
        raise ModelLoadError(f"adapter directory '{path}' does not name its base model (base_model_name_or_path)")
    return str(base)


_IMAGE_ONLY: dict[type, type] = {}


def _image_only_processor(source: str, trust_remote_code: bool) -> Any:
    """The checkpoint's processor class built from its image processor, tokenizer and chat template, without the
    video processor (which needs torchvision); it saves itself in the files ``AutoProcessor`` reads."""
    from transformers import AutoImageProcessor, AutoTokenizer
    from transformers.models.auto.processing_auto import processor_class_from_name

    config = {}
    for name in ("processor_config.json", "preprocessor_config.json"):
        if (Path(source) / name).is_file():
            config = {**json.loads((Path(source) / name).read_text()), **config}
    cls_name = config.get("processor_class")
    cls = processor_class_from_name(cls_name) if cls_name else None
    if cls is None or "video_processor" not in cls.get_attributes():
        raise ModelLoadError(f"cannot load the processor of '{source}' without torchvision "
                             f"(processor class {cls_name!r}); install torchvision")
    kwargs = {"trust_remote_code": trust_remote_code}
    image = _call_hub(AutoImageProcessor.from_pretrained, source, "image processor", **kwargs)
    tok = _call_hub(AutoTokenizer.from_pretrained, source, "tokenizer", **kwargs)
    template = Path(source) / "chat_template.jinja"
    chat = template.read_text() if template.is_file() else getattr(tok, "chat_template", None)
    return _image_only_class(cls)(image_processor=image, tokenizer=tok, video_processor=None, chat_template=chat)


def _image_only_class(cls: type) -> type:
    """``cls`` (a processor class with a video processor) accepting none and saving without one."""
    if cls not in _IMAGE_ONLY:

        def check_argument_for_proper_class(self, argument_name, argument):
            if argument_name == "video_processor" and argument is None:
                return None
            return cls.check_argument_for_proper_class(self, argument_name, argument)

        def save_pretrained(self, save_directory, **kwargs):
            out = Path(save_directory)
            out.mkdir(parents=True, exist_ok=True)
            self.tokenizer.save_pretrained(out)
            self.image_processor.save_pretrained(out)
            (out / "processor_config.json").write_text(json.dumps({"processor_class": cls.__name__}, indent=2) + "\n")
            if self.chat_template:
                (out / "chat_template.jinja").write_text(self.chat_template)
            return [str(out)]

        _IMAGE_ONLY[cls] = type(cls.__name__, (cls,), {
            "check_argument_for_proper_class": check_argument_for_proper_class,
            "save_pretrained": save_pretrained, "__module__": __name__,
            "__doc__": f"{cls.__name__} without its video processor (no torchvision here): images only."})
    return _IMAGE_ONLY[cls]


def _load_adapter(path: str, torch_dtype: Any, trust_remote_code: bool, *, trainable: bool):
    """Base model named in ``adapter_config.json`` + the adapter in ``path``."""
    from peft import PeftModel

    base = _load_causal_lm(_adapter_base(path), torch_dtype, trust_remote_code, trainable_adapter=trainable)
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
