"""One stopping rule for every path that samples: RL rollouts, evaluation, RFT and distillation sampling,
TRL's on-policy generation, the verl export and vLLM.

A model stops at the first of:

* an **end-of-text id**: the tokenizer's ``eos_token_id`` and the model's ``generation_config.eos_token_id``;
* a **turn-end id** of the prompt template: the token that closes an assistant turn in the tokenizer's chat
  template (``<|im_end|>`` for Qwen's ChatML, ``<|eot_id|>`` for Llama 3) and any the template names
  (``PromptTemplate.turn_end``). A Qwen2.5 *base* model's end-of-text is ``<|endoftext|>``: without this
  rule, a chat-formatted prompt would be continued past ``<|im_end|>`` into a new turn until
  ``max_new_tokens`` (every sample truncated);
* a **stop string**: a string that is one special token of the tokenizer (``'<|im_end|>'``) becomes a stop
  id; any other string is matched on the text decoded *with* special tokens.

The rule is resolved once per run (:func:`resolve_stop_rule`), recorded in ``env.json`` and with every
sample's decoding (``Decoding.stop_token_ids``), and saved with every checkpoint, full or LoRA
(:func:`write_generation_record`), so that ``rlvr-bench eval CHECKPOINT`` stops the same way as the run did.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rlvr_bench.rollout.base import Decoding

__all__ = [
    "GENERATION_RECORD",
    "StopRule",
    "end_of_text_ids",
    "read_generation_record",
    "resolve_stop_rule",
    "set_generation_eos",
    "write_generation_record",
]

GENERATION_RECORD = "rlvr_generation.json"
"""File in every checkpoint directory: the template, evaluation decoding and stop rule the run used."""


@dataclass(frozen=True)
class StopRule:
    """The resolved stop set of one run.

    Attributes:
        eos_ids: end-of-text ids (tokenizer and generation config).
        turn_end_ids: the template's turn-end ids for this tokenizer.
        string_ids: stop strings that are single special tokens, matched as ids.
        strings: the other stop strings, matched on text decoded with special tokens.
        tokens: the token text of every id in :attr:`token_ids` (for the record).
    """

    eos_ids: tuple[int, ...]
    turn_end_ids: tuple[int, ...] = ()
    string_ids: tuple[int, ...] = ()
    strings: tuple[str, ...] = ()
    tokens: tuple[str, ...] = ()

    @property
    def token_ids(self) -> tuple[int, ...]:
        """Every id that ends a sample (sorted, unique)."""
        return tuple(sorted({*self.eos_ids, *self.turn_end_ids, *self.string_ids}))

    def as_dict(self) -> dict[str, Any]:
        return {"token_ids": list(self.token_ids), "tokens": list(self.tokens), "eos_ids": list(self.eos_ids),
                "turn_end_ids": list(self.turn_end_ids), "string_ids": list(self.string_ids),
                "strings": list(self.strings)}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> StopRule:
        return cls(eos_ids=tuple(d.get("eos_ids", ())), turn_end_ids=tuple(d.get("turn_end_ids", ())),
                   string_ids=tuple(d.get("string_ids", ())), strings=tuple(d.get("strings", ())),
                   tokens=tuple(d.get("tokens", ())))

    def apply(self, decoding: Decoding) -> Decoding:
        """``decoding`` with this rule's stop ids and strings added (those it already has are kept)."""
        ids = tuple(sorted({*decoding.stop_token_ids, *self.token_ids}))
        strings = tuple(dict.fromkeys((*[s for s in decoding.stop if s not in self._string_tokens()],
                                       *self.strings)))
        return Decoding(**{**decoding.as_dict(), "stop": strings, "stop_token_ids": ids})

    def _string_tokens(self) -> set[str]:
        """Stop strings of the decoding that this rule already matches as ids."""
        return {t for t, i in zip(self.tokens, self.token_ids) if i in self.string_ids}


