"""Registry, composition, format / overlong / random rewards, and the TRL and verl adapters."""

from __future__ import annotations

import json

import pytest

from rlvr_bench.rewards import (
    Reward,
    compose_rewards,
    format_reward,
    get_reward,
    list_rewards,
    make_trl_reward,
    overlong_penalty,
    random_reward,
    register_reward,
    verl_compute_score,
    verl_compute_score_batch,
)
from rlvr_bench.rewards.registry import _REGISTRY

ADD = "```python\ndef add(a, b):\n    return a + b\n```"
ADD_TESTS = json.dumps(["assert add(1, 2) == 3"])


def test_builtin_rewards_are_registered() -> None:
    assert {"math", "gsm8k", "code", "code_partial", "format", "code_format", "random"} <= set(list_rewards())


def test_unknown_reward_names_the_valid_ones() -> None:
    with pytest.raises(KeyError) as err:
        get_reward("maths")
    assert "math" in str(err.value) and "gsm8k" in str(err.value)


def test_every_registered_reward_has_the_one_signature(warm_pool) -> None:
    cases = {
        "math": ("so \\boxed{\\frac{1}{2}}", "0.5", 1.0),
        "gsm8k": ("3 + 4 = 7\n#### 7", "7", 1.0),
        "code": (ADD, ADD_TESTS, 1.0),
        "code_partial": (ADD, json.dumps(["assert add(1, 2) == 3", "assert add(1, 1) == 3"]), 0.5),
        "format": ("\\boxed{2}", "", 1.0),
        "code_format": ("no fence", "", 0.0),
    }
    for name, (completion, gold, expected) in cases.items():
        reward = get_reward(name)
        assert reward(completion, gold) == expected, name
        assert reward.batch([completion, completion], [gold, gold]) == [expected, expected], name
        assert reward.__name__ == name


def test_register_and_duplicate_names() -> None:
    @register_reward("test_length_ok")
    def length_ok(completion: str, ground_truth: str) -> float:
        return float(len(completion) <= int(ground_truth))

    try:
        assert isinstance(length_ok, Reward)
        assert get_reward("test_length_ok")("abc", "3") == 1.0
        assert get_reward("test_length_ok").batch(["abc", "abcd"], ["3", "3"]) == [1.0, 0.0]
        with pytest.raises(ValueError, match="already registered"):
            register_reward("test_length_ok")(lambda c, g: 0.0)
        register_reward("test_length_ok", overwrite=True)(lambda c, g: 0.5)
        assert get_reward("test_length_ok")("x", "y") == 0.5
        with pytest.raises(ValueError):
            register_reward("")
    finally:
        _REGISTRY.pop("test_length_ok", None)


def test_compose_rewards(warm_pool) -> None:
    combo = compose_rewards({"math": 1.0, "format": 0.1})
    assert combo("\\boxed{4}", "4") == pytest.approx(1.1)
    assert combo("the answer is 4", "4") == pytest.approx(1.0)
    assert combo("\\boxed{5}", "4") == pytest.approx(0.1)
    assert combo.batch(["\\boxed{4}", "\\boxed{5}", "nothing"], ["4", "4", "4"]) == pytest.approx([1.1, 0.1, 0.0])
    with pytest.raises(KeyError):
        compose_rewards({"math": 1.0, "nope": 1.0})
    with pytest.raises(ValueError):
        compose_rewards({})


def test_format_reward() -> None:
    assert format_reward("so \\boxed{4}") == 1.0
    assert format_reward("\\boxed{\\boxed{4}}") == 1.0
    assert format_reward("\\boxed{4} or \\boxed{5}") == 0.0
    assert format_reward("4") == 0.0
    assert format_reward("\\boxed{4") == 0.0
    assert format_reward("```python\nx = 1\n```", kind="code") == 1.0
    assert format_reward("```python\nx = 1\n", kind="code") == 0.0
    with pytest.raises(ValueError):
        format_reward("x", kind="prose")


