"""The offline toy model: a character-level tokenizer and a ~1M-parameter Llama.

* Tokenizer: one token per character of printable ASCII (space to ``~``) plus ``"\\n"``, and the special
  tokens ``<pad>`` (id 0), ``</s>`` (eos, id 1) and ``<unk>`` (id 2); no BOS is added. It is a
  ``tokenizers`` BPE model with an empty merge list wrapped as ``PreTrainedTokenizerFast`` with left
  padding, saved with ``save_pretrained`` and reloaded by ``AutoTokenizer`` (transformers 5 names the class
  ``TokenizersBackend``). A character outside the vocabulary would silently become ``<unk>``, so
  :func:`check_toy_text` and :func:`encode_toy` raise instead.
* Model: ``LlamaForCausalLM`` from a ``LlamaConfig`` (model type ``llama``: in transformers 5 a ``qwen2``
  config forces ``Qwen2Tokenizer`` on reload and breaks the custom tokenizer), tied embeddings, reloadable
  with ``AutoModelForCausalLM``.

The printable-ASCII vocabulary leaves room for a toy *code* family sharing the same tokenizer and base.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from rlvr_bench.config.toy import ToyModelConfig

if TYPE_CHECKING:
    from transformers import LlamaConfig, PreTrainedModel, PreTrainedTokenizerBase

__all__ = [
    "EOS_TOKEN",
    "PAD_TOKEN",
    "SPECIAL_TOKENS",
    "TOY_CHARS",
    "UNK_TOKEN",
    "build_toy_model",
    "build_toy_tokenizer",
    "check_toy_text",
    "encode_toy",
    "init_toy_model",
    "load_toy",
    "save_toy",
    "toy_llama_config",
    "toy_vocab",
]

PAD_TOKEN, EOS_TOKEN, UNK_TOKEN = "<pad>", "</s>", "<unk>"
SPECIAL_TOKENS = (PAD_TOKEN, EOS_TOKEN, UNK_TOKEN)
TOY_CHARS = "\n" + "".join(chr(i) for i in range(32, 127))
_CHARSET = frozenset(TOY_CHARS)


def toy_vocab() -> dict[str, int]:
    """Token -> id: the special tokens first (pad 0, eos 1, unk 2), then ``TOY_CHARS`` in order."""
    return {tok: i for i, tok in enumerate((*SPECIAL_TOKENS, *TOY_CHARS))}


def build_toy_tokenizer(model_max_length: int = 256, *, special_tokens: tuple[str, ...] = (),
                        **attributes: Any) -> PreTrainedTokenizerBase:
    """A fresh character-level tokenizer (left padding, eos ``</s>``, pad ``<pad>``, no BOS).

    ``special_tokens`` are added after the toy vocabulary (the visual world's vision tokens) and
    ``attributes`` are passed to the tokenizer (their names, e.g. ``image_token``).
    """
    from tokenizers import AddedToken, Tokenizer, decoders, models
    from transformers import PreTrainedTokenizerFast

    backend = Tokenizer(models.BPE(vocab=toy_vocab(), merges=[], unk_token=UNK_TOKEN))
    backend.decoder = decoders.Fuse()
    if special_tokens:
        backend.add_special_tokens([AddedToken(t, special=True, normalized=False) for t in special_tokens])
    return PreTrainedTokenizerFast(
        tokenizer_object=backend,
        pad_token=PAD_TOKEN,
        eos_token=EOS_TOKEN,
        unk_token=UNK_TOKEN,
        padding_side="left",
        clean_up_tokenization_spaces=False,
        model_max_length=model_max_length,
        **attributes,
    )


def check_toy_text(text: str) -> None:
    """Raise ``ValueError`` if ``text`` cannot be encoded exactly by the toy tokenizer.

    The tokenizer maps an unknown character to ``<unk>`` and reads a special token's spelling
    (``</s>``) as that token, so neither may appear in task text.
    """
    if not isinstance(text, str):
        raise TypeError(f"toy text must be str, got {type(text).__name__}")
    for pos, ch in enumerate(text):
        if ch not in _CHARSET:
            raise ValueError(
                f"character {ch!r} (U+{ord(ch):04X}) at position {pos} of {text[:40]!r} is outside the toy "
                "vocabulary (printable ASCII and '\\n')"
            )
    for tok in SPECIAL_TOKENS:
        if tok in text:
            raise ValueError(f"toy text {text[:40]!r} contains the special token spelling {tok!r}")


def encode_toy(tokenizer: PreTrainedTokenizerBase, text: str) -> list[int]:
    """Token ids of ``text`` (one per character), after :func:`check_toy_text`."""
    check_toy_text(text)
    return list(tokenizer(text, add_special_tokens=False)["input_ids"])


def toy_llama_config(cfg: ToyModelConfig | None = None, tokenizer: Any = None) -> LlamaConfig:
    """The ``LlamaConfig`` of the toy model (vocabulary and special ids from ``tokenizer``)."""
    from transformers import LlamaConfig

    cfg = ToyModelConfig() if cfg is None else cfg
    tokenizer = build_toy_tokenizer() if tokenizer is None else tokenizer
    if cfg.hidden_size % cfg.num_attention_heads:
        raise ValueError(f"hidden_size {cfg.hidden_size} is not divisible by {cfg.num_attention_heads} heads")
    if cfg.num_attention_heads % cfg.num_key_value_heads:
        raise ValueError("num_attention_heads must be a multiple of num_key_value_heads")
    return LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=cfg.hidden_size,
        intermediate_size=cfg.intermediate_size,
        num_hidden_layers=cfg.num_hidden_layers,
        num_attention_heads=cfg.num_attention_heads,
        num_key_value_heads=cfg.num_key_value_heads,
        max_position_embeddings=cfg.max_position_embeddings,
        rope_theta=cfg.rope_theta,
        initializer_range=cfg.initializer_range,
        tie_word_embeddings=True,
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
        bos_token_id=None,
    )


def build_toy_model(cfg: ToyModelConfig | None = None, *, seed: int = 0, tokenizer: Any = None) -> PreTrainedModel:
    """A freshly initialised toy ``LlamaForCausalLM`` (float32), deterministic for ``seed``."""
    from transformers import LlamaForCausalLM

    return init_toy_model(LlamaForCausalLM, toy_llama_config(cfg, tokenizer), seed)


def init_toy_model(model_cls: Any, config: Any, seed: int, text_config: Any = None) -> PreTrainedModel:
    """``model_cls(config)`` initialised from ``seed`` on the CPU generator only (the caller's RNG state is
    kept), its generation config given the pad and eos ids of ``text_config`` (default ``config``) and no BOS:
    the text toy model and the toy VL model (``rlvr_bench.models.toy_vision``) alike."""
    import torch

    text = config if text_config is None else text_config
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = model_cls(config)
    gen = model.generation_config
    gen.pad_token_id, gen.eos_token_id, gen.bos_token_id = text.pad_token_id, text.eos_token_id, None
    return model


def save_toy(model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, path: str | Path) -> Path:
    """``save_pretrained`` both into ``path`` (created if missing)."""
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


def load_toy(path: str | Path) -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
    """Reload a saved toy model and tokenizer through ``AutoModelForCausalLM`` / ``AutoTokenizer``."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(path)
    model = AutoModelForCausalLM.from_pretrained(path)
    return model, tokenizer
