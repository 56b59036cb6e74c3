"""The toy vision-language model: a tiny Qwen2.5-VL over the toy character-level vocabulary.

* **Tokenizer:** the toy tokenizer of ``rlvr_bench.models.toy`` (``<pad>`` 0, ``</s>`` 1, ``<unk>`` 2, then
  one token per printable ASCII character and ``\\n``) extended with Qwen2-VL's vision tokens
  ``<|vision_start|>`` (99), ``<|vision_end|>`` (100), ``<|image_pad|>`` (101) and ``<|video_pad|>`` (102),
  named on the tokenizer as ``image_token``, ``video_token``, ``vision_start_token`` and
  ``vision_end_token``. It reloads through ``AutoTokenizer`` as ``TokenizersBackend`` (the model type
  ``qwen2_5_vl``, unlike ``qwen2``, does not force ``Qwen2Tokenizer`` on reload; a test checks the ids).
* **Processor:** the PIL image processor ``Qwen2VLImageProcessorPil`` (patch 14, temporal patch 2, 2 x 2
  merge; ``min_pixels``/``max_pixels`` keep a chart at its own size: an 84 x 56 chart is 6 x 4 patches,
  6 image tokens) with the tokenizer and :data:`TOY_VL_CHAT_TEMPLATE`, saved as ``PaddleOCRVLProcessor``:
  transformers' ``Qwen2_5_VLProcessor`` cannot be built without torchvision (its video processor needs it,
  and torchvision is not installed), while ``PaddleOCRVLProcessor`` is the same image path without video
  (``<|image_pad|>`` repeated ``grid_t * grid_h * grid_w / merge**2`` times). It reloads with
  ``AutoProcessor``.
* **Model:** ``Qwen2_5_VLForConditionalGeneration`` (model type ``qwen2_5_vl``: 3-D rotary positions with
  ``mrope_section``, ``image_grid_thw``) from a ``Qwen2_5_VLConfig`` with a small vision tower and text
  decoder, tied embeddings; it reloads with ``AutoModelForImageTextToText``.

The chat template renders the toy world's plain prompt: for the interface's messages
``[{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "sum=?"}]}]`` it gives
``<|vision_start|><|image_pad|><|vision_end|>Q:sum=?A:`` (the processor then repeats ``<|image_pad|>`` once
per image token); a text that is already a toy prompt (``Q:sum=?A:``, as ``rlvr_bench.data.templates`` fills
the ``toy`` template into the message) is not wrapped twice. An assistant message renders as its text followed
by ``</s>``.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from rlvr_bench.config.toy_visual import ToyVisualModelConfig
from rlvr_bench.models.toy import EOS_TOKEN, build_toy_tokenizer, init_toy_model
from rlvr_bench.models.toy import save_toy as save_vl  # the same save_pretrained of a model and its processor

if TYPE_CHECKING:
    from transformers import PreTrainedModel, PreTrainedTokenizerBase, ProcessorMixin

__all__ = [
    "IMAGE_PAD",
    "MAX_PIXELS",
    "MIN_PIXELS",
    "TOY_VL_CHAT_TEMPLATE",
    "VIDEO_PAD",
    "VISION_END",
    "VISION_START",
    "VISION_TOKENS",
    "build_vision_processor",
    "build_vision_tokenizer",
    "build_vl_model",
    "load_vl",
    "save_vl",
    "toy_vl_config",
]

VISION_START, VISION_END, IMAGE_PAD, VIDEO_PAD = "<|vision_start|>", "<|vision_end|>", "<|image_pad|>", "<|video_pad|>"
VISION_TOKENS = (VISION_START, VISION_END, IMAGE_PAD, VIDEO_PAD)
MIN_PIXELS = 28 * 28  # never upscale a chart (smart_resize rounds each side to a multiple of 28)
MAX_PIXELS = 56 * 112  # at most 8 image tokens: a 4-bar chart; larger images are scaled down to fit

_TOY_PROMPT = ("{%- if text.startswith('Q:') and text.endswith('A:') -%}{{ text }}"
               "{%- else -%}Q:{{ text }}A:{%- endif -%}")
TOY_VL_CHAT_TEMPLATE = (
    "{%- for message in messages -%}"
    "{%- if message['role'] == 'assistant' -%}"
    "{%- if message['content'] is string -%}{{ message['content'] }}"
    "{%- else -%}{%- for part in message['content'] -%}{%- if part['type'] == 'text' -%}{{ part['text'] }}"
    "{%- endif -%}{%- endfor -%}{%- endif -%}" + EOS_TOKEN +
    "{%- elif message['content'] is string -%}{%- set text = message['content'] -%}" + _TOY_PROMPT +
    "{%- else -%}{%- for part in message['content'] -%}"
    "{%- if part['type'] == 'image' -%}" + VISION_START + IMAGE_PAD + VISION_END +
    "{%- elif part['type'] == 'text' -%}{%- set text = part['text'] -%}" + _TOY_PROMPT +
    "{%- endif -%}{%- endfor -%}{%- endif -%}{%- endfor -%}"
)
"""User turns: the image placeholder, then the toy prompt ``Q:<text>A:`` (a text that already is one, as the
``toy`` prompt template fills it, is kept as is); assistant turns: their text + ``</s>``."""


def build_vision_tokenizer(model_max_length: int = 256) -> PreTrainedTokenizerBase:
    """The toy character-level tokenizer plus the four vision tokens (ids 99..102), left padding, no BOS."""
    return build_toy_tokenizer(model_max_length, special_tokens=VISION_TOKENS, image_token=IMAGE_PAD,
                               video_token=VIDEO_PAD, vision_start_token=VISION_START, vision_end_token=VISION_END)


def build_vision_processor(tokenizer: Any = None) -> ProcessorMixin:
    """The processor: ``Qwen2VLImageProcessorPil`` + the vision tokenizer + :data:`TOY_VL_CHAT_TEMPLATE`."""
    from transformers import PaddleOCRVLProcessor
    from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import Qwen2VLImageProcessorPil

    tokenizer = build_vision_tokenizer() if tokenizer is None else tokenizer
    tokenizer.chat_template = TOY_VL_CHAT_TEMPLATE
    images = Qwen2VLImageProcessorPil(min_pixels=MIN_PIXELS, max_pixels=MAX_PIXELS)
    return PaddleOCRVLProcessor(image_processor=images, tokenizer=tokenizer, chat_template=TOY_VL_CHAT_TEMPLATE)


def toy_vl_config(cfg: ToyVisualModelConfig | None = None, tokenizer: Any = None) -> Any:
    """The ``Qwen2_5_VLConfig`` of the toy VL model (vocabulary and special ids from ``tokenizer``)."""
    from transformers import Qwen2_5_VLConfig

    cfg = ToyVisualModelConfig() if cfg is None else cfg
    tokenizer = build_vision_tokenizer() if tokenizer is None else tokenizer
    if cfg.hidden_size % cfg.num_attention_heads or cfg.num_attention_heads % cfg.num_key_value_heads:
        raise ValueError("toy.visual.model: hidden_size must divide by num_attention_heads, and that by "
                         "num_key_value_heads")
    head_dim = cfg.hidden_size // cfg.num_attention_heads
    if 2 * sum(cfg.mrope_section) != head_dim:
        raise ValueError(f"toy.visual.model.mrope_section {cfg.mrope_section} must sum to head_dim / 2 = "
                         f"{head_dim // 2}")
    if cfg.vision_hidden_size % cfg.vision_heads:
        raise ValueError("toy.visual.model: vision_hidden_size must divide by vision_heads")
    start, end, image, video = tokenizer.convert_tokens_to_ids(list(VISION_TOKENS))
    text = dict(vocab_size=len(tokenizer), hidden_size=cfg.hidden_size, intermediate_size=cfg.intermediate_size,
                num_hidden_layers=cfg.num_hidden_layers, num_attention_heads=cfg.num_attention_heads,
                num_key_value_heads=cfg.num_key_value_heads, max_position_embeddings=cfg.max_position_embeddings,
                rope_parameters={"rope_type": "default", "rope_theta": cfg.rope_theta,
                                 "mrope_section": list(cfg.mrope_section)},
                initializer_range=cfg.initializer_range, bos_token_id=None, eos_token_id=tokenizer.eos_token_id,
                pad_token_id=tokenizer.pad_token_id)
    vision = dict(depth=cfg.vision_depth, hidden_size=cfg.vision_hidden_size, num_heads=cfg.vision_heads,
                  intermediate_size=cfg.vision_intermediate_size, out_hidden_size=cfg.hidden_size,
                  fullatt_block_indexes=[cfg.vision_depth - 1], window_size=112,
                  initializer_range=cfg.initializer_range)
    return Qwen2_5_VLConfig(text_config=text, vision_config=vision, image_token_id=image, video_token_id=video,
                            vision_start_token_id=start, vision_end_token_id=end, tie_word_embeddings=True)


def build_vl_model(cfg: ToyVisualModelConfig | None = None, *, seed: int = 0, tokenizer: Any = None) -> PreTrainedModel:
    """A freshly initialised toy ``Qwen2_5_VLForConditionalGeneration`` (float32), deterministic for ``seed``."""
    from transformers import Qwen2_5_VLForConditionalGeneration

    config = toy_vl_config(cfg, tokenizer)
    model = init_toy_model(Qwen2_5_VLForConditionalGeneration, config, seed, config.text_config)
    return model.float().eval()


def load_vl(path: str | Path) -> tuple[PreTrainedModel, Any]:
    """Reload a saved toy VL model and processor through ``AutoModelForImageTextToText`` / ``AutoProcessor``."""
    from transformers import AutoModelForImageTextToText, AutoProcessor

    processor = AutoProcessor.from_pretrained(path)
    model = AutoModelForImageTextToText.from_pretrained(path)
    return model.eval(), processor
