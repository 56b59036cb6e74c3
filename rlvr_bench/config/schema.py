"""Recipe sections: one dataclass per section, every field with help text and constraints.

A recipe YAML mirrors ``RecipeConfig``: top-level ``method``/``seed``/``output_dir`` plus one mapping per
section. ``rlvr-bench recipes`` validates every shipped recipe against these classes, and
``rlvr_bench.config.loader`` turns an unknown key, a wrong type or a bad range into one line naming the
file, the key, the value and what is allowed.

Algorithm fields left at ``None`` take the value of the named preset (``rlvr_bench.algorithms.presets``);
the trainer writes the fully resolved values to the run directory's ``config.yaml``.

``data.template`` and ``evaluation.benchmarks`` left at ``None`` resolve at load time
(``rlvr_bench.config.loader``): to the toy world's values for a toy model, and to a one-line error for any
other model, so a real model never silently runs with the toy prompt format or the toy benchmark.
"""

from __future__ import annotations

from dataclasses import dataclass

from rlvr_bench.config.fields import opt
from rlvr_bench.config.toy import ToyConfig
from rlvr_bench.methods import METHODS as _METHOD_NAMES

__all__ = [
    "METHODS",
    "AlgorithmConfig",
    "DataConfig",
    "DistillConfig",
    "EvaluationConfig",
    "LoggingConfig",
    "LoraConfig",
    "ModelConfig",
    "RecipeConfig",
    "RewardConfig",
    "RLConfig",
    "RolloutConfig",
    "SFTConfig",
    "TrainerConfig",
]

METHODS = _METHOD_NAMES  # a live view of the method registry (rlvr_bench.methods)
LOSS_AGG_MODES = ("token-mean", "seq-mean-token-mean", "seq-mean-token-sum", "seq-mean-token-sum-norm")
KL_TYPES = ("k1", "k2", "k3")
DTYPES = ("auto", "float32", "bfloat16", "float16")
ROLLOUT_MODES = ("sync", "one_step_off")
"""``rollout.mode``: the only list of rollout schedules (the RL trainer's ``rl_async``, the verl export)."""


@dataclass
class LoraConfig:
    """PEFT LoRA adapter settings (off by default)."""

    enabled: bool = opt(False, "train a LoRA adapter instead of all weights")
    r: int = opt(16, "LoRA rank", gt=0)
    alpha: int = opt(32, "LoRA alpha (scale = alpha / r)", gt=0)
    dropout: float = opt(0.05, "dropout on the LoRA branch", ge=0.0, lt=1.0)
    target_modules: list[str] = opt(
        help="module names that get adapters", factory=lambda: ["q_proj", "k_proj", "v_proj", "o_proj"]
    )


@dataclass
class ModelConfig:
    """Which model is trained, and the models it is compared or distilled against."""

    name_or_path: str = opt(
        None, "policy: Hugging Face name, local directory, or 'toy:base' / 'toy:teacher'", required=True
    )
    dtype: str = opt("auto", "weights dtype; auto = bfloat16 on a CUDA GPU that supports it, else float32",
                     choices=DTYPES)
    device: str | None = opt(None, "torch device (cpu, cuda, cuda:1); None = accelerate's choice")
    trust_remote_code: bool = opt(False, "allow model code from the hub (off: safer)")
    gradient_checkpointing: bool = opt(False, "trade compute for memory on large models")
    reference: str | None = opt(None, "reference model for KL terms; None = the initial policy")
    critic: str | None = opt(None, "PPO critic initialisation; None = the policy's weights")
    teacher: str | None = opt(None, "teacher for distillation: name, path or 'toy:teacher'")
    lora: LoraConfig = opt(help="LoRA adapter (PEFT)", factory=LoraConfig)


