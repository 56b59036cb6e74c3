"""A tiny random Qwen2.5-VL with the real classes and a real-format processor, built offline (no hub).

:func:`build_qwen_vl` saves a ``Qwen2_5_VLForConditionalGeneration`` and its processor into a directory that reloads
with ``AutoModelForImageTextToText`` and (``rlvr_bench.models.loading.load_processor``) the processor, so the code a
real ``Qwen/Qwen2.5-VL-7B-Instruct`` runs (3-D rotary positions from ``get_rope_index``, ``pixel_values`` /
``image_grid_thw``, the image placeholder expanded by the processor) runs here on CPU:

* tokenizer: the Qwen2.5-format ChatML tokenizer of :func:`tests.realmodels.builders.build_qwen_tokenizer` (one
  token per ASCII character; ``<|endoftext|>`` 96, ``<|im_start|>`` 97, ``<|im_end|>`` 98) extended with the vision
  specials ``<|vision_start|>`` 99, ``<|vision_end|>`` 100, ``<|image_pad|>`` 101, ``<|video_pad|>`` 102, and
  Qwen2-VL's chat template (verbatim, below), also the processor's;
* image processor: ``Qwen2VLImageProcessorPil`` (torchvision is not installed here) with patch 14, spatial merge 2,
  temporal patch 2 and ``min_pixels = 56 x 56``, ``max_pixels = 112 x 112``: a 56 x 56 image is 4 x 4 patches of
  1176 values, merged into 4 image tokens;
* model: text tower hidden 32, 2 layers, 4 heads, 2 KV heads, ``mrope_section`` [2, 1, 1] (head dim 8); vision
  tower depth 2, hidden 32, 4 heads, output 32; untied embeddings (as Qwen2.5-VL-7B); eos ``<|endoftext|>``.
  As in ``builders``, the output rows of ``<|im_end|>`` and ``<|endoftext|>`` are set to multiples of the mean
  final hidden state (:func:`tune_stop_rows`; the embeddings are untied, so the hidden states do not move and one
  forward pass suffices) so that sampling stops at the chat turn end at ~7.5% and at end of text at ~2% per step.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.realmodels.builders import (
    CHARS,
    QWEN_EOS,
    QWEN_IM_END,
    TARGET_END_OF_TEXT,
    TARGET_TURN_END,
    build_qwen_tokenizer,
)

__all__ = ["QWEN_VL_CHAT_TEMPLATE", "VISION_SPECIALS", "build_qwen_vl", "solid_image", "tune_stop_rows"]

VISION_SPECIALS = ("<|vision_start|>", "<|vision_end|>", "<|image_pad|>", "<|video_pad|>")

# Qwen2-VL-7B-Instruct's chat template (also Qwen2.5-VL's), verbatim
QWEN_VL_CHAT_TEMPLATE = (
    "{% set image_count = namespace(value=0) %}{% set video_count = namespace(value=0) %}{% for message in messages %}"
    "{% if loop.first and message['role'] != 'system' %}<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n"
    "{% endif %}<|im_start|>{{ message['role'] }}\n{% if message['content'] is string %}{{ message['content'] }}"
    "<|im_end|>\n{% else %}{% for content in message['content'] %}{% if content['type'] == 'image' or 'image' in "
    "content or 'image_url' in content %}{% set image_count.value = image_count.value + 1 %}{% if add_vision_id %}"
    "Picture {{ image_count.value }}: {% endif %}<|vision_start|><|image_pad|><|vision_end|>{% elif content['type'] "
    "== 'video' or 'video' in content %}{% set video_count.value = video_count.value + 1 %}{% if add_vision_id %}"
    "Video {{ video_count.value }}: {% endif %}<|vision_start|><|video_pad|><|vision_end|>{% elif 'text' in content %}"
    "{{ content['text'] }}{% endif %}{% endfor %}<|im_end|>\n{% endif %}{% endfor %}{% if add_generation_prompt %}"
    "<|im_start|>assistant\n{% endif %}"
)

_TEXT = dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
             max_position_embeddings=512, initializer_range=0.02,
             rope_parameters={"rope_type": "default", "rope_theta": 1000000.0, "mrope_section": [2, 1, 1]})
_VISION = dict(depth=2, hidden_size=32, intermediate_size=64, num_heads=4, out_hidden_size=32, patch_size=14,
               spatial_merge_size=2, temporal_patch_size=2, window_size=112, fullatt_block_indexes=[1],
               initializer_range=0.02)


def _tokenizer() -> Any:
    from tokenizers import AddedToken

    tok = build_qwen_tokenizer()
    specials = ["<|im_start|>", "<|im_end|>", *VISION_SPECIALS]
    tok.add_special_tokens({"additional_special_tokens": [AddedToken(t, special=True, normalized=False)
                                                          for t in specials]})
    ids = tok.convert_tokens_to_ids(list(VISION_SPECIALS))
    assert ids == [99, 100, 101, 102], ids
    tok.chat_template = QWEN_VL_CHAT_TEMPLATE
    return tok


def _model(tok: Any, seed: int) -> Any:
    import torch
    from transformers import GenerationConfig, Qwen2_5_VLConfig, Qwen2_5_VLForConditionalGeneration

    eos = tok.convert_tokens_to_ids(QWEN_EOS)
    start, end, image, video = tok.convert_tokens_to_ids(list(VISION_SPECIALS))
    config = Qwen2_5_VLConfig(text_config={**_TEXT, "vocab_size": len(tok), "eos_token_id": eos, "bos_token_id": None},
                              vision_config=_VISION, image_token_id=image, video_token_id=video,
                              vision_start_token_id=start, vision_end_token_id=end, tie_word_embeddings=False)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = Qwen2_5_VLForConditionalGeneration(config)
    model.generation_config = GenerationConfig(bos_token_id=None, eos_token_id=eos)
    return model.float().eval()


def build_qwen_vl(path: str | Path, *, seed: int = 0) -> Path:
    """Save the tiny random Qwen2.5-VL and its processor files into ``path`` (see the module docstring)."""
    from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import Qwen2VLImageProcessorPil

    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    tok = _tokenizer()
    model = _model(tok, seed)
    stats = tune_stop_rows(model, tok, {QWEN_IM_END: TARGET_TURN_END, QWEN_EOS: TARGET_END_OF_TEXT})
    model.save_pretrained(path)
    tok.save_pretrained(path)
    Qwen2VLImageProcessorPil(min_pixels=56 * 56, max_pixels=112 * 112, patch_size=14, merge_size=2,
                             temporal_patch_size=2).save_pretrained(path)
    (path / "processor_config.json").write_text(json.dumps({"processor_class": "Qwen2_5_VLProcessor"}) + "\n")
    (path / "chat_template.jinja").write_text(QWEN_VL_CHAT_TEMPLATE)
    (path / "realmodel.json").write_text(json.dumps({"per_step_probs": stats}, indent=2) + "\n")
    return path


def tune_stop_rows(model: Any, tok: Any, targets: dict[str, float]) -> dict[str, float]:
    """Set the output rows of ``targets``' tokens to ``scale x`` the mean final hidden state (direction normalised so
    that its dot product with the mean is 1), each scale bisected until the token's mean next-token probability
    over 16 chat prompts x 32 random completion positions is its target; returns the measured probabilities."""
    import torch

    g = torch.Generator().manual_seed(1234)
    rows = []
    for _ in range(16):
        content = "".join(CHARS[1 + i] for i in torch.randint(0, len(CHARS) - 1, (12,), generator=g).tolist())
        prompt = tok.apply_chat_template([{"role": "user", "content": content}], tokenize=False,
                                         add_generation_prompt=True)
        rows.append(list(tok(prompt, add_special_tokens=False)["input_ids"])
                    + torch.randint(0, len(CHARS), (32,), generator=g).tolist())
    with torch.no_grad():
        hidden = model.model(input_ids=torch.tensor(rows)).last_hidden_state[:, -33:-1].reshape(-1, 32)
        mu = hidden.mean(0)
        direction = mu / mu.norm() ** 2
        weight = model.lm_head.weight
        ids = {t: tok.convert_tokens_to_ids(t) for t in targets}
        for _ in range(3):  # the rows share the softmax: alternate until they settle
            for token, target in targets.items():
                lo, hi = -4.0, 16.0
                for _ in range(30):
                    weight[ids[token]] = (lo + hi) / 2 * direction
                    p = float(torch.softmax(hidden @ weight.T, -1)[:, ids[token]].mean())
                    lo, hi = ((lo + hi) / 2, hi) if p < target else (lo, (lo + hi) / 2)
                weight[ids[token]] = (lo + hi) / 2 * direction
        probs = torch.softmax(hidden @ weight.T, -1)
    return {token: float(probs[:, i].mean()) for token, i in ids.items()}


def solid_image(seed: int, size: tuple[int, int] = (56, 56)) -> Any:
    """A random RGB image (uniform noise from ``seed``) of ``size`` (width, height)."""
    import numpy as np
    from PIL import Image

    pixels = np.random.default_rng(seed).integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
    return Image.fromarray(pixels, "RGB")
