"""The toy tokenizer and model: round trips, vocabulary errors, save/reload through the Auto classes."""

from __future__ import annotations

import pytest
import torch

from rlvr_bench.config.toy import ToyModelConfig
from rlvr_bench.models.toy import (
    TOY_CHARS,
    build_toy_model,
    build_toy_tokenizer,
    check_toy_text,
    encode_toy,
    load_toy,
    save_toy,
    toy_llama_config,
)


@pytest.fixture(scope="module")
def tok():
    return build_toy_tokenizer()


def test_every_character_round_trips_one_token_each(tok):
    text = TOY_CHARS + " Q:25+11+1=?A:25+11=36,36+1=37 \\boxed{37}\n  def f(x): return {x: [x*2]}"
    ids = encode_toy(tok, text)
    assert len(ids) == len(text)
    assert tok.decode(ids) == text
    assert len(set(encode_toy(tok, TOY_CHARS))) == len(TOY_CHARS)


def test_special_tokens_and_padding(tok):
    assert (tok.pad_token_id, tok.eos_token_id, tok.bos_token) == (0, 1, None)
    assert tok.padding_side == "left"
    assert tok("ab")["input_ids"] == encode_toy(tok, "ab")  # no BOS/EOS added
    batch = tok(["ab", "abcd"], padding=True)
    assert batch["input_ids"][0][:2] == [0, 0] and batch["attention_mask"][0] == [0, 0, 1, 1]
    assert tok.decode(encode_toy(tok, "7") + [tok.eos_token_id], skip_special_tokens=True) == "7"


@pytest.mark.parametrize("bad", ["caf\u00e9", "tab\there", "3\u00d74", "x</s>"])
def test_text_outside_the_vocabulary_raises(tok, bad):
    with pytest.raises(ValueError, match="toy"):
        check_toy_text(bad)
    with pytest.raises(ValueError):
        encode_toy(tok, bad)


def test_error_names_the_character():
    with pytest.raises(ValueError, match=r"\(U\+00E9\) at position 3 of 'caf"):
        check_toy_text("caf\u00e9")


def test_model_is_a_tiny_tied_llama(tok):
    model = build_toy_model(tokenizer=tok)
    cfg = model.config
    assert cfg.model_type == "llama" and cfg.tie_word_embeddings
    assert model.lm_head.weight.data_ptr() == model.model.embed_tokens.weight.data_ptr()
    assert cfg.vocab_size == len(tok) and cfg.pad_token_id == 0 and cfg.eos_token_id == 1
    assert 0.3e6 < sum(p.numel() for p in model.parameters()) < 0.6e6  # 415,872 (docs/toy-world.md)


def test_initialisation_is_deterministic_and_keeps_the_callers_rng(tok):
    torch.manual_seed(123)
    expected = torch.rand(1)
    torch.manual_seed(123)
    a = build_toy_model(seed=7, tokenizer=tok)
    assert torch.rand(1) == expected  # the global generator was not consumed
    b = build_toy_model(seed=7, tokenizer=tok)
    c = build_toy_model(seed=8, tokenizer=tok)
    assert torch.equal(a.model.embed_tokens.weight, b.model.embed_tokens.weight)
    assert not torch.equal(a.model.embed_tokens.weight, c.model.embed_tokens.weight)


def test_bad_architecture_raises():
    with pytest.raises(ValueError, match="divisible"):
        toy_llama_config(ToyModelConfig(hidden_size=130, num_attention_heads=4))


def test_save_and_reload_through_auto_classes(tmp_path, tok):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = build_toy_model(ToyModelConfig(hidden_size=64, num_hidden_layers=2, intermediate_size=128), seed=1,
                            tokenizer=tok)
    save_toy(model, tok, tmp_path / "m")
    tok2 = AutoTokenizer.from_pretrained(tmp_path / "m")
    model2 = AutoModelForCausalLM.from_pretrained(tmp_path / "m")
    text = "Q:7*8+5=?A:7*8=56,56+5=61 \\boxed{61}"
    assert tok2(text)["input_ids"] == encode_toy(tok, text)
    assert tok2.decode(tok2(text)["input_ids"]) == text
    assert tok2.padding_side == "left" and tok2.pad_token_id == 0 and tok2.eos_token_id == 1
    ids = torch.tensor([encode_toy(tok, text)])
    with torch.no_grad():
        assert torch.allclose(model(input_ids=ids).logits, model2(input_ids=ids).logits)
    model3, tok3 = load_toy(tmp_path / "m")
    assert model3.config.model_type == "llama" and tok3.eos_token == "</s>"


def test_generate_with_left_padding_stops_at_eos(tmp_path, tok):
    model = build_toy_model(ToyModelConfig(hidden_size=32, num_hidden_layers=1, intermediate_size=64,
                                           num_attention_heads=2, num_key_value_heads=2), tokenizer=tok)
    enc = tok(["Q:1+2=?A:", "Q:12+34-5=?A:"], return_tensors="pt", padding=True)
    torch.manual_seed(0)
    out = model.generate(**enc, do_sample=True, max_new_tokens=6, top_k=0)
    assert out.shape[0] == 2 and out.shape[1] <= enc["input_ids"].shape[1] + 6
    assert model.generation_config.pad_token_id == 0 and model.generation_config.eos_token_id == 1