@dataclass
class DataConfig:
    """Training prompts: where they come from and how they are rendered."""

    source: str = opt(
        None, "'toy', a benchmark short name, a Hugging Face dataset name, or a local jsonl/parquet/csv file",
        required=True,
    )
    split: str = opt("train", "dataset split to train on")
    subset: str | None = opt(None, "Hugging Face dataset configuration name")
    problem_column: str = opt("problem", "column holding the problem text")
    answer_column: str = opt("answer", "column holding the verifiable gold answer")
    solution_column: str | None = opt(None, "column holding reference traces (SFT)")
    id_column: str | None = opt(None, "column holding a unique problem id; None = generated")
    template: str | None = opt(
        None, "named prompt template (rlvr_bench.data.templates), recorded with results; None = 'toy' for the "
        "toy models (toy:base, toy:teacher), required for any other model")
    max_prompt_tokens: int | None = opt(
        None, "drop (or reject) training and evaluation prompts longer than this many tokens; None = the model's "
        "context length minus max_new_tokens", gt=0)
    overlong_prompts: str = opt(
        "drop", "what happens to a prompt over max_prompt_tokens: dropped with a logged count (as verl's "
        "filter_overlong_prompts), or an error naming the row", choices=("drop", "error"))
    limit: int | None = opt(None, "use at most this many training prompts", gt=0)
    shuffle: bool = opt(True, "shuffle prompts (seeded) before training")


@dataclass
class RolloutConfig:
    """Decoding used for training rollouts; every value is recorded with the samples."""

    backend: str = opt("hf", "generation engine: hf (transformers generate) or vllm (optional extra)",
                       choices=("hf", "vllm"))
    n: int = opt(8, "samples per prompt (the group size G)", ge=1)
    temperature: float = opt(1.0, "sampling temperature; 0 = greedy", ge=0.0)
    top_p: float = opt(1.0, "nucleus sampling mass", gt=0.0, le=1.0)
    top_k: int = opt(0, "top-k sampling; 0 = off", ge=0)
    max_new_tokens: int = opt(48, "longest response; longer ones are marked truncated", gt=0)
    stop: list[str] = opt(help="extra stop strings besides the stop rule (end-of-text ids + the template's "
                          "turn-end token); special tokens allowed", factory=list)
    batch_size: int = opt(1024, "sequences generated per forward batch", gt=0)
    # rollout.vllm_<name> is passed to the vllm engine as <name> (rlvr_bench.rollout.vllm_engine; docs/gpu.md)
    vllm_gpu_memory_utilization: float = opt(
        0.3, "vllm: fraction of the GPU the colocated engine takes for its weights and KV cache (the trainer "
        "shares the rest)", gt=0.0, le=1.0)
    vllm_sleep_level: int = opt(
        1, "vllm: sleep while the trainer updates: 1 = weights to CPU memory, KV cache freed; 2 = both freed "
        "(weights reloaded at every wake); 0 = never sleep", choices=(0, 1, 2))
    vllm_dtype: str | None = opt(None, "vllm: the engine's weight dtype; None = the policy's",
                                 choices=("float32", "bfloat16", "float16"))
    vllm_max_model_len: int | None = opt(
        None, "vllm: prompt + response tokens the engine plans its KV cache for; None = the model's context "
        "length", gt=0)
    # the modes are rlvr_bench.algorithms.rollout_correction.CORRECTIONS (a test keeps this tuple equal to it)
    correction: str = opt(
        "none", "importance weight on the per-token policy loss for the gap between the engine's and the "
        "trainer's log-probs: none, token_ or sequence_ truncate (TIS) / mask (MIS); the gap is logged every step "
        "(rollout_correction/*) in any mode", choices=("none", "token_truncate", "token_mask", "sequence_truncate",
                                                      "sequence_mask"))
    correction_cap: float = opt(2.0, "upper bound C of the importance ratio: truncated at C, or masked above C "
                                "(verl's rollout_is_threshold, TRL's vllm_importance_sampling_clip_max)", ge=1.0)
    correction_floor: float | None = opt(
        None, "lower bound of the importance ratio: truncated at it, or masked below it (IcePop); None = no lower "
        "bound", gt=0.0, le=1.0)
    mode: str = opt(
        "sync", "sync: each step samples with the current policy; one_step_off: step t+1's rollout runs on a second "
        "thread with a copy of the policy from before step t's update, overlapping it (verl's one_step_off_policy; "
        "one step stale, corrected by rollout.correction, logged as async/*; hf engine, one process)",
        choices=ROLLOUT_MODES)


