"""The data the verl plan is made of: one table row per recipe field, and what the export measured.

``plan.py`` builds the plan from ``plan_sections.py``'s rules; both import these types from here.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

__all__ = ["STATUSES", "WHOLE_SECTIONS", "ExportFacts", "Row"]

STATUSES: dict[str, str] = {
    "exact": "the verl key means the same thing",
    "derived": "computed from this and other fields",
    "approx": "same intent; a documented detail differs",
    "local": "changes nothing in what is trained",
    "import": "used after `rlvr-bench verl import` (evaluation)",
    "unused": "not used by this recipe",
}
"""Row status -> meaning (the legend printed under every mapping table)."""

# Sections that are one row each ("sft.*"): they only matter to other methods or to the local toy build.


WHOLE_SECTIONS = ("sft", "distill", "toy")


@dataclass(frozen=True)
class Row:
    """One line of the mapping table."""

    field: str
    value: Any
    verl: dict[str, Any] = dataclasses.field(default_factory=dict)
    status: str = "exact"
    note: str = ""

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"unknown row status {self.status!r}")


@dataclass(frozen=True)
class ExportFacts:
    """What the export measured or decided before translating (paths use ``$EXPORT_DIR``).

    Attributes:
        model_path: what verl loads as the policy (hub name, absolute path, or the copy in the export).
        model_note: where ``model_path`` came from (shown in the table).
        critic_path: PPO critic initialisation (None: no critic).
        train_file: the training parquet.
        val_files: one parquet per evaluation benchmark (verl's validation during training).
        num_train: training prompts exported.
        max_prompt_length: longest rendered prompt in tokens, rounded up (``data.max_prompt_length``).
        prompt_length_note: how it was measured.
        chat_template: a raw (non-chat) template rendered through verl's chat-template path, or None.
        experiment_name: ``trainer.experiment_name``.
        stop_token_ids: the run's stop rule as ids (end-of-text, the template's turn end, special-token stop
            strings; ``rlvr_bench.rollout.stopping``), passed to vLLM by the export's agent loop; empty when the
            tokenizer was not available here.
        stop_strings: the other stop strings (vLLM's ``stop``).
        stop_note: how the stop rule was resolved (shown in the table).
    """

    model_path: str
    model_note: str
    critic_path: str | None
    train_file: str
    val_files: list[str]
    num_train: int
    max_prompt_length: int
    prompt_length_note: str
    chat_template: str | None
    experiment_name: str
    stop_token_ids: tuple[int, ...] = ()
    stop_strings: tuple[str, ...] = ()
    stop_note: str = ""
