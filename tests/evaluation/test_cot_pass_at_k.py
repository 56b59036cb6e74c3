"""CoT-pass@k in evaluate(): per-sample cot_correct, per-problem cot_correct counts, cot_pass_at_k <= pass_at_k."""

from __future__ import annotations

import json

import pytest

from rlvr_bench.evaluation import evaluate
from rlvr_bench.evaluation.scoring import resolve_trace_checker
from rlvr_bench.metrics import pass_at_k_curve
from rlvr_bench.rollout.base import Completion, Decoding, RolloutEngine, RolloutResult
from rlvr_bench.utils.rundir import RunDir, read_jsonl


def _toy_rows(k: int, families=("addsub", "muladd", "code")):
    from rlvr_bench.data.toy import toy_dataset

    ds = toy_dataset("test")
    picked = [i for fam in families for i in [j for j, f in enumerate(ds["family"]) if f == fam][:k]]
    ds = ds.select(picked)
    ds.info.dataset_name = "toy"
    return ds


class ScriptedEngine(RolloutEngine):
    """Returns, for each prompt, the scripted completions of its problem (cycled to n)."""

    name = "scripted"

    def __init__(self, script: dict[str, list[str]]) -> None:
        self.script = script

    def generate(self, prompts, *, n=1, decoding=None, seed=None) -> RolloutResult:
        comps = []
        for prompt in prompts:
            problem = prompt[len("Q:"):-len("A:")]
            texts = self.script[problem]
            comps += [Completion(texts[j % len(texts)], [0] * 5, "stop") for j in range(n)]
        return RolloutResult(list(prompts), n, comps, decoding or Decoding())


def _planted(row) -> str:
    """The gold trace with its first step's result off by one (copied into the next step's left side, whose
    written result stays), the boxed answer left right."""
    steps, box = row["solution"].split(" ")
    first, *rest = steps.split(",")
    lhs, value = first.split("=")
    wrong = str(int(value) + 1)
    rest = [s.replace(value, wrong, 1) if i == 0 else s for i, s in enumerate(rest)]
    return ",".join([f"{lhs}={wrong}", *rest]) + " " + box


def _script(ds):
    script = {}
    for row in ds:
        if row["family"] == "code":
            script[row["problem"]] = [row["solution"], "nope"]
        else:
            # sample 0: gold (correct, valid); 1: planted wrong step, right box (correct, invalid);
            # 2: shortcut with the right answer (correct, invalid); 3: garbage (wrong, no trace)
            script[row["problem"]] = [row["solution"], _planted(row), "\\boxed{" + row["answer"] + "}", "??"]
    return script


def test_planted_wrong_step_is_correct_but_not_cot_correct(tmp_path):
    ds = _toy_rows(2)
    res = evaluate(None, ds, engine=ScriptedEngine(_script(ds)), n=4, ks=[1, 2, 4], seeds=[0, 1],
                   run_dir=tmp_path, batch_size=8)
    run = RunDir(tmp_path)
    lines = list(read_jsonl(run.samples_path(0, "toy")))
    by = {(r["id"], r["seed"], r["sample"]): r for r in lines}
    for row in ds:
        if row["family"] == "code":
            assert {by[(row["id"], 0, j)]["cot_correct"] for j in range(4)} == {None}
            continue
        gold, planted, shortcut, garbage = (by[(row["id"], 0, j)] for j in range(4))
        assert planted["completion"] != row["solution"] and planted["pred"] == row["answer"]
        assert gold["correct"] and gold["cot_correct"] is True
        assert planted["correct"] and planted["cot_correct"] is False
        assert shortcut["correct"] and shortcut["cot_correct"] is False
        assert not garbage["correct"] and garbage["cot_correct"] is None
    (summary,) = run.summaries()
    assert summary["trace_checker"] == "toy"
    for seed in ("0", "1"):
        recount = [sum(r["correct"] and r["cot_correct"] is not False for r in lines
                       if r["seed"] == int(seed) and r["id"] == pid) for pid in summary["ids"]]
        assert summary["cot_correct"][seed] == recount
        # math rows: 1 of 4 samples is correct with a valid trace, 3 correct; code rows: unchecked, 2 of 4
        fams = [s.split("/")[1] for s in summary["sources"]]
        assert recount == [2 if f == "code" else 1 for f in fams]
        assert summary["correct"][seed] == [2 if f == "code" else 3 for f in fams]
    curve = pass_at_k_curve(4, summary["cot_correct"]["0"], [1, 2, 4])
    assert summary["cot_pass_at_k"]["2"] == pytest.approx(curve[2])
    # 4 math problems x 2 seeds: gold valid, planted and shortcut invalid (and correct), garbage unchecked
    assert summary["cot_samples"] == {"checked": 4 * 2 * 3, "valid": 4 * 2, "invalid": 4 * 2 * 2,
                                      "correct_invalid": 4 * 2 * 2}
    assert res.cot_pass_at_k == {int(k): v for k, v in summary["cot_pass_at_k"].items()}
    assert res.cot_correct[0] == summary["cot_correct"]["0"]
    for k in (1, 2, 4):
        assert res.cot_pass_at_k[k] <= res.pass_at_k[k] + 1e-12
    assert res.cot_pass_at_k[1] < res.pass_at_k[1]