@pytest.mark.parametrize(
    ("length", "expected"),
    [(0, 0.0), (800, 0.0), (801, -0.005), (900, -0.5), (1000, -1.0), (1001, -1.0), (5000, -1.0)],
)
def test_overlong_penalty(length: int, expected: float) -> None:
    assert overlong_penalty(length, max_len=1000, cache_len=200) == pytest.approx(expected)


def test_overlong_penalty_edges() -> None:
    assert overlong_penalty(1000, 1000, 0) == 0.0 and overlong_penalty(1001, 1000, 0) == -1.0
    for bad in ((10, 0, 0), (10, 100, 200), (10, 100, -1)):
        with pytest.raises(ValueError):
            overlong_penalty(*bad)


def test_random_reward_is_a_deterministic_coin() -> None:
    scores = [random_reward(f"completion {i}", "gold") for i in range(2000)]
    assert set(scores) == {0.0, 1.0}
    assert 900 < sum(scores) < 1100
    assert scores == [random_reward(f"completion {i}", "gold") for i in range(2000)]
    assert sum(random_reward(f"c{i}", "", p=0.1) for i in range(2000)) < 300


def test_trl_adapter(warm_pool) -> None:
    reward = make_trl_reward("math", answer_column="solution")
    assert reward.__name__ == "math_reward"
    completions = [
        [{"role": "assistant", "content": "so \\boxed{37}"}],
        [{"role": "assistant", "content": [{"type": "text", "text": "\\boxed{"}, {"type": "text", "text": "36}"}]}],
        "plain text \\boxed{\\frac{74}{2}}",
    ]
    scores = reward(prompts=["p"] * 3, completions=completions, solution=["37", "37", 37], completion_ids=[[1]] * 3)
    assert scores == [1.0, 0.0, 1.0]
    with pytest.raises(KeyError, match="solution"):
        reward(prompts=["p"], completions=["x"], answer=["1"])
    assert make_trl_reward("code", answer_column="tests", name="unit_tests").__name__ == "unit_tests"
    code_scores = make_trl_reward("code", answer_column="tests")(prompts=["p"], completions=[ADD], tests=[["assert add(1, 2) == 3"]])
    assert code_scores == [1.0]


def test_verl_adapter(warm_pool) -> None:
    out = verl_compute_score("lighteval/MATH", "so \\boxed{\\dfrac{1}{2}}", "\\frac12")
    assert out == {"score": 1.0, "acc": True, "pred": "\\dfrac{1}{2}", "reason": "correct"}
    out = verl_compute_score("openai/gsm8k", "3 + 4 = 7", "#### 7", extra_info={"index": 3})
    assert (out["score"], out["acc"], out["pred"]) == (1.0, True, "7")
    out = verl_compute_score("openai_humaneval", ADD, {"test": "def check(c):\n    assert c(1, 2) == 3\n", "entry_point": "add"})
    assert (out["score"], out["acc"], out["reason"]) == (1.0, True, "passed") and "def add" in out["pred"]
    out = verl_compute_score("mbpp", "no code", ADD_TESTS)
    assert (out["score"], out["acc"], out["reason"]) == (0.0, False, "no_code")
    out = verl_compute_score("anything", "\\boxed{2}", "ignored", extra_info={"reward": "format"})
    assert out["score"] == 1.0
    batch = verl_compute_score_batch(["math", "mbpp", "gsm8k"], ["\\boxed{3}", ADD, "x 5"], ["3", ADD_TESTS, "5"])
    assert [b["score"] for b in batch] == [1.0, 1.0, 1.0]
    assert all(set(b) == {"score", "acc", "pred", "reason"} for b in batch)


