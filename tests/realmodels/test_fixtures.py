"""The real-architecture fixtures reload through rlvr_bench's loaders and have the token layout of real checkpoints.

No training here; sampling only checks that the turn-end token is emitted at all (how generation stops is the
subject of the integration tests that use these fixtures).
"""

from __future__ import annotations

import pytest

from tests.realmodels.builders import (
    LLAMA3_BOS,
    LLAMA3_EOS,
    LLAMA3_EOT,
    LLAMA3_SPECIALS,
    QWEN_EOS,
    QWEN_IM_END,
    QWEN_IM_START,
    read_info,
)

TEXT = "Hello, world!\n  x = 1+2  # it's {fine}\n\n~`|\\^_ end.\n"

QWEN_PROMPT = "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\nhi<|im_end|>\n" \
              "<|im_start|>assistant\n"
LLAMA3_PROMPT = "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nhi<|eot_id|>" \
                "<|start_header_id|>assistant<|end_header_id|>\n\n"


def _chat_end_token_fns():
    """``chat_end_token`` from every module that has it (it is moving from sft_data to data.templates)."""
    import importlib

    fns = []
    for module in ("rlvr_bench.trainers.sft_data", "rlvr_bench.data.templates"):
        try:
            fns.append(importlib.import_module(module).chat_end_token)
        except (ImportError, AttributeError):
            continue
    assert fns, "no chat_end_token found"
    return fns


def _gen_eos(model) -> list[int]:
    eos = model.generation_config.eos_token_id
    return [eos] if isinstance(eos, int) else list(eos)


def _check_round_trip(tok) -> None:
    ids = tok(TEXT, add_special_tokens=False)["input_ids"]
    assert len(ids) == len(TEXT)  # one token per character
    assert tok.decode(ids) == TEXT
    assert tok.decode(tok(TEXT)["input_ids"], skip_special_tokens=True) == TEXT


# ---------------------------------------------------------------------------------------------------- Qwen


def test_qwen_tokenizer(qwen_chatml_dir):
    from transformers import AutoTokenizer

    from rlvr_bench.models.loading import load_tokenizer

    eos, im_start, im_end = 96, 97, 98
    for tok in (load_tokenizer(qwen_chatml_dir), AutoTokenizer.from_pretrained(qwen_chatml_dir)):
        assert type(tok).__name__ == "Qwen2Tokenizer"  # what transformers 5 loads for any qwen2 checkpoint
        assert tok.convert_tokens_to_ids([QWEN_EOS, QWEN_IM_START, QWEN_IM_END]) == [eos, im_start, im_end]
        assert len(tok) == 99
        assert tok.eos_token == QWEN_EOS and tok.eos_token_id == eos
        assert tok.pad_token_id == eos
        assert tok.bos_token is None
        assert tok("hi")["input_ids"] == tok("hi", add_special_tokens=False)["input_ids"]  # no BOS added
        _check_round_trip(tok)
        text = tok.apply_chat_template([{"role": "user", "content": "hi"}], tokenize=False, add_generation_prompt=True)
        assert text == QWEN_PROMPT
        ids = tok(text, add_special_tokens=False)["input_ids"]
        assert ids.count(im_end) == 2 and ids.count(im_start) == 3  # the specials are single tokens
        system = tok.apply_chat_template([{"role": "system", "content": "S"}, {"role": "user", "content": "u"},
                                          {"role": "assistant", "content": "a"}], tokenize=False)
        assert system == "<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nu<|im_end|>\n" \
                         "<|im_start|>assistant\na<|im_end|>\n"
        for chat_end_token in _chat_end_token_fns():
            assert chat_end_token(tok) == QWEN_IM_END


def test_qwen_model(qwen_chatml_dir):
    from transformers import AutoModelForCausalLM

    from rlvr_bench.models.loading import load_policy

    for model in (load_policy(qwen_chatml_dir, dtype="float32", device="cpu"),
                  AutoModelForCausalLM.from_pretrained(qwen_chatml_dir)):
        assert type(model).__name__ == "Qwen2ForCausalLM"
        assert model.config.tie_word_embeddings
        assert model.get_input_embeddings().weight.data_ptr() == model.get_output_embeddings().weight.data_ptr()
        assert model.config.eos_token_id == 96 and model.config.bos_token_id is None
        assert _gen_eos(model) == [96]  # <|endoftext|> only: a base model does not stop at <|im_end|>
        assert model.generation_config.bos_token_id is None
    info = read_info(qwen_chatml_dir)
    assert info["turn_end_id"] == 98 and info["end_of_text_id"] == 96
    probs = info["per_step_probs"]
    assert 0.05 <= probs["turn_end_mean"] <= 0.10 and 0.01 <= probs["end_of_text_mean"] <= 0.03
    assert probs["turn_end_after_turn_end"] < 0.3  # a sampled turn end does not lock the model into repeating it


# --------------------------------------------------------------------------------------------- Llama 3


