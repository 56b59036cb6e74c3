"""Rollout batches for the RL engine: collection (incl. DAPO dynamic sampling, ReMax baselines), tensors,
and per-token log-probabilities.

Shapes: B sequences = prompts x n; Lp prompt length (left-padded), T response length (right-padded).
Visual rows (an ``image`` per prompt) also carry their pixels (``rlvr_bench.trainers.vision_batch``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch

from rlvr_bench.rollout import Decoding, RolloutEngine
from rlvr_bench.rollout.padding import pad_rows
from rlvr_bench.trainers.rl_logprobs import (
    length_buckets,
    shared_prompt_logprobs,
    single_process,
    token_logprobs,
)
from rlvr_bench.trainers.vision_batch import pixel_tensors, position_ids, vision_inputs

__all__ = ["RolloutBatch", "collect_rollouts", "derive_seed", "pad_rows", "score_rollouts", "sequence_logprobs"]


def derive_seed(*parts: Any) -> int:
    """A 63-bit seed from any parts (seed, step, round, rank): deterministic, independent streams."""
    digest = hashlib.sha256(":".join(map(str, parts)).encode()).digest()
    return int.from_bytes(digest[:8], "little") & (2**63 - 1)


@dataclass
class RolloutBatch:
    """One step's training data (before advantages)."""

    prompt_rows: list[list[int]] = field(default_factory=list)
    response_rows: list[list[int]] = field(default_factory=list)
    group: list[int] = field(default_factory=list)  # prompt index within the step (GRPO group id)
    problem_ids: list[str] = field(default_factory=list)
    scores: list[float] = field(default_factory=list)  # training reward incl. shaping (overlong)
    correct: list[float] = field(default_factory=list)  # the verifier's correctness (0/1), whatever the reward
    truncated: list[bool] = field(default_factory=list)
    baselines: list[float] = field(default_factory=list)  # ReMax: greedy reward of the prompt
    texts: list[str] = field(default_factory=list)
    answers: list[str] = field(default_factory=list)
    prompt_texts: list[str] = field(default_factory=list)
    behaviour_logprobs: list[list[float]] = field(default_factory=list)  # the engine's, per response token
    images: list[Any] = field(default_factory=list)  # visual rows: the prompt's image (PIL) per row, else empty
    stats: dict[str, float] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.response_rows)

    def tensors(self, pad_id: int, processor: Any = None) -> dict[str, torch.Tensor]:
        """prompt_ids/prompt_mask (B, Lp), response_ids/response_mask (B, T), scores (B,), group (B,); and
        behaviour_logprobs (B, T) float, 0 at padding, when the engine reported log-probs for every response;
        for visual rows the pixel tensors of ``vision_batch.pixel_tensors`` (made by ``processor``)."""
        p_ids, p_mask = pad_rows(self.prompt_rows, pad_id, left=True)
        r_ids, r_mask = pad_rows(self.response_rows, pad_id, left=False)
        out = {"prompt_ids": p_ids, "prompt_mask": p_mask, "response_ids": r_ids, "response_mask": r_mask,
               "scores": torch.tensor(self.scores, dtype=torch.float32),
               "group": torch.tensor(self.group, dtype=torch.long)}
        if self.baselines:
            out["baselines"] = torch.tensor(self.baselines, dtype=torch.float32)
        if self.behaviour_logprobs:
            if len(self.behaviour_logprobs) != len(self.response_rows):
                raise ValueError(f"{len(self.behaviour_logprobs)} behaviour log-prob rows for "
                                 f"{len(self.response_rows)} responses")
            out["behaviour_logprobs"] = torch.zeros(r_ids.shape, dtype=torch.float32)
            for i, (row, ids) in enumerate(zip(self.behaviour_logprobs, self.response_rows)):
                if len(row) != len(ids):
                    raise ValueError(f"response {i}: {len(row)} behaviour log-probs for {len(ids)} tokens")
                out["behaviour_logprobs"][i, :len(row)] = torch.tensor(row, dtype=torch.float32)
        if self.images:
            out.update(pixel_tensors(processor, self.images))
        return out


Scorer = Callable[[list[str], list[str], list[bool]], list[float]]
"""``scorer(texts, answers, truncated) -> scores``. A scorer may also have ``score_rollouts(texts, answers,
truncated, *, groups, keys) -> (scores, correct)`` (``rl_support.TrainScorer``): the training reward and
the verifier's correctness apart, with each sample's group (its prompt) and key (a seed derived from the
step's seed and the sample's position, independent of the text); a plain callable's scores are both."""


def score_rollouts(scorer: Scorer, texts: list[str], answers: list[str], truncated: list[bool], *,
                   groups: list[Any], keys: list[int]) -> tuple[list[float], list[float]]:
    """(training scores, correctness) from either kind of scorer (see ``Scorer``)."""
    rich = getattr(scorer, "score_rollouts", None)
    if callable(rich):
        scores, correct = rich(texts, answers, truncated, groups=groups, keys=keys)
        return [float(x) for x in scores], [float(x) for x in correct]
    values = [float(x) for x in scorer(texts, answers, truncated)]
    return values, list(values)


