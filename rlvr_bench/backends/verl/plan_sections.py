"""The translation rules, one function per recipe section (see ``plan.py`` for the row statuses).

Each function returns the rows of its section and appends a ``field=value: reason`` line to ``problems``
for every value verl cannot express. Keys are verl 0.9.1's (``verl/trainer/config/ppo_trainer.yaml`` and
its generated ``_generated_ppo_trainer.yaml``); the composition test checks every one of them against
verl's own Hydra config.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from rlvr_bench.backends.verl.overrides import EXPORT_DIR_TOKEN
from rlvr_bench.backends.verl.plan_methods import correction_rows, method_rows
from rlvr_bench.backends.verl.plan_types import WHOLE_SECTIONS, ExportFacts, Row
from rlvr_bench.backends.verl.stop_loop import AGENT_LOOP_NAME, AGENT_LOOPS_FILE

if TYPE_CHECKING:
    from rlvr_bench.algorithms import ResolvedAlgorithm

__all__ = ["SECTIONS", "VERL_KL_NAMES", "reward_settings"]

A = "actor_rollout_ref.actor"
R = "actor_rollout_ref.rollout"
M = "actor_rollout_ref.model"
REF = "actor_rollout_ref.ref"
C = "critic"
ALG = "algorithm"

VERL_KL_NAMES = {"k1": "kl", "k2": "mse", "k3": "low_var_kl"}
"""Our KL estimator names -> the names verl 0.9's config documents (``kl_penalty``/``kl_loss_type``)."""

VERL_TRACKERS = {"tensorboard": "tensorboard", "wandb": "wandb", "trackio": "trackio"}
REWARD_MANAGER = "RlvrBenchRewardManager"

Section = Callable[[Any, "ResolvedAlgorithm", ExportFacts, list[str]], list[Row]]


def _bad(problems: list[str], name: str, value: Any, reason: str) -> None:
    problems.append(f"{name}={value!r}: {reason}")


# ---------------------------------------------------------------------------------------------- top


def top_rows(cfg: Any, algo: ResolvedAlgorithm, facts: ExportFacts, problems: list[str]) -> list[Row]:
    """method, description, seed, output_dir."""
    if cfg.method != "rl":
        _bad(problems, "method", cfg.method, "the verl backend trains RL recipes only (method: rl)")
    seed_keys = {"data.seed": cfg.seed, f"{A}.data_loader_seed": cfg.seed, f"{R}.seed": cfg.seed}
    return [
        Row("method", cfg.method, {}, "derived", "runs `python -m verl.trainer.main_ppo` (PPO-family trainer)"),
        Row("description", cfg.description, {}, "local", "shown in launch.sh"),
        Row("seed", cfg.seed, seed_keys, "approx",
            "same seed for data order, rollout and mini-batch shuffling; verl's RNG streams differ from the "
            "local engine's, so the samples are not identical"),
        Row("output_dir", cfg.output_dir, {"trainer.default_local_dir": f"{EXPORT_DIR_TOKEN}/checkpoints"},
            "import", "verl writes checkpoints to <export>/checkpoints; `verl import` lays them out as this run "
            "directory"),
    ]


# -------------------------------------------------------------------------------------------- model


def _precision(cfg: Any, problems: list[str]) -> tuple[str | None, str]:
    dtype, mp = cfg.model.dtype, cfg.trainer.mixed_precision
    if dtype == "float32":
        _bad(problems, "model.dtype", dtype, "verl 0.9 trains with FSDP mixed precision in bfloat16 or float16 "
             "only (model.dtype: auto or bfloat16)")
        return None, ""
    if dtype == "float16" or (dtype == "auto" and mp == "fp16"):
        return "float16", "float16 compute"
    return "bfloat16", "bfloat16 compute"


