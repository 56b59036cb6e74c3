"""The control rewards (random, format_only, incorrect, majority_vote): hand cases, hostile rows, the
registry's per-item context, correctness kept from the verifier, and the verl reward's refusal."""

from __future__ import annotations

import json

import pytest

from rlvr_bench.rewards import Verdict, compose_rewards, get_reward, register_reward
from rlvr_bench.rewards.controls import CONTROLS, majority_labels, random_coin, runs_of_equal
from rlvr_bench.rewards.registry import _REGISTRY

ADD = "```python\ndef add(a, b):\n    return a + b\n```"
ADD_WRONG = "```python\ndef add(a, b):\n    return a - b\n```"
ADD_TESTS = json.dumps(["assert add(1, 2) == 3"])

HOSTILE = [
    "",
    "\\boxed{" * 200_000,  # huge, unclosed
    "x" * 300_000 + " \\boxed{7}",
    "\udcff\udcfe surrogate \x00 NUL \\boxed{\udcff}",
    "\\boxed{}",
    "The answer is",
    "```python\n",
    None,
    12345,
]
HOSTILE_GOLDS = ["7", None, "", "[1, 2)", "{not json", json.dumps({"fn_name": 1}), 7]


@pytest.mark.parametrize("name", CONTROLS)
def test_controls_never_raise_on_hostile_rows(name, warm_pool) -> None:
    reward = get_reward(name).with_options(timeout=2.0)
    texts = [t for t in HOSTILE for _ in HOSTILE_GOLDS]
    golds = [g for _ in HOSTILE for g in HOSTILE_GOLDS]
    verdicts = reward.verdicts(texts, golds, groups=[i % 3 for i in range(len(texts))],
                               keys=list(range(len(texts))))
    assert len(verdicts) == len(texts)
    assert all(isinstance(v, Verdict) and v.score in (0.0, 1.0) for v in verdicts)
    for text in HOSTILE:
        for gold in HOSTILE_GOLDS[:3]:
            assert reward(text, gold) in (0.0, 1.0)  # the single form, no context


def test_random_is_independent_of_the_completion_and_reproducible(warm_pool) -> None:
    reward = get_reward("random")
    keys = list(range(4000))
    right = reward.batch(["so \\boxed{4}"] * len(keys), ["4"] * len(keys), keys=keys)
    wrong = reward.batch([f"junk {i} \\boxed{{{i % 7}}}" for i in keys], ["4"] * len(keys), keys=keys)
    assert right == wrong  # same keys, other texts: the same draws
    assert reward.batch(["\\boxed{4}"] * 50, ["4", "5", None, "", "x"] * 10, keys=keys[:50]) == right[:50]
    assert right == reward.batch(["so \\boxed{4}"] * len(keys), ["4"] * len(keys), keys=keys)
    assert 0.45 < sum(right) / len(right) < 0.55
    assert right == [random_coin(k) for k in keys]
    # without keys (evaluation, TRL, verl): a stream, so one repeated text still gets both values
    stream = reward.batch(["\\boxed{4}"] * 2000, ["4"] * 2000)
    assert 0.44 < sum(stream) / len(stream) < 0.56
    assert sum(reward("\\boxed{4}", "4") for _ in range(200)) not in (0.0, 200.0)
    assert sum(get_reward("random").with_options(p=0.1).batch(["x"] * 2000, ["1"] * 2000, keys=range(2000))) < 300


def test_format_only_scores_an_extractable_answer(warm_pool) -> None:
    reward = get_reward("format_only")
    cases = [("so \\boxed{4}", "5", 1.0), ("The answer is 12.", "3", 1.0), ("no answer here", "x+1", 0.0),
             ("I got 12 apples", "12", 1.0),  # numeric gold: the verifier's last-number rule
             ("", "4", 0.0), (ADD_WRONG, ADD_TESTS, 1.0), ("def add(a, b): pass", ADD_TESTS, 0.0),  # unfenced: no program
             ("no code at all", ADD_TESTS, 0.0)]
    scores = reward.batch([c for c, _, _ in cases], [g for _, g, _ in cases])
    assert scores == [e for _, _, e in cases]


def test_incorrect_is_one_minus_the_verifier_on_math_and_code(warm_pool) -> None:
    texts = ["so \\boxed{\\frac{1}{2}}", "\\boxed{0.4}", "no answer", "", ADD, ADD_WRONG, "no code"]
    golds = ["0.5", "0.5", "0.5", "3", ADD_TESTS, ADD_TESTS, ADD_TESTS]
    truth = get_reward("auto").verdicts(texts, golds)
    assert [v.correct for v in truth] == [True, False, False, False, True, False, False]
    control = get_reward("incorrect").verdicts(texts, golds)
    assert [v.score for v in control] == [1.0 - v.score for v in truth]
    assert [(v.correct, v.pred, v.reason) for v in control] == [(v.correct, v.pred, v.reason) for v in truth]


