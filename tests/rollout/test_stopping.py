"""The stopping rule: end-of-text ids, the template's turn end, stop strings that are special tokens."""

from __future__ import annotations

import json

import pytest

from rlvr_bench.rollout import Decoding
from rlvr_bench.rollout.stopping import (
    GENERATION_RECORD,
    StopRule,
    read_generation_record,
    resolve_stop_rule,
    set_generation_eos,
    write_generation_record,
)

CHAT_TEMPLATE = ("{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
                 "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}")


@pytest.fixture(scope="module")
def chat_tok():
    """The toy character tokenizer with ChatML specials and a chat template (a Qwen-base-like tokenizer)."""
    from rlvr_bench.models.toy import build_toy_tokenizer

    tok = build_toy_tokenizer()
    tok.add_special_tokens({"additional_special_tokens": ["<|im_start|>", "<|im_end|>"]})
    tok.chat_template = CHAT_TEMPLATE
    return tok


def test_chat_template_adds_its_turn_end_to_the_end_of_text(chat_tok):
    im_end = chat_tok.convert_tokens_to_ids("<|im_end|>")
    rule = resolve_stop_rule(chat_tok, "qwen_boxed")
    assert rule.eos_ids == (chat_tok.eos_token_id,)
    assert rule.turn_end_ids == (im_end,)
    assert set(rule.token_ids) == {chat_tok.eos_token_id, im_end}
    assert "<|im_end|>" in rule.tokens
    # a plain template on the same tokenizer: end-of-text only
    assert resolve_stop_rule(chat_tok, "plain").token_ids == (chat_tok.eos_token_id,)


def test_a_stop_string_that_is_a_special_token_becomes_an_id(chat_tok):
    im_end = chat_tok.convert_tokens_to_ids("<|im_end|>")
    rule = resolve_stop_rule(chat_tok, "plain", strings=["<|im_end|>", "\n\n"])
    assert rule.string_ids == (im_end,)
    assert rule.strings == ("\n\n",)
    dec = rule.apply(Decoding(stop=("<|im_end|>", "\n\n")))
    assert im_end in dec.stop_token_ids and dec.stop == ("\n\n",)


def test_rule_round_trips_and_applies_idempotently(chat_tok):
    rule = resolve_stop_rule(chat_tok, "code_chat", strings=["###"])
    assert StopRule.from_dict(json.loads(json.dumps(rule.as_dict()))) == rule
    once = rule.apply(Decoding(max_new_tokens=8))
    assert rule.apply(once) == once
    assert once.as_dict()["stop_token_ids"] == list(rule.token_ids)


def test_generation_config_and_checkpoint_record(chat_tok, tmp_path):
    from rlvr_bench.models.toy import build_toy_model

    model = build_toy_model(seed=0, tokenizer=chat_tok)
    model.resize_token_embeddings(len(chat_tok))
    rule = resolve_stop_rule(chat_tok, "qwen_boxed", model=model)
    set_generation_eos(model, rule)
    assert sorted(model.generation_config.eos_token_id) == list(rule.token_ids)
    write_generation_record(tmp_path, rule=rule, template="qwen_boxed", decoding=rule.apply(Decoding()), model=model)
    record = read_generation_record(tmp_path)
    assert record["template"] == "qwen_boxed" and record["stop"]["token_ids"] == list(rule.token_ids)
    gen = json.loads((tmp_path / "generation_config.json").read_text())
    assert sorted(gen["eos_token_id"]) == list(rule.token_ids)
    assert read_generation_record(tmp_path / "elsewhere") is None
    (tmp_path / GENERATION_RECORD).write_text("{broken")
    assert read_generation_record(tmp_path) is None


def test_engine_stops_at_the_turn_end_and_matches_special_stop_strings(chat_tok):
    """A model that always says '<|im_end|>' first: stopped there by the rule's id, or by the string."""
    import torch

    from rlvr_bench.models.toy import build_toy_model
    from rlvr_bench.rollout.hf import HFEngine

    model = build_toy_model(seed=0, tokenizer=chat_tok)
    model.resize_token_embeddings(len(chat_tok))
    im_end = chat_tok.convert_tokens_to_ids("<|im_end|>")
    with torch.no_grad():
        model.lm_head.weight.zero_()  # tied: uniform logits, then one token made certain
        model.model.norm.weight.fill_(1.0)
    bias = torch.zeros(len(chat_tok))
    bias[im_end] = 50.0
    model.lm_head.register_forward_hook(lambda mod, inp, out: out + bias)
    engine = HFEngine(model, chat_tok)
    plain = engine.generate(["Q:1+1=?A:"], n=2, decoding=Decoding(max_new_tokens=4), seed=0)
    assert all(c.truncated for c in plain.completions)  # end-of-text only: never stops at im_end
    rule = resolve_stop_rule(chat_tok, "qwen_boxed")
    ruled = engine.generate(["Q:1+1=?A:"], n=2, decoding=rule.apply(Decoding(max_new_tokens=4)), seed=0)
    assert all(c.finish_reason == "stop" and c.token_ids == [im_end] and c.text == "" for c in ruled.completions)
    by_string = engine.generate(["Q:1+1=?A:"], n=2, decoding=Decoding(max_new_tokens=4, stop=("<|im_end|>",)),
                                seed=0)
    assert all(c.finish_reason == "stop" and c.token_ids == [im_end] for c in by_string.completions)


def test_engine_finds_the_cache_keyword_under_a_peft_wrapper():
    from rlvr_bench.models.loading import apply_lora
    from rlvr_bench.models.toy import build_toy_model, build_toy_tokenizer
    from rlvr_bench.rollout.hf import HFEngine

    tok = build_toy_tokenizer()
    model = apply_lora(build_toy_model(seed=0, tokenizer=tok), {"r": 2, "alpha": 4, "dropout": 0.0})
    engine = HFEngine(model, tok)
    assert engine._cache_kw == "cache"
    out = engine.generate(["Q:1+1=?A:"], n=2, decoding=Decoding(max_new_tokens=3), seed=0)
    assert len(out.completions) == 2
