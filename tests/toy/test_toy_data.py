"""The toy task generator: determinism, disjoint splits, correct gold traces, the error model."""

from __future__ import annotations

import random
import re

import pytest

from rlvr_bench.config.toy import ToyErrorConfig, ToyTaskConfig
from rlvr_bench.data.toy import (
    FAMILIES,
    ToyFamily,
    ToyProblem,
    iter_problems,
    noisy_solution,
    register_family,
    sample_problems,
    split_of,
    toy_dataset,
    toy_prompt,
)

_EXPR = re.compile(r"^[0-9+\-*]+=\?$")


def _evaluate(problem: str) -> int:
    """Independent check of an answer: Python evaluates the problem's arithmetic expression."""
    assert _EXPR.match(problem), problem
    return int(eval(problem[:-2], {"__builtins__": {}}))  # digits and + - * only (checked above)


def _boxed(text: str) -> int | None:
    found = re.findall(r"\\boxed\{(-?\d+)\}", text)
    return int(found[-1]) if found else None


def test_columns_and_example_shape():
    ds = toy_dataset("test")
    assert ds.column_names == ["id", "problem", "answer", "solution", "family", "data_source"]
    assert len(ds) == 200
    row = ds[0]
    assert row["data_source"] == f"toy/{row['family']}"
    assert row["solution"].endswith("\\boxed{" + row["answer"] + "}")
    assert toy_prompt(row["problem"]) == f"Q:{row['problem']}A:"
    assert len(set(ds["id"])) == len(ds)


def test_same_seed_same_data_other_seed_other_data():
    a = toy_dataset("train", seed=3, num_problems=300)
    b = toy_dataset("train", seed=3, num_problems=300)
    c = toy_dataset("train", seed=4, num_problems=300)
    assert a.to_dict() == b.to_dict()
    assert a["problem"] != c["problem"]


def test_family_shares_follow_weights():
    ds = toy_dataset("test", num_problems=200)
    assert [ds["family"].count(f) for f in ("addsub", "muladd", "code")] == [110, 50, 40]
    only = toy_dataset("test", num_problems=50, families=["muladd"])
    assert set(only["family"]) == {"muladd"} and len(only) == 50


def test_train_and_test_are_disjoint_for_any_seeds():
    test = set(toy_dataset("test", seed=0)["problem"]) | set(toy_dataset("test", seed=1)["problem"])
    train = set(toy_dataset("train", seed=0)["problem"]) | set(toy_dataset("train", seed=5)["problem"])
    assert len(test) > 300 and len(train) > 3000
    assert not test & train
    assert all(split_of(p) == "test" for p in test)
    stream = iter_problems(random.Random(0), ToyTaskConfig(), split="train")
    assert not {next(stream).problem for _ in range(2000)} & test


def test_problems_are_unique_within_a_split():
    ds = toy_dataset("train", num_problems=1500)
    assert len(set(ds["problem"])) == 1500


def test_every_gold_trace_is_correct():
    from rlvr_bench.rewards import math_reward

    ds = toy_dataset("train", num_problems=400).to_list() + toy_dataset("test").to_list()
    for row in (r for r in ds if r["family"] != "code"):  # code: tests/toy/test_toy_code.py
        assert int(row["answer"]) == _evaluate(row["problem"]), row
        assert _boxed(row["solution"]) == int(row["answer"]), row
        assert math_reward(row["solution"], row["answer"]) == 1.0, row
        # each written step is true arithmetic and feeds the next one
        steps = row["solution"].split(" ")[0].split(",")
        previous = None
        for step in steps:
            lhs, rhs = step.split("=")
            left = int(re.match(r"^\d+", lhs).group())
            assert previous is None or left == previous, row
            assert _evaluate(lhs + "=?") == int(rhs), row
            previous = int(rhs)


def test_texts_are_short_and_in_vocabulary():
    from rlvr_bench.models.toy import check_toy_text

    ds = toy_dataset("test")
    lengths = [len(toy_prompt(p) + s) for p, s, f in zip(ds["problem"], ds["solution"], ds["family"]) if f != "code"]
    assert max(lengths) <= 56
    # a gold code trace with its eos fits the recipes' max_new_tokens (48)
    assert max(len(s) for s, f in zip(ds["solution"], ds["family"]) if f == "code") < 48
    for p, s in zip(ds["problem"], ds["solution"]):
        check_toy_text(toy_prompt(p) + s)