def model_rows(cfg: Any, algo: ResolvedAlgorithm, facts: ExportFacts, problems: list[str]) -> list[Row]:
    """model.* (policy, precision, reference, critic, LoRA)."""
    m = cfg.model
    precision, what = _precision(cfg, problems)
    prec_keys = {} if precision is None else {f"{A}.fsdp_config.dtype": precision,
                                               f"{REF}.fsdp_config.dtype": precision, f"{R}.dtype": precision}
    rows = [
        Row("model.name_or_path", m.name_or_path, {f"{M}.path": facts.model_path}, "exact", facts.model_note),
        Row("model.dtype", m.dtype, prec_keys, "approx",
            f"{what}; verl keeps fp32 master weights and optimizer state (FSDP model_dtype=fp32)"),
        Row("model.device", m.device, {}, "local", "placement is Ray's: trainer.nnodes x n_gpus_per_node "
            "(launch.sh)"),
        Row("model.trust_remote_code", m.trust_remote_code,
            {f"{M}.trust_remote_code": m.trust_remote_code, "data.trust_remote_code": m.trust_remote_code}),
        Row("model.gradient_checkpointing", m.gradient_checkpointing,
            {f"{M}.enable_gradient_checkpointing": m.gradient_checkpointing}, "exact",
            "memory/compute trade only"),
    ]
    if m.reference not in (None, m.name_or_path):
        _bad(problems, "model.reference", m.reference, "verl's reference model is always the initial policy")
    rows.append(Row("model.reference", m.reference, {}, "exact" if algo.needs_reference else "unused",
                    "verl's reference = actor_rollout_ref.model.path, enabled when a KL term is on"))
    if algo.needs_critic:
        rows.append(Row("model.critic", m.critic, {f"{C}.model.path": facts.critic_path}, "exact",
                        "None = initialised from the policy weights"))
    else:
        rows.append(Row("model.critic", m.critic, {}, "unused", "no critic (adv_estimator is not gae)"))
    rows.append(Row("model.teacher", m.teacher, {}, "unused", "distillation only"))
    return rows + _lora_rows(m.lora, problems)


def _lora_rows(lora: Any, problems: list[str]) -> list[Row]:
    if not lora.enabled:
        return [Row("model.lora.enabled", False, {f"{M}.lora_rank": 0}, "exact", "full fine-tuning")] + [
            Row(f"model.lora.{k}", getattr(lora, k), {}, "unused", "LoRA off")
            for k in ("r", "alpha", "dropout", "target_modules")]
    if lora.dropout != 0:
        _bad(problems, "model.lora.dropout", lora.dropout, "verl's FSDP LoRA has no dropout (set model.lora.dropout=0)")
    return [
        Row("model.lora.enabled", True, {}, "derived", "LoRA on: lora_rank > 0"),
        Row("model.lora.r", lora.r, {f"{M}.lora_rank": lora.r}),
        Row("model.lora.alpha", lora.alpha, {f"{M}.lora_alpha": lora.alpha}),
        Row("model.lora.dropout", lora.dropout, {}, "exact", "verl's FSDP LoRA applies no dropout"),
        Row("model.lora.target_modules", list(lora.target_modules),
            {f"{M}.target_modules": list(lora.target_modules)}),
    ]


# --------------------------------------------------------------------------------------------- data


def data_rows(cfg: Any, algo: ResolvedAlgorithm, facts: ExportFacts, problems: list[str]) -> list[Row]:
    """data.*: the rows are exported to parquet, so every selection field is applied exactly once, here."""
    d = cfg.data
    exported = "rows selected here (as load_train_prompts does) and written to data/train.parquet"
    rows = [Row("data.source", d.source, {"data.train_files": facts.train_file}, "exact", exported)]
    for name in ("split", "subset", "problem_column", "answer_column", "id_column", "limit"):
        rows.append(Row(f"data.{name}", getattr(d, name), {}, "exact", "applied at export"))
    rows.append(Row("data.solution_column", d.solution_column, {}, "unused", "reference traces are for SFT"))
    rows.append(Row("data.max_prompt_tokens", d.max_prompt_tokens, {}, "exact",
                    "applied at export: longer training prompts are not written (as the local trainer drops them)"))
    rows.append(Row("data.overlong_prompts", d.overlong_prompts, {}, "exact",
                    "applied at export (drop, or an error naming the row)"))
    rows.append(Row("data.shuffle", d.shuffle, {"data.shuffle": d.shuffle}, "approx",
                    "verl reshuffles each epoch with its own sampler (data.seed)"))
    tpl_keys = {"data.prompt_key": "prompt", "data.max_prompt_length": facts.max_prompt_length,
                "data.truncation": "error", "data.filter_overlong_prompts": False}
    note = f"prompt column = the template's chat messages; max_prompt_length {facts.prompt_length_note}"
    if facts.chat_template is not None:
        tpl_keys[f"{M}.custom_chat_template"] = facts.chat_template
        note += "; plain template: a chat template that concatenates the messages renders the same text"
    rows.append(Row("data.template", d.template, tpl_keys, "exact", note))
    return rows


