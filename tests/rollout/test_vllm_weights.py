"""The trainer's state dict -> the checkpoint names vLLM's ``load_weights`` takes (``rollout.vllm_weights``), on
tiny random Qwen2 (tied embeddings) and Llama (untied) models, with and without a PEFT LoRA adapter."""

from __future__ import annotations

import pytest
import torch

from rlvr_bench.rollout.vllm_weights import (
    iter_vllm_weights,
    lora_scalings,
    strip_wrappers,
    vllm_weight_name,
)
from tests.realmodels.builders import (
    build_llama3_model,
    build_llama3_tokenizer,
    build_qwen_model,
    build_qwen_tokenizer,
)

BUILDERS = {"qwen2": (build_qwen_tokenizer, build_qwen_model), "llama": (build_llama3_tokenizer, build_llama3_model)}


def _model(arch: str):
    tok_builder, model_builder = BUILDERS[arch]
    return model_builder(tok_builder())


def _checkpoint_names(model, path) -> list[str]:
    from safetensors import safe_open

    model.save_pretrained(path)
    with safe_open(str(path / "model.safetensors"), "pt") as f:
        return sorted(f.keys())


def _lora(model, targets=("q_proj", "v_proj", "embed_tokens"), r=4, alpha=8, use_rslora=False):
    from peft import LoraConfig, get_peft_model

    peft_model = get_peft_model(model, LoraConfig(r=r, lora_alpha=alpha, target_modules=list(targets),
                                                  use_rslora=use_rslora, lora_dropout=0.0))
    with torch.no_grad():  # B starts at zero: give every factor a value so that the merge changes the weights
        g = torch.Generator().manual_seed(3)
        for name, p in peft_model.named_parameters():
            if "lora_" in name:
                p.copy_(torch.randn(p.shape, generator=g) * 0.1)
    return peft_model


@pytest.mark.parametrize("arch", ["qwen2", "llama"])
def test_plain_names_are_the_checkpoint_names(arch, tmp_path):
    model = _model(arch)
    mapped = dict(iter_vllm_weights(model.state_dict()))
    assert sorted(mapped) == _checkpoint_names(model, tmp_path)
    assert ("lm_head.weight" in mapped) is (arch == "llama")  # the tied Qwen head is the embedding
    for name, tensor in mapped.items():
        assert tensor.data_ptr() == model.state_dict()[name].data_ptr()  # no copy without an adapter


@pytest.mark.parametrize("arch", ["qwen2", "llama"])
def test_wrapped_names_map_to_the_same_names(arch):
    model = _model(arch)
    plain = {k: v for k, v in iter_vllm_weights(model.state_dict())}
    for prefix in ("module.", "_orig_mod.", "module._orig_mod."):
        wrapped = {prefix + k: v for k, v in model.state_dict().items()}
        assert {k: v.data_ptr() for k, v in iter_vllm_weights(wrapped)} == {k: v.data_ptr() for k, v in plain.items()}


@pytest.mark.parametrize("arch", ["qwen2", "llama"])
def test_lora_is_merged_as_merge_and_unload(arch, tmp_path):
    base = _model(arch)
    names = _checkpoint_names(base, tmp_path)
    original = {k: v.clone() for k, v in base.state_dict().items()}
    peft_model = _lora(base)
    scalings = lora_scalings(peft_model)
    assert scalings["model.layers.0.self_attn.q_proj"] == 2.0 and "model.embed_tokens" in scalings  # 8 / 4
    ddp_state = {"module." + k: v for k, v in peft_model.state_dict().items()}
    mapped = {k: v.clone() for k, v in iter_vllm_weights(ddp_state, lora_scaling=scalings)}
    assert sorted(mapped) == names
    merged = peft_model.merge_and_unload().state_dict()
    for name in names:
        torch.testing.assert_close(mapped[name], merged[name], rtol=1e-5, atol=1e-6)
        adapted = any(t in name for t in ("q_proj.weight", "v_proj.weight", "embed_tokens"))
        assert torch.equal(mapped[name], original[name]) is not adapted, name


def test_lora_merge_values_by_hand():
    w = torch.tensor([[1.0, 2.0], [3.0, 4.0]])
    a = torch.tensor([[1.0, 0.0]])  # (r=1, in=2)
    b = torch.tensor([[2.0], [1.0]])  # (out=2, r=1)
    state = {"base_model.model.proj.base_layer.weight": w, "base_model.model.proj.lora_A.default.weight": a,
             "base_model.model.proj.lora_B.default.weight": b, "base_model.model.head.weight": torch.ones(1)}
    out = dict(iter_vllm_weights(state, lora_scaling=0.5))
    # W + 0.5 * B @ A = [[1 + 1, 2], [3 + 0.5, 4]]
    assert torch.equal(out["proj.weight"], torch.tensor([[2.0, 2.0], [3.5, 4.0]]))
    assert sorted(out) == ["head.weight", "proj.weight"]
    fan = dict(iter_vllm_weights(state, lora_scaling=0.5, fan_in_fan_out=True))
    assert torch.equal(fan["proj.weight"], torch.tensor([[2.0, 2.5], [3.0, 4.0]]))  # W + 0.5 * (B @ A).T


def test_rslora_scaling_is_the_layers_own():
    peft_model = _lora(_model("qwen2"), targets=("q_proj",), r=4, alpha=8, use_rslora=True)
    assert lora_scalings(peft_model)["model.layers.1.self_attn.q_proj"] == pytest.approx(8 / 4 ** 0.5)


def test_names_of_other_adapters_and_saved_modules():
    assert vllm_weight_name("base_model.model.lm_head.modules_to_save.default.weight") == "lm_head.weight"
    assert vllm_weight_name("base_model.model.lm_head.original_module.weight") is None
    assert vllm_weight_name("base_model.model.lm_head.modules_to_save.other.weight") is None
    assert vllm_weight_name("base_model.model.x.lora_A.other.weight") is None
    assert strip_wrappers("module._orig_mod.model._checkpoint_wrapped_module.norm.weight") == "model.norm.weight"
    with pytest.raises(ValueError, match="DoRA"):
        vllm_weight_name("base_model.model.q_proj.lora_magnitude_vector.default.weight")


def test_lora_factors_without_a_scaling_are_an_error():
    state = {"m.base_layer.weight": torch.zeros(2, 2), "m.lora_A.default.weight": torch.zeros(1, 2),
             "m.lora_B.default.weight": torch.zeros(2, 1)}
    with pytest.raises(ValueError, match="scaling"):
        list(iter_vllm_weights(state))
