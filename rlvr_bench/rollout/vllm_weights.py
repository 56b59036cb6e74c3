"""The trainer's weights under the names vLLM's ``model.load_weights`` takes (pure: no I/O, no vLLM import).

vLLM loads weights by their Hugging Face checkpoint names (``model.layers.0.self_attn.q_proj.weight``) and
fuses them itself (q/k/v into ``qkv_proj``, gate/up into ``gate_up_proj``). The trainer's state dict names
the same tensors under whatever wraps the model:

============================  ==========================================================================
wrapper                       state-dict name -> checkpoint name
============================  ==========================================================================
DDP                           ``module.X`` -> ``X``
``torch.compile``             ``_orig_mod.X`` -> ``X`` (also FSDP's ``_fsdp_wrapped_module.`` and the
                              activation-checkpoint wrapper's ``_checkpoint_wrapped_module.``)
PEFT LoRA                     ``base_model.model.X.base_layer.weight`` -> ``X.weight``, with the adapter
                              merged: ``W + s * B @ A`` (Hu et al. 2021, arXiv 2106.09685; s = alpha / r,
                              or alpha / sqrt(r) with rsLoRA: the layer's own ``scaling``); the
                              ``lora_A``/``lora_B`` factors themselves are not sent
PEFT ``modules_to_save``      ``X.modules_to_save.<adapter>.weight`` -> ``X.weight``; ``X.original_module``
                              is not sent
tied embeddings               an entry that shares its storage with an earlier one (``lm_head.weight`` of a
                              tied model) is not sent, as ``save_pretrained`` leaves it out
============================  ==========================================================================

The merge is computed out of place in float32 and cast to the base weight's dtype, so the trainer's LoRA
model is never modified (merging in place and unmerging again, as ``merge_adapter``/``unmerge_adapter`` do,
drifts a bf16 base weight a little at every sync).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import torch

__all__ = ["PEFT_PREFIX", "WRAPPER_SEGMENTS", "iter_vllm_weights", "lora_scalings", "strip_wrappers",
           "vllm_weight_name"]

PEFT_PREFIX = "base_model.model."
WRAPPER_SEGMENTS = ("_orig_mod.", "_fsdp_wrapped_module.", "_checkpoint_wrapped_module.")
_LORA_FACTORS = ("lora_A", "lora_B", "lora_embedding_A", "lora_embedding_B")


def strip_wrappers(name: str) -> str:
    """``name`` without DDP's leading ``module.`` and the wrapper segments (``_orig_mod.``, ...)."""
    for seg in WRAPPER_SEGMENTS:
        name = name.replace(seg, "")
    while name.startswith("module."):
        name = name[len("module."):]
    return name


def vllm_weight_name(name: str, adapter: str = "default") -> str | None:
    """The checkpoint name of one state-dict entry, or None for an entry vLLM does not take (a LoRA factor, the
    original copy of a ``modules_to_save`` module, another adapter's copy)."""
    name = strip_wrappers(name)
    if name.startswith(PEFT_PREFIX):
        name = name[len(PEFT_PREFIX):]
    parts = name.split(".")
    if any(p in _LORA_FACTORS or p == "original_module" for p in parts):
        return None
    if "lora_magnitude_vector" in parts:
        raise ValueError(f"{name}: DoRA adapters (use_dora) are not merged for vLLM; train a plain LoRA adapter")
    if "modules_to_save" in parts:
        i = parts.index("modules_to_save")
        if i + 1 >= len(parts) or parts[i + 1] != adapter:
            return None
        parts = parts[:i] + parts[i + 2:]
    return ".".join(p for p in parts if p != "base_layer")


def lora_scalings(model: Any, adapter: str = "default") -> dict[str, float]:
    """``{module path: scaling}`` of every LoRA layer of ``model`` for ``adapter``, the path named as in the
    checkpoint (``model.layers.0.self_attn.q_proj``); empty for a model without LoRA layers."""
    out: dict[str, float] = {}
    for name, module in model.named_modules():
        scaling = getattr(module, "scaling", None)
        if isinstance(scaling, dict) and adapter in scaling:
            out[vllm_weight_name(name, adapter) or name] = float(scaling[adapter])
    return out


