"""verl reward manager that tells ``compute_score`` whether a response was truncated, and its length.

Loaded by verl only (``reward.reward_manager.source=importlib`` pointing at the export's
``reward_manager.py``, which re-exports :class:`RlvrBenchRewardManager`); importing this module imports
verl, so nothing else in rlvr_bench imports it.

It decodes a response as verl's ``naive`` manager does, then adds to ``extra_info``:

- ``response_length``: valid response tokens (EOS included), DAPO's length;
- ``truncated``: the response filled ``max_response_length`` without ending in an EOS token (the model's
  generation-config EOS ids and the tokenizer's), the local engine's ``finish_reason == "length"``.

The recipe's ``compute_score`` (``RecipeReward``) turns these into the local trainer's reward.
"""

from __future__ import annotations

import inspect
from typing import Any

from verl import DataProto
from verl.experimental.reward_loop.reward_manager.base import RewardManagerBase

from rlvr_bench.backends.verl.stop_loop import read_stop_settings

__all__ = ["RlvrBenchRewardManager", "eos_token_ids"]


def eos_token_ids(tokenizer: Any, model_path: str | None) -> set[int]:
    """EOS ids vLLM stops on: the model's generation config (when readable) plus the tokenizer's."""
    ids: set[int] = set()
    sources: list[Any] = [tokenizer]
    if model_path:
        try:
            from transformers import GenerationConfig

            sources.append(GenerationConfig.from_pretrained(model_path))
        except (OSError, ValueError):
            pass  # no generation_config.json: the tokenizer's EOS alone
    for source in sources:
        eos = getattr(source, "eos_token_id", None)
        if isinstance(eos, int):
            ids.add(eos)
        elif isinstance(eos, (list, tuple)):
            ids.update(int(e) for e in eos)
    return ids


class RlvrBenchRewardManager(RewardManagerBase):
    """verl ``RewardManagerBase`` passing truncation and length to the recipe's ``compute_score``."""

    def __init__(self, config: Any, tokenizer: Any, compute_score: Any, reward_router_address: Any = None,
                 reward_model_tokenizer: Any = None) -> None:
        if compute_score is None:
            raise ValueError("RlvrBenchRewardManager needs reward.custom_reward_function (the export's reward_fn.py)")
        super().__init__(config, tokenizer, compute_score)
        self.is_async = inspect.iscoroutinefunction(compute_score)
        self.max_response_length = int(config.data.max_response_length)
        model_path = config.actor_rollout_ref.model.get("path")
        agent = config.actor_rollout_ref.rollout.get("agent", None) or {}
        stop = read_stop_settings(agent.get("agent_loop_config_path", None))
        self.eos_ids = eos_token_ids(tokenizer, model_path) | set(stop.get("stop_token_ids", []))

    def response_facts(self, data_item: Any) -> tuple[list[int], int, bool]:
        """(valid response ids, valid length, truncated) of one DataProto item."""
        response_ids = data_item.batch["responses"]
        response_length = response_ids.shape[-1]
        valid = int(data_item.batch["attention_mask"][-response_length:].sum())
        ids = response_ids[:valid].tolist()
        truncated = valid >= self.max_response_length and not (ids and ids[-1] in self.eos_ids)
        return ids, valid, truncated

    async def run_single(self, data: DataProto) -> dict:
        """Score the last sequence of ``data`` (verl's reward-loop contract)."""
        data_item = data[-1:][0]
        ids, valid, truncated = self.response_facts(data_item)
        extra_info = dict(data_item.non_tensor_batch.get("extra_info", None) or {})
        extra_info.update(response_length=valid, truncated=truncated)
        response_str = await self.loop.run_in_executor(
            None, lambda: self.tokenizer.decode(ids, skip_special_tokens=True))
        kwargs = {"data_source": data_item.non_tensor_batch["data_source"], "solution_str": response_str,
                  "ground_truth": data_item.non_tensor_batch["reward_model"]["ground_truth"],
                  "extra_info": extra_info}
        if self.is_async:
            result = await self.compute_score(**kwargs)
        else:
            result = await self.loop.run_in_executor(None, lambda: self.compute_score(**kwargs))
        if not isinstance(result, dict):
            result = {"score": float(result)}
        return {"reward_score": float(result["score"]), "reward_extra_info": dict(result)}