@dataclass
class AlgorithmConfig:
    """The RL algorithm: a preset plus any field overridden. ``None`` = the preset's value."""

    # Presets, estimators and policy losses are checked against their registries (rlvr_bench.algorithms) at
    # load time, lazily: the registry is the only list of names. Policy-loss knobs (the clip ratios) are
    # checked against the bounds the loss declares (KnobSpec).
    preset: str = opt("grpo", "named algorithm preset", registry="presets")
    adv_estimator: str | None = opt(None, "advantage estimator", registry="advantage_estimators")
    policy_loss: str | None = opt(None, "policy loss in the registry; None = the preset's, vanilla",
                                  registry="policy_losses")
    norm_adv_by_std: bool | None = opt(None, "divide group-centred rewards by the group std (GRPO); off for Dr. GRPO")
    loss_agg_mode: str | None = opt(None, "how token losses are aggregated", choices=LOSS_AGG_MODES)
    clip_ratio_low: float | None = opt(None, "PPO clip epsilon below 1 (policy-loss knob, in [0, 1))")
    clip_ratio_high: float | None = opt(None, "PPO clip epsilon above 1 (policy-loss knob; DAPO clip-higher: 0.28)")
    clip_ratio_c: float | None = opt(None, "dual-clip bound c for negative advantages (policy-loss knob, > 1)")
    use_kl_loss: bool | None = opt(None, "add a KL-to-reference term to the loss (GRPO)")
    kl_loss_coef: float | None = opt(None, "weight of the KL loss term", ge=0.0)
    kl_loss_type: str | None = opt(None, "KL estimator for the loss term", choices=KL_TYPES)
    use_kl_in_reward: bool | None = opt(None, "subtract beta * KL from token rewards (REINFORCE++)")
    kl_coef: float | None = opt(None, "beta of the in-reward KL penalty", ge=0.0)
    kl_penalty_type: str | None = opt(None, "KL estimator for the in-reward penalty", choices=KL_TYPES)
    dynamic_sampling: bool | None = opt(None, "DAPO: drop all-equal groups and resample until the batch is full")
    max_resample_rounds: int | None = opt(None, "DAPO: at most this many extra generation rounds per step", ge=0)
    overlong_penalty: bool | None = opt(None, "DAPO soft overlong penalty on long responses")
    overlong_buffer_len: int | None = opt(None, "DAPO: length of the soft penalty buffer L_cache", gt=0)
    ppo_epochs: int | None = opt(None, "passes over each rollout batch", ge=1)
    mini_batches: int | None = opt(None, "optimizer updates per epoch", ge=1)
    gamma: float | None = opt(None, "discount (GAE / REINFORCE++)", ge=0.0, le=1.0)
    lam: float | None = opt(None, "GAE lambda", ge=0.0, le=1.0)
    critic_lr: float | None = opt(None, "PPO critic learning rate", gt=0.0)
    cliprange_value: float | None = opt(None, "PPO value clipping range", gt=0.0)
    entropy_coeff: float | None = opt(None, "entropy bonus weight", ge=0.0)
    loss_scale_factor: float | None = opt(None, "Dr. GRPO's constant divisor; None = max response length", gt=0.0)
    entropy_top_ratio: float | None = opt(
        None, "keep the policy gradient only on this fraction of the batch's highest-entropy response tokens "
        "(arXiv 2506.01939: 0.2); None = every token", gt=0.0, le=1.0)
    entropy_target: float | None = opt(
        None, "adaptive entropy coefficient: after each step entropy_coeff moves by entropy_coeff_step towards "
        "keeping the mean token entropy at this target (arXiv 2505.22312); None = static entropy_coeff", gt=0.0)
    entropy_coeff_step: float | None = opt(None, "adaptive entropy coefficient: change per step", gt=0.0)
    entropy_coeff_max: float | None = opt(None, "adaptive entropy coefficient: upper bound (Skywork-OR1's "
                                          "max_ent_coef); None = no bound", ge=0.0)
    reference_reset_every: int | None = opt(
        None, "ProRL (arXiv 2505.24864): every N steps the reference becomes the current policy and the "
        "optimizer state is reset; 0 = never", ge=0)
    knobs: dict[str, bool | int | float] = opt(
        help="knobs of the policy loss or advantage estimator without a field of their own, named as in their "
        "registry entry, e.g. {tau_pos: 1.0} (sapo) or {k: 4} (passk); merged over the preset's", factory=dict)


