"""``RLTrainer``: one engine for GRPO, Dr. GRPO, DAPO, RLOO, REINFORCE++(-baseline), ReMax and PPO.

The algorithm is configuration (``rlvr_bench.algorithms.presets`` plus recipe overrides), never a class.
Each step reads top to bottom:

1. sample ``prompts_per_step`` prompts x ``rollout.n`` responses (DAPO: drop all-equal groups and sample
   again; ReMax: one extra greedy response per prompt), score them with the verifiable reward;
2. compute what the estimator needs: old log-probs (only when samples are reused or KL is in the reward),
   reference log-probs (only for a KL term), values (PPO's critic);
3. advantages with ``compute_advantages``;
4. ``ppo_epochs`` x ``mini_batches`` optimizer steps on the clipped surrogate, aggregated exactly across
   micro-batches (gradient accumulation) and processes;
5. log ``metrics.jsonl`` (rewards, advantages, entropy, KL, clip fraction, lengths, compute spent);
   checkpoint (model, optimizer, scheduler, RNG of every library, data position) and evaluate pass@k.

``rl_methods`` plugs in: high-entropy minority (token selection in 2, gradient mask in 4), adaptive entropy
coefficient (after 4), ProRL reference resets (after the step, before the checkpoint, which keeps their state).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from rlvr_bench.algorithms import (
    ResolvedAlgorithm,
    agg_loss,
    apply_kl_in_reward,
    compute_advantages,
    kl_loss,
    kl_penalty,
    masked_mean,
    policy_loss,
    scores_to_token_rewards,
    value_loss,
)
from rlvr_bench.algorithms import resolve_algorithm as resolve
from rlvr_bench.config import RecipeConfig
from rlvr_bench.data.templates import is_processor
from rlvr_bench.errors import UserError
from rlvr_bench.trainers import rl_async, rl_checkpoint, rl_methods
from rlvr_bench.trainers.common import (
    ComputeMeter,
    build_optimizer,
    check_prompt_lengths,
    evaluation_callback,
    installed_trackers,
    load_train_prompts,
    model_config_of,
    model_path_for,
    prepare_run_dir,
    record_provenance,
    run_stop_rule,
    set_seed,
)
from rlvr_bench.trainers.rl_batch import RolloutBatch, collect_rollouts, derive_seed, sequence_logprobs
from rlvr_bench.trainers.rl_correction import RolloutCorrection
from rlvr_bench.trainers.rl_support import (
    batch_metrics,
    flat_hparams,
    make_train_scorer,
    maybe_fault,
    response_values,
)
from rlvr_bench.trainers.vision_batch import check_vision_recipe
from rlvr_bench.utils.dist import get_logger, print0
from rlvr_bench.utils.fsio import atomic_dir
from rlvr_bench.utils.rundir import RunDir, write_json_atomic

__all__ = ["RLTrainer", "resolve_algorithm", "run_rl"]

log = get_logger(__name__)

def resolve_algorithm(cfg: RecipeConfig) -> ResolvedAlgorithm:
    """The recipe's algorithm: its preset overridden by every non-None ``algorithm.*`` field (what runs).

    A thin wrapper of :func:`rlvr_bench.algorithms.resolve_algorithm` with the recipe's max_new_tokens and
    learning rate; ``.as_dict()`` is what ``algorithm.json`` records.
    """
    return resolve(cfg.algorithm.preset, vars(cfg.algorithm), max_new_tokens=cfg.rollout.max_new_tokens,
                   learning_rate=cfg.trainer.learning_rate)


class RLTrainer:
    """Train a policy with any RL preset (see module docstring).

    Args:
        config: a recipe (``RLConfig``/``RecipeConfig`` with ``method == "rl"``).
        model, tokenizer: an already-loaded policy (notebooks); default: loaded from ``config.model``.
        train_dataset: prompts (id/problem/answer); default: from ``config.data``.
        reward_fn: ``f(texts, answers) -> list[float]`` correctness; default: ``config.reward``.
    """

    def __init__(self, config: RecipeConfig, *, model: Any = None, tokenizer: Any = None, train_dataset: Any = None,
                 reward_fn: Callable[[list[str], list[str]], list[float]] | None = None) -> None:
        from accelerate import Accelerator

        self.cfg = config
        self.algo = resolve_algorithm(config)
        if config.trainer.torch_threads:
            torch.set_num_threads(config.trainer.torch_threads)
        set_seed(config.seed)
        trackers = installed_trackers(config.logging.trackers)
        self.accelerator = Accelerator(log_with=trackers or None, project_dir=config.output_dir,
                                       mixed_precision=config.trainer.mixed_precision,
                                       cpu=config.model.device == "cpu" or not torch.cuda.is_available())
        self.run = RunDir(config.output_dir)
        self.rank, self.world = self.accelerator.process_index, self.accelerator.num_processes
        if self.accelerator.is_main_process:
            self.run.check_writable()  # an unwritable or full location fails now, not after the model loads
        self.resume_step = max(self.run.checkpoint_steps(), default=0)
        self.source = model_path_for(config.model.name_or_path, config)
        self._load_tokenizer(tokenizer)
        self.dataset = self._load_data(train_dataset, model)  # data is checked before the model loads
        self._load_models(model)
        self.stop_rule = run_stop_rule(config, self.accelerator.unwrap_model(self.model), self.tokenizer)
        self.custom_reward = reward_fn is not None
        self.scorer = make_train_scorer(config, reward_fn)
        self.meter = ComputeMeter()
        self.data_pos = 0
        self.step = 0
        self.callback = None
        self.trackers = trackers
        self.entropy_ctl = rl_methods.EntropyController(self.algo.entropy_coeff, self.algo.entropy_target,
                                                        self.algo.entropy_coeff_step, self.algo.entropy_coeff_max)
        self.resets = rl_methods.ReferenceResets(self.algo.reference_reset_every)
        self.correction = RolloutCorrection.from_config(config.rollout)  # engine vs trainer log-probs
        self.overlap = rl_async.make_overlap(self)  # rollout.mode=one_step_off: the next rollout's worker
        self.step_stats: dict[str, float] = {}  # the token selection's metrics of the current step

    # ------------------------------------------------------------------------------------ set-up
    def _load_tokenizer(self, tokenizer: Any) -> None:
        """``self.processing``: the processor of a vision-language model, else the tokenizer (``self.tokenizer``:
        the text tokenizer of either)."""
        from rlvr_bench.data.templates import text_tokenizer
        from rlvr_bench.models.loading import load_processing_class

        self.processing = tokenizer or load_processing_class(self.source,
                                                             trust_remote_code=self.cfg.model.trust_remote_code)
        self.tokenizer = text_tokenizer(self.processing)
        self.pad_id = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else 0

    def _load_data(self, train_dataset: Any, model: Any) -> Any:
        """The training prompts, without those longer than ``data.max_prompt_tokens`` (see ``check_prompt_lengths``)."""
        cfg = self.cfg
        ds = train_dataset if train_dataset is not None else load_train_prompts(cfg)
        if len(ds) == 0:
            raise UserError(f"the training dataset '{cfg.data.source}' (split {cfg.data.split}) is empty")
        if is_processor(self.processing):  # a vision-language model trains on rows with images
            check_vision_recipe(ds, cfg.data.source, needs_critic=self.algo.needs_critic)
        kept, self.prompt_metrics = check_prompt_lengths(
            cfg, list(ds["problem"]), [str(i) for i in (ds["id"] if "id" in ds.column_names else range(len(ds)))],
            self.tokenizer,
            model_config_of(self.source, model), cfg.rollout.max_new_tokens)
        return ds if len(kept) == len(ds) else ds.select(kept)

    def _load_models(self, model: Any) -> None:
        from rlvr_bench.models.loading import load_policy, load_reference
        from rlvr_bench.rollout import build_engine

        cfg, algo = self.cfg, self.algo
        source = self.source
        start = str(self.run.checkpoint_dir(self.resume_step)) if self.resume_step else source
        if model is None:
            model = load_policy(start, dtype=cfg.model.dtype, device=str(self.accelerator.device),
                                lora=cfg.model.lora if cfg.model.lora.enabled else None,
                                trust_remote_code=cfg.model.trust_remote_code,
                                gradient_checkpointing=cfg.model.gradient_checkpointing)
        elif self.resume_step:
            raise ValueError(f"{self.run.path} has checkpoints: pass no model to resume, or use a new output_dir")
        self.ref = None
        if algo.needs_reference:
            ref_src = model_path_for(cfg.model.reference or cfg.model.name_or_path, cfg)
            self.ref = load_reference(ref_src, dtype=cfg.model.dtype, device=str(self.accelerator.device))
        if algo.reference_reset_every and self.ref is None:
            raise UserError("algorithm.reference_reset_every needs a KL term (use_kl_loss or use_kl_in_reward)")
        steps = cfg.trainer.steps * algo.ppo_epochs * algo.mini_batches
        self.optimizer, self.scheduler = build_optimizer(model.parameters(), cfg, steps)
        self.model, self.optimizer, self.scheduler = self.accelerator.prepare(model, self.optimizer, self.scheduler)
        self.critic = self.critic_opt = None
        if algo.needs_critic:
            from rlvr_bench.models.value import ValueModel, load_critic

            crit_dir = self.run.checkpoint_dir(self.resume_step) / "critic"
            critic = (ValueModel.from_pretrained(crit_dir, device=str(self.accelerator.device))
                      if self.resume_step else
                      load_critic(model_path_for(cfg.model.critic or cfg.model.name_or_path, cfg),
                                  device=str(self.accelerator.device)))
            copt, _ = build_optimizer(critic.parameters(), cfg, steps, lr=algo.critic_lr)
            self.critic, self.critic_opt = self.accelerator.prepare(critic, copt)
        backend = cfg.rollout.backend  # rollout.<backend>_<name> fields are that engine's keyword <name>
        self.engine = build_engine(backend, self.accelerator.unwrap_model(self.model), self.processing,
                                   batch_size=cfg.rollout.batch_size,
                                   **{k.removeprefix(f"{backend}_"): v for k, v in vars(cfg.rollout).items()
                                      if k.startswith(f"{backend}_")})

    # ------------------------------------------------------------------------------------ data
    def _next_prompts(self, k: int) -> list[dict[str, Any]]:
        """The next ``k`` prompts of this process (epochs reshuffled with the seed; position resumable)."""
        n = len(self.dataset)
        rows = []
        for j in range(k * self.world):
            pos = self.data_pos + j
            epoch, offset = divmod(pos, n)
            if j % self.world == self.rank:
                perm = self._perm(epoch)
                rows.append(self.dataset[int(perm[offset])])
        self.data_pos += k * self.world
        return rows

    def _perm(self, epoch: int) -> torch.Tensor:
        cache = getattr(self, "_perm_cache", None)
        if cache is None or cache[0] != epoch:
            g = torch.Generator().manual_seed(derive_seed(self.cfg.seed, "data", epoch))
            perm = torch.randperm(len(self.dataset), generator=g) if self.cfg.data.shuffle else torch.arange(
                len(self.dataset))
            self._perm_cache = (epoch, perm)
        return self._perm_cache[1]

    # ------------------------------------------------------------------------------------ one step
    def rollout(self, step: int | None = None, model: Any = None) -> RolloutBatch:
        """Step 1: sample and score the groups of ``step`` (default: this step) with ``model`` (default: the policy;
        ``rl_async`` passes its copy)."""
        from rlvr_bench.data.templates import render_prompt
        from rlvr_bench.rollout import Decoding

        cfg, algo = self.cfg, self.algo
        r = cfg.rollout
        decoding = self.stop_rule.apply(Decoding(temperature=r.temperature, top_p=r.top_p, top_k=r.top_k,
                                                 max_new_tokens=r.max_new_tokens, stop=tuple(r.stop),
                                                 template=cfg.data.template))
        shaping = None
        if algo.overlong_penalty:
            from rlvr_bench.rewards import overlong_penalty

            def shaping(length: int, truncated: bool) -> float:
                return overlong_penalty(length, r.max_new_tokens, algo.overlong_buffer_len)
        self.engine.prepare_generation(self.accelerator.unwrap_model(self.model) if model is None else model)
        batch = collect_rollouts(
            self.engine, self._next_prompts, num_prompts=cfg.trainer.prompts_per_step, n=r.n, decoding=decoding,
            scorer=self.scorer, seed=derive_seed(cfg.seed, self.step if step is None else step, self.rank),
            shaping=shaping,
            dynamic_sampling=algo.dynamic_sampling, max_rounds=algo.max_resample_rounds,
            greedy_baseline=algo.needs_greedy_baseline,
            render=lambda p: render_prompt(cfg.data.template, p, self.processing))
        self.engine.release_memory()
        return batch

    @torch.no_grad()
    def _forward_all(self, model: Any, t: dict[str, torch.Tensor], *, values: bool = False,
                     entropy: bool = False) -> tuple[torch.Tensor, torch.Tensor | None]:
        """No-grad log-probs (or values), and token entropies if asked, for the whole batch: (B, T) each."""
        out, ents = [], []
        mb = self.cfg.trainer.micro_batch_size
        for start in range(0, t["response_ids"].shape[0], mb):
            idx = torch.arange(start, min(start + mb, t["response_ids"].shape[0]))
            if values:
                out.append(response_values(model, t, idx))
            else:
                logp, ent = sequence_logprobs(model, t, idx, temperature=self.cfg.rollout.temperature,
                                              with_entropy=entropy)
                out.append(logp)
                ents.append(ent)
        self.meter.forward_tokens += int(t["prompt_mask"].sum() + t["response_mask"].sum())
        return torch.cat(out).cpu(), torch.cat(ents).cpu() if entropy else None

    def prepare(self, batch: RolloutBatch) -> dict[str, torch.Tensor]:
        """Steps 2-3: old/ref log-probs, values, token rewards, advantages."""
        algo = self.algo
        t = batch.tensors(self.pad_id, self.processing)
        mask = t["response_mask"].float()
        reuse = algo.ppo_epochs > 1 or algo.mini_batches > 1
        self.step_stats = {}
        if reuse or algo.use_kl_in_reward or algo.entropy_top_ratio is not None:
            logp, ent = self._forward_all(self.accelerator.unwrap_model(self.model), t,
                                          entropy=algo.entropy_top_ratio is not None)
            if reuse or algo.use_kl_in_reward:
                t["old_log_probs"] = logp
            if ent is not None:  # the rollout policy's entropy, threshold over the whole batch (every process)
                t["pg_token_mask"], self.step_stats = rl_methods.high_entropy_mask(
                    ent, mask, algo.entropy_top_ratio,
                    gather=rl_methods.ragged_gather(self.accelerator) if self.world > 1 else None)
        if self.ref is not None:
            t["ref_log_probs"] = self._forward_all(self.ref, t)[0]
        rewards = scores_to_token_rewards(t["scores"], mask)
        if algo.use_kl_in_reward:
            kl = kl_penalty(t["old_log_probs"], t["ref_log_probs"], algo.kl_penalty_type)
            rewards = apply_kl_in_reward(rewards, kl, mask, algo.kl_coef)
        if self.critic is not None:
            t["values"] = self._forward_all(self.accelerator.unwrap_model(self.critic), t, values=True)[0]
        adv, ret = compute_advantages(
            algo.adv_estimator, token_level_rewards=rewards, response_mask=mask, group_index=t["group"],
            values=t.get("values"), reward_baselines=t.get("baselines"), gamma=algo.gamma, lam=algo.lam,
            norm_adv_by_std=algo.norm_adv_by_std, **algo.estimator_params())
        t["advantages"], t["returns"] = adv, ret
        return t

    def update(self, t: dict[str, torch.Tensor]) -> dict[str, float]:
        """Step 4: ppo_epochs x mini_batches optimizer steps; returns averaged loss metrics."""
        algo = self.algo
        bsz = t["response_ids"].shape[0]
        per_mb = math.ceil(bsz / algo.mini_batches)
        sums: dict[str, float] = {}
        count = 0
        g = torch.Generator().manual_seed(derive_seed(self.cfg.seed, "shuffle", self.step, self.rank))
        for _ in range(algo.ppo_epochs):
            order = torch.randperm(bsz, generator=g) if algo.mini_batches > 1 else torch.arange(bsz)
            for start in range(0, bsz, per_mb):
                metrics = self._minibatch(t, order[start:start + per_mb])
                for k, v in metrics.items():
                    sums[k] = sums.get(k, 0.0) + v
                count += 1
        return {k: v / max(count, 1) for k, v in sums.items()}

    def _global(self, value: float) -> float:
        if self.world == 1:
            return value
        tensor = torch.tensor([value], device=self.accelerator.device)
        return float(self.accelerator.reduce(tensor, reduction="sum").item())

    def _minibatch(self, t: dict[str, torch.Tensor], mb_idx: torch.Tensor) -> dict[str, float]:
        """One optimizer step over a mini-batch, accumulated over micro-batches."""
        algo, acc, model = self.algo, self.accelerator, self.model
        mask_all = t["response_mask"][mb_idx].float()
        norm = {"batch_num_tokens": self._global(float(mask_all.sum())),
                "global_batch_size": self._global(float((mask_all.sum(-1) > 0).sum())),
                "dp_size": self.world, "loss_scale_factor": algo.loss_scale_factor}
        knobs = algo.policy_loss_knobs()
        self.optimizer.zero_grad(set_to_none=True)
        stats: dict[str, float] = {}
        micro = self.cfg.trainer.micro_batch_size
        if micro < len(mb_idx):  # similar lengths share a micro-batch: less padding (the loss is normalised globally)
            lengths = t["prompt_mask"][mb_idx].sum(-1) + t["response_mask"][mb_idx].sum(-1)
            mb_idx = mb_idx[torch.argsort(lengths, stable=True)]
        for start in range(0, len(mb_idx), micro):
            idx = mb_idx[start:start + micro]
            mask = t["response_mask"][idx].float().to(acc.device)
            logp, ent = sequence_logprobs(model, t, idx, temperature=self.cfg.rollout.temperature, with_entropy=True,
                                          entropy_grad=bool(self.entropy_ctl.applied))  # else a metric only
            old = t["old_log_probs"][idx].to(acc.device) if "old_log_probs" in t else logp.detach()
            pg_logp = rl_methods.gradient_only_on(logp, t["pg_token_mask"][idx]) if "pg_token_mask" in t else logp
            pg_logp = self.correction.weigh(t, idx, pg_logp, old)
            pg, pg_stats = policy_loss(
                algo.policy_loss, old_log_prob=old, log_prob=pg_logp,
                advantages=t["advantages"][idx].to(acc.device), response_mask=mask, loss_agg_mode=algo.loss_agg_mode, **norm, **knobs)
            loss = pg
            if algo.use_kl_loss:
                kl = kl_loss(logp, t["ref_log_probs"][idx].to(acc.device), mask, algo.kl_loss_type,
                             algo.loss_agg_mode, **norm)
                loss = loss + algo.kl_loss_coef * kl
                stats["actor/kl_loss"] = stats.get("actor/kl_loss", 0.0) + float(kl.detach())
            if self.entropy_ctl.applied:
                loss = loss - self.entropy_ctl.applied * agg_loss(ent, mask, algo.loss_agg_mode, **norm)
            acc.backward(loss)
            self.meter.backward_tokens += int(t["prompt_mask"][idx].sum() + mask.sum())
            w = float(mask.sum()) / max(float(mask_all.sum()), 1.0)
            stats["actor/pg_loss"] = stats.get("actor/pg_loss", 0.0) + float(pg.detach())
            stats["actor/entropy"] = stats.get("actor/entropy", 0.0) + w * float(masked_mean(ent.detach(), mask))
            for k, v in pg_stats.items():
                stats[f"actor/{k}"] = stats.get(f"actor/{k}", 0.0) + w * float(v)
        stats["actor/grad_norm"] = float(acc.clip_grad_norm_(model.parameters(), self.cfg.trainer.max_grad_norm))
        self.optimizer.step()
        self.scheduler.step()
        if self.critic is not None:
            stats.update(self._critic_step(t, mb_idx, norm))
        return stats

    def _critic_step(self, t: dict[str, torch.Tensor], mb_idx: torch.Tensor, norm: dict[str, Any]) -> dict[str, float]:
        acc = self.accelerator
        self.critic_opt.zero_grad(set_to_none=True)
        total, clipfrac = 0.0, 0.0
        for start in range(0, len(mb_idx), self.cfg.trainer.micro_batch_size):
            idx = mb_idx[start:start + self.cfg.trainer.micro_batch_size]
            mask = t["response_mask"][idx].float().to(acc.device)
            vpred = response_values(self.critic, t, idx)
            loss, cf = value_loss(vpred, t["returns"][idx].to(acc.device), t["values"][idx].to(acc.device), mask,
                                  self.algo.cliprange_value, self.algo.loss_agg_mode, **norm)
            acc.backward(loss)
            total += float(loss.detach())
            clipfrac = max(clipfrac, float(cf))
        acc.clip_grad_norm_(self.critic.parameters(), self.cfg.trainer.max_grad_norm)
        self.critic_opt.step()
        return {"critic/vf_loss": total, "critic/vf_clipfrac": clipfrac}

    # ------------------------------------------------------------------------------------ loop
    def train_step(self) -> dict[str, float]:
        """One RL iteration (rollout, advantages, update); returns the step's metrics."""
        batch = self.rollout() if self.overlap is None else self.overlap.next_batch(
            self.step, last=self.step >= self.cfg.trainer.steps)
        self.meter.samples += int(batch.stats["rollout/samples"] + batch.stats.get("remax/greedy_samples", 0))
        self.meter.gen_tokens += int(batch.stats["rollout/tokens"] + batch.stats.get("remax/greedy_tokens", 0))
        metrics = {k: v for k, v in batch.stats.items()}
        if len(batch) == 0:
            metrics["reward/mean"] = metrics["reward/accuracy"] = batch.stats["rollout/accuracy"]
            log.warning("step %d: no group kept after %d DAPO rounds; no update", self.step,
                        int(batch.stats["dapo/rounds"]))
            return metrics
        t = self.prepare(batch)
        metrics.update(batch_metrics(batch, t))
        metrics.update(self.step_stats)
        self.correction.begin(t)
        metrics.update(self.update(t))
        metrics.update(self.correction.metrics(t))
        metrics["actor/lr"] = float(self.scheduler.get_last_lr()[0])
        if self.algo.entropy_target is not None:  # the step's token-mean entropy over every process
            tokens = float(t["response_mask"].sum())
            entropy = self._global(metrics["actor/entropy"] * tokens) / max(self._global(tokens), 1.0)
            metrics.update(self.entropy_ctl.after_step(entropy))
        return metrics

    def train(self) -> RunDir:
        """Run (or resume) the recipe's ``trainer.steps`` steps; returns the run directory."""
        cfg = self.cfg
        if self.run.is_complete():
            print0(f"{self.run.path} is complete; nothing to do")
            return self.run
        if self.accelerator.is_main_process and not self.resume_step:
            prepare_run_dir(cfg, decoding={**vars(cfg.rollout), "stop_token_ids": list(self.stop_rule.token_ids)},
                            resolved=None)
            record_provenance(self.run, cfg, self.accelerator.unwrap_model(self.model), self.tokenizer,
                              self.stop_rule, [str(a) for a in self.dataset["answer"]], self.custom_reward)
            write_json_atomic(self.run.path / "algorithm.json", self.algo.as_dict())
            if self.prompt_metrics:
                self.run.log_metrics({"step": 0, **self.prompt_metrics})
        if self.trackers:
            self.accelerator.init_trackers(cfg.logging.project, config=flat_hparams(self.algo, cfg))
        self.callback = evaluation_callback(cfg, self.run, log_fn=lambda m, s: self.accelerator.log(m, step=s),
                                            final_step=cfg.trainer.steps)
        if self.resume_step:
            rl_checkpoint.load_state(self, self.resume_step)
        elif self.callback is not None and cfg.evaluation.at_start:
            self._evaluate(0)
        save_every = cfg.trainer.save_every or cfg.trainer.steps
        from tqdm.auto import tqdm

        bar = tqdm(range(self.step + 1, cfg.trainer.steps + 1), desc=f"rl[{self.algo.preset}]",
                   disable=not (cfg.logging.progress and self.accelerator.is_main_process), leave=False)
        for step in bar:
            self.step = step
            metrics = self.train_step()
            metrics.update(self.resets.after_step(step, cfg.trainer.steps, self.ref,  # ProRL
                                                  self.accelerator.unwrap_model(self.model), self.optimizer))
            metrics.update(self.meter.as_dict())
            metrics["dist/world_size"] = float(self.world)
            if self.accelerator.is_main_process and step % cfg.logging.log_every == 0:
                self.run.log_metrics({"step": step, **metrics})
                self.accelerator.log(metrics, step=step)
            bar.set_postfix(reward=f"{metrics.get('reward/mean', float('nan')):.3f}")
            if step % save_every == 0 or step == cfg.trainer.steps:
                self.save_checkpoint(step)
                self._evaluate(step)
            maybe_fault(step)
        self.accelerator.wait_for_everyone()
        if self.accelerator.is_main_process:
            self.run.mark_complete({"steps": cfg.trainer.steps, **self.meter.as_dict()})
        self.accelerator.end_training()
        return self.run

    def _evaluate(self, step: int) -> None:
        if self.callback is not None and self.accelerator.is_main_process:
            self.callback(self.accelerator.unwrap_model(self.model), self.processing, step)
        self.accelerator.wait_for_everyone()

    # ------------------------------------------------------------------------------------ checkpoints
    def save_checkpoint(self, step: int) -> Path:
        """checkpoints/step-N: HF weights + tokenizer + optimizer/scheduler/RNG/data position (atomic)."""
        final = self.run.checkpoint_dir(step)
        self.accelerator.wait_for_everyone()
        if self.accelerator.is_main_process:
            with atomic_dir(final) as tmp:  # a failed save (full disk) leaves no half-written step-N
                rl_checkpoint.save_state(self, tmp, step)
            for old in self.run.checkpoint_steps():  # keep weights of every step, resume state of the last
                if old != step:
                    (self.run.checkpoint_dir(old) / "trainer_state.pt").unlink(missing_ok=True)
        self.accelerator.wait_for_everyone()
        return final


def run_rl(cfg: RecipeConfig) -> Path:
    """``rlvr-bench train`` entry point for ``method: rl``."""
    return RLTrainer(cfg).train().path
