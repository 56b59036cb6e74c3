"""Named prompt templates and chat templates.

The template is a recorded setting, not an implementation detail: arXiv 2504.07086 ("A Sober Look at
Progress in LM Reasoning") shows that the prompt/chat template alone moves pass@1 by several points, so
every sample file and env record names the template that produced it.

A template turns one dataset row (its ``problem`` column) into the text a causal LM continues. Plain
templates are ``str.format`` patterns over ``{problem}``; chat templates build a list of messages that the
tokenizer's own ``apply_chat_template`` renders (so a real instruct model gets its native format).

Vision-language models have one prompt path, whatever the template: the user message is a content list, the image
first, then the text (the plain pattern or the chat pattern filled with the problem)::

    [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": <pattern with the problem>}]}]

rendered by the *processor's* chat template (``processor.apply_chat_template(..., add_generation_prompt=True)``);
``processor(text=..., images=...)`` then expands the image placeholder into the image's tokens. A toy VL
processor's chat template renders the plain toy prompt after the image tokens, a real one (Qwen2.5-VL) its
ChatML turn with ``<|vision_start|><|image_pad|><|vision_end|>``. :func:`render_prompt` takes this path when it is
given a processor (an object with an ``image_processor`` and a ``tokenizer``); :func:`text_tokenizer` is the
one way to get the text tokenizer of either a tokenizer or a processor.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = [
    "PromptTemplate",
    "TEMPLATES",
    "chat_end_token",
    "chat_template_sha256",
    "get_template",
    "is_processor",
    "render_prompt",
    "text_tokenizer",
    "template_names",
    "template_sha256",
]


@dataclass(frozen=True)
class PromptTemplate:
    """A named prompt format.

    Attributes:
        name: registry key, recorded with every sample.
        pattern: ``str.format`` pattern with a ``{problem}`` field (plain templates), or the user
            message pattern (chat templates).
        chat: when True the prompt is rendered with ``tokenizer.apply_chat_template`` from
            ``[{"role": "system", ...}?, {"role": "user", "content": pattern.format(problem=...)}]``.
        system: optional system message for chat templates.
        description: one line for ``rlvr-bench recipes`` and the docs.
        turn_end: tokens that end the model's turn in this format besides the tokenizer's end-of-text
            (the stopping rule, ``rlvr_bench.rollout.stopping``). A chat template's own turn-end token is
            found from the tokenizer's chat template (:func:`chat_end_token`); names listed here are used
            when the tokenizer has them as single tokens (e.g. ``<|im_end|>`` for Qwen's ChatML).
    """

    name: str
    pattern: str
    chat: bool = False
    system: str | None = None
    description: str = ""
    turn_end: tuple[str, ...] = ()

    def turn_end_tokens(self, tokenizer=None) -> list[str]:
        """The turn-end tokens of this template for ``tokenizer`` (only tokens it has as one id)."""
        names = list(self.turn_end)
        if self.chat and tokenizer is not None:
            detected = chat_end_token(tokenizer)
            if detected is not None:
                names.insert(0, detected)
        if tokenizer is None:
            return list(dict.fromkeys(names))
        return [t for t in dict.fromkeys(names) if _single_token_id(tokenizer, t) is not None]

    def messages(self, problem: str, *, image: bool = False) -> list[dict[str, Any]]:
        """Chat messages for one problem (also used for verl's ``prompt`` column).

        With ``image`` the user content is ``[{"type": "image"}, {"type": "text", "text": ...}]`` (the one
        vision-language prompt path, see the module docstring); the system message stays a string.
        """
        msgs: list[dict[str, Any]] = []
        if self.system:
            msgs.append({"role": "system", "content": self.system})
        text = self.pattern.format(problem=problem)
        content: Any = [{"type": "image"}, {"type": "text", "text": text}] if image else text
        msgs.append({"role": "user", "content": content})
        return msgs


_BOX = "Please reason step by step, and put your final answer within \\boxed{{}}."

TEMPLATES: dict[str, PromptTemplate] = {
    t.name: t
    for t in [
        PromptTemplate("toy", "Q:{problem}A:", description="offline toy world: 'Q:<problem>A:' (char-level)"),
        PromptTemplate("plain", "{problem}", description="the problem text as is"),
        PromptTemplate(
            "qwen_boxed",
            "{problem}\n" + _BOX,
            chat=True,
            system="You are a helpful assistant.",
            description="Qwen2.5-Math chat format with the \\boxed{} instruction",
            turn_end=("<|im_end|>",),
        ),
        PromptTemplate(
            "r1_distill",
            "{problem}\n" + _BOX,
            chat=True,
            description="DeepSeek-R1-Distill format: user turn only, no system prompt",
            turn_end=("<｜end▁of▁sentence｜>",),
        ),
        PromptTemplate(
            "boxed_completion",
            "Problem: {problem}\n" + _BOX + "\nSolution:",
            description="base-model completion format with the \\boxed{} instruction",
        ),
        PromptTemplate(
            "humaneval_completion",
            "{problem}",
            description="HumanEval for base models: the signature + docstring as is; the model writes the "
            "body (sampled with the Codex stop sequences)",
        ),
        PromptTemplate(
            "r1v_boxed",
            "{problem} You FIRST think about the reasoning process as an internal monologue and then provide the "
            "final answer. The reasoning process MUST BE enclosed within <think> </think> tags. The final answer "
            "MUST BE put in \\boxed{{}}.",
            chat=True,
            description="EasyR1's Geometry3K format prompt (the paper's visual runs): think, then \\boxed{} "
            "(vision-language chat models)",
            turn_end=("<|im_end|>",),
        ),
        PromptTemplate(
            "code_chat",
            "{problem}\nWrite the solution as a Python code block.",
            chat=True,
            description="code tasks: ask for one fenced Python block",
        ),
    ]
}


def template_names() -> list[str]:
    """Sorted names of the registered templates."""
    return sorted(TEMPLATES)


def get_template(name: str) -> PromptTemplate:
    """Look up a template by name; unknown names raise ``KeyError`` listing the valid ones."""
    try:
        return TEMPLATES[name]
    except KeyError:
        raise KeyError(f"unknown prompt template {name!r}; valid: {', '.join(template_names())}") from None


def is_processor(processing_class: Any) -> bool:
    """True for a multimodal processor (it has an image processor and a text tokenizer), False for a tokenizer."""
    return hasattr(processing_class, "image_processor") and hasattr(processing_class, "tokenizer")


def text_tokenizer(processing_class: Any) -> Any:
    """The text tokenizer of a tokenizer (itself) or a processor (``processor.tokenizer``)."""
    return processing_class.tokenizer if is_processor(processing_class) else processing_class


def render_prompt(template: str | PromptTemplate, problem: str, tokenizer=None, *, image: bool | None = None) -> str:
    """Render the text a causal LM continues for one problem.

    Chat templates need a tokenizer with a chat template; the result ends with the generation prompt. With a
    processor (``image`` None = whether ``tokenizer`` is one) the prompt holds the image placeholder: the
    template's messages with an image content part, rendered by the processor's chat template (every template,
    plain or chat, takes this path for a vision-language model).
    """
    tpl = get_template(template) if isinstance(template, str) else template
    if image is None:
        image = is_processor(tokenizer)
    if image:
        return _render_vision(tpl, problem, tokenizer)
    if not tpl.chat:
        return tpl.pattern.format(problem=problem)
    if tokenizer is None or getattr(tokenizer, "chat_template", None) is None:
        raise ValueError(
            f"prompt template {tpl.name!r} is a chat template but the tokenizer has no chat_template; "
            "use a plain template (e.g. 'boxed_completion') for base models"
        )
    return tokenizer.apply_chat_template(tpl.messages(problem), tokenize=False, add_generation_prompt=True)


def _render_vision(tpl: PromptTemplate, problem: str, processor: Any) -> str:
    """The vision-language prompt: the template's messages with the image first, the processor's chat template."""
    if getattr(processor, "chat_template", None) is None:
        raise ValueError(f"prompt template {tpl.name!r} for images needs a processor with a chat_template (got "
                         f"{type(processor).__name__}); load the model's processor (AutoProcessor)")
    return processor.apply_chat_template(tpl.messages(problem, image=True), tokenize=False, add_generation_prompt=True)


def template_sha256(template: str | PromptTemplate, tokenizer=None) -> str:
    """sha256 of everything that decides how a problem is rendered: the named template's fields and, for a
    chat template, the tokenizer's own Jinja chat template (provenance: two results with the same template
    name but another chat template are told apart)."""
    import hashlib
    import json

    tpl = get_template(template) if isinstance(template, str) else template
    record = {"name": tpl.name, "pattern": tpl.pattern, "chat": tpl.chat, "system": tpl.system,
              "chat_template": getattr(tokenizer, "chat_template", None) if tpl.chat else None}
    return hashlib.sha256(json.dumps(record, sort_keys=True).encode()).hexdigest()


def chat_template_sha256(tokenizer) -> str | None:
    """sha256 of the tokenizer's own Jinja chat template (None without one)."""
    import hashlib

    chat = getattr(tokenizer, "chat_template", None)
    return hashlib.sha256(chat.encode()).hexdigest() if isinstance(chat, str) else None


def chat_end_token(tokenizer) -> str | None:
    """The special token that closes an assistant turn in the tokenizer's chat template (``<|im_end|>`` for Qwen,
    ``<|eot_id|>`` for Llama 3), or None when there is no chat template or no such token."""
    if getattr(tokenizer, "chat_template", None) is None:
        return None
    mark = "RLVRBENCHMARK"
    text = tokenizer.apply_chat_template([{"role": "user", "content": "x"}, {"role": "assistant", "content": mark}],
                                         tokenize=False)
    if mark not in text:
        return None
    tail = text.split(mark, 1)[1]
    special = set(tokenizer.all_special_ids) | {i for i, t in getattr(tokenizer, "added_tokens_decoder", {}).items()
                                                if getattr(t, "special", False)}
    for token_id in tokenizer(tail, add_special_tokens=False)["input_ids"]:
        if token_id in special:
            return tokenizer.convert_ids_to_tokens(token_id)
    return None


def _single_token_id(tokenizer, token: str) -> int | None:
    """The id of ``token`` when the tokenizer encodes it as exactly one id, else None."""
    ids = tokenizer(token, add_special_tokens=False)["input_ids"]
    return int(ids[0]) if len(ids) == 1 else None
