"""The toy *visual* family: questions about a bar chart rendered locally, answers verifiable as numbers.

A problem is a small bar chart (``num_bars`` bars, heights ``min_height..max_height``, drawn with numpy and
PIL: 28 px per bar, 56 px tall, so a 3-bar chart is 84 x 56 px = 6 x 4 patches of 14 px, 6 image tokens after
Qwen2-VL's 2 x 2 merge) and a text question whose answer depends on the heights. The text alone never
reveals the answer: every question text is shared by hundreds of charts. Question kinds (``KINDS``, the one
registry of visual question kinds)::

    kind  problem     gold trace (heights 3,5,2)            answer
    read  bar2=?      3,5,2:bar2=5 \\boxed{5}                 5      (easy: one bar)
    max   max=?       3,5,2:max=5 \\boxed{5}                  5
    sum   sum=?       3,5,2:3+5=8,8+2=10 \\boxed{10}          10     (hard: every bar must be read right)
    diff  max-min=?   3,5,2:5-2=3 \\boxed{3}                  3      (the base's wrong strategy: 5+2=7)

The trace first writes the heights it reads off the chart, then works the question, then boxes the answer,
so the math reward grades it like the other toy families. Rows (the visual-reasoning interface shared with
the image pipeline): ``id``, ``problem``, ``answer``, ``solution``, ``family`` (``visual``), ``kind``,
``data_source`` (``toy/visual``), ``image`` (a PIL RGB image; ``datasets.Image()`` column) and ``image_id``
(``rlvr_bench.data.images.image_sha_id``: the first 16 hex digits of the SHA-256 of the image's PNG bytes).

Splits: a fixed hash of the problem key (question and heights, :func:`VisualProblem.key`) puts every
possible problem in exactly one split, whatever the seed or split sizes (``rlvr_bench.data.toy.split_of``).

``noisy_visual_solution`` writes the imperfect traces the VL base is pretrained on (error model in
``rlvr_bench.config.toy_visual.ToyVisualErrorConfig``): a bar misread by one, a guess from the question kind
without looking, and a kind worked with a wrong strategy.
"""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from rlvr_bench.config.toy_visual import ToyVisualErrorConfig, ToyVisualTaskConfig
from rlvr_bench.data.images import image_sha_id
from rlvr_bench.data.toy import _family_counts, split_of
from rlvr_bench.data.toy_problems import boxed

if TYPE_CHECKING:
    import datasets
    from PIL import Image

__all__ = [
    "COLUMN_PX",
    "IMAGE_HEIGHT",
    "KINDS",
    "VISUAL_FAMILY",
    "VISUAL_SOURCE",
    "VisualKind",
    "VisualProblem",
    "iter_visual_problems",
    "noisy_visual_solution",
    "read_bars",
    "register_kind",
    "render_chart",
    "sample_visual_problems",
    "visual_dataset",
]

VISUAL_FAMILY = "visual"
VISUAL_SOURCE = "toy/visual"
IMAGE_HEIGHT = 56  # px: two rows of 2x2-merged 14-px patches
COLUMN_PX = 28  # px per bar: one merged patch column
_BACKGROUND = (255, 255, 255)
_BAR = (40, 70, 160)


@dataclass(frozen=True)
class VisualProblem:
    """A question about a chart: ``heights`` are what the image shows, ``work``/``answer`` the gold solution."""

    kind: str
    problem: str
    heights: tuple[int, ...]
    answer: int
    work: str

    @property
    def key(self) -> str:
        """``sum=?|3,5,2``: what decides the split (the text alone is shared by many problems)."""
        return f"{self.problem}|{_reading(self.heights)}"

    @property
    def solution(self) -> str:
        """The gold trace: the heights read, the working, the boxed answer (``3,5,2:3+5=8,8+2=10 \\boxed{10}``)."""
        return f"{_reading(self.heights)}:{self.work} {boxed(self.answer)}"


@dataclass(frozen=True)
class VisualKind:
    """A question kind: its question texts and how a trace works it from the heights read.

    Attributes:
        name: registry key (``ToyVisualTaskConfig.kinds``).
        questions: the question texts for ``n`` bars (e.g. ``["bar1=?", "bar2=?", "bar3=?"]``).
        solve: ``(question, heights, wrong) -> (work, answer)``; ``wrong`` works the base's wrong strategy
            (the kind is in ``ToyVisualErrorConfig.broken_kinds``); kinds without one ignore it.
        description: one line for the docs.
    """

    name: str
    questions: Callable[[int], list[str]]
    solve: Callable[[str, Sequence[int], bool], tuple[str, int]]
    description: str = ""


KINDS: dict[str, VisualKind] = {}


def register_kind(kind: VisualKind) -> VisualKind:
    """Add a question kind to the registry (a name may be registered once)."""
    if kind.name in KINDS:
        raise ValueError(f"visual question kind {kind.name!r} is already registered")
    KINDS[kind.name] = kind
    return kind


def _reading(heights: Sequence[int]) -> str:
    return ",".join(str(h) for h in heights)