def test_majority_vote_on_hand_groups(warm_pool) -> None:
    reward = get_reward("majority_vote")
    b = "\\boxed{{{}}}".format
    texts = [b(3), b(3), b(4), "none",  # group 0: majority 3
             b(5), b(6),  # group 1: a tie, the smallest answer wins ("5")
             "none", "none",  # group 2: nobody answers
             b(" 1 + 1 "), b("1 +1"), b("1+1")]  # group 3: whitespace dropped before voting
    groups = [0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 3]
    golds = ["4"] * len(texts)  # the gold never enters the score
    scores = reward.batch(texts, golds, groups=groups)
    assert scores == [1.0, 1.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0, 1.0, 1.0]
    verdicts = reward.verdicts(texts, golds, groups=groups)
    assert [v.correct for v in verdicts] == [False, False, True, False, False, False, False, False, False, False, False]
    # order does not matter, nor the group labels' type
    assert reward.batch(texts[::-1], golds, groups=[str(g) for g in groups[::-1]]) == scores[::-1]
    # no groups: consecutive rows with the same gold form one group; alone, a row is its own group
    assert reward.batch([b(1), b(2), b(2), b(1), b(1), b(9)], ["a", "a", "a", "b", "b", "b"]) == [0, 1, 1, 1, 1, 0]
    assert reward("\\boxed{9}", "1") == 1.0 and reward("nothing", "1") == 0.0


def test_majority_helpers() -> None:
    assert runs_of_equal(["a", "a", "b", "a", None, None, ["x"], ["x"]]) == [0, 0, 1, 2, 3, 3, 4, 4]
    assert runs_of_equal([]) == []
    assert majority_labels(["b", "a", "a", "b", None], [[1], [1], [1], [1], [2]]) == ["a", "a", "a", "a", None]


def test_controls_keep_the_verifiers_correctness_for_evaluation(warm_pool) -> None:
    from rlvr_bench.evaluation.scoring import make_scorer

    texts = ["\\boxed{2}", "\\boxed{3}", "", ADD, ADD_WRONG]
    golds = ["2", "2", "2", ADD_TESTS, ADD_TESTS]
    truth = [v.correct for v in make_scorer("auto")(texts, golds)]
    for name in CONTROLS:
        assert [v.correct for v in make_scorer(name)(texts, golds)] == truth, name


def test_context_in_the_registry() -> None:
    assert get_reward("majority_vote").context == {"groups"} and get_reward("random").context == {"keys"}
    assert get_reward("math").context == frozenset() and get_reward("random").with_options(p=0.2).context == {"keys"}
    # a reward that declares no context ignores it
    assert get_reward("format").batch(["\\boxed{1}"], [""], groups=[0], keys=[1]) == [1.0]
    with pytest.raises(ValueError, match="2 groups"):
        get_reward("majority_vote").verdicts(["a"], ["b"], groups=[0, 1])
    with pytest.raises(ValueError, match="unknown context"):
        register_reward("test_bad_context", batch=lambda c, g: [0.0] * len(c), context=("step",))(lambda c, g: 0.0)
    with pytest.raises(ValueError, match="no batched form"):
        register_reward("test_no_batch", context=("keys",))(lambda c, g: 0.0)
    seen = {}

    def batch(completions, golds, *, keys=None):
        seen["keys"] = keys
        return [float(k % 2) for k in keys] if keys is not None else [0.0] * len(completions)

    @register_reward("test_keyed", batch=batch, context=("keys",))
    def keyed(completion, gold):
        return 0.0

    try:
        composed = compose_rewards({"test_keyed": 1.0, "majority_vote": 0.5})
        assert composed.context == {"keys", "groups"}
        scores = composed.batch(["\\boxed{1}", "\\boxed{1}"], ["1", "1"], keys=[3, 4], groups=[0, 0])
        assert seen["keys"] == [3, 4] and scores == [1.5, 0.5]
    finally:
        _REGISTRY.pop("test_keyed", None)
        _REGISTRY.pop("test_bad_context", None)
        _REGISTRY.pop("test_no_batch", None)


def test_verl_reward_scores_per_response_controls_and_refuses_group_ones(warm_pool) -> None:
    from rlvr_bench.backends.verl.reward import RecipeReward, per_response_problem

    for name in ("random", "format_only", "incorrect"):
        assert per_response_problem(name) is None
        out = RecipeReward(reward=name)(data_source="toy", solution_str="\\boxed{3}", ground_truth="3")
        assert out["acc"] is True and out["score"] in (0.0, 1.0), name
    out = RecipeReward(reward="incorrect")(data_source="toy", solution_str="\\boxed{2}", ground_truth="3")
    assert (out["score"], out["acc"]) == (1.0, False)
    assert "majority_vote" in per_response_problem("majority_vote")
    assert "majority_vote" in per_response_problem("math", {"math": 1.0, "majority_vote": 0.1})
    with pytest.raises(ValueError, match="majority_vote"):
        RecipeReward(reward="majority_vote")


def test_the_controls_are_flagged_in_the_registry():
    from rlvr_bench.rewards import control_rewards

    assert control_rewards() == ["format_only", "incorrect", "majority_vote", "random"]
    assert "math" not in control_rewards() and "format" not in control_rewards()