def end_of_text_ids(tokenizer: Any, model: Any = None) -> list[int]:
    """End-of-text ids: the tokenizer's and the model generation config's ``eos_token_id`` (sorted)."""
    ids: set[int] = set()
    gen = getattr(_base(model), "generation_config", None) if model is not None else None
    for source in (gen, tokenizer):
        eos = getattr(source, "eos_token_id", None)
        if isinstance(eos, int):
            ids.add(eos)
        elif isinstance(eos, (list, tuple)):
            ids.update(int(e) for e in eos if e is not None)
    return sorted(ids)


def _special_ids(tokenizer: Any) -> set[int]:
    added = getattr(tokenizer, "added_tokens_decoder", {}) or {}
    return set(getattr(tokenizer, "all_special_ids", []) or []) | {int(i) for i in added}


def _as_special_id(tokenizer: Any, text: str) -> int | None:
    """The id of ``text`` when it is one special (or added) token of the tokenizer."""
    if not text:
        return None
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    return int(ids[0]) if len(ids) == 1 and int(ids[0]) in _special_ids(tokenizer) else None


def resolve_stop_rule(tokenizer: Any, template: str | None, *, model: Any = None,
                      strings: tuple[str, ...] | list[str] = ()) -> StopRule:
    """The stop rule of ``template`` with ``tokenizer`` (and ``model``'s generation config); see the module
    docstring.

    Raises:
        ValueError: nothing would ever stop generation (no end-of-text id, no turn end, no stop string).
    """
    from rlvr_bench.data.templates import get_template

    eos = end_of_text_ids(tokenizer, model)
    turn: list[int] = []
    if template is not None:
        for token in get_template(template).turn_end_tokens(tokenizer):
            tid = int(tokenizer.convert_tokens_to_ids(token))
            if tid not in eos and tid not in turn:
                turn.append(tid)
    string_ids: list[int] = []
    other: list[str] = []
    for s in dict.fromkeys(strings):
        sid = _as_special_id(tokenizer, s)
        if sid is None:
            other.append(s)
        elif sid not in string_ids:
            string_ids.append(sid)
    if not (eos or turn or string_ids or other):
        raise ValueError("the tokenizer has no eos_token_id and nothing else stops generation: add a stop string")
    rule = StopRule(eos_ids=tuple(eos), turn_end_ids=tuple(turn), string_ids=tuple(string_ids), strings=tuple(other))
    tokens = tuple(str(tokenizer.convert_ids_to_tokens(i)) for i in rule.token_ids)
    return StopRule(rule.eos_ids, rule.turn_end_ids, rule.string_ids, rule.strings, tokens)


def _base(model: Any) -> Any:
    """The transformers model under a PEFT or DDP wrapper."""
    model = getattr(model, "module", model)
    get_base = getattr(model, "get_base_model", None)
    return get_base() if callable(get_base) else model


def set_generation_eos(model: Any, rule: StopRule) -> None:
    """Make ``model.generation_config.eos_token_id`` the rule's stop ids, so that ``model.generate`` (TRL's
    on-policy generation) stops the same way and ``save_pretrained`` writes the rule into
    ``generation_config.json``."""
    gen = getattr(_base(model), "generation_config", None)
    if gen is None:
        return
    ids = list(rule.token_ids)
    gen.eos_token_id = ids if len(ids) > 1 else ids[0]


def write_generation_record(directory: str | Path, *, rule: StopRule, template: str, decoding: Decoding,
                            model: Any = None, extra: dict[str, Any] | None = None) -> Path:
    """Write :data:`GENERATION_RECORD` (and ``generation_config.json`` when a LoRA adapter directory lacks one)
    into a checkpoint directory; returns the record's path."""
    directory = Path(directory)
    gen = getattr(_base(model), "generation_config", None) if model is not None else None
    if gen is not None and not (directory / "generation_config.json").is_file():
        set_generation_eos(model, rule)
        gen.save_pretrained(directory)
    record = {"template": template, "decoding": decoding.as_dict(), "stop": rule.as_dict(), **(extra or {})}
    path = directory / GENERATION_RECORD
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(record, indent=2, default=str))
    tmp.replace(path)
    return path


def read_generation_record(model_path: str | Path) -> dict[str, Any] | None:
    """The record a checkpoint directory was saved with, or None (a hub name, a model from elsewhere)."""
    path = Path(str(model_path)).expanduser() / GENERATION_RECORD
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return None