def _solve_read(question: str, heights: Sequence[int], wrong: bool) -> tuple[str, int]:
    index = int(question[len("bar"):].split("=")[0])
    return f"bar{index}={heights[index - 1]}", heights[index - 1]


def _solve_max(question: str, heights: Sequence[int], wrong: bool) -> tuple[str, int]:
    return f"max={max(heights)}", max(heights)


def _solve_sum(question: str, heights: Sequence[int], wrong: bool) -> tuple[str, int]:
    steps, total = [], heights[0]
    for h in heights[1:]:
        steps.append(f"{total}+{h}={total + h}")
        total += h
    return ",".join(steps), total


def _solve_diff(question: str, heights: Sequence[int], wrong: bool) -> tuple[str, int]:
    hi, lo = max(heights), min(heights)
    if wrong:  # the base's strategy: '-' worked as '+'
        return f"{hi}+{lo}={hi + lo}", hi + lo
    return f"{hi}-{lo}={hi - lo}", hi - lo


register_kind(VisualKind("read", lambda n: [f"bar{i}=?" for i in range(1, n + 1)], _solve_read,
                         "one bar's height, bars counted from the left (easy)"))
register_kind(VisualKind("max", lambda n: ["max=?"], _solve_max, "the tallest bar's height"))
register_kind(VisualKind("sum", lambda n: ["sum=?"], _solve_sum, "all heights added, left to right (hard)"))
register_kind(VisualKind("diff", lambda n: ["max-min=?"], _solve_diff,
                         "tallest minus shortest (the base works it as tallest plus shortest)"))


# ---------------------------------------------------------------------------------------------------------
# Images


def _check_task(task: ToyVisualTaskConfig) -> None:
    if task.min_height > task.max_height:
        raise ValueError(f"toy.visual.tasks.min_height ({task.min_height}) > max_height ({task.max_height})")
    if task.unit_px * task.max_height > IMAGE_HEIGHT:
        raise ValueError(f"toy.visual.tasks: unit_px * max_height = {task.unit_px * task.max_height} px does "
                         f"not fit the {IMAGE_HEIGHT}-px image")
    unknown = [k for k in task.kinds if k not in KINDS]
    if unknown:
        raise ValueError(f"unknown visual question kind {unknown[0]!r}; valid: {', '.join(KINDS)}")


def render_chart(heights: Sequence[int], task: ToyVisualTaskConfig | None = None) -> Image.Image:
    """The bar chart of ``heights``: RGB, ``COLUMN_PX * len(heights)`` x ``IMAGE_HEIGHT`` px, white ground.

    Bar ``i`` is ``task.bar_width`` px wide, centred in column ``i`` (``COLUMN_PX`` px), and
    ``task.unit_px * heights[i]`` px tall from the bottom edge.
    """
    import numpy as np
    from PIL import Image

    task = ToyVisualTaskConfig() if task is None else task
    pixels = np.empty((IMAGE_HEIGHT, COLUMN_PX * len(heights), 3), dtype=np.uint8)
    pixels[:] = _BACKGROUND
    left = (COLUMN_PX - task.bar_width) // 2
    for i, h in enumerate(heights):
        top = IMAGE_HEIGHT - task.unit_px * h
        pixels[top:, i * COLUMN_PX + left : i * COLUMN_PX + left + task.bar_width] = _BAR
    return Image.fromarray(pixels, "RGB")


