"""Settings of the offline toy world: tasks, tiny model, base pretraining and teacher training.

The toy world (``docs/toy-world.md``) is the embedded default of rlvr_bench: synthetic verifiable
arithmetic tasks (``rlvr_bench.data.toy``), a character-level tokenizer and a ~1M-parameter Llama
(``rlvr_bench.models.toy``), and two trained checkpoints built on demand and cached
(``rlvr_bench.models.pretrain``):

* the **base**, pretrained on deliberately imperfect traces (moderate pass@1, high pass@k), and
* the **teacher**, the base trained further on clean traces, including a family the base never learned.

Every field changes what is built, so every field enters the content hash that names a cache entry.
Budgets are in optimizer steps, never seconds: machines differ by 2x in speed.

Like the rest of ``rlvr_bench.config`` this module depends on nothing else in the package.
"""

from __future__ import annotations

from dataclasses import dataclass

from rlvr_bench.config.fields import opt

__all__ = [
    "TOY_FAMILIES",
    "ToyConfig",
    "ToyErrorConfig",
    "ToyModelConfig",
    "ToyBaseConfig",
    "ToyTaskConfig",
    "ToyTeacherConfig",
    "ToyTrainConfig",
]

# Names of the task families in rlvr_bench.data.toy (kept here so the config stays import-free).
TOY_FAMILIES = ("addsub", "muladd", "code")


@dataclass
class ToyTaskConfig:
    """Which problems exist and how the train/test splits are drawn."""

    families: list[str] = opt(
        help="task families in the splits: addsub = +/- chains, muladd = a*b +/- c, "
        "code = write f(x)=a*x+b as Python from f(0), f(1) (hidden tests)",
        factory=lambda: ["addsub", "muladd", "code"],
        choices=list(TOY_FAMILIES),
    )
    family_weights: list[float] = opt(
        help="share of each family (same order as families) in the train and test splits",
        factory=lambda: [0.55, 0.25, 0.2],
        ge=0.0,
    )
    seed: int = opt(0, "which problems are drawn (the train/test partition itself is seed-free)", ge=0)
    num_train: int = opt(2000, "problems in the train split (prompts for RL, SFT, distillation)", gt=0)
    num_test: int = opt(200, "problems in the test split (pass@k evaluation)", gt=0)
    test_fraction: float = opt(
        0.1, "share of all problem texts reserved for test (by a hash of the text)", gt=0.0, lt=1.0
    )
    addsub_min_steps: int = opt(2, "addsub: fewest +/- operations in a chain", ge=1, le=4)
    addsub_max_steps: int = opt(4, "addsub: most +/- operations in a chain (difficulty)", ge=1, le=4)
    addsub_max_operand: int = opt(9, "addsub: operands are drawn from 1..max_operand (difficulty)", ge=2, le=99)
    addsub_max_value: int = opt(99, "addsub: every intermediate result stays in 0..max_value", ge=2, le=999)
    muladd_max_factor: int = opt(9, "muladd: a and b are drawn from 2..max_factor (difficulty)", ge=2, le=20)
    muladd_min_addend: int = opt(1, "muladd: c is drawn from min_addend..max_addend", ge=1)
    muladd_max_addend: int = opt(9, "muladd: c is drawn from min_addend..max_addend", ge=1, le=999)
    code_min_slope: int = opt(-9, "code: the slope a is drawn from min_slope..max_slope, never 0", ge=-99, le=99)
    code_max_slope: int = opt(25, "code: the slope a is drawn from min_slope..max_slope, never 0", ge=-99, le=99)
    code_max_intercept: int = opt(49, "code: the intercept b = f(0) is drawn from 0..max_intercept", ge=0, le=999)
    code_names: list[str] = opt(help="code: the function to write is named one of these (tests call it)",
                                factory=lambda: ["f", "g", "h"])


@dataclass
class ToyModelConfig:
    """The tiny Llama (character-level vocabulary, tied embeddings)."""

    hidden_size: int = opt(96, "model width", gt=0)
    num_hidden_layers: int = opt(4, "transformer blocks", gt=0)
    intermediate_size: int = opt(256, "MLP width", gt=0)
    num_attention_heads: int = opt(4, "attention heads (hidden_size must divide by it)", gt=0)
    num_key_value_heads: int = opt(2, "key/value heads (grouped-query attention when smaller)", gt=0)
    max_position_embeddings: int = opt(256, "longest sequence the model is configured for", ge=64)
    rope_theta: float = opt(10000.0, "RoPE base", gt=0.0)
    initializer_range: float = opt(0.02, "std of the initial weights", gt=0.0)