# ------------------------------------------------------------------------------------------ rollout


def rollout_rows(cfg: Any, algo: ResolvedAlgorithm, facts: ExportFacts, problems: list[str]) -> list[Row]:
    """rollout.*: sampling of the training responses (vLLM in verl)."""
    r = cfg.rollout
    top_k = r.top_k if r.top_k > 0 else -1
    stop_keys: dict[str, Any] = {}
    if facts.stop_token_ids or facts.stop_strings:
        stop_keys = {f"{R}.agent.agent_loop_config_path": f"{EXPORT_DIR_TOKEN}/{AGENT_LOOPS_FILE}",
                     f"{R}.agent.default_agent_loop": AGENT_LOOP_NAME}
    stop_note = ("the stop rule (end-of-text ids, the template's turn end, these strings) goes to vLLM through "
                 f"{AGENT_LOOPS_FILE} (StopRuleAgentLoop: stop_token_ids and stop); {facts.stop_note}")
    if r.mode != "sync":
        _bad(problems, "rollout.mode", r.mode, "verl 0.9.1 trains one step off-policy only through its separate "
             "entry point verl.experimental.one_step_off_policy.main_ppo, on a rollout GPU pool of its own, which "
             "this export does not launch (use rollout.mode: sync)")
    return [
        Row("rollout.mode", r.mode, {}, "exact", "verl.trainer.main_ppo samples each step with the current policy"),
        Row("rollout.backend", r.backend, {f"{R}.name": "vllm", f"{R}.mode": "async"}, "approx",
            "verl samples with vLLM; same distribution as the local engine, other kernels"),
        Row("rollout.n", r.n, {f"{R}.n": r.n}),
        Row("rollout.temperature", r.temperature,
            {f"{R}.temperature": float(r.temperature), f"{R}.do_sample": r.temperature > 0}),
        Row("rollout.top_p", r.top_p, {f"{R}.top_p": float(r.top_p)}),
        Row("rollout.top_k", r.top_k, {f"{R}.top_k": top_k}, "exact", "0 (off) -> verl's -1"),
        Row("rollout.max_new_tokens", r.max_new_tokens, {"data.max_response_length": r.max_new_tokens}, "exact",
            "responses cut at this length score 0 (truncated), as in the local trainer (reward_manager.py)"),
        Row("rollout.stop", list(r.stop), stop_keys, "exact", stop_note),
        Row("rollout.batch_size", r.batch_size, {}, "local", "generation batching; vLLM schedules itself"),
        Row("rollout.vllm_gpu_memory_utilization", r.vllm_gpu_memory_utilization,
            {f"{R}.gpu_memory_utilization": float(r.vllm_gpu_memory_utilization)}, "exact",
            "the share of each GPU vLLM takes next to the trainer"),
        Row("rollout.vllm_sleep_level", r.vllm_sleep_level, {f"{R}.free_cache_engine": r.vllm_sleep_level > 0},
            "approx", "verl's vLLM sleeps between rollouts at level 2 (vLLM >= 0.18) whatever level is asked; "
            "0 keeps it awake"),
        Row("rollout.vllm_dtype", r.vllm_dtype, {}, "approx" if r.vllm_dtype else "exact",
            "verl's rollout dtype is model.dtype's"),
        Row("rollout.vllm_max_model_len", r.vllm_max_model_len,
            {} if r.vllm_max_model_len is None else {f"{R}.max_model_len": r.vllm_max_model_len}, "exact",
            "None: verl's default (prompt + response length)"),
    ]


# ---------------------------------------------------------------------------------------- algorithm


