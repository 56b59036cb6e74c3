"""toy_traces.trace_check: gold traces are valid, planted wrong steps are not, odd text never raises."""

from __future__ import annotations

import random

import pytest

from rlvr_bench.config.toy import ToyErrorConfig, ToyTaskConfig
from rlvr_bench.data.toy import noisy_solution, sample_problems, toy_dataset
from rlvr_bench.data.toy_traces import (
    TRACE_CHECKS,
    check_chain,
    parse_chain_problem,
    register_trace_check,
    trace_check,
    trace_family,
)

GOLD = "6+9=15,15+6=21,21-5=16 \\boxed{16}"
PROBLEM = {"problem": "6+9+6-5=?", "answer": "16"}


def test_every_gold_trace_of_the_test_split_is_valid():
    ds = toy_dataset("test")
    for row in ds:
        verdict = trace_check(row["data_source"], row, row["solution"])
        if row["family"] == "code":
            assert verdict is None  # no chain of thought: the program is the answer
        else:
            assert verdict is True, row
            assert trace_check(row["family"], row["problem"], row["solution"]) is True


def test_gold_traces_of_many_train_problems_are_valid():
    task = ToyTaskConfig()
    for prob in sample_problems("train", 300, task, families=["addsub", "muladd"], weights=[1, 1]):
        assert trace_check(prob.family, {"problem": prob.problem}, prob.solution) is True


@pytest.mark.parametrize("completion", [
    "6+9=14,14+6=21,21-5=16 \\boxed{16}",   # wrong first step, later steps "repair" it, right answer
    "6+9=15,15+6=20,21-5=16 \\boxed{16}",   # wrong step, next step does not carry it
    "6+9=15,15+6=21,21-5=15 \\boxed{16}",   # last step wrong, box right
    "6+9=15,15+6=21 \\boxed{16}",            # a step skipped
    "6+9=15,15+6=21,21-5=16,16+0=16 \\boxed{16}",  # an extra step
    "6+9=15,15-6=9,9+7=16 \\boxed{16}",      # arithmetic right, but not the problem's operations
    "\\boxed{16}",                            # the shortcut: right answer, no working
    "16",                                     # a bare number (the math reward's fallback would accept it)
    "6+9=15,15+6=21,21-5=16 \\boxed{16} ok",  # text after the box
    "6+9=15,15+6=21,21-5=16 \\boxed{15}\\boxed{16}",  # two boxes
])
def test_a_planted_wrong_trace_with_the_right_answer_is_invalid(completion):
    assert trace_check("toy/addsub", PROBLEM, completion) is False


def test_the_bases_broken_muladd_strategy_is_invalid_even_when_it_lands_on_the_answer():
    # 2*2 worked as 2+2 gives 4 as well: the answer is right, the step "2*2=4" is right, so valid ...
    assert trace_check("muladd", "2*2+3=?", "2*2=4,4+3=7 \\boxed{7}") is True
    # ... but a '*' worked as '+' elsewhere is caught at the step, whatever the box says
    assert trace_check("muladd", "7*8-5=?", "7*8=15,15-5=10 \\boxed{10}") is False
    assert trace_check("muladd", "7*8-5=?", "7*8=15,15-5=51 \\boxed{51}") is False
    assert trace_check("muladd", "7*8-5=?", "7*8=56,56-5=51 \\boxed{51}") is True


def test_noisy_traces_are_judged_step_by_step():
    """The base's imperfect traces: a slip or a shortcut is invalid, a clean written trace is valid."""
    rng = random.Random(1)
    errors = ToyErrorConfig()
    seen = set()
    for prob in sample_problems("train", 200, ToyTaskConfig(), families=["addsub"], weights=[1]):
        trace = noisy_solution(prob, rng, errors)
        verdict = trace_check("addsub", prob.problem, trace)
        assert verdict is (trace == prob.solution)
        seen.add(verdict)
    assert seen == {True, False}


@pytest.mark.parametrize("completion", ["", "   ", "abc!?", "\\boxed{", "))((", None, 12, "9" * 5000,
                                        "6+9=15,15+6=2x,21-5=16 \\boxed{16}", "=,=,= \\boxed{}",
                                        "6+9=15,,21-5=16 \\boxed{16}", "\\boxed{-3}", "-1--2=1 \\boxed{1}"])
def test_garbled_completions_give_none_or_false_without_raising(completion):
    assert trace_check("toy/addsub", PROBLEM, completion) in (None, False)


def test_no_trace_notion_gives_none():
    assert trace_check("toy/code", {"problem": "g(0)=5,g(1)=23,g(x)=?"}, "```\ndef g(x):return 5+(23-5)*x\n```") is None
    assert trace_check("gsm8k", PROBLEM, GOLD) is None           # not a toy family
    assert trace_check("addsub", {"problem": "what is 6+9?"}, GOLD) is None  # not a chain problem
    assert trace_check("addsub", {"question": "6+9+6-5=?"}, GOLD) is None    # no problem text
    assert parse_chain_problem("6+9+6-5=?") == (6, [("+", 9), ("+", 6), ("-", 5)])
    assert parse_chain_problem("x=?") is None
    assert trace_family("toy/muladd") == "muladd" and trace_family("muladd") == "muladd"


def test_lenient_spacing_and_negative_values():
    assert trace_check("addsub", PROBLEM, "6+9=15, 15+6=21, 21-5=16  \\boxed{ 16 }\n") is True
    assert check_chain("3-5=?", "3-5=-2 \\boxed{-2}") is True
    assert check_chain("3-5-1=?", "3-5=-2,-2-1=-3 \\boxed{-3}") is True


def test_register_trace_check():
    assert set(TRACE_CHECKS) >= {"addsub", "muladd"} and "code" not in TRACE_CHECKS
    with pytest.raises(ValueError):
        register_trace_check("addsub", check_chain)
    try:
        register_trace_check("_test_family", lambda problem, completion: completion == "ok")
        assert trace_check("toy/_test_family", {"problem": "p"}, "ok") is True
    finally:
        TRACE_CHECKS.pop("_test_family", None)


def test_a_raising_family_check_gives_none():
    def boom(problem: str, completion: str) -> bool:
        raise RuntimeError("boom")

    TRACE_CHECKS["_boom"] = boom
    try:
        assert trace_check("_boom", {"problem": "p"}, "x") is None
    finally:
        TRACE_CHECKS.pop("_boom", None)
