"""The toy visual family: generation, splits, image-to-answer dependence, the error model, the loaders."""

from __future__ import annotations

import dataclasses
import random
from collections import defaultdict
from types import SimpleNamespace

import numpy as np
import pytest

from rlvr_bench.config.toy import ToyConfig
from rlvr_bench.config.toy_visual import ToyVisualErrorConfig, ToyVisualTaskConfig
from rlvr_bench.data.images import image_sha_id
from rlvr_bench.data.toy_visual import (
    COLUMN_PX,
    IMAGE_HEIGHT,
    KINDS,
    VisualProblem,
    iter_visual_problems,
    noisy_visual_solution,
    read_bars,
    render_chart,
    sample_visual_problems,
    visual_dataset,
)


@pytest.fixture(scope="module")
def test_rows():
    return visual_dataset("test")


def test_gold_traces_by_hand():
    heights = (3, 5, 2)
    expected = {"bar2=?": ("3,5,2:bar2=5 \\boxed{5}", 5), "max=?": ("3,5,2:max=5 \\boxed{5}", 5),
                "sum=?": ("3,5,2:3+5=8,8+2=10 \\boxed{10}", 10), "max-min=?": ("3,5,2:5-2=3 \\boxed{3}", 3)}
    for kind, question in (("read", "bar2=?"), ("max", "max=?"), ("sum", "sum=?"), ("diff", "max-min=?")):
        work, answer = KINDS[kind].solve(question, heights, False)
        prob = VisualProblem(kind, question, heights, answer, work)
        assert (prob.solution, prob.answer) == expected[question]
        assert prob.key == f"{question}|3,5,2"
    assert KINDS["diff"].solve("max-min=?", heights, True) == ("5+2=7", 7)  # the base's wrong strategy


def test_rows_follow_the_interface(test_rows):
    row = test_rows[0]
    assert set(test_rows.column_names) >= {"id", "problem", "answer", "solution", "data_source", "image", "image_id"}
    assert row["data_source"] == "toy/visual" and row["family"] == "visual"
    assert row["image"].mode == "RGB" and row["image"].size == (3 * COLUMN_PX, IMAGE_HEIGHT)
    assert row["image_id"] == image_sha_id(row["image"]) and len(row["image_id"]) == 16
    assert row["solution"].endswith("\\boxed{" + row["answer"] + "}")
    assert len(test_rows) == 200 and len(set(test_rows["id"])) == 200
    assert sorted(set(test_rows["kind"])) == ["diff", "max", "read", "sum"]


def test_generation_is_deterministic_and_seeded():
    task = ToyVisualTaskConfig()
    a, b = visual_dataset("test", task=task, num_problems=40), visual_dataset("test", task=task, num_problems=40)
    for col in ("id", "problem", "answer", "solution", "image_id"):
        assert a[col] == b[col]
    other = visual_dataset("test", task=task, num_problems=40, seed=1)
    assert other["image_id"] != a["image_id"]


@pytest.mark.parametrize("seed", [0, 3])
def test_train_and_test_are_disjoint(seed):
    task = dataclasses.replace(ToyVisualTaskConfig(), seed=seed)
    train = {p.key for p in sample_visual_problems("train", 2000, task)}
    test = {p.key for p in sample_visual_problems("test", 200, task)}
    assert len(train) == 2000 and len(test) == 200 and not train & test
    stream = iter_visual_problems(random.Random(seed), task, split="train")
    assert not {next(stream).key for _ in range(3000)} & test  # the pretraining stream never sees a test chart


def test_the_text_alone_does_not_reveal_the_answer(test_rows):
    by_text = defaultdict(set)
    count = defaultdict(int)
    for problem, answer in zip(test_rows["problem"], test_rows["answer"]):
        by_text[problem].add(answer)
        count[problem] += 1
    assert len(by_text) == 6  # bar1=? bar2=? bar3=? max=? sum=? max-min=?
    for problem, answers in by_text.items():
        assert count[problem] >= 10 and len(answers) >= 4, (problem, answers)


def test_the_answer_is_read_from_the_pixels(test_rows):
    """Same text, different images -> different answers; a simple pixel reader recovers every answer."""
    seen = {}
    differing = 0
    for row in test_rows:
        heights = read_bars(row["image"])
        kind = KINDS[row["kind"]]
        assert str(kind.solve(row["problem"], heights, False)[1]) == row["answer"]
        assert row["solution"].startswith(",".join(map(str, heights)) + ":")
        if row["problem"] in seen and seen[row["problem"]] != row["answer"]:
            differing += 1
        seen[row["problem"]] = row["answer"]
    assert differing > 50