def test_difficulty_knob_changes_the_problems():
    easy = ToyTaskConfig(addsub_min_steps=1, addsub_max_steps=1, addsub_max_operand=30)
    ds = toy_dataset("test", num_problems=20, families=["addsub"], task=easy)
    assert all(len(re.findall(r"[+-]", p)) == 1 for p in ds["problem"])
    assert all(int(x) <= 30 for p in ds["problem"] for x in re.findall(r"\d+", p))
    hard = ToyTaskConfig(addsub_min_steps=4, addsub_max_steps=4)
    ds = toy_dataset("test", num_problems=40, families=["addsub"], task=hard)
    assert all(len(re.findall(r"[+-]", p)) == 4 for p in ds["problem"])


def test_bad_arguments_raise_clear_errors():
    with pytest.raises(ValueError, match="unknown toy family 'nope'"):
        toy_dataset("test", families=["nope"])
    with pytest.raises(ValueError, match="family weights"):
        toy_dataset("test", families=["addsub"], weights=[0.5, 0.5])
    with pytest.raises(ValueError, match="split"):
        toy_dataset("valid")
    with pytest.raises(ValueError, match="too few distinct"):
        tiny = ToyTaskConfig(muladd_max_factor=2, muladd_min_addend=1, muladd_max_addend=2)
        toy_dataset("test", num_problems=30, families=["muladd"], task=tiny)


def test_clean_error_model_reproduces_gold():
    clean = ToyErrorConfig(shortcut_prob=0.0, step_error_prob=0.0, broken_families=[], code_sign_error_prob=0.0,
                           code_syntax_prob=0.0, code_name_prob=0.0, code_unfenced_prob=0.0)
    rng = random.Random(0)
    for prob in sample_problems("test", 200, ToyTaskConfig()):
        assert noisy_solution(prob, rng, clean) == prob.solution


def test_error_model_rates():
    rng = random.Random(1)
    probs = sample_problems("train", 600, ToyTaskConfig(), families=["addsub"], weights=[1.0])
    errors = ToyErrorConfig(shortcut_prob=0.3, shortcut_error_prob=1.0, step_error_prob=0.0)
    traces = [noisy_solution(p, rng, errors) for p in probs]
    shortcuts = [t for t in traces if t.startswith("\\boxed{")]
    assert 0.22 < len(shortcuts) / len(traces) < 0.38
    assert all(_boxed(t) != int(p.answer) for p, t in zip(probs, traces) if t.startswith("\\boxed{"))
    assert all(_boxed(t) == int(p.answer) for p, t in zip(probs, traces) if not t.startswith("\\boxed{"))

    slips = ToyErrorConfig(shortcut_prob=0.0, step_error_prob=0.3)
    ok = [_boxed(noisy_solution(p, rng, slips)) == int(p.answer) for p in probs]
    expected = sum(0.7 ** len(p.steps) for p in probs) / len(probs)
    assert abs(sum(ok) / len(ok) - expected) < 0.08  # deltas can cancel, so a little above


def test_broken_family_is_worked_with_the_wrong_strategy():
    rng = random.Random(2)
    probs = sample_problems("train", 300, ToyTaskConfig(), families=["muladd"], weights=[1.0])
    errors = ToyErrorConfig(shortcut_prob=0.0, step_error_prob=0.0)
    for p in probs:
        trace = noisy_solution(p, rng, errors)
        a, b = p.steps[0].left, p.steps[0].right
        assert trace.startswith(f"{a}*{b}={a + b},"), trace
        assert (_boxed(trace) == int(p.answer)) == (a * b == a + b)


def test_a_new_family_can_be_registered():
    """A family with its own gold trace and error model (the shape a toy code family would take)."""

    def sample(rng: random.Random, task: ToyTaskConfig) -> ToyProblem:
        a, b = rng.randint(2, 40), rng.randint(1, 40)
        text = f"f(2)={2 * a + b},f(5)={5 * a + b}"
        return ToyProblem("linfit", text, f"{a}*x+{b}", gold=f"{a}*x+{b}")

    def noisy(prob: ToyProblem, rng: random.Random, errors) -> str:
        return prob.solution if rng.random() >= errors.step_error_prob else "x"

    register_family(ToyFamily("linfit", sample, {}, "fit f(x) = a*x+b", noisy=noisy))
    try:
        with pytest.raises(ValueError, match="already registered"):
            register_family(ToyFamily("linfit", sample, {}))
        ds = toy_dataset("test", num_problems=20, families=["linfit"])
        assert set(ds["data_source"]) == {"toy/linfit"} and ds["solution"] == ds["answer"]
        prob = sample_problems("train", 1, ToyTaskConfig(), families=["linfit"], weights=[1.0])[0]
        rng = random.Random(0)
        traces = {noisy_solution(prob, rng, ToyErrorConfig(step_error_prob=0.5)) for _ in range(50)}
        assert traces == {prob.solution, "x"}
    finally:
        FAMILIES.pop("linfit")