def _lora_delta(state: Mapping[str, torch.Tensor], module: str, adapter: str, scaling: float | None,
                fan_in_fan_out: bool) -> tuple[torch.Tensor | None, torch.Tensor | None]:
    """(weight delta, bias delta) of the LoRA adapter on ``module`` (a stripped state-dict module path), in
    float32; (None, None) when the module has no adapter.

    Linear: ``A`` (r, in), ``B`` (out, r): delta = s * B @ A (out, in), transposed for ``fan_in_fan_out``
    (GPT-2's Conv1D). Embedding: ``lora_embedding_A`` (r, vocab), ``lora_embedding_B`` (dim, r):
    delta = s * (B @ A).T (vocab, dim), as PEFT's ``Embedding.get_delta_weight``.
    """
    a, b = state.get(f"{module}.lora_A.{adapter}.weight"), state.get(f"{module}.lora_B.{adapter}.weight")
    embedding = a is None
    if embedding:
        a, b = state.get(f"{module}.lora_embedding_A.{adapter}"), state.get(f"{module}.lora_embedding_B.{adapter}")
    if a is None or b is None:
        return None, None
    if scaling is None:
        raise ValueError(f"{module}: a LoRA adapter without its scaling (pass lora_scaling)")
    delta = (b.float() @ a.float()) * scaling
    if embedding or fan_in_fan_out:
        delta = delta.T
    bias = state.get(f"{module}.lora_B.{adapter}.bias")
    return delta, None if bias is None else bias.float() * scaling


def iter_vllm_weights(state_dict: Mapping[str, torch.Tensor], *,
                      lora_scaling: Mapping[str, float] | float | None = None, adapter: str = "default",
                      fan_in_fan_out: bool = False) -> Iterator[tuple[str, torch.Tensor]]:
    """(checkpoint name, tensor) for every weight vLLM loads, in state-dict order (see the module docstring).

    Args:
        state_dict: the trainer model's ``state_dict()`` (plain, DDP, compiled or PEFT).
        lora_scaling: the LoRA scaling s per module (``lora_scalings(model)``) or one value for all; needed
            only when the state dict holds LoRA factors.
        adapter: the PEFT adapter to merge.
        fan_in_fan_out: the adapter's ``fan_in_fan_out`` (GPT-2 Conv1D weights stored (in, out)).
    Yields:
        tensors as stored (detached, same device); merged LoRA weights are new tensors in the base weight's
        dtype, built one at a time.
    """
    state = {strip_wrappers(k): v for k, v in state_dict.items()}
    state = {k[len(PEFT_PREFIX):] if k.startswith(PEFT_PREFIX) else k: v for k, v in state.items()}
    seen: set[tuple[int, tuple[int, ...]]] = set()
    for key, tensor in state.items():
        name = vllm_weight_name(key, adapter)
        if name is None:
            continue
        storage = (tensor.untyped_storage().data_ptr() + tensor.storage_offset() * tensor.element_size(),
                   tuple(tensor.shape))
        if tensor.numel() and storage in seen:  # a tied alias (lm_head.weight of a tied model)
            continue
        seen.add(storage)
        module, _, leaf = key.rpartition(".")
        if module.endswith(".base_layer") and leaf in ("weight", "bias"):
            base = module[: -len(".base_layer")]
            scale = lora_scaling.get(base) if isinstance(lora_scaling, Mapping) else lora_scaling
            delta, bias_delta = _lora_delta(state, base, adapter, scale, fan_in_fan_out)
            extra = delta if leaf == "weight" else bias_delta
            if extra is not None:
                yield name, (tensor.detach().float() + extra.to(tensor.device)).to(tensor.dtype)
                continue
        yield name, tensor.detach()