def _kl_rows(algo: ResolvedAlgorithm, problems: list[str]) -> list[Row]:
    rows = []
    loss_type = algo.kl_loss_type
    if loss_type not in VERL_KL_NAMES:
        _bad(problems, "algorithm.kl_loss_type", loss_type, f"verl names only {sorted(VERL_KL_NAMES)} here")
    pen_type = algo.kl_penalty_type
    if pen_type not in VERL_KL_NAMES:
        _bad(problems, "algorithm.kl_penalty_type", pen_type, f"verl names only {sorted(VERL_KL_NAMES)} here")
    on_loss, on_rew = algo.use_kl_loss, algo.use_kl_in_reward
    rows.append(Row("algorithm.use_kl_loss", on_loss, {f"{A}.use_kl_loss": on_loss}))
    rows.append(Row("algorithm.kl_loss_coef", algo.kl_loss_coef, {f"{A}.kl_loss_coef": float(algo.kl_loss_coef)},
                    "exact" if on_loss else "unused"))
    rows.append(Row("algorithm.kl_loss_type", loss_type, {f"{A}.kl_loss_type": VERL_KL_NAMES.get(loss_type)},
                    "exact" if on_loss else "unused", "k1=kl, k2=mse, k3=low_var_kl"))
    rows.append(Row("algorithm.use_kl_in_reward", on_rew, {f"{ALG}.use_kl_in_reward": on_rew}, "exact",
                    "penalty from the rollout (old) log-probs, as locally"))
    rows.append(Row("algorithm.kl_coef", algo.kl_coef,
                    {f"{ALG}.kl_ctrl.type": "fixed", f"{ALG}.kl_ctrl.kl_coef": float(algo.kl_coef)},
                    "exact" if on_rew else "unused", "fixed coefficient"))
    rows.append(Row("algorithm.kl_penalty_type", pen_type, {f"{ALG}.kl_penalty": VERL_KL_NAMES.get(pen_type)},
                    "exact" if on_rew else "unused"))
    return rows


def _clip_rows(algo: ResolvedAlgorithm, problems: list[str]) -> list[Row]:
    c = algo.clip_ratio_c
    if c is None:
        _bad(problems, "algorithm.clip_ratio_c", c, "verl always applies dual-clip (needs a bound > 1)")
    return [
        Row("algorithm.clip_ratio_low", algo.clip_ratio_low,
            {f"{A}.clip_ratio": float(algo.clip_ratio_low), f"{A}.clip_ratio_low": float(algo.clip_ratio_low)}),
        Row("algorithm.clip_ratio_high", algo.clip_ratio_high, {f"{A}.clip_ratio_high": float(algo.clip_ratio_high)}),
        Row("algorithm.clip_ratio_c", c, {f"{A}.clip_ratio_c": None if c is None else float(c)}, "exact",
            "dual-clip bound for negative advantages"),
        Row("algorithm.entropy_coeff", algo.entropy_coeff, {f"{A}.entropy_coeff": float(algo.entropy_coeff)}),
    ]


