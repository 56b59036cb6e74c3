"""Tokenizer, policy and reference loading of a tiny locally saved Llama; LoRA; one-line errors."""

from __future__ import annotations

import pytest
import torch

from rlvr_bench.models.loading import (
    LoraSpec,
    ModelLoadError,
    count_parameters,
    load_policy,
    load_reference,
    load_tokenizer,
    lora_spec,
    resolve_dtype,
)


def checkpointing_on(model) -> bool:
    """transformers 5 renamed the flag; read the new name when it exists (the old one warns)."""
    if hasattr(type(model), "is_activation_checkpointing"):
        return model.is_activation_checkpointing
    return model.is_gradient_checkpointing


LORA = {"r": 4, "alpha": 8, "dropout": 0.0, "target_modules": ["q_proj", "v_proj"]}


def test_tokenizer_pads_left_with_eos(tiny_model_dir):
    tok = load_tokenizer(tiny_model_dir)
    assert tok.padding_side == "left"
    assert tok.pad_token == tok.eos_token == "</s>"
    enc = tok(["ab", "abcd"], padding=True)
    assert enc["input_ids"][0][:2] == [tok.pad_token_id] * 2
    assert enc["attention_mask"][0] == [0, 0, 1, 1]
    assert load_tokenizer(tiny_model_dir, padding_side="right").padding_side == "right"


def test_policy_loads_float32_on_cpu(tiny_model_dir):
    model = load_policy(tiny_model_dir, device="cpu")
    assert type(model).__name__ == "LlamaForCausalLM"
    assert model.dtype == torch.float32 and model.device.type == "cpu"
    assert count_parameters(model, trainable_only=True) == count_parameters(model)
    bf16 = load_policy(tiny_model_dir, dtype="bfloat16", device="cpu")
    assert bf16.dtype == torch.bfloat16


def test_dtype_resolution():
    assert resolve_dtype("auto", "cpu") == torch.float32
    assert resolve_dtype("float16") == torch.float16
    assert resolve_dtype(torch.bfloat16) == torch.bfloat16
    with pytest.raises(ModelLoadError, match="unknown dtype 'fp8'; valid: auto, float32, bfloat16, float16"):
        resolve_dtype("fp8")


def test_reference_is_frozen_and_matches_policy(tiny_model_dir, batch):
    input_ids, attention_mask = batch
    ref = load_reference(tiny_model_dir, device="cpu")
    assert not ref.training
    assert all(not p.requires_grad for p in ref.parameters())
    policy = load_policy(tiny_model_dir, device="cpu")
    with torch.no_grad():
        expected = policy(input_ids=input_ids, attention_mask=attention_mask).logits
    assert torch.equal(ref(input_ids=input_ids, attention_mask=attention_mask).logits, expected)


def test_lora_shrinks_trainable_parameters(tiny_model_dir):
    full = load_policy(tiny_model_dir, device="cpu")
    lora = load_policy(tiny_model_dir, device="cpu", lora=LORA)
    # q_proj and v_proj are 32x32 in each of 2 layers: r * (in + out) = 4 * 64 per module
    assert count_parameters(lora, trainable_only=True) == 2 * 2 * 4 * (32 + 32)
    assert count_parameters(lora) == count_parameters(full) + 1024
    trainable = {n for n, p in lora.named_parameters() if p.requires_grad}
    assert trainable and all("lora_" in n for n in trainable)


def test_lora_accepts_recipe_config_objects(tiny_model_dir):
    from rlvr_bench.config import LoraConfig

    assert lora_spec(LoraConfig(enabled=False)) is None
    spec = lora_spec(LoraConfig(enabled=True, r=2, alpha=4, dropout=0.0, target_modules=["o_proj"]))
    assert spec == LoraSpec(r=2, alpha=4, dropout=0.0, target_modules=("o_proj",))
    model = load_policy(tiny_model_dir, device="cpu", lora=spec)
    assert count_parameters(model, trainable_only=True) == 2 * 2 * (32 + 32)
    with pytest.raises(ModelLoadError, match="unknown LoRA setting"):
        lora_spec({"rank": 4})
    with pytest.raises(ModelLoadError, match="^cannot apply LoRA: "):
        load_policy(tiny_model_dir, device="cpu", lora={"target_modules": ["no_such_proj"]})


def test_gradient_checkpointing_with_lora_trains(tiny_model_dir, batch):
    input_ids, attention_mask = batch
    model = load_policy(tiny_model_dir, device="cpu", lora=LORA, gradient_checkpointing=True)
    base = model.get_base_model()
    assert checkpointing_on(base) and base.config.use_cache is False
    model.train()
    out = model(input_ids=input_ids, attention_mask=attention_mask, labels=input_ids)
    out.loss.backward()
    grads = [p.grad for n, p in model.named_parameters() if "lora_B" in n]  # A gets 0 while B is 0
    assert grads and all(g is not None and g.abs().sum() > 0 for g in grads)


def test_adapter_directory_reloads(tiny_model_dir, tmp_path, batch):
    input_ids, attention_mask = batch
    policy = load_policy(tiny_model_dir, device="cpu", lora=LORA)
    with torch.no_grad():  # make the adapter non-trivial (B starts at zero)
        for name, param in policy.named_parameters():
            if "lora_B" in name:
                param.normal_(0.0, 0.5)
        expected = policy(input_ids=input_ids, attention_mask=attention_mask).logits
    policy.save_pretrained(tmp_path / "adapter")
    ref = load_reference(tmp_path / "adapter", device="cpu")
    assert type(ref).__name__ == "LlamaForCausalLM"  # merged
    assert all(not p.requires_grad for p in ref.parameters())
    got = ref(input_ids=input_ids, attention_mask=attention_mask).logits
    assert torch.allclose(got, expected, atol=1e-5)
    again = load_policy(tmp_path / "adapter", device="cpu")
    assert count_parameters(again, trainable_only=True) == 1024


def test_not_a_model_directory_is_one_line(tiny_model_dir, tmp_path):
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(ModelLoadError) as info:
        load_policy(tmp_path)
    assert str(info.value) == (
        f"'{tmp_path}' is not a model directory (none of config.json, adapter_config.json; it holds: notes.txt)"
    )
    with pytest.raises(ModelLoadError, match="is not a tokenizer directory"):
        load_tokenizer(tmp_path)
    with pytest.raises(ModelLoadError, match="is a file, not a model directory"):
        load_reference(tmp_path / "notes.txt")
    with pytest.raises(ModelLoadError, match=r"^model directory '\./no/such/model' does not exist$"):
        load_policy("./no/such/model")


def test_unreachable_hub_model_is_one_line(monkeypatch):
    import huggingface_hub.constants as hub_constants

    monkeypatch.setattr(hub_constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(ModelLoadError) as info:
        load_policy("some-org/no-such-model", device="cpu")
    msg = str(info.value)
    assert msg.startswith("cannot reach the Hugging Face hub for model 'some-org/no-such-model' (offline: ")
    assert "\n" not in msg
