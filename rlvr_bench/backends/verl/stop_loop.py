"""The export's agent-loop file: verl's single-turn agent loop with the recipe's stop rule.

verl 0.9.1 samples rollouts through an agent loop (``actor_rollout_ref.rollout.agent``) whose sampling
parameters carry no stop ids, so vLLM would stop at the model's end-of-text ids only: a Qwen2.5 base model
prompted in ChatML would write past ``<|im_end|>``. The export writes ``agent_loops.yaml`` naming
``rlvr_bench.backends.verl.agent_loop.StopRuleAgentLoop`` with the stop ids and strings of the recipe's stop
rule (``rlvr_bench.rollout.stopping``), and sets it as the default agent loop. This module writes and reads
that file without importing verl.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

__all__ = ["AGENT_LOOP_NAME", "AGENT_LOOPS_FILE", "agent_loops_yaml", "read_stop_settings"]

AGENT_LOOPS_FILE = "agent_loops.yaml"
AGENT_LOOP_NAME = "rlvr_stop_rule"
_TARGET = "rlvr_bench.backends.verl.agent_loop.StopRuleAgentLoop"


def agent_loops_yaml(stop_token_ids: tuple[int, ...] | list[int], stop: tuple[str, ...] | list[str]) -> str:
    """The agent-loop config file (``actor_rollout_ref.rollout.agent.agent_loop_config_path``)."""
    entry = {"name": AGENT_LOOP_NAME, "_target_": _TARGET, "stop_token_ids": [int(i) for i in stop_token_ids],
             "stop": [str(s) for s in stop]}
    return ("# rlvr_bench's stop rule for verl's vLLM rollouts (end-of-text ids + the template's turn end +\n"
            "# rollout.stop); see rlvr_bench/backends/verl/stop_loop.py\n" + yaml.safe_dump([entry], sort_keys=False))


def read_stop_settings(path: str | Path | None) -> dict[str, Any]:
    """``{"stop_token_ids": [...], "stop": [...]}`` of an agent-loop file (empty when there is none)."""
    if not path or not Path(str(path)).is_file():
        return {}
    for entry in yaml.safe_load(Path(str(path)).read_text()) or []:
        if entry.get("name") == AGENT_LOOP_NAME:
            return {"stop_token_ids": list(entry.get("stop_token_ids") or []), "stop": list(entry.get("stop") or [])}
    return {}