def test_llama3_tokenizer(llama3_dir):
    from transformers import AutoTokenizer

    from rlvr_bench.models.loading import load_tokenizer

    bos, eos, eot = 96, 97, 100
    raw = AutoTokenizer.from_pretrained(llama3_dir)
    assert raw.pad_token is None  # saved without one, as Llama 3
    loaded = load_tokenizer(llama3_dir)
    assert loaded.pad_token == LLAMA3_EOS and loaded.pad_token_id == eos  # rlvr_bench's loader fills it in
    assert loaded.padding_side == "left"
    for tok in (loaded, raw):
        assert tok.convert_tokens_to_ids(list(LLAMA3_SPECIALS)) == [96, 97, 98, 99, 100]
        assert len(tok) == 101
        assert tok.bos_token == LLAMA3_BOS and tok.bos_token_id == bos
        assert tok.eos_token == LLAMA3_EOS and tok.eos_token_id == eos
        with_bos = tok("hi")["input_ids"]
        assert with_bos[0] == bos and with_bos[1:] == tok("hi", add_special_tokens=False)["input_ids"]
        _check_round_trip(tok)
        text = tok.apply_chat_template([{"role": "user", "content": "hi"}], tokenize=False, add_generation_prompt=True)
        assert text == LLAMA3_PROMPT
        ids = tok(text, add_special_tokens=False)["input_ids"]
        assert ids.count(bos) == 1 and ids.count(eot) == 1
        for chat_end_token in _chat_end_token_fns():
            assert chat_end_token(tok) == LLAMA3_EOT


def test_llama3_model(llama3_dir):
    from transformers import AutoModelForCausalLM

    from rlvr_bench.models.loading import load_policy

    for model in (load_policy(llama3_dir, dtype="float32", device="cpu"),
                  AutoModelForCausalLM.from_pretrained(llama3_dir)):
        assert type(model).__name__ == "LlamaForCausalLM"
        assert not model.config.tie_word_embeddings
        assert model.config.bos_token_id == 96 and model.config.eos_token_id == 97
        assert _gen_eos(model) == [97]  # <|end_of_text|> only: a base model does not stop at <|eot_id|>
        assert model.generation_config.bos_token_id == 96
    info = read_info(llama3_dir)
    assert info["turn_end_id"] == 100 and info["end_of_text_id"] == 97
    probs = info["per_step_probs"]
    assert 0.05 <= probs["turn_end_mean"] <= 0.10 and 0.01 <= probs["end_of_text_mean"] <= 0.03
    assert probs["turn_end_after_turn_end"] < 0.3  # a sampled turn end does not lock the model into repeating it


# ---------------------------------------------------------------------------------------------- sampling


@pytest.mark.parametrize("which", ["qwen", "llama3"])
def test_sampling_emits_turn_end(which, request):
    from rlvr_bench.models.loading import load_policy, load_tokenizer
    from rlvr_bench.rollout import Decoding
    from rlvr_bench.rollout.hf import HFEngine

    path = request.getfixturevalue("qwen_chatml_dir" if which == "qwen" else "llama3_dir")
    turn_end = read_info(path)["turn_end_id"]
    tok = load_tokenizer(path)
    model = load_policy(path, dtype="float32", device="cpu")
    prompt = tok.apply_chat_template([{"role": "user", "content": "What is 2+3?"}], tokenize=False,
                                     add_generation_prompt=True)
    result = HFEngine(model, tok).generate([prompt], n=64, decoding=Decoding(max_new_tokens=32), seed=0)
    rows = [c.token_ids for c in result.completions]
    assert len(rows) == 64 and all(0 < len(r) <= 32 for r in rows)
    with_turn_end = sum(turn_end in r for r in rows)
    assert with_turn_end >= 8, with_turn_end  # the turn-end token is sampled (expected: most rows)
    assert len({tuple(r) for r in rows}) >= 32  # still random: the rows differ
    assert len({t for r in rows for t in r}) >= 50  # and most of the vocabulary is sampled
    if which == "llama3":  # the chat prompt already starts with BOS: the engine must not add a second one
        assert result.prompt_ids[0].tolist().count(96) == 1


# ------------------------------------------------------------------------------------------------- data


def test_data_files(math_bench_file, traces_file):
    from rlvr_bench.data.loading import load_prompts
    from rlvr_bench.trainers.sft_data import load_traces_file
    from tests.realmodels.builders import CHARS

    bench = load_prompts(math_bench_file)
    assert bench[0]["id"] == "q0" and bench[0]["problem"] == "What is 2+3?" and bench[0]["answer"] == "5"
    assert len(bench) == 6 and len(set(bench["id"])) == 6
    traces = load_traces_file(traces_file)
    assert len(traces) == 6
    assert traces[0]["problem"] == "What is 2+3?" and traces[0]["solution"] == "2+3=5. The answer is \\boxed{5}."
    for text in [*bench["problem"], *traces["solution"]]:  # the fixture tokenizers spell them exactly
        assert set(text) <= set(CHARS)
