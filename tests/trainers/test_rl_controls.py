"""Control rewards train the RL engine (``reward: {name: random}`` ...) while the metrics and the evaluation
keep the verifier's correctness; the verl export refuses a reward that needs the group."""

from __future__ import annotations

import json
import string

import pytest

from rlvr_bench.rewards import get_reward
from rlvr_bench.rewards.controls import random_coin
from rlvr_bench.trainers.rl import RLTrainer
from rlvr_bench.trainers.rl_batch import derive_seed
from tests.trainers.rl_helpers import tiny_rl_config

# a random model's completion ends at its first letter or digit: short, rarely truncated
STOP = list(string.ascii_letters + string.digits)


def _train(tiny_model_dir, out, name: str, preset: str = "grpo", **sections):
    cfg = tiny_rl_config(tiny_model_dir, out, preset, trainer={"steps": 2}, reward={"name": name},
                         rollout={"n": 4, "stop": STOP}, algorithm={"use_kl_loss": False, "mini_batches": 1},
                         **sections)
    trainer = RLTrainer(cfg)
    batches = []
    rollout = trainer.rollout

    def recording():
        batch = rollout()
        batches.append((trainer.step, batch))
        return batch

    trainer.rollout = recording
    return trainer.train(), batches


def _verifier(batch) -> list[float]:
    verdicts = get_reward("auto").verdicts(batch.texts, batch.answers)
    return [0.0 if tr else float(v.correct) for v, tr in zip(verdicts, batch.truncated)]


@pytest.mark.parametrize("name,preset", [("random", "grpo"), ("format_only", "grpo"), ("incorrect", "grpo"),
                                         ("majority_vote", "grpo"), ("majority_vote", "remax"), ("random", "dapo")])
def test_each_control_trains_and_accuracy_stays_the_verifiers(tiny_model_dir, tmp_path, name, preset):
    run, batches = _train(tiny_model_dir, tmp_path / f"{name}-{preset}", name, preset)
    rows = {r["step"]: r for r in run.metrics() if "reward/accuracy" in r}
    assert sorted(rows) == [1, 2] and len(batches) == 2
    for step, batch in batches:
        truth = _verifier(batch)
        assert batch.correct == truth
        assert rows[step]["reward/accuracy"] == pytest.approx(sum(truth) / len(truth))
        assert rows[step]["reward/mean"] == pytest.approx(sum(batch.scores) / len(batch.scores))
        if name == "incorrect":
            assert batch.scores == [0.0 if tr else 1.0 - c for c, tr in zip(truth, batch.truncated)]
        if name == "random" and preset == "grpo":  # a function of (run seed, step, rank, position) alone
            keys = [derive_seed(derive_seed(0, step, 0), "reward", 0, i) for i in range(len(batch))]
            assert batch.scores == [0.0 if tr else random_coin(k) for k, tr in zip(keys, batch.truncated)]
        if name == "majority_vote":
            expected = get_reward("majority_vote").batch(batch.texts, batch.answers, groups=batch.group)
            assert batch.scores == [0.0 if tr else s for s, tr in zip(expected, batch.truncated)]
    if name in ("incorrect", "random") and preset == "grpo":
        assert any(r["reward/mean"] != r["reward/accuracy"] for r in rows.values())


@pytest.mark.slow  # fast when the toy base is cached; building it on a cold cache takes minutes
@pytest.mark.parametrize("name", ["random", "incorrect", "majority_vote", "format_only"])
def test_controls_on_the_toy_base_report_its_true_accuracy(tmp_path, name):
    """On the trained toy base some answers are right, so accuracy and the control's reward part ways."""
    cfg = tiny_rl_config("toy:base", tmp_path / name, "grpo", trainer={"steps": 2}, reward={"name": name},
                         rollout={"n": 4, "max_new_tokens": 48})
    trainer = RLTrainer(cfg)
    batches = []
    rollout = trainer.rollout
    trainer.rollout = lambda: batches.append(rollout()) or batches[-1]
    run = trainer.train()
    rows = [r for r in run.metrics() if "reward/accuracy" in r]
    assert len(rows) == len(batches) == 2
    for row, batch in zip(rows, batches):
        truth = _verifier(batch)
        assert row["reward/accuracy"] == pytest.approx(sum(truth) / len(truth))
        if name == "incorrect":
            assert batch.scores == [0.0 if tr else 1.0 - c for c, tr in zip(truth, batch.truncated)]
    assert sum(sum(_verifier(b)) for b in batches) > 0  # the base solves some problems


def test_evaluation_of_a_control_run_uses_the_verifier(tiny_model_dir, tmp_path):
    run, _ = _train(tiny_model_dir, tmp_path / "eval", "incorrect",
                    evaluation={"enabled": True, "benchmarks": ["toy"], "limit": 4, "n": 2, "ks": [1, 2],
                                "at_start": False, "max_new_tokens": 8, "stop": STOP})
    lines = [json.loads(x) for p in sorted(run.path.glob("eval/step-*/*.samples.jsonl"))
             for x in p.read_text().splitlines()]
    assert lines
    answers = {}
    from rlvr_bench.data.toy import toy_dataset

    for row in toy_dataset("test"):
        answers[row["id"]] = row["answer"]
    verdicts = get_reward("auto").verdicts([x["completion"] for x in lines], [answers[x["id"]] for x in lines])
    for line, v in zip(lines, verdicts):
        assert line["correct"] == (v.correct and line["finish_reason"] != "length")
    assert any(x["score"] == 1.0 and not x["correct"] for x in lines)  # trained on "wrong", graded as wrong


def test_verl_export_refuses_majority_vote_in_one_line():
    from rlvr_bench.backends.verl.errors import UnsupportedRecipeError
    from rlvr_bench.backends.verl.plan import build_plan
    from rlvr_bench.config import config_from_dict
    from rlvr_bench.trainers.rl import resolve_algorithm
    from tests.backends.test_verl_export import FACTS

    def cfg(**reward):
        return config_from_dict({"method": "rl", "model": {"name_or_path": "toy:base"}, "data": {"source": "toy"},
                                 "reward": reward})

    for name in ("random", "format_only", "incorrect"):
        c = cfg(name=name)
        assert build_plan(c, resolve_algorithm(c), FACTS).reward_settings["reward"] == name
    for bad in (cfg(name="majority_vote"), cfg(weights={"math": 1.0, "majority_vote": 0.5})):
        with pytest.raises(UnsupportedRecipeError) as err:
            build_plan(bad, resolve_algorithm(bad), FACTS)
        text = str(err.value)
        assert "majority_vote" in text and "\n" not in text