def collect_rollouts(engine: RolloutEngine, prompts: Callable[[int], list[dict[str, Any]]], *, num_prompts: int,
                     n: int, decoding: Decoding, scorer: Scorer, seed: int, shaping: Callable[[int, bool], float] | None,
                     dynamic_sampling: bool, max_rounds: int, greedy_baseline: bool, render: Callable[[str], str]
                     ) -> RolloutBatch:
    """Sample and score one step's groups.

    Args:
        prompts: ``prompts(k)`` returns the next k rows (id/problem/answer) of the data stream.
        scorer: see ``Scorer``: the training reward per text (``batch.scores`` before shaping) and the
            verifier's 0/1 correctness (``batch.correct``, the metrics' ``reward/accuracy``). Each sample's
            group is its prompt; its key is ``derive_seed(seed, "reward", round, position)``.
        seed: this step's (and rank's) seed: the sampling seed of each round and the reward keys.
        shaping: extra reward from (response length, truncated), e.g. DAPO's overlong penalty.
        dynamic_sampling: DAPO: drop groups whose training reward is all equal (no advantage signal; for a
            verifier reward, the correctness) and sample more prompts (up to ``max_rounds`` extra rounds)
            until ``num_prompts`` groups are kept (arXiv 2503.14476).
        greedy_baseline: ReMax: one greedy decode per kept prompt, scored the same way (arXiv 2310.10505).
    """
    batch = RolloutBatch()
    samples = tokens = rounds = dropped = 0
    correct_all = reward_all = 0.0
    while len(batch.group) // n < num_prompts:
        rows = prompts(num_prompts)
        rendered = [render(r["problem"]) for r in rows]
        images = [r.get("image") for r in rows]
        visual = {"images": images} if any(img is not None for img in images) else {}
        result = engine.generate(rendered, n=n, decoding=decoding,
                                 seed=derive_seed(seed, rounds), **visual)
        samples += len(result.completions)
        tokens += result.num_tokens
        texts = [c.text for c in result.completions]
        answers = [rows[i // n]["answer"] for i in range(len(texts))]
        truncated = [c.truncated for c in result.completions]
        reward, correct = score_rollouts(scorer, texts, answers, truncated, groups=[i // n for i in range(len(texts))],
                                         keys=[derive_seed(seed, "reward", rounds, i) for i in range(len(texts))])
        correct_all += float(sum(correct))
        reward_all += float(sum(reward))
        p_rows = [result.prompt_ids[i][result.prompt_mask[i].bool()].tolist() for i in range(len(texts))]
        for g, row in enumerate(rows):
            sl = slice(g * n, (g + 1) * n)
            if dynamic_sampling and n > 1 and len(set(reward[sl])) == 1:
                dropped += 1
                continue
            if len(batch.group) // n >= num_prompts:
                break
            gid = len(batch.group) // n
            for i in range(sl.start, sl.stop):
                comp = result.completions[i]
                bonus = shaping(comp.num_tokens, comp.truncated) if shaping else 0.0
                batch.prompt_rows.append(p_rows[i])
                batch.response_rows.append(list(comp.token_ids))
                batch.group.append(gid)
                batch.problem_ids.append(str(row["id"]))
                batch.correct.append(correct[i])
                batch.scores.append(reward[i] + bonus)
                batch.truncated.append(comp.truncated)
                batch.texts.append(comp.text)
                batch.answers.append(answers[i])
                batch.prompt_texts.append(rendered[g])
                if visual:
                    batch.images.append(images[g])
                if comp.logprobs is not None:
                    batch.behaviour_logprobs.append(list(comp.logprobs))
        if not dynamic_sampling or rounds >= max_rounds:
            break
        rounds += 1
    batch.stats = {"rollout/samples": float(samples), "rollout/tokens": float(tokens),
                   "dapo/rounds": float(rounds), "dapo/dropped_groups": float(dropped),
                   "dapo/kept_groups": float(len(batch.group) // max(n, 1)),
                   "rollout/accuracy": correct_all / max(samples, 1),
                   "rollout/reward_mean": reward_all / max(samples, 1)}
    if greedy_baseline and len(batch):
        _add_greedy_baselines(batch, engine, n, decoding, scorer, seed)
    return batch


def _add_greedy_baselines(batch: RolloutBatch, engine: RolloutEngine, n: int, decoding: Decoding,
                          scorer: Scorer, seed: int) -> None:
    """ReMax baseline: b(x) = r(x, greedy(x)), broadcast to the group's samples (arXiv 2310.10505).

    The greedy response is scored with the training reward; for a group-aware reward (``scorer.group_aware``,
    e.g. ``majority_vote``) it is scored together with its prompt's samples, as one more member of the group.
    """
    firsts = list(range(0, len(batch), n))
    greedy = Decoding(**{**decoding.as_dict(), "temperature": 0.0})
    visual = {"images": [batch.images[i] for i in firsts]} if batch.images else {}
    result = engine.generate([batch.prompt_texts[i] for i in firsts], n=1, decoding=greedy, seed=0, **visual)
    texts = [c.text for c in result.completions]
    answers = [batch.answers[i] for i in firsts]
    truncated = [c.truncated for c in result.completions]
    groups = list(range(len(firsts)))
    keys = [derive_seed(seed, "greedy", g) for g in groups]
    if getattr(scorer, "group_aware", False):
        keys = [derive_seed(seed, "greedy-group", i) for i in range(len(batch))] + keys
        texts, answers = batch.texts + texts, batch.answers + answers
        truncated, groups = batch.truncated + truncated, batch.group + groups
    base = score_rollouts(scorer, texts, answers, truncated, groups=groups, keys=keys)[0][-len(firsts):]
    batch.baselines = [float(base[g]) for g in batch.group]
    batch.stats["remax/greedy_samples"] = float(len(result.completions))
    batch.stats["remax/greedy_tokens"] = float(result.num_tokens)
    batch.stats["remax/baseline_mean"] = float(sum(base) / max(len(base), 1))


def sequence_logprobs(model: Any, t: dict[str, torch.Tensor], idx: torch.Tensor, *, temperature: float,
                      with_entropy: bool = False, entropy_grad: bool = True, plain: bool = False
                      ) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Per-token log-probs (and entropy) of the responses ``idx`` under ``model``.

    The logits are divided by the rollout temperature before the softmax, as verl does, so the ratio
    compares the distributions that actually sampled. Visual rows get their images' pixels and the model's
    own positions (3-D M-RoPE for Qwen2-VL-family models; ``rlvr_bench.trainers.vision_batch``).

    Unless ``plain`` or run by several processes, less padding goes through the model
    (``rlvr_bench.trainers.rl_logprobs``): rows that share a prompt run it once (text rows), and rows go in groups
    of similar length; the same values and gradients as one padded call up to float rounding. ``plain``: one
    padded call (the reference). ``entropy_grad``
    False computes the entropy without a graph (a metric, not a loss term).

    Returns:
        log_probs (b, T) and entropy (b, T) or None; positions past a response's end are 0-masked by the
        caller with ``response_mask``.
    """
    plain = plain or not single_process()  # several processes: the same model calls on each (collectives)
    if not plain:
        shared = shared_prompt_logprobs(model, t, idx, temperature, with_entropy=with_entropy,
                                        entropy_grad=entropy_grad)
        if shared is not None:
            return shared
    groups = [] if plain else length_buckets(t["prompt_mask"][idx].sum(-1), t["response_mask"][idx].sum(-1))
    if len(groups) <= 1:
        return _logprobs_call(model, t, idx, temperature, with_entropy, entropy_grad)
    outs = [_logprobs_call(model, t, idx[g], temperature, with_entropy, entropy_grad) for g in groups]
    back = torch.argsort(torch.cat(groups)).to(outs[0][0].device)  # row k of the concatenation: idx[cat(groups)[k]]
    logp = torch.cat([o[0] for o in outs])[back]
    return logp, torch.cat([o[1] for o in outs])[back] if with_entropy else None


def _logprobs_call(model: Any, t: dict[str, torch.Tensor], idx: torch.Tensor, temperature: float,
                   with_entropy: bool, entropy_grad: bool) -> tuple[torch.Tensor, torch.Tensor | None]:
    """One padded model call of :func:`sequence_logprobs` over the rows ``idx``: (b, T) log-probs and entropy."""
    device = next(model.parameters()).device
    p_ids, p_mask, r_ids, r_mask = _trim_padding(t["prompt_ids"][idx], t["prompt_mask"][idx],
                                                 t["response_ids"][idx], t["response_mask"][idx])
    p_ids, p_mask, r_ids, r_mask = (x.to(device) for x in (p_ids, p_mask, r_ids, r_mask))
    input_ids = torch.cat([p_ids, r_ids], dim=1)
    attn = torch.cat([p_mask, r_mask], dim=1)
    vision = vision_inputs(t, idx, device)
    pos = position_ids(model, input_ids, attn, vision) if "image_index" in t else (attn.cumsum(-1) - 1).clamp(min=0)
    length = r_ids.shape[1]
    out = model(input_ids=input_ids, attention_mask=attn, position_ids=pos, use_cache=False,
                logits_to_keep=length + 1, **vision)
    return token_logprobs(out.logits[:, :-1, :], r_ids, temperature, with_entropy=with_entropy,
                          entropy_grad=entropy_grad, width=t["response_ids"].shape[1])


def _trim_padding(p_ids: torch.Tensor, p_mask: torch.Tensor, r_ids: torch.Tensor, r_mask: torch.Tensor
                  ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Drop the columns that are padding in every row of a micro-batch: leading prompt columns (prompts
    are left-padded) and trailing response columns (responses are right-padded). The real tokens keep their
    positions (position ids come from the attention mask), so the log-probs are unchanged."""
    filled = p_mask.any(0).nonzero()
    first = int(filled[0]) if len(filled) else 0
    filled = r_mask.any(0).nonzero()
    last = int(filled[-1]) + 1 if len(filled) else 1
    return p_ids[:, first:], p_mask[:, first:], r_ids[:, :last], r_mask[:, :last]