def read_bars(image: Image.Image, task: ToyVisualTaskConfig | None = None) -> list[int]:
    """The heights a chart shows, read back from its pixels (the inverse of :func:`render_chart`)."""
    import numpy as np

    task = ToyVisualTaskConfig() if task is None else task
    pixels = np.asarray(image.convert("RGB"))
    columns = pixels.shape[1] // COLUMN_PX
    centre = pixels[:, [i * COLUMN_PX + COLUMN_PX // 2 for i in range(columns)]]  # (height, columns, 3)
    filled = (centre != np.array(_BACKGROUND, dtype=np.uint8)).any(axis=-1).sum(axis=0)
    return [int(round(f / task.unit_px)) for f in filled]


# ---------------------------------------------------------------------------------------------------------
# Problems and splits


def _sample(rng: random.Random, task: ToyVisualTaskConfig, kind: str) -> VisualProblem:
    heights = tuple(rng.randint(task.min_height, task.max_height) for _ in range(task.num_bars))
    question = rng.choice(KINDS[kind].questions(task.num_bars))
    work, answer = KINDS[kind].solve(question, heights, False)
    return VisualProblem(kind, question, heights, answer, work)


def iter_visual_problems(rng: random.Random, task: ToyVisualTaskConfig, *, split: str = "train",
                         weights: Sequence[float] | None = None) -> Iterator[VisualProblem]:
    """An endless stream of one split's problems, kinds drawn by weight (the pretraining stream)."""
    _check_task(task)
    kinds, ws = list(task.kinds), list(task.kind_weights if weights is None else weights)
    _check_weights(kinds, ws)
    while True:
        prob = _sample(rng, task, rng.choices(kinds, weights=ws)[0])
        if split_of(prob.key, task.test_fraction) == split:
            yield prob


def _check_weights(kinds: Sequence[str], weights: Sequence[float]) -> None:
    if len(weights) != len(kinds):
        raise ValueError(f"{len(weights)} kind weights for {len(kinds)} visual question kinds {list(kinds)}")
    if any(w < 0 for w in weights) or sum(weights) <= 0:
        raise ValueError(f"visual kind weights must be >= 0 and not all zero, got {list(weights)}")


def sample_visual_problems(split: str, n: int, task: ToyVisualTaskConfig) -> list[VisualProblem]:
    """``n`` unique problems of one split, per-kind counts fixed by ``task.kind_weights``, in kind order.

    Deterministic for ``task.seed``; each kind draws from its own random stream. Raises ``ValueError`` when
    a kind has fewer distinct problems in the split than asked for.
    """
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    _check_task(task)
    _check_weights(task.kinds, task.kind_weights)
    out: list[VisualProblem] = []
    for kind, count in zip(task.kinds, _family_counts(n, task.kinds, task.kind_weights)):
        rng = random.Random(f"toy-visual:{task.seed}:{split}:{kind}")
        seen: set[str] = set()
        attempts = 0
        while len(seen) < count:
            attempts += 1
            if attempts > 1000 * count + 10_000:
                raise ValueError(f"visual kind {kind!r} has too few distinct {split} problems for {count} "
                                 f"(found {len(seen)}); widen the heights, add bars or lower the count")
            prob = _sample(rng, task, kind)
            if prob.key in seen or split_of(prob.key, task.test_fraction) != split:
                continue
            seen.add(prob.key)
            out.append(prob)
    return out


def visual_dataset(split: str = "train", *, task: ToyVisualTaskConfig | None = None, seed: int | None = None,
                   num_problems: int | None = None) -> datasets.Dataset:
    """The toy visual split as a ``datasets.Dataset`` (the rows of the module docstring).

    Args:
        split: ``"train"`` or ``"test"`` (disjoint by problem key).
        task: charts, kinds and split sizes (``ToyVisualTaskConfig``; None = defaults).
        seed: which problems are drawn (default ``task.seed``).
        num_problems: rows (default ``task.num_train`` / ``task.num_test``: 2000 / 200).
    """
    import datasets

    task = ToyVisualTaskConfig() if task is None else task
    if seed is not None:
        task = dataclasses.replace(task, seed=seed)
    if num_problems is None:
        num_problems = task.num_train if split == "train" else task.num_test
    rows: dict[str, list] = {k: [] for k in ("id", "problem", "answer", "solution", "family", "kind",
                                             "data_source", "image", "image_id")}
    counters: dict[str, int] = {}
    for p in sample_visual_problems(split, num_problems, task):
        i = counters[p.kind] = counters.get(p.kind, -1) + 1
        image = render_chart(p.heights, task)
        for key, value in (("id", f"toy-{split}-visual-{p.kind}-{i:05d}"), ("problem", p.problem),
                           ("answer", str(p.answer)), ("solution", p.solution), ("family", VISUAL_FAMILY),
                           ("kind", p.kind), ("data_source", VISUAL_SOURCE), ("image", image),
                           ("image_id", image_sha_id(image))):
            rows[key].append(value)
    features = datasets.Features({k: datasets.Value("string") for k in rows if k != "image"}
                                 | {"image": datasets.Image()})
    ds = datasets.Dataset.from_dict(rows, features=features)
    ds.info.dataset_name = "toy-visual"
    return ds


# ---------------------------------------------------------------------------------------------------------
# Imperfect traces


def _misread(h: int, rng: random.Random, task: ToyVisualTaskConfig) -> int:
    """``h`` off by one, staying inside the height range."""
    if h - 1 < task.min_height or (h + 1 <= task.max_height and rng.random() < 0.5):
        return h + 1
    return h - 1


def noisy_visual_solution(prob: VisualProblem, rng: random.Random, errors: ToyVisualErrorConfig | None = None,
                          task: ToyVisualTaskConfig | None = None) -> str:
    """An imperfect trace for ``prob`` drawn from the error model (``None`` = defaults), in this order:

    with ``shortcut_prob`` the trace is only ``\\boxed{guess}``, where the guess answers the same question
    about a random chart (answering from the question kind, without looking), with the kind's wrong strategy
    when it is in ``broken_kinds`` (as the text world's shortcut guesses with the wrong operator); otherwise
    every bar is read, each off by one with ``misread_prob``, and the question is worked from the heights
    read, with the kind's wrong strategy when it is in ``broken_kinds``. The boxed answer follows from the
    trace.
    """
    errors = ToyVisualErrorConfig() if errors is None else errors
    task = ToyVisualTaskConfig() if task is None else task
    kind = KINDS[prob.kind]
    if rng.random() < errors.shortcut_prob:
        blind = [rng.randint(task.min_height, task.max_height) for _ in prob.heights]
        return boxed(kind.solve(prob.problem, blind, prob.kind in errors.broken_kinds)[1])
    read = [_misread(h, rng, task) if rng.random() < errors.misread_prob else h for h in prob.heights]
    work, answer = kind.solve(prob.problem, read, prob.kind in errors.broken_kinds)
    return f"{_reading(read)}:{work} {boxed(answer)}"