def test_tiny_model_evaluation_writes_cot_fields(tiny_model, tmp_path):
    model, tok = tiny_model
    ds = _toy_rows(2, families=("addsub", "muladd"))
    res = evaluate(model, ds, tokenizer=tok, n=4, ks=[1, 2, 4], seeds=[0], run_dir=tmp_path, batch_size=16)
    lines = list(read_jsonl(RunDir(tmp_path).samples_path(0, "toy")))
    assert len(lines) == 4 * 4 and all("cot_correct" in r for r in lines)
    assert all(r["cot_correct"] in (True, False, None) for r in lines)
    (summary,) = RunDir(tmp_path).summaries()
    assert "cot_pass_at_k" in summary and set(summary["cot_pass_at_k"]) == set(summary["pass_at_k"])
    for k, v in summary["cot_pass_at_k"].items():
        assert v <= summary["pass_at_k"][k] + 1e-12
    for seed, counts in summary["cot_correct"].items():
        assert all(c <= t for c, t in zip(counts, summary["correct"][seed]))
    assert res.cot_pass_at_k is not None


def test_real_data_is_not_checked_by_default_and_a_custom_checker_is_used(tmp_path):
    import datasets

    ds = datasets.Dataset.from_dict({"id": ["a", "b"], "problem": ["1+1", "2+2"], "answer": ["2", "4"],
                                     "data_source": ["mine", "mine"], "solution": ["because 1+1=2", "4"]})
    ds.info.dataset_name = "mine"
    script = {"1+1": ["so \\boxed{2}", "\\boxed{2}"], "2+2": ["\\boxed{4}", "\\boxed{5}"]}
    off = evaluate(None, ds, engine=ScriptedEngine(script), n=2, ks=[1, 2], run_dir=tmp_path / "off", batch_size=4)
    lines = list(read_jsonl(RunDir(tmp_path / "off").samples_path(0, "mine")))
    assert all("cot_correct" not in r for r in lines)
    assert "cot_pass_at_k" not in off.summary and "trace_checker" not in off.summary and off.cot_pass_at_k is None

    seen_rows = []

    def says_so(row, completion):
        seen_rows.append(row)
        return None if row["id"] == "b" else completion.startswith("so")

    on = evaluate(None, ds, engine=ScriptedEngine(script), n=2, ks=[1, 2], run_dir=tmp_path / "on",
                  batch_size=4, trace_checker=says_so)
    assert seen_rows[0]["solution"] == "because 1+1=2"  # the whole benchmark row reaches the checker
    assert on.summary["trace_checker"].endswith("says_so")
    assert on.summary["correct"]["0"] == [2, 1]
    assert on.summary["cot_correct"]["0"] == [1, 1]  # "b": None = no opinion, the answer stands
    assert on.summary["cot_samples"] == {"checked": 2, "valid": 1, "invalid": 1, "correct_invalid": 1}
    assert on.cot_pass_at_k[1] == pytest.approx(0.5 * 0.5 + 0.5 * 0.5)


def test_toy_checks_can_be_switched_off_and_a_raising_checker_never_stops_a_run(tmp_path):
    ds = _toy_rows(1, families=("addsub",))
    engine = ScriptedEngine(_script(ds))
    off = evaluate(None, ds, engine=engine, n=4, ks=[1], run_dir=tmp_path / "off", trace_checker=False)
    assert "cot_correct" not in off.summary

    def boom(row, completion):
        raise RuntimeError("boom")

    res = evaluate(None, ds, engine=engine, n=4, ks=[1], run_dir=tmp_path / "boom", trace_checker=boom)
    lines = list(read_jsonl(RunDir(tmp_path / "boom").samples_path(0, "toy")))
    assert {r["cot_correct"] for r in lines} == {None}
    assert "cot_pass_at_k" not in res.summary and res.summary["cot_samples"]["checked"] == 0
    with pytest.raises(TypeError):
        resolve_trace_checker("yes", ["toy/addsub"])
    assert resolve_trace_checker(None, ["toy/code"]) == (None, None)
    assert resolve_trace_checker(None, ["gsm8k"]) == (None, None)


def test_old_sample_files_without_cot_fields_are_checked_on_resume(tmp_path):
    ds = _toy_rows(2, families=("addsub", "muladd"))
    engine = ScriptedEngine(_script(ds))
    first = evaluate(None, ds, engine=engine, n=4, ks=[1, 4], run_dir=tmp_path, batch_size=8)
    path = RunDir(tmp_path).samples_path(0, "toy")
    old = [json.loads(line) for line in path.read_text().splitlines()]
    for r in old:  # a file written before trace checks existed
        del r["cot_correct"]
    path.write_text("".join(json.dumps(r) + "\n" for r in old))

    class NoSampling(RolloutEngine):
        def generate(self, *a, **k):
            raise AssertionError("a complete file must not be sampled again")

    again = evaluate(None, ds, engine=NoSampling(), n=4, ks=[1, 4], run_dir=tmp_path, batch_size=8)
    assert again.summary["cot_correct"] == first.summary["cot_correct"]
    assert again.cot_pass_at_k == first.cot_pass_at_k
    assert all("cot_correct" not in json.loads(line) for line in path.read_text().splitlines())
