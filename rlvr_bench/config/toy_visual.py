"""Settings of the toy *visual* world: bar-chart questions, the tiny Qwen2.5-VL, its base and teacher.

The visual world (``docs/visual.md``) is the offline stand-in for the paper's third domain (visual
reasoning, arXiv 2504.13837): a bar chart rendered locally (``rlvr_bench.data.toy_visual``), a text question
about it whose answer is a number, a tiny vision-language model (``rlvr_bench.models.toy_vision``) and two
trained checkpoints built on demand and cached (``rlvr_bench.models.pretrain_vision``):

* the **VL base** (``toy:vl-base``), pretrained on deliberately imperfect traces (bars misread by one, answers
  guessed from the question kind without looking, one kind worked with a wrong strategy), and
* the **VL teacher** (``toy:vl-teacher``), the base trained further on clean traces.

Every field changes what is built, so every field enters the content hash that names a cache entry. The
recipe section is ``toy.visual``. Budgets are in optimizer steps, never seconds.
"""

from __future__ import annotations

from dataclasses import dataclass

from rlvr_bench.config.fields import opt
from rlvr_bench.config.toy import ToyTrainConfig

__all__ = [
    "VISUAL_BENCHMARK",
    "VL_REFS",
    "VISUAL_KINDS",
    "ToyVisualBaseConfig",
    "ToyVisualConfig",
    "ToyVisualErrorConfig",
    "ToyVisualModelConfig",
    "ToyVisualTaskConfig",
    "ToyVisualTeacherConfig",
]

VL_REFS = ("toy:vl-base", "toy:vl-teacher")
"""The toy world's vision-language checkpoints (``rlvr_bench.models.resolve``)."""

VISUAL_BENCHMARK = "toy/visual"
"""The data source and benchmark of the toy visual family: a ``toy:vl-*`` recipe's default evaluation."""

# Names of the question kinds in rlvr_bench.data.toy_visual (kept here so the config stays import-free).
VISUAL_KINDS = ("read", "max", "sum", "diff")


@dataclass
class ToyVisualTaskConfig:
    """Which bar charts and questions exist and how the train/test splits are drawn."""

    kinds: list[str] = opt(
        help="question kinds: read = one bar's height (bar2=?), max = the tallest bar (max=?), "
        "sum = all bars added (sum=?), diff = tallest minus shortest (max-min=?)",
        factory=lambda: list(VISUAL_KINDS),
        choices=list(VISUAL_KINDS),
    )
    kind_weights: list[float] = opt(
        help="share of each kind (same order as kinds) in the train and test splits",
        factory=lambda: [0.25, 0.25, 0.25, 0.25],
        ge=0.0,
    )
    num_bars: int = opt(3, "bars per chart; the image is 28 px wide per bar and 56 px tall", ge=2, le=4)
    min_height: int = opt(1, "bar heights are drawn from min_height..max_height (digits)", ge=0, le=9)
    max_height: int = opt(9, "bar heights are drawn from min_height..max_height (digits)", ge=1, le=9)
    unit_px: int = opt(5, "pixels per unit of bar height (unit_px * max_height must fit the 56-px image)",
                       ge=1, le=56)
    bar_width: int = opt(16, "bar width in pixels; each bar is centred in its own 28-px column", ge=2, le=28)
    seed: int = opt(0, "which problems are drawn (the train/test partition itself is seed-free)", ge=0)
    num_train: int = opt(2000, "problems in the train split (prompts for RL, SFT, distillation)", gt=0)
    num_test: int = opt(200, "problems in the test split (pass@k evaluation)", gt=0)
    test_fraction: float = opt(
        0.1, "share of all problems (question + bar heights) reserved for test, by a hash", gt=0.0, lt=1.0
    )


