"""verl's single-turn agent loop with the recipe's stop rule (imported by verl only: it imports verl).

``agent_loops.yaml`` (written by the export, see ``stop_loop.py``) instantiates :class:`StopRuleAgentLoop`
with the stop ids and strings; every rollout and validation request then carries them to vLLM as
``stop_token_ids`` and ``stop``, as verl's own tool agent loop adds its tool parser's stop ids.
"""

from __future__ import annotations

from typing import Any

from verl.experimental.agent_loop.single_turn_agent_loop import SingleTurnAgentLoop

__all__ = ["StopRuleAgentLoop", "with_stop_rule"]


def with_stop_rule(sampling_params: dict[str, Any], stop_token_ids: list[int], stop: list[str]) -> dict[str, Any]:
    """``sampling_params`` with the rule's ids and strings added to those already there."""
    out = dict(sampling_params)
    if stop_token_ids:
        out["stop_token_ids"] = sorted({*(out.get("stop_token_ids") or []), *stop_token_ids})
    if stop:
        out["stop"] = list(dict.fromkeys([*(out.get("stop") or []), *stop]))
    return out


class StopRuleAgentLoop(SingleTurnAgentLoop):
    """``single_turn_agent`` whose vLLM requests stop by the recipe's stop rule."""

    def __init__(self, *args: Any, stop_token_ids: list[int] | None = None, stop: list[str] | None = None,
                 name: str | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.stop_token_ids = [int(i) for i in (stop_token_ids or [])]
        self.stop = [str(s) for s in (stop or [])]

    async def run(self, sampling_params: dict[str, Any], **kwargs: Any):
        return await super().run(with_stop_rule(sampling_params, self.stop_token_ids, self.stop), **kwargs)