def _estimator_rows(cfg: Any, algo: ResolvedAlgorithm, problems: list[str]) -> list[Row]:
    from rlvr_bench.algorithms import advantage_estimator_spec

    est = algo.adv_estimator
    spec = advantage_estimator_spec(est)
    keys: dict[str, Any] = {f"{ALG}.adv_estimator": spec.verl_name}
    note = "parity-tested against verl's core_algos on CPU"
    status = "exact"
    if spec.verl_name is None:
        _bad(problems, "algorithm.adv_estimator", est, f"no verl equivalent: {spec.verl_missing_reason}")
        keys, note = {}, f"no verl equivalent: {spec.verl_missing_reason}"
    if spec.needs_greedy_baseline:
        keys["trainer.use_v1"] = False
        note += "; ReMax's greedy baseline is generated only by verl's legacy trainer (trainer.use_v1=false)"
        status = "approx"
    mode = algo.loss_agg_mode
    agg_status, agg_note = "exact", "parity-tested"
    scale_keys: dict[str, Any] = {f"{A}.loss_scale_factor": None}
    if mode == "seq-mean-token-sum-norm":
        # verl 0.9.1 computes sum / N_seq / factor with N_seq = ppo_mini_batch_size x n (constant): dividing
        # the local constant by N_seq makes verl's loss the local trainer's sum / loss_scale_factor.
        n_seq = max(1, cfg.trainer.prompts_per_step // algo.mini_batches) * cfg.rollout.n
        agg_status = "derived"
        agg_note = ("verl 0.9.1 also divides this mode by the mini-batch's sequence count (ppo_mini_batch_size "
                    "x n); exporting loss_scale_factor / that count restores the local sum / loss_scale_factor "
                    "(parity-tested)")
        scale_keys = {f"{A}.loss_scale_factor": float(algo.loss_scale_factor) / n_seq}
    return [
        Row("algorithm.preset", cfg.algorithm.preset, {}, "derived", "every preset value is written out below"),
        Row("algorithm.adv_estimator", est, keys, status, note),
        Row("algorithm.norm_adv_by_std", algo.norm_adv_by_std,
            {f"{ALG}.norm_adv_by_std_in_grpo": bool(algo.norm_adv_by_std)}, "exact", "grpo only, as locally"),
        Row("algorithm.loss_agg_mode", mode, {f"{A}.loss_agg_mode": mode}, "exact", "parity-tested"),
        Row("algorithm.loss_scale_factor", algo.loss_scale_factor, scale_keys,
            agg_status if mode == "seq-mean-token-sum-norm" else "unused",
            agg_note if mode == "seq-mean-token-sum-norm" else "Dr. GRPO's constant divisor"),
        Row("algorithm.gamma", algo.gamma, {f"{ALG}.gamma": float(algo.gamma)}),
        Row("algorithm.lam", algo.lam, {f"{ALG}.lam": float(algo.lam)}, "exact" if est == "gae" else "unused"),
    ]


def _batch_rows(cfg: Any, algo: ResolvedAlgorithm, problems: list[str]) -> list[Row]:
    prompts, mini = cfg.trainer.prompts_per_step, algo.mini_batches
    if prompts % mini:
        _bad(problems, "algorithm.mini_batches", mini,
             f"verl needs trainer.prompts_per_step ({prompts}) divisible by the number of mini-batches")
    return [
        Row("algorithm.ppo_epochs", algo.ppo_epochs, {f"{A}.ppo_epochs": algo.ppo_epochs}, "exact",
            "the critic follows the actor"),
        Row("algorithm.mini_batches", mini, {f"{A}.ppo_mini_batch_size": max(1, prompts // mini)}, "derived",
            "ppo_mini_batch_size = prompts_per_step / mini_batches (verl counts prompts; x rollout.n responses)"),
    ]


def _dapo_rows(cfg: Any, algo: ResolvedAlgorithm) -> list[Row]:
    ds, rounds = algo.dynamic_sampling, algo.max_resample_rounds
    filt = {f"{ALG}.filter_groups.enable": bool(ds)}
    if ds:
        filt[f"{ALG}.filter_groups.metric"] = "task_score"
    rows = [
        Row("algorithm.dynamic_sampling", ds, filt, "exact",
            "drop groups whose correctness (task_score, before overlong shaping) is all equal; refill the batch"),
        Row("algorithm.max_resample_rounds", rounds,
            {f"{ALG}.filter_groups.max_num_gen_batches": rounds + 1} if ds else {},
            "approx" if ds else "unused",
            "verl 0.9's v1 trainer ignores max_num_gen_batches and refills until the batch is full "
            "(the local engine stops after this many extra rounds)"),
    ]
    op, buf = algo.overlong_penalty, algo.overlong_buffer_len
    rows.append(Row("algorithm.overlong_penalty", op, {}, "exact",
                    "applied by rlvr_bench's reward manager (reward_fn.py), same formula as verl's DAPO manager"
                    if op else "off"))
    rows.append(Row("algorithm.overlong_buffer_len", buf, {}, "exact" if op else "unused",
                    "L_cache of the soft penalty, against data.max_response_length"))
    return rows


def _critic_rows(cfg: Any, algo: ResolvedAlgorithm, facts: ExportFacts) -> list[Row]:
    if not algo.needs_critic:
        return [Row("algorithm.critic_lr", algo.critic_lr, {f"{C}.enable": False}, "unused", "no critic"),
                Row("algorithm.cliprange_value", algo.cliprange_value, {}, "unused", "no critic")]
    t = cfg.trainer
    keys = {f"{C}.enable": True, f"{C}.optim.lr": float(algo.critic_lr), **_optim_keys(C, cfg, algo),
            f"{C}.ppo_micro_batch_size_per_gpu": t.micro_batch_size,
            f"{C}.model.enable_gradient_checkpointing": cfg.model.gradient_checkpointing,
            f"{C}.model.trust_remote_code": cfg.model.trust_remote_code}
    return [Row("algorithm.critic_lr", algo.critic_lr, keys, "exact",
                "critic optimiser otherwise as the actor's (AdamW, betas, weight decay, clipping)"),
            Row("algorithm.cliprange_value", algo.cliprange_value, {f"{C}.cliprange_value": float(algo.cliprange_value)})]


def algorithm_rows(cfg: Any, algo: ResolvedAlgorithm, facts: ExportFacts, problems: list[str]) -> list[Row]:
    """algorithm.*: every value after the preset is applied (what the local trainer would run)."""
    rows = _estimator_rows(cfg, algo, problems) + _clip_rows(algo, problems) + _kl_rows(algo, problems)
    rows += _batch_rows(cfg, algo, problems) + _dapo_rows(cfg, algo) + _critic_rows(cfg, algo, facts)
    rows.append(_policy_loss_row(algo, problems))
    return rows + method_rows(cfg, algo, problems)


def _policy_loss_row(algo: ResolvedAlgorithm, problems: list[str]) -> Row:
    from rlvr_bench.algorithms import policy_loss_spec

    spec = policy_loss_spec(algo.policy_loss)
    if spec.verl_name is None:
        _bad(problems, "algorithm.policy_loss", algo.policy_loss, "no verl equivalent")
        return Row("algorithm.policy_loss", algo.policy_loss, {}, "exact", "no verl equivalent")
    note = ("clipped surrogate with dual-clip (the policy loss every preset uses)" if algo.policy_loss == "vanilla"
            else f"verl's {spec.verl_name}; its knobs are in the algorithm.knobs row")
    return Row("algorithm.policy_loss", algo.policy_loss, {f"{A}.policy_loss.loss_mode": spec.verl_name}, "exact",
               note)


# ------------------------------------------------------------------------------------------ trainer


def _updates_per_step(algo: ResolvedAlgorithm) -> int:
    return int(algo.ppo_epochs) * int(algo.mini_batches)


def _optim_keys(prefix: str, cfg: Any, algo: ResolvedAlgorithm) -> dict[str, Any]:
    t = cfg.trainer
    warmup = 0 if t.warmup_steps == 0 else max(1, round(t.warmup_steps / _updates_per_step(algo)))
    return {f"{prefix}.optim.weight_decay": float(t.weight_decay),
            f"{prefix}.optim.betas": [float(t.adam_beta1), float(t.adam_beta2)],
            f"{prefix}.optim.clip_grad": float(t.max_grad_norm), f"{prefix}.grad_clip": float(t.max_grad_norm),
            f"{prefix}.optim.lr_warmup_steps": warmup, f"{prefix}.optim.lr_scheduler_type": t.lr_scheduler,
            f"{prefix}.optim.min_lr_ratio": 0.0}


def trainer_rows(cfg: Any, algo: ResolvedAlgorithm, facts: ExportFacts, problems: list[str]) -> list[Row]:
    """trainer.*: budget, batch sizes, optimiser, checkpoints."""
    t = cfg.trainer
    if t.lr_scheduler not in ("constant", "cosine"):
        _bad(problems, "trainer.lr_scheduler", t.lr_scheduler, "verl 0.9's FSDP optimiser has constant and cosine only")
    per_epoch = facts.num_train // t.prompts_per_step  # verl's dataloader drops an incomplete last batch
    if per_epoch == 0:
        _bad(problems, "trainer.prompts_per_step", t.prompts_per_step,
             f"more than the {facts.num_train} training prompts: verl's dataloader would yield no batch")
    epochs = max(1, math.ceil(t.steps / max(1, per_epoch)))
    save_freq = t.save_every if t.save_every > 0 else t.steps
    micro = t.micro_batch_size
    optim = _optim_keys(A, cfg, algo)
    return [
        Row("trainer.steps", t.steps, {"trainer.total_training_steps": t.steps, "trainer.total_epochs": epochs},
            "exact", "total_epochs is computed to cover the steps (verl drops the incomplete last batch of each "
            "epoch)"),
        Row("trainer.prompts_per_step", t.prompts_per_step, {"data.train_batch_size": t.prompts_per_step}),
        Row("trainer.batch_size", t.batch_size, {}, "unused", "SFT/distillation only"),
        Row("trainer.micro_batch_size", micro,
            {f"{A}.ppo_micro_batch_size_per_gpu": micro, f"{R}.log_prob_micro_batch_size_per_gpu": micro,
             f"{REF}.log_prob_micro_batch_size_per_gpu": micro, f"{A}.use_dynamic_bsz": False}, "exact",
            "sequences per forward/backward per GPU; gradient accumulation gives the same update"),
        Row("trainer.learning_rate", t.learning_rate, {f"{A}.optim.lr": float(t.learning_rate)}),
        Row("trainer.lr_scheduler", t.lr_scheduler,
            {k: v for k, v in optim.items() if k.endswith((".lr_scheduler_type", ".min_lr_ratio"))},
            "exact" if t.lr_scheduler == "constant" else "approx",
            "verl steps the schedule once per training step (locally: once per optimizer update)"),
        Row("trainer.warmup_steps", t.warmup_steps, {f"{A}.optim.lr_warmup_steps": optim[f"{A}.optim.lr_warmup_steps"]},
            "exact" if t.warmup_steps == 0 else "approx",
            "verl counts training steps (1 step = ppo_epochs x mini_batches optimizer updates; converted) and "
            "warms up from lr 0"),
        Row("trainer.weight_decay", t.weight_decay, {f"{A}.optim.weight_decay": optim[f"{A}.optim.weight_decay"]},
            "exact", "AdamW (verl's default 0.01 is overridden)"),
        Row("trainer.adam_beta1", t.adam_beta1, {f"{A}.optim.betas": optim[f"{A}.optim.betas"]}),
        Row("trainer.adam_beta2", t.adam_beta2, {f"{A}.optim.betas": optim[f"{A}.optim.betas"]}),
        Row("trainer.max_grad_norm", t.max_grad_norm,
            {f"{A}.optim.clip_grad": optim[f"{A}.optim.clip_grad"], f"{A}.grad_clip": optim[f"{A}.grad_clip"]}),
        Row("trainer.save_every", t.save_every, {"trainer.save_freq": save_freq}, "exact",
            "0 = only the final checkpoint (verl: save_freq = steps)"),
        Row("trainer.mixed_precision", t.mixed_precision, {}, "approx", "see model.dtype: verl always trains "
            "with FSDP mixed precision"),
        Row("trainer.torch_threads", t.torch_threads, {}, "local", "CPU threads of the local engine"),
    ]


# ------------------------------------------------------------------------------------ reward / eval


def reward_settings(cfg: Any, algo: ResolvedAlgorithm) -> dict[str, Any]:
    """Keyword arguments of ``rlvr_bench.backends.verl.reward.RecipeReward`` (written into reward_fn.py)."""
    return {"reward": cfg.reward.name, "weights": dict(cfg.reward.weights), "timeout": float(cfg.reward.timeout),
            "code_mode": cfg.reward.code_mode, "max_response_length": int(cfg.rollout.max_new_tokens),
            "overlong_buffer_len": int(algo.overlong_buffer_len) if algo.overlong_penalty else None}


def reward_rows(cfg: Any, algo: ResolvedAlgorithm, facts: ExportFacts, problems: list[str]) -> list[Row]:
    """reward.*: the same reward functions, called by verl through reward_fn.py, one response at a time: a
    reward that needs the whole group of a prompt (``majority_vote``) is a problem (the export refuses it)."""
    wiring = {"reward.custom_reward_function.path": f"{EXPORT_DIR_TOKEN}/reward_fn.py",
              "reward.custom_reward_function.name": "compute_score",
              "reward.reward_manager.source": "importlib", "reward.reward_manager.name": REWARD_MANAGER,
              "reward.reward_manager.module.path": f"{EXPORT_DIR_TOKEN}/reward_manager.py"}
    note = "reward_fn.py calls rlvr_bench.rewards (the local trainer's functions); parity-tested"
    from rlvr_bench.backends.verl.reward import per_response_problem

    problem = per_response_problem(cfg.reward.name, dict(cfg.reward.weights))
    if problem:
        field = "reward.weights" if cfg.reward.weights else "reward.name"
        _bad(problems, field, dict(cfg.reward.weights) if cfg.reward.weights else cfg.reward.name, problem)
    return [
        Row("reward.name", cfg.reward.name, wiring, "exact", note),
        Row("reward.weights", dict(cfg.reward.weights), {}, "exact", "in reward_fn.py"),
        Row("reward.timeout", cfg.reward.timeout, {}, "exact", "in reward_fn.py"),
        Row("reward.code_mode", cfg.reward.code_mode, {}, "exact", "in reward_fn.py"),
    ]


def evaluation_rows(cfg: Any, algo: ResolvedAlgorithm, facts: ExportFacts, problems: list[str]) -> list[Row]:
    """evaluation.*: pass@k runs after import; verl validates mean reward on the same benchmarks meanwhile."""
    ev, t = cfg.evaluation, cfg.trainer
    save_freq = t.save_every if t.save_every > 0 else t.steps
    monitor = ev.enabled and ev.every_checkpoint
    val = {"data.val_files": list(facts.val_files), f"{R}.val_kwargs.n": 1,
           f"{R}.val_kwargs.temperature": float(ev.temperature), f"{R}.val_kwargs.top_p": float(ev.top_p),
           f"{R}.val_kwargs.top_k": ev.top_k if ev.top_k > 0 else -1, f"{R}.val_kwargs.do_sample": ev.temperature > 0}
    rows = [
        Row("evaluation.benchmarks", list(ev.benchmarks or []), val, "import",
            "pass@k: `rlvr-bench eval` on the imported checkpoints; verl validates mean reward (n=1, same "
            "decoding) on data/val_*.parquet during training"),
        Row("evaluation.enabled", ev.enabled, {}, "import", ""),
        Row("evaluation.every_checkpoint", ev.every_checkpoint, {"trainer.test_freq": save_freq if monitor else -1},
            "import", "verl validates at every checkpoint"),
        Row("evaluation.at_start", ev.at_start, {"trainer.val_before_train": bool(ev.enabled and ev.at_start)},
            "import", ""),
        Row("evaluation.max_new_tokens", ev.max_new_tokens, {}, "import",
            "verl's validation uses data.max_response_length"),
        Row("evaluation.limit", ev.limit, {}, "import", "also applied to the validation parquet"),
        Row("evaluation.intermediate_n", ev.intermediate_n, {}, "import",
            "the eval commands `verl import` prints use it for checkpoints before the last"),
    ]
    for name in ("n", "ks", "seeds", "temperature", "top_p", "top_k", "template"):
        rows.append(Row(f"evaluation.{name}", getattr(ev, name), {}, "import", ""))
    rows.append(Row("evaluation.stop", list(ev.stop), {}, "import",
                    "`rlvr-bench eval` applies them (with the stop rule) to the imported checkpoints"))
    return rows


def logging_rows(cfg: Any, algo: ResolvedAlgorithm, facts: ExportFacts, problems: list[str]) -> list[Row]:
    """logging.*: verl logs to the console, a metrics jsonl (imported) and the mapped trackers."""
    lg = cfg.logging
    loggers = ["console", "file"] + [VERL_TRACKERS[t] for t in lg.trackers]
    return [
        Row("logging.trackers", list(lg.trackers), {"trainer.logger": loggers}, "exact",
            "plus 'file': <export>/verl_metrics.jsonl, imported as metrics.jsonl"),
        Row("logging.project", lg.project, {"trainer.project_name": lg.project,
                                            "trainer.experiment_name": facts.experiment_name}),
        Row("logging.log_every", lg.log_every, {}, "local", "verl logs every step"),
        Row("logging.progress", lg.progress, {}, "local", ""),
    ]


def other_rows(cfg: Any, algo: ResolvedAlgorithm, facts: ExportFacts, problems: list[str]) -> list[Row]:
    """Whole sections used by other methods or only by the local toy build."""
    toy_used = cfg.data.source == "toy" or str(cfg.model.name_or_path).startswith("toy:") or "toy" in cfg.evaluation.benchmarks
    rows = []
    for section in WHOLE_SECTIONS:
        if section == "toy" and toy_used:
            rows.append(Row("toy.*", "(toy world settings)", {}, "local",
                            "build the toy model and tasks here; the export carries the result"))
        else:
            rows.append(Row(f"{section}.*", f"({section} settings)", {}, "unused", "not used by RL"))
    return rows


SECTIONS: list[Section] = [top_rows, model_rows, data_rows, rollout_rows, correction_rows, algorithm_rows,
                           trainer_rows, reward_rows, evaluation_rows, logging_rows, other_rows]
"""Every section's rule, in table order."""
