"""Tiny random models of real architectures with real-format tokenizers, built offline (no hub).

They exist so that integration tests can drive the real code paths (evaluation, GRPO, SFT, RFT, distillation,
LoRA) with the token layout of real checkpoints, in particular the chat turn-end token that is *not* the
tokenizer's end-of-text token:

* :func:`build_qwen_chatml`: ``Qwen2ForCausalLM`` + a ``Qwen2Tokenizer`` in Qwen2.5's format (byte-level BPE,
  ChatML chat template). As for a Qwen2.5 *base* model, EOS is ``<|endoftext|>`` and the generation config
  stops at ``<|endoftext|>`` only, so nothing stops sampling at the ``<|im_end|>`` that closes a chat turn.
* :func:`build_llama3_style`: ``LlamaForCausalLM`` + a Llama-3-style tokenizer (byte-level BPE, BOS
  ``<|begin_of_text|>`` added by the post-processor, the Llama 3 header/``<|eot_id|>`` chat template, no pad
  token). EOS is ``<|end_of_text|>`` and the generation config stops there only, not at ``<|eot_id|>``.

Tokenizers. The vocabulary is one token per character: ``"\\n"`` and printable ASCII (32..126), with no BPE
merges, so ``decode(encode(x)) == x`` for such text. The tokenizers are *byte-level* like the real ones
(``Ġ`` for a space, ``Ċ`` for a newline in the vocabulary; ``Split`` + ``ByteLevel`` pre-tokenizer,
``ByteLevel`` decoder): transformers 5's ``AutoTokenizer`` reloads any ``qwen2`` checkpoint as
``Qwen2Tokenizer``, which rebuilds a byte-level pipeline around the saved vocabulary, so a plain
character-level vocabulary would lose its spaces and newlines on reload. Special tokens follow the regular
vocabulary (ids 96.., as the real specials follow the BPE vocabulary):

==================  =====================  ====
tokenizer           token                  id
==================  =====================  ====
Qwen (ChatML)       ``<|endoftext|>``       96  (eos, pad; no bos, no unk)
Qwen (ChatML)       ``<|im_start|>``        97
Qwen (ChatML)       ``<|im_end|>``          98  (chat turn end)
Llama-3-style       ``<|begin_of_text|>``   96  (bos, added with ``add_special_tokens=True``)
Llama-3-style       ``<|end_of_text|>``     97  (eos; no pad token saved)
Llama-3-style       ``<|start_header_id|>`` 98
Llama-3-style       ``<|end_header_id|>``   99
Llama-3-style       ``<|eot_id|>``         100  (chat turn end)
==================  =====================  ====

Models. hidden 32, intermediate 64, 2 layers, 4 heads, 2 KV heads, 512 positions, ``torch.manual_seed(seed)``
before construction (float32, initializer std 0.02). The Qwen model ties its embeddings (as Qwen2.5 <= 3B
does), the Llama model does not (as Llama 3 8B). A random model this small is nearly uniform over its ~100
tokens (about 1% per step for any one token), so :func:`tune_stop_tokens` replaces the output-embedding rows
of the turn-end and end-of-text tokens by multiples of the mean final-norm output (measured on chat-formatted
prompts with random contents) and bisects the multiples (deterministically) until, averaged over the positions
of random completions after a chat generation prompt, P(turn end) = 7.5% and P(end of text) = 2% per step.
In the tied Qwen model these rows are also the two tokens' input embeddings; left at that, the model repeats
``<|im_end|>`` with P ~ 0.89 once it has sampled it, so the Qwen builder first gives the last layer's value
bias a constant residual component (:func:`add_residual_bias`). Nothing else is changed.

Measured per-step probabilities (seed 0; :func:`stop_token_probs` over 16 prompts x 48 random completion
positions; also saved in ``realmodel.json`` in the model directory):

=============  ===========  ============  ==================  ===============  ==============
model          P(turn end)  P(turn end)   P(turn end)         P(turn end)      P(end of text)
               mean         median        90th percentile     after turn end   mean
=============  ===========  ============  ==================  ===============  ==============
Qwen ChatML    0.075        0.076         0.095               0.17             0.020
Llama-3-style  0.075        0.053         0.168               0.03             0.020
=============  ===========  ============  ==================  ===============  ==============

Sampled with ``HFEngine`` (256 x 32 new tokens after a chat prompt, seed 0, the generation config's stopping
as of writing: end of text only): 78% (Qwen) / 75% (Llama) of the completions contain the turn-end token, the
first one at token ~7 / ~6 on average; turn-end tokens make up 8.9% / 8.0% of the sampled tokens. Every other
token keeps its random row, so sampling stays random (the other ~90% of the mass is spread over ~97 tokens).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover - typing only
    import torch
    from transformers import PreTrainedModel, PreTrainedTokenizerBase

__all__ = [
    "CHARS",
    "LLAMA3_BOS",
    "LLAMA3_CHAT_TEMPLATE",
    "LLAMA3_EOS",
    "LLAMA3_EOT",
    "LLAMA3_SPECIALS",
    "QWEN_CHAT_TEMPLATE",
    "QWEN_EOS",
    "QWEN_IM_END",
    "QWEN_IM_START",
    "QWEN_SPECIALS",
    "RESIDUAL_BIAS_NORM",
    "TARGET_END_OF_TEXT",
    "TARGET_TURN_END",
    "add_residual_bias",
    "build_llama3_model",
    "build_llama3_style",
    "build_llama3_tokenizer",
    "build_qwen_chatml",
    "build_qwen_model",
    "build_qwen_tokenizer",
    "byte_level_vocab",
    "read_info",
    "stop_token_probs",
    "tune_stop_tokens",
]

CHARS = "\n" + "".join(chr(i) for i in range(32, 127))  # the regular vocabulary, ids 0..95 in this order

QWEN_EOS, QWEN_IM_START, QWEN_IM_END = "<|endoftext|>", "<|im_start|>", "<|im_end|>"
QWEN_SPECIALS = (QWEN_EOS, QWEN_IM_START, QWEN_IM_END)
LLAMA3_BOS, LLAMA3_EOS, LLAMA3_EOT = "<|begin_of_text|>", "<|end_of_text|>", "<|eot_id|>"
LLAMA3_SPECIALS = (LLAMA3_BOS, LLAMA3_EOS, "<|start_header_id|>", "<|end_header_id|>", LLAMA3_EOT)

# Qwen2's ChatML template (Qwen2.5 base checkpoints ship the same shape; default system message when none)
QWEN_CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{% if loop.first and messages[0]['role'] != 'system' %}"
    "{{ '<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n' }}"
    "{% endif %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)

# Meta-Llama-3-8B-Instruct's template, verbatim
LLAMA3_CHAT_TEMPLATE = (
    "{% set loop_messages = messages %}"
    "{% for message in loop_messages %}"
    "{% set content = '<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n'"
    " + message['content'] | trim + '<|eot_id|>' %}"
    "{% if loop.index0 == 0 %}{% set content = bos_token + content %}{% endif %}"
    "{{ content }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}{% endif %}"
)

# The pre-tokenizer split pattern of Llama 3 (tiktoken cl100k style)
_LLAMA3_PATTERN = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*"
    r"|\s*[\r\n]+|\s+(?!\S)|\s+"
)

TARGET_TURN_END = 0.075  # mean per-step probability of the chat turn-end token
TARGET_END_OF_TEXT = 0.02  # mean per-step probability of the end-of-text token
RESIDUAL_BIAS_NORM = 0.1  # |c| of the Qwen model's constant residual component (see add_residual_bias)

INFO_FILE = "realmodel.json"

_TINY = dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
             num_key_value_heads=2, max_position_embeddings=512, initializer_range=0.02)


# ------------------------------------------------------------------------------------------ tokenizers


def byte_level_vocab() -> dict[str, int]:
    """Byte-level spelling of :data:`CHARS` (GPT-2's byte -> unicode map: ``" "`` is ``Ġ``, ``"\\n"`` is ``Ċ``)
    -> id 0..95."""
    from transformers.convert_slow_tokenizer import bytes_to_unicode

    b2u = bytes_to_unicode()
    return {b2u[ord(c)]: i for i, c in enumerate(CHARS)}


def build_qwen_tokenizer() -> PreTrainedTokenizerBase:
    """Qwen2.5-format tokenizer: ``Qwen2Tokenizer`` (byte-level BPE, no merges), eos = pad = ``<|endoftext|>``,
    no bos/unk, ``<|im_start|>``/``<|im_end|>`` special, the ChatML chat template."""
    from tokenizers import AddedToken
    from transformers.models.qwen2.tokenization_qwen2 import Qwen2Tokenizer

    tok = Qwen2Tokenizer(vocab=byte_level_vocab(), merges=[], unk_token=None, bos_token=None, eos_token=QWEN_EOS,
                         pad_token=QWEN_EOS, clean_up_tokenization_spaces=False, model_max_length=32768)
    tok.add_special_tokens({"additional_special_tokens": [AddedToken(t, special=True, normalized=False)
                                                          for t in (QWEN_IM_START, QWEN_IM_END)]})
    tok.chat_template = QWEN_CHAT_TEMPLATE
    ids = tok.convert_tokens_to_ids(list(QWEN_SPECIALS))
    assert ids == [96, 97, 98], ids
    _check_round_trip(tok)
    return tok


def build_llama3_tokenizer() -> PreTrainedTokenizerBase:
    """Llama-3-style tokenizer: byte-level BPE (no merges), ``TemplateProcessing`` adds ``<|begin_of_text|>``,
    eos ``<|end_of_text|>``, no pad token, the Llama 3 chat template."""
    from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    backend = Tokenizer(models.BPE(vocab=byte_level_vocab(), merges=[], ignore_merges=True))
    backend.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(_LLAMA3_PATTERN), behavior="isolated", invert=False),
        pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=True, use_regex=False),
    ])
    backend.decoder = decoders.ByteLevel(add_prefix_space=True, trim_offsets=True, use_regex=True)
    backend.add_special_tokens([AddedToken(t, special=True, normalized=False) for t in LLAMA3_SPECIALS])
    bos_id = backend.token_to_id(LLAMA3_BOS)
    backend.post_processor = processors.Sequence([
        processors.ByteLevel(trim_offsets=False),
        processors.TemplateProcessing(single=f"{LLAMA3_BOS} $A", pair=f"{LLAMA3_BOS} $A {LLAMA3_BOS} $B:1",
                                      special_tokens=[(LLAMA3_BOS, bos_id)]),
    ])
    tok = PreTrainedTokenizerFast(tokenizer_object=backend, bos_token=LLAMA3_BOS, eos_token=LLAMA3_EOS,
                                  clean_up_tokenization_spaces=False, model_max_length=131072,
                                  model_input_names=["input_ids", "attention_mask"])
    tok.chat_template = LLAMA3_CHAT_TEMPLATE
    ids = tok.convert_tokens_to_ids(list(LLAMA3_SPECIALS))
    assert ids == [96, 97, 98, 99, 100], ids
    _check_round_trip(tok)
    return tok


def _check_round_trip(tok: Any) -> None:
    text = "Hello, world!\n  x = 1+2 # it's {ok}\n\n\tok".replace("\t", " ") + CHARS
    ids = tok(text, add_special_tokens=False)["input_ids"]
    if len(ids) != len(text) or tok.decode(ids) != text:
        raise AssertionError(f"tokenizer does not round-trip ASCII text one token per character: {ids[:20]}")


# ------------------------------------------------------------------------------------------------ models


def build_qwen_model(tokenizer: Any, *, seed: int = 0) -> PreTrainedModel:
    """A random tiny ``Qwen2ForCausalLM`` (tied embeddings); eos = ``<|endoftext|>`` in config and generation
    config, no bos (the Qwen2.5 base-model situation)."""
    from transformers import GenerationConfig, Qwen2Config, Qwen2ForCausalLM

    eos = tokenizer.convert_tokens_to_ids(QWEN_EOS)
    config = Qwen2Config(vocab_size=len(tokenizer), tie_word_embeddings=True, bos_token_id=None, eos_token_id=eos,
                         pad_token_id=None, rope_theta=1000000.0, **_TINY)
    model = _construct(Qwen2ForCausalLM, config, seed)
    model.generation_config = GenerationConfig(bos_token_id=None, eos_token_id=eos)
    return model


def build_llama3_model(tokenizer: Any, *, seed: int = 0) -> PreTrainedModel:
    """A random tiny ``LlamaForCausalLM`` (untied embeddings); bos ``<|begin_of_text|>``, eos
    ``<|end_of_text|>`` in config and generation config (the Llama 3 base-model situation)."""
    from transformers import GenerationConfig, LlamaConfig, LlamaForCausalLM

    bos, eos = tokenizer.convert_tokens_to_ids([LLAMA3_BOS, LLAMA3_EOS])
    config = LlamaConfig(vocab_size=len(tokenizer), tie_word_embeddings=False, bos_token_id=bos, eos_token_id=eos,
                         pad_token_id=None, rope_theta=500000.0, **_TINY)
    model = _construct(LlamaForCausalLM, config, seed)
    model.generation_config = GenerationConfig(bos_token_id=bos, eos_token_id=eos)
    return model


def _construct(cls: Any, config: Any, seed: int) -> Any:
    import torch

    with torch.random.fork_rng(devices=[]):  # the caller's CPU RNG state is kept
        torch.manual_seed(seed)
        model = cls(config)
    return model.float().eval()


# ------------------------------------------------------------------------------ turn-end probability


def _measure_batch(tokenizer: Any, *, n: int = 16, completion_len: int = 48, seed: int = 1234):
    """Chat prompts with random contents + random completions: (input_ids (n, L), mask of the positions whose
    next-token distribution is measured: the generation prompt's last token and the completion tokens but
    the last)."""
    import torch

    g = torch.Generator().manual_seed(seed)
    letters = CHARS[1:]  # no newline inside contents
    rows, starts = [], []
    for _ in range(n):
        content = "".join(letters[i] for i in torch.randint(0, len(letters), (12,), generator=g).tolist())
        prompt = tokenizer.apply_chat_template([{"role": "user", "content": content}], tokenize=False,
                                               add_generation_prompt=True)
        ids = list(tokenizer(prompt, add_special_tokens=False)["input_ids"])
        starts.append(len(ids) - 1)
        ids += torch.randint(0, len(CHARS), (completion_len,), generator=g).tolist()
        rows.append(ids)
    length = max(len(r) for r in rows)
    input_ids = torch.zeros((n, length), dtype=torch.long)
    measure = torch.zeros((n, length), dtype=torch.bool)
    for i, (r, s) in enumerate(zip(rows, starts)):
        input_ids[i, :len(r)] = torch.tensor(r)
        measure[i, s:len(r) - 1] = True
    return input_ids, measure


def _position_probs(model: Any, input_ids: torch.Tensor, measure: torch.Tensor, token_ids: list[int]):
    """(positions, len(token_ids)) next-token probabilities of ``token_ids`` at the measured positions.
    Right padding with causal attention: the measured positions never see the padding."""
    import torch

    with torch.no_grad():
        logits = model(input_ids=input_ids).logits.float()
    probs = torch.softmax(logits[measure], dim=-1)
    return probs[:, token_ids]


def stop_token_probs(model: Any, tokenizer: Any, turn_end: str, end_of_text: str) -> dict[str, float]:
    """Per-step probabilities of the turn-end and end-of-text tokens after a chat generation prompt, over 16
    prompts x 48 random completion tokens: means, the median / 90th percentile of the turn-end token's, and
    ``turn_end_after_turn_end``: the mean P(turn end) right after a sampled turn-end token (one put 8 tokens
    into each completion)."""
    import torch

    ids = tokenizer.convert_tokens_to_ids([turn_end, end_of_text])
    input_ids, measure = _measure_batch(tokenizer)
    p = _position_probs(model, input_ids, measure, ids)
    q = torch.quantile(p[:, 0], torch.tensor([0.5, 0.9])).tolist()
    after = input_ids.clone()
    at = measure.float().argmax(dim=1) + 8  # 8 tokens after the generation prompt
    rows = torch.arange(len(after))
    after[rows, at] = ids[0]
    only = torch.zeros_like(measure)
    only[rows, at] = True
    repeat = float(_position_probs(model, after, only, ids[:1]).mean())
    return {"turn_end_mean": float(p[:, 0].mean()), "end_of_text_mean": float(p[:, 1].mean()),
            "turn_end_median": q[0], "turn_end_p90": q[1], "turn_end_after_turn_end": repeat}


def add_residual_bias(model: Any, norm: float = RESIDUAL_BIAS_NORM, *, seed: int = 7) -> None:
    """Give the last layer's value projection a fixed random bias whose image under ``o_proj`` is a constant
    vector ``c`` (``|c| = norm``) added to the residual stream at every position (Qwen2 has q/k/v biases).

    Why: in a tiny random model the final hidden state is mostly the current token's input embedding, so the
    hidden states share no common direction and a turn-end logit bias can only follow them loosely; worse,
    with tied embeddings the enlarged turn-end row is also that token's input embedding, and the model then
    repeats the turn-end token with P ~ 0.89 once it has sampled it. ``c`` (about one embedding's norm) gives
    every position a common direction: the turn-end probability becomes nearly constant per step and its
    repetition probability drops to ~0.17. The rest of the model stays random (other tokens ~uniform)."""
    import torch

    attn = model.model.layers[-1].self_attn
    cfg = model.config
    heads, kv_heads = cfg.num_attention_heads, cfg.num_key_value_heads
    head_dim = getattr(cfg, "head_dim", None) or cfg.hidden_size // heads
    bias = torch.randn(attn.v_proj.bias.shape, generator=torch.Generator().manual_seed(seed))
    per_head = bias.view(kv_heads, head_dim).repeat_interleave(heads // kv_heads, dim=0).reshape(-1)
    with torch.no_grad():
        c = attn.o_proj.weight @ per_head
        attn.v_proj.bias.copy_(bias * (norm / c.norm()))


def tune_stop_tokens(model: Any, tokenizer: Any, turn_end: str, end_of_text: str, *,
                     target_turn_end: float = TARGET_TURN_END,
                     target_end_of_text: float = TARGET_END_OF_TEXT) -> dict[str, float]:
    """Set the output-embedding rows of ``turn_end`` and ``end_of_text`` to multiples of the mean final-norm
    output (over chat prompts + random completions), with the multiples bisected (deterministically) until
    the mean per-step probabilities reach the targets. Returns :func:`stop_token_probs` plus the scales."""
    import torch

    input_ids, measure = _measure_batch(tokenizer)
    te_id, eot_id = tokenizer.convert_tokens_to_ids([turn_end, end_of_text])
    with torch.no_grad():
        hidden = model.model(input_ids=input_ids).last_hidden_state[measure]  # after the final norm
        mu = hidden.mean(0)
        direction = mu / mu.norm() ** 2  # h . direction has mean 1 over the measured positions
        weight = model.get_output_embeddings().weight  # tied: also the input embedding

    def set_row(token_id: int, scale: float) -> None:
        with torch.no_grad():
            weight[token_id] = scale * direction

    def bisect(token_id: int, column: int, target: float, other: tuple[int, float]) -> float:
        lo, hi = -4.0, 16.0
        for _ in range(24):
            mid = (lo + hi) / 2
            set_row(token_id, mid)
            set_row(*other)
            p = float(_position_probs(model, input_ids, measure, [te_id, eot_id])[:, column].mean())
            lo, hi = (mid, hi) if p < target else (lo, mid)
        set_row(token_id, (lo + hi) / 2)
        return (lo + hi) / 2

    te_scale, eot_scale = 0.0, 0.0
    for _ in range(2):  # the two rows share the softmax: alternate until both settle
        te_scale = bisect(te_id, 0, target_turn_end, (eot_id, eot_scale))
        eot_scale = bisect(eot_id, 1, target_end_of_text, (te_id, te_scale))
    set_row(te_id, te_scale)
    set_row(eot_id, eot_scale)
    stats = stop_token_probs(model, tokenizer, turn_end, end_of_text)
    stats.update(turn_end_scale=te_scale, end_of_text_scale=eot_scale)
    return stats


# ------------------------------------------------------------------------------------------- builders


def _save(model: Any, tokenizer: Any, path: str | Path, info: dict[str, Any]) -> Path:
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    (path / INFO_FILE).write_text(json.dumps(info, indent=2, sort_keys=True) + "\n")
    return path


def _info(tokenizer: Any, specials: tuple[str, ...], turn_end: str, end_of_text: str, stats: dict) -> dict:
    return {"special_ids": dict(zip(specials, tokenizer.convert_tokens_to_ids(list(specials)))),
            "turn_end": turn_end, "turn_end_id": tokenizer.convert_tokens_to_ids(turn_end),
            "end_of_text": end_of_text, "end_of_text_id": tokenizer.convert_tokens_to_ids(end_of_text),
            "per_step_probs": stats}


def build_qwen_chatml(path: str | Path, *, seed: int = 0) -> Path:
    """Save a tiny random Qwen2 model + Qwen2.5-format ChatML tokenizer into ``path`` (see the module doc);
    ``realmodel.json`` there records the special ids and the measured per-step stop-token probabilities."""
    tok = build_qwen_tokenizer()
    model = build_qwen_model(tok, seed=seed)
    add_residual_bias(model)
    stats = tune_stop_tokens(model, tok, QWEN_IM_END, QWEN_EOS)
    return _save(model, tok, path, _info(tok, QWEN_SPECIALS, QWEN_IM_END, QWEN_EOS, stats))


def build_llama3_style(path: str | Path, *, seed: int = 0) -> Path:
    """Save a tiny random Llama model + Llama-3-style tokenizer into ``path`` (see the module doc);
    ``realmodel.json`` there records the special ids and the measured per-step stop-token probabilities."""
    tok = build_llama3_tokenizer()
    model = build_llama3_model(tok, seed=seed)
    stats = tune_stop_tokens(model, tok, LLAMA3_EOT, LLAMA3_EOS)
    return _save(model, tok, path, _info(tok, LLAMA3_SPECIALS, LLAMA3_EOT, LLAMA3_EOS, stats))


def read_info(path: str | Path) -> dict[str, Any]:
    """The ``realmodel.json`` a builder wrote into ``path``."""
    return json.loads((Path(path) / INFO_FILE).read_text())