def test_registered_rewards_give_verdicts_and_the_float_form_is_their_score(warm_pool) -> None:
    from rlvr_bench.evaluation.scoring import Verdict as ScoringVerdict
    from rlvr_bench.rewards import Verdict

    assert ScoringVerdict is Verdict
    math = get_reward("math")
    assert math.verdict("so \\boxed{37}", "37") == Verdict(1.0, True, "37", "correct")
    assert [v.reason for v in math.verdicts(["\\boxed{3}", "nothing"], ["4", "4"])] == ["wrong_answer", "no_answer"]
    code = get_reward("code").verdict(ADD, ADD_TESTS)
    assert (code.score, code.correct, code.reason) == (1.0, True, "passed") and "def add" in code.pred
    assert get_reward("format").verdict("\\boxed{2}", "") == Verdict(1.0, True, None, "correct")
    half = json.dumps(["assert add(1, 2) == 3", "assert add(1, 1) == 3"])
    assert get_reward("code").with_options(partial_credit=True, unknown=1)(ADD, half) == 0.5
    assert get_reward("code")(ADD, half) == 0.0  # with_options returned a new reward


def test_one_auto_routing_for_single_items_and_batches(warm_pool) -> None:
    auto = get_reward("auto")
    rows = [("\\boxed{4}", "4"), (ADD, ADD_TESTS), ("\\boxed{5}", "4"), ("no code", ADD_TESTS)]
    verdicts = auto.verdicts([c for c, _ in rows], [g for _, g in rows])
    assert [v.reason for v in verdicts] == ["correct", "passed", "wrong_answer", "no_code"]
    assert [auto.verdict(c, g) for c, g in rows] == verdicts


def test_composed_verdict_takes_correctness_from_the_first_reward(warm_pool) -> None:
    combo = compose_rewards({"math": 1.0, "format": 0.5})
    v = combo.verdict("\\boxed{5}", "4")
    assert (v.score, v.correct, v.pred, v.reason) == (0.5, False, "5", "wrong_answer")
    assert combo.verdicts(["\\boxed{4}"], ["4"])[0].score == pytest.approx(1.5)


def test_data_source_table_is_part_of_the_registry() -> None:
    from rlvr_bench.rewards import reward_for_source
    from rlvr_bench.rewards.adapters import _CODE_SOURCES, reward_name

    assert reward_for_source("openai_humaneval") == "code" and reward_for_source("toy/code") == "code"
    assert reward_for_source("openai/gsm8k") == "gsm8k" and reward_for_source("lighteval/MATH") == "math"
    assert reward_for_source(None) == "math"
    assert reward_name("mbpp", {"reward": "format"}) == "format"
    assert "humaneval" in _CODE_SOURCES

    @register_reward("test_owner", sources=("my_bench",))
    def owner(completion: str, ground_truth: str) -> float:
        return 1.0

    try:
        assert reward_for_source("org/My_Bench-v2") == "test_owner"
        assert verl_compute_score("org/my_bench", "x", "y")["score"] == 1.0
    finally:
        _REGISTRY.pop("test_owner", None)
        from rlvr_bench.rewards.registry import _SOURCES

        _SOURCES.pop("test_owner", None)


def test_scorer_is_safe_over_the_registry() -> None:
    from rlvr_bench.evaluation.scoring import make_scorer

    @register_reward("test_broken")
    def broken(completion: str, ground_truth: str) -> float:
        raise RuntimeError("boom")

    @register_reward("test_nan")
    def nan(completion: str, ground_truth: str) -> float:
        return float("nan")

    try:
        assert [v.reason for v in make_scorer("test_broken")(["a", "b"], ["1", "2"])] == ["error", "error"]
        assert make_scorer("test_nan")(["a"], ["1"])[0].score == 0.0
        assert make_scorer("test_nan")(["a"], ["1"])[0].reason == "error"
        custom = make_scorer(custom=lambda texts, answers: [0.25] * len(texts))
        assert custom(["a"], ["1"])[0].reason == "custom"
    finally:
        _REGISTRY.pop("test_broken", None)
        _REGISTRY.pop("test_nan", None)


def test_sandbox_harness_has_one_function_per_test_kind() -> None:
    from rlvr_bench.rewards import _sandbox_harness
    from rlvr_bench.rewards._sandbox_child import CHILD_MODULES, OWN_MODULES

    assert set(_sandbox_harness.TEST_KINDS) == {"asserts", "io", "humaneval", "stdio", "evalplus"}
    assert CHILD_MODULES[-1] == "_sandbox_child" and set(CHILD_MODULES) < set(OWN_MODULES)
