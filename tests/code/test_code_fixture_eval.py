"""``rlvr-bench eval`` on the hand-written HumanEval+, MBPP+ and LiveCodeBench fixtures, graded from given
solutions: sample 0 of every problem is its canonical solution (passes), sample 1 a broken one (fails).

The CLI runs whole (data from ``$RLVR_BENCH_DATA_DIR``, the tiny model and its tokenizer loaded, prompts
rendered, the code scorer, the run directory); only the sampling is replaced, by an engine that answers each
prompt with the given solutions of its problem."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from rlvr_bench.cli import main
from rlvr_bench.rollout.base import Completion, Decoding, RolloutEngine, RolloutResult
from rlvr_bench.utils.rundir import RunDir, read_jsonl

FIXTURES = Path(__file__).parent / "fixtures"
BENCHES = ("humaneval_plus", "mbpp_plus", "livecodebench")


class GivenSolutions(RolloutEngine):
    """Answers a prompt with the solutions of the problem whose text it contains (sample j: solution j mod k)."""

    name = "given_solutions"

    def __init__(self, model, tokenizer, problems: dict[str, list[str]]) -> None:
        self.model, self.tokenizer, self.problems = model, tokenizer, problems

    def generate(self, prompts, *, n=1, decoding=None, seed=None, **_) -> RolloutResult:
        comps = []
        for prompt in prompts:
            problem = max((p for p in self.problems if p in prompt), key=len)
            texts = self.problems[problem]
            comps += [Completion(texts[j % len(texts)], [0] * 8, "stop") for j in range(n)]
        return RolloutResult(list(prompts), n, comps, decoding or Decoding())


@pytest.fixture
def data_dir(tmp_path, monkeypatch) -> Path:
    folder = tmp_path / "data"
    folder.mkdir()
    for name in ("humaneval_plus", "mbpp_plus"):
        shutil.copy(FIXTURES / f"{name}.jsonl", folder / f"{name}.jsonl")
    lcb = FIXTURES / "livecodebench"
    (folder / "livecodebench.jsonl").write_text((lcb / "test.jsonl").read_text() + (lcb / "test2.jsonl").read_text())
    monkeypatch.setenv("RLVR_BENCH_DATA_DIR", str(folder))
    return folder


def test_eval_grades_canonical_and_broken_solutions(tiny_model_dir, data_dir, tmp_path, monkeypatch):
    import importlib

    from rlvr_bench.data.benchmarks import load_benchmark

    ev = importlib.import_module("rlvr_bench.evaluation.evaluate")
    solutions = json.loads((FIXTURES / "solutions.json").read_text())
    problems = {r["problem"]: [solutions[r["id"]]["canonical"], solutions[r["id"]]["broken"]]
                for b in BENCHES for r in load_benchmark(b)}
    monkeypatch.setattr(ev, "build_engine", lambda backend, model, tok, **kw: GivenSolutions(model, tok, problems))
    out = tmp_path / "run"
    args = ["eval", str(tiny_model_dir), "--n", "2", "--ks", "1,2", "--max-prompt-tokens", "4096", "--out", str(out)]
    assert main(args + [a for b in BENCHES for a in ("--benchmark", b)]) == 0
    run = RunDir(out)
    summaries = {s["benchmark"]: s for s in run.summaries()}
    assert set(summaries) == set(BENCHES)
    for bench in BENCHES:
        lines = list(read_jsonl(run.samples_path(0, bench)))
        assert len(lines) == 3 * 2 and {line["id"] for line in lines} == {i for i in solutions if i.startswith(bench + "/")}
        canonical = [(line["id"], line["reason"]) for line in lines if line["sample"] == 0]
        assert all(reason == "passed" for _, reason in canonical), canonical
        broken = [line for line in lines if line["sample"] == 1]
        assert not any(line["correct"] for line in broken)
        assert {line["reason"] for line in broken} == {"wrong_answer"}, [(b["id"], b["reason"]) for b in broken]
        summary = summaries[bench]
        assert summary["reward"] == "code" and summary["pass_at_k"] == {"1": 0.5, "2": 1.0}
        assert summary["correct"]["0"] == [1, 1, 1]
