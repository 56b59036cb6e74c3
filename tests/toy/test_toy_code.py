"""The toy code family: determinism, disjoint splits, gold programs pass their hidden tests in the sandbox,
and the base's error model produces each failure kind the evaluation records."""

from __future__ import annotations

import collections
import json
import random

import pytest

from rlvr_bench.config.toy import ToyErrorConfig, ToyTaskConfig
from rlvr_bench.data.toy import noisy_solution, sample_problems, split_of, toy_dataset
from rlvr_bench.data.toy_code import HIDDEN_INPUTS, code_tests
from rlvr_bench.evaluation.scoring import make_scorer
from rlvr_bench.rewards.code_tests import is_code_tests


def _code_rows(split: str, n: int = 60, seed: int = 0) -> list[dict]:
    return toy_dataset(split, num_problems=n, families=["code"], seed=seed).to_list()


def test_problems_are_deterministic_disjoint_and_unique():
    a, b = _code_rows("train"), _code_rows("train")
    assert a == b
    assert _code_rows("train", seed=1) != a
    test = _code_rows("test", n=40)
    assert not {r["problem"] for r in a} & {r["problem"] for r in test}
    assert len({r["problem"] for r in test}) == 40
    assert all(split_of(r["problem"]) == "test" for r in test)
    assert all(r["data_source"] == "toy/code" for r in test)


def test_answers_are_hidden_io_tests_of_the_shown_function():
    for row in _code_rows("test", n=40):
        f0, f1 = (int(part.split("=")[1]) for part in row["problem"].split(",")[:2])
        spec = json.loads(row["answer"])
        assert spec["fn_name"] == row["problem"][0] and is_code_tests(row["answer"])
        assert row["solution"] == f"```\ndef {spec['fn_name']}(x):return {f0}+({f1}-{f0})*x\n```"
        assert [c[0][0] for c in spec["cases"]] == list(HIDDEN_INPUTS)
        assert all(out == (f1 - f0) * x + f0 for (x,), out in spec["cases"])
        assert 0 not in HIDDEN_INPUTS and 1 not in HIDDEN_INPUTS  # the shown values are not tests


def test_hand_written_example():
    assert code_tests(18, 5, "g") == '{"fn_name":"g","cases":[[[-3],-49],[[2],41],[[5],95],[[11],203]]}'


def test_slopes_cover_both_signs_within_bounds():
    task = ToyTaskConfig()
    probs = sample_problems("train", 400, task, families=["code"], weights=[1.0])
    slopes, names = [], set()
    for p in probs:
        names.add(p.problem[0])
        (x0, f0), (x1, f1) = ((int(v) for v in part[2:].split(")=")) for part in p.problem.split(",")[:2])
        assert (x0, x1) == (0, 1) and 0 <= f0 <= task.code_max_intercept and f1 >= 0
        slopes.append(f1 - f0)
    assert 0 not in slopes and min(slopes) >= task.code_min_slope and max(slopes) <= task.code_max_slope
    assert 0.15 < sum(s < 0 for s in slopes) / len(slopes) < 0.35
    assert names == set(task.code_names)


def test_gold_programs_pass_and_wrong_ones_fail_in_the_sandbox():
    rows = _code_rows("test", n=40)
    scorer = make_scorer("auto")
    gold = scorer([r["solution"] for r in rows], [r["answer"] for r in rows])
    assert all(v.correct and v.reason == "passed" for v in gold)
    off_by_one = [r["solution"].replace("*x", "*x+1") for r in rows]
    assert not any(v.correct for v in scorer(off_by_one, [r["answer"] for r in rows]))


def test_error_model_produces_every_failure_kind():
    rows = _code_rows("train", n=300)
    probs = sample_problems("train", 300, ToyTaskConfig(), families=["code"], weights=[1.0])
    errors = ToyErrorConfig(shortcut_prob=0.0, step_error_prob=0.2, code_syntax_prob=0.15, code_name_prob=0.15,
                            code_unfenced_prob=0.15, code_sign_error_prob=1.0)
    rng = random.Random(0)
    traces = [noisy_solution(p, rng, errors) for p in probs]
    verdicts = make_scorer("auto")(traces, [r["answer"] for r in rows])
    kinds = collections.Counter(v.reason for v in verdicts)
    assert {"passed", "wrong_answer", "syntax_error", "exception:NameError", "no_code"} <= set(kinds), kinds
    # every decreasing function is written with the wrong sign: none of them passes
    negative = [i for i, p in enumerate(probs) if int(p.problem.split(",")[1].split("=")[1]) < int(
        p.problem.split(",")[0].split("=")[1])]
    assert negative and not any(verdicts[i].correct for i in negative)


@pytest.mark.parametrize("hostile", [
    "```\nimport os\ndef f(x):return os.system('echo hi')\n```",
    "```\ndef f(x):\n    while True: pass\n```",
    "```\ndef f(x):return [0]*(10**10)\n```",
])
def test_hostile_programs_score_zero(hostile):
    row = _code_rows("test", n=1)[0]
    (v,) = make_scorer("auto", timeout=2.0)([hostile], [row["answer"]])
    assert not v.correct and v.score == 0.0