def test_render_chart_by_hand():
    task = ToyVisualTaskConfig()
    pixels = np.asarray(render_chart((1, 9), task))
    assert pixels.shape == (56, 56, 3)
    blue = (pixels != 255).any(-1)
    assert blue[:, :28].sum() == 16 * 5 and blue[:, 28:].sum() == 16 * 45  # bar_width x unit_px x height
    assert not blue[:, :6].any() and blue[-1, 6:22].all()  # centred: 6 px of ground either side
    with pytest.raises(ValueError, match="does not fit"):
        sample_visual_problems("test", 1, dataclasses.replace(task, unit_px=7))


def test_noisy_traces_by_hand():
    task = ToyVisualTaskConfig()
    prob = VisualProblem("diff", "max-min=?", (4, 2, 5), 3, "5-2=3")
    clean = ToyVisualErrorConfig(misread_prob=0.0, shortcut_prob=0.0)
    assert noisy_visual_solution(prob, random.Random(0), clean, task) == "4,2,5:5+2=7 \\boxed{7}"  # broken kind
    fixed = dataclasses.replace(clean, broken_kinds=[])
    assert noisy_visual_solution(prob, random.Random(0), fixed, task) == prob.solution
    edge = VisualProblem("sum", "sum=?", (1, 9), 10, "1+9=10")
    misread = dataclasses.replace(clean, misread_prob=1.0)
    assert noisy_visual_solution(edge, random.Random(0), misread, task) == "2,8:2+8=10 \\boxed{10}"  # stays in 1..9
    blind = dataclasses.replace(clean, shortcut_prob=1.0)
    guesses = {noisy_visual_solution(edge, random.Random(s), blind, task) for s in range(50)}
    assert all(g.startswith("\\boxed{") for g in guesses) and len(guesses) > 5  # a guess, not the answer
    diff_guesses = {int(noisy_visual_solution(prob, random.Random(s), blind, task)[7:-1]) for s in range(200)}
    assert min(diff_guesses) >= 2 and max(diff_guesses) > 8  # max+min of a random chart: the broken strategy


def test_error_rates_match_the_settings():
    task = ToyVisualTaskConfig()
    errors = ToyVisualErrorConfig()
    probs = sample_visual_problems("train", 400, task)
    rng = random.Random(1)
    traces = [(p, noisy_visual_solution(p, rng, errors, task)) for p in probs for _ in range(5)]
    shortcut = sum(t.startswith("\\boxed") for _, t in traces) / len(traces)
    read = [(p, t) for p, t in traces if not t.startswith("\\boxed")]
    misread = sum(a != b for p, t in read for a, b in zip(t.split(":")[0].split(","), map(str, p.heights)))
    assert abs(shortcut - errors.shortcut_prob) < 0.04
    assert abs(misread / (3 * len(read)) - errors.misread_prob) < 0.03


def test_loaders_resolve_toy_visual():
    from rlvr_bench.data.benchmarks import load_benchmark
    from rlvr_bench.data.loading import load_prompts
    from rlvr_bench.data.train_prompts import toy_split

    cfg = SimpleNamespace(toy=ToyConfig())
    cfg.toy.visual.tasks.num_test = 24
    ds = toy_split(cfg, "test", "toy/visual")
    assert len(ds) == 24 and ds.info.dataset_name == "toy-visual" and ds[0]["image"].mode == "RGB"
    bench = load_benchmark("toy/visual", limit=5)
    assert bench["id"] == visual_dataset("test")["id"][:5]
    assert load_prompts("toy/visual", split="train", limit=3)["id"][0].startswith("toy-train-visual-")


def test_recipe_section_toy_visual():
    from rlvr_bench.config import config_from_dict

    cfg = config_from_dict({"method": "rl", "model": {"name_or_path": "toy:vl-base"}, "data": {"source": "toy/visual"},
                            "toy": {"visual": {"base": {"train": {"steps": 7}}, "tasks": {"num_bars": 4}}}})
    assert cfg.toy.visual.base.train.steps == 7 and cfg.toy.visual.tasks.num_bars == 4
    assert cfg.toy.visual.teacher.train.steps == 150  # the teacher's own defaults are kept