@dataclass
class TrainerConfig:
    """Optimisation. Budgets are steps (or samples), never seconds."""

    steps: int = opt(50, "optimizer steps (RL: one rollout batch each, times ppo_epochs x mini_batches)", gt=0)
    prompts_per_step: int = opt(32, "RL: prompts per rollout batch (each sampled rollout.n times)", gt=0)
    batch_size: int = opt(64, "SFT/distillation: sequences per optimizer step", gt=0)
    micro_batch_size: int = opt(256, "sequences per forward/backward pass (gradient accumulation above)", gt=0)
    learning_rate: float = opt(2e-4, "peak learning rate", gt=0.0)
    lr_scheduler: str = opt("constant", "learning-rate schedule after warmup",
                            choices=("constant", "cosine", "linear"))
    warmup_steps: int = opt(0, "linear warmup steps", ge=0)
    weight_decay: float = opt(0.0, "AdamW weight decay", ge=0.0)
    adam_beta1: float = opt(0.9, "AdamW beta1", ge=0.0, lt=1.0)
    adam_beta2: float = opt(0.999, "AdamW beta2", ge=0.0, lt=1.0)
    max_grad_norm: float = opt(1.0, "gradient clipping norm", gt=0.0)
    save_every: int = opt(0, "checkpoint every N steps; 0 = only the final one", ge=0)
    mixed_precision: str = opt("no", "accelerate mixed precision", choices=("no", "bf16", "fp16"))
    torch_threads: int | None = opt(None, "torch intra-op threads on CPU; None = torch default", gt=0)


@dataclass
class RewardConfig:
    """Verifiable reward(s) from the registry (rlvr_bench.rewards)."""

    name: str = opt("auto", "reward function name in the registry; auto = code tests for rows whose answer is "
                    "a code test spec, math answer equivalence for the others")
    weights: dict[str, float] = opt(help="weighted sum of several rewards, e.g. {math: 1.0, format: 0.1}",
                                    factory=dict)
    timeout: float = opt(5.0, "hard per-call timeout in seconds (scored 0.0 when exceeded)", gt=0.0)
    code_mode: str = opt("all_or_nothing", "code reward: all tests must pass, or the fraction passed",
                         choices=("all_or_nothing", "fraction"))


@dataclass
class EvaluationConfig:
    """pass@k evaluation after every checkpoint."""

    benchmarks: list[str] | None = opt(
        None, "benchmark short names or local files; None = ['toy'] for the toy models, required for any other "
        "model (when evaluation is enabled)")
    n: int = opt(64, "samples per problem per seed", ge=1)
    ks: list[int] = opt(help="k values of the pass@k curve (each <= n)", factory=lambda: [1, 2, 4, 8, 16, 32, 64],
                        ge=1)
    intermediate_n: int | None = opt(
        None, "samples per problem at checkpoints before the last (a cheaper look at the trend; their pass@k "
        "stops at this k); the initial model and the final checkpoint always get n. None = n everywhere", ge=1)
    seeds: list[int] = opt(help="sampling seeds; mean +/- std is reported over them", factory=lambda: [0])
    temperature: float = opt(1.0, "evaluation sampling temperature", ge=0.0)
    top_p: float = opt(1.0, "evaluation nucleus sampling mass", gt=0.0, le=1.0)
    top_k: int = opt(0, "evaluation top-k; 0 = off", ge=0)
    max_new_tokens: int = opt(48, "evaluation response length limit", gt=0)
    stop: list[str] = opt(help="extra stop strings for evaluation (special tokens such as '<|im_end|>' allowed), "
                          "besides the stop rule: the tokenizer's end-of-text ids and the template's turn-end "
                          "token", factory=list)
    limit: int | None = opt(None, "evaluate at most this many problems per benchmark", gt=0)
    template: str | None = opt(None, "prompt template for evaluation; None = data.template")
    at_start: bool = opt(True, "also evaluate the initial model (step 0)")
    every_checkpoint: bool = opt(True, "evaluate after every saved checkpoint")
    enabled: bool = opt(True, "run the evaluation hook at all")