@dataclass
class ToyTrainConfig:
    """One plain training run: AdamW, linear warmup then cosine decay, loss on completion tokens only."""

    steps: int = opt(600, "optimizer steps (the budget is steps, never seconds)", gt=0)
    batch_size: int = opt(64, "sequences per optimizer step", gt=0)
    lr: float = opt(3e-3, "peak learning rate", gt=0.0)
    min_lr_ratio: float = opt(0.1, "final learning rate as a fraction of the peak (cosine decay)", ge=0.0, le=1.0)
    warmup_steps: int = opt(30, "linear warmup steps", ge=0)
    beta1: float = opt(0.9, "AdamW beta1", ge=0.0, lt=1.0)
    beta2: float = opt(0.98, "AdamW beta2", ge=0.0, lt=1.0)
    weight_decay: float = opt(0.0, "AdamW weight decay", ge=0.0)
    grad_clip: float = opt(1.0, "max gradient norm (0 = no clipping)", ge=0.0)
    seed: int = opt(0, "seed of the weights' initialisation, the data stream and the trace noise", ge=0)
    num_threads: int = opt(
        0, "torch CPU threads; 0 = automatic (min(cores, 4), 1 while other processes keep the cores busy)", ge=0
    )


@dataclass
class ToyErrorConfig:
    """Error model of the base's imperfect traces (``rlvr_bench.data.toy.noisy_solution``).

    The errors are *sampling choices* the model learns as a distribution, not skills it lacks: a clean
    step-by-step trace is always the most likely continuation, so RL can sharpen onto it quickly, while
    the spread of the noise keeps pass@k at large k high.
    """

    shortcut_prob: float = opt(
        0.35, "probability a trace skips the working and boxes a guessed answer at once", ge=0.0, le=1.0
    )
    shortcut_error_prob: float = opt(
        0.7, "probability the shortcut's guess is off by one of error_deltas", ge=0.0, le=1.0
    )
    step_error_prob: float = opt(
        0.15, "probability each written step result is off by one of error_deltas (carried on)", ge=0.0, le=1.0
    )
    error_deltas: list[int] = opt(
        help="magnitudes of a wrong result (the sign is random)", factory=lambda: [1, 2, 10], gt=0
    )
    broken_families: list[str] = opt(
        help="families whose base traces always use a wrong strategy (muladd: '*' worked as '+')",
        factory=lambda: ["muladd"],
        choices=list(TOY_FAMILIES),
    )
    code_sign_error_prob: float = opt(
        0.85, "code: probability a decreasing function is written with the difference reversed (f0+(f0-f1)*x)",
        ge=0.0, le=1.0,
    )
    code_syntax_prob: float = opt(0.1, "code: probability of '(23-5)x' for '(23-5)*x' (SyntaxError)", ge=0.0, le=1.0)
    code_name_prob: float = opt(0.05, "code: probability of the variable 'n' for 'x' (NameError)", ge=0.0, le=1.0)
    code_unfenced_prob: float = opt(0.05, "code: probability the function has no ``` fence (no code)", ge=0.0, le=1.0)


@dataclass
class ToyBaseConfig:
    """Pretraining of the base on imperfect traces."""

    train: ToyTrainConfig = opt(help="optimisation of the base", factory=ToyTrainConfig)
    errors: ToyErrorConfig = opt(help="error model of the base's training traces", factory=ToyErrorConfig)
    family_weights: list[float] = opt(
        help="share of each task family (tasks.families order) in the base's training stream",
        factory=lambda: [0.75, 0.13, 0.12],
        ge=0.0,
    )


def _teacher_train() -> ToyTrainConfig:
    return ToyTrainConfig(steps=150, lr=1.5e-3, warmup_steps=15, seed=1)


@dataclass
class ToyTeacherConfig:
    """The teacher: the base trained further on clean (gold) traces."""

    train: ToyTrainConfig = opt(help="optimisation of the teacher (starts from the base)", factory=_teacher_train)
    family_weights: list[float] = opt(
        help="share of each task family (tasks.families order) in the teacher's clean training stream",
        factory=lambda: [0.5, 0.3, 0.2],
        ge=0.0,
    )


@dataclass
class ToyConfig:
    """The whole offline toy world (recipe section ``toy``)."""

    tasks: ToyTaskConfig = opt(help="task families, difficulty and splits", factory=ToyTaskConfig)
    model: ToyModelConfig = opt(help="tiny Llama architecture", factory=ToyModelConfig)
    base: ToyBaseConfig = opt(help="base pretraining on imperfect traces", factory=ToyBaseConfig)
    teacher: ToyTeacherConfig = opt(help="teacher training on clean traces", factory=ToyTeacherConfig)
    visual: ToyVisualConfig = opt(help="toy visual world: bar charts, tiny Qwen2.5-VL, VL base and teacher "
                                  "(rlvr_bench.config.toy_visual)", factory=lambda: ToyVisualConfig())


# Last: rlvr_bench.config.toy_visual builds on ToyTrainConfig above (the package __init__ imports this module
# first, so the name is always bound before toy_visual asks for it).
from rlvr_bench.config.toy_visual import ToyVisualConfig  # noqa: E402