@dataclass
class ToyVisualModelConfig:
    """The tiny Qwen2.5-VL: a small vision tower (patch 14, 2x2 merge) and a small text decoder."""

    hidden_size: int = opt(96, "text decoder width (also the vision tower's output width)", gt=0)
    num_hidden_layers: int = opt(4, "text decoder blocks", gt=0)
    intermediate_size: int = opt(256, "text decoder MLP width", gt=0)
    num_attention_heads: int = opt(4, "text attention heads (hidden_size must divide by it)", gt=0)
    num_key_value_heads: int = opt(2, "text key/value heads (grouped-query attention when smaller)", gt=0)
    mrope_section: list[int] = opt(
        help="rotary frequency pairs per position axis (temporal, height, width) of Qwen2-VL's 3-D rotary "
        "positions; they sum to head_dim / 2",
        factory=lambda: [4, 4, 4],
        gt=0,
    )
    max_position_embeddings: int = opt(256, "longest sequence the model is configured for", ge=64)
    rope_theta: float = opt(10000.0, "RoPE base", gt=0.0)
    vision_hidden_size: int = opt(64, "vision tower width", gt=0)
    vision_depth: int = opt(2, "vision tower blocks (the last one attends over the whole image)", gt=0)
    vision_heads: int = opt(4, "vision attention heads (vision_hidden_size must divide by it)", gt=0)
    vision_intermediate_size: int = opt(128, "vision tower MLP width", gt=0)
    initializer_range: float = opt(0.02, "std of the initial weights", gt=0.0)


@dataclass
class ToyVisualErrorConfig:
    """Error model of the VL base's imperfect traces (``rlvr_bench.data.toy_visual.noisy_visual_solution``).

    As in the text toy world (``docs/toy-world.md``), the errors are sampling choices over otherwise
    well-learned skills, so RL can sharpen onto the clean trace while the spread keeps pass@k high.
    """

    misread_prob: float = opt(
        0.15, "probability each bar is read off by one (the wrong height is carried into the working)",
        ge=0.0, le=1.0,
    )
    shortcut_prob: float = opt(
        0.3, "probability a trace answers from the question kind without looking: \\boxed{guess}, the guess "
        "being the answer to the same question about a random chart (worked with the wrong strategy for a "
        "broken kind)", ge=0.0, le=1.0,
    )
    broken_kinds: list[str] = opt(
        help="kinds whose base traces always use a wrong strategy (diff: max-min worked as max+min)",
        factory=lambda: ["diff"],
        choices=list(VISUAL_KINDS),
    )


def _base_train() -> ToyTrainConfig:
    return ToyTrainConfig(steps=600)


@dataclass
class ToyVisualBaseConfig:
    """Pretraining of the VL base on imperfect traces, from random weights."""

    train: ToyTrainConfig = opt(help="optimisation of the VL base", factory=_base_train)
    errors: ToyVisualErrorConfig = opt(help="error model of the base's training traces",
                                       factory=ToyVisualErrorConfig)
    kind_weights: list[float] = opt(
        help="share of each kind (tasks.kinds order) in the base's training stream",
        factory=lambda: [0.3, 0.25, 0.3, 0.15],
        ge=0.0,
    )


def _teacher_train() -> ToyTrainConfig:
    return ToyTrainConfig(steps=150, lr=1.5e-3, warmup_steps=15, seed=1)


@dataclass
class ToyVisualTeacherConfig:
    """The VL teacher: the VL base trained further on clean (gold) traces."""

    train: ToyTrainConfig = opt(help="optimisation of the VL teacher (starts from the VL base)",
                                factory=_teacher_train)
    kind_weights: list[float] = opt(
        help="share of each kind (tasks.kinds order) in the teacher's clean training stream",
        factory=lambda: [0.2, 0.2, 0.3, 0.3],
        ge=0.0,
    )


@dataclass
class ToyVisualConfig:
    """The whole toy visual world (recipe section ``toy.visual``)."""

    tasks: ToyVisualTaskConfig = opt(help="bar charts, question kinds and splits", factory=ToyVisualTaskConfig)
    model: ToyVisualModelConfig = opt(help="tiny Qwen2.5-VL architecture", factory=ToyVisualModelConfig)
    base: ToyVisualBaseConfig = opt(help="VL base pretraining on imperfect traces", factory=ToyVisualBaseConfig)
    teacher: ToyVisualTeacherConfig = opt(help="VL teacher training on clean traces",
                                          factory=ToyVisualTeacherConfig)