@dataclass
class LoggingConfig:
    """Trackers and console output."""

    trackers: list[str] = opt(help="accelerate trackers: tensorboard, wandb, trackio; [] = none",
                              factory=lambda: ["tensorboard"], choices=("tensorboard", "wandb", "trackio"))
    project: str = opt("rlvr_bench", "tracker project name")
    log_every: int = opt(1, "log training metrics every N steps", gt=0)
    progress: bool = opt(True, "show progress bars on the main process")


@dataclass
class SFTConfig:
    """SFT and rejection-sampling fine-tuning (RFT)."""

    traces_file: str | None = opt(None, "jsonl of traces (problem + solution columns); None = data.solution_column")
    completion_only_loss: bool = opt(True, "loss on completion tokens only")
    packing: bool = opt(False, "pack several short examples per sequence")
    max_length: int = opt(256, "longest training sequence in tokens", gt=0)
    rft_samples_per_prompt: int = opt(8, "RFT: base samples per training prompt", ge=1)
    rft_max_prompts: int | None = opt(None, "RFT: sample at most this many prompts", gt=0)


@dataclass
class DistillConfig:
    """Sequence-level and on-policy logit distillation from a teacher."""

    samples_per_prompt: int = opt(4, "sequence-level: teacher samples per training prompt", ge=1)
    max_prompts: int | None = opt(None, "sequence-level: distil on at most this many prompts", gt=0)
    keep_correct_only: bool = opt(True, "sequence-level: keep only verified-correct teacher traces")
    beta: float = opt(0.5, "logit distillation: generalized JSD interpolation (0 = forward KL, 1 = reverse KL)",
                      ge=0.0, le=1.0)
    lmbda: float = opt(1.0, "logit distillation: fraction of on-policy (student-generated) batches", ge=0.0, le=1.0)
    temperature: float = opt(1.0, "logit distillation: sampling temperature of the student", gt=0.0)


@dataclass
class RecipeConfig:
    """A whole recipe: what to train, from what, how, and how to evaluate it."""

    method: str = opt(None, "what this recipe trains", choices=METHODS, required=True)
    description: str = opt("", "one line shown by `rlvr-bench recipes`")
    seed: int = opt(0, "global seed (python, numpy, torch, data order, sampling)", ge=0)
    output_dir: str | None = opt(None, "run directory; None = runs/<recipe name>/s<seed>")
    model: ModelConfig = opt(help="models", factory=ModelConfig)
    data: DataConfig = opt(help="training prompts", factory=DataConfig)
    rollout: RolloutConfig = opt(help="training-time decoding", factory=RolloutConfig)
    algorithm: AlgorithmConfig = opt(help="RL algorithm", factory=AlgorithmConfig)
    trainer: TrainerConfig = opt(help="optimisation", factory=TrainerConfig)
    reward: RewardConfig = opt(help="verifiable reward", factory=RewardConfig)
    evaluation: EvaluationConfig = opt(help="pass@k evaluation", factory=EvaluationConfig)
    logging: LoggingConfig = opt(help="logging", factory=LoggingConfig)
    sft: SFTConfig = opt(help="SFT / RFT", factory=SFTConfig)
    distill: DistillConfig = opt(help="distillation", factory=DistillConfig)
    toy: ToyConfig = opt(help="offline toy world (tasks, tiny model, base and teacher)", factory=ToyConfig)


@dataclass
class RLConfig(RecipeConfig):
    """``RecipeConfig`` for the RL engine (``method`` defaults to ``rl``)."""

    method: str = opt("rl", "what this recipe trains", choices=METHODS, required=True)
