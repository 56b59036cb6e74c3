"""The sandbox's fork server: same verdicts as spawning, nothing of the server reachable from a run, the
standard library importable after the uid drop, restart after a crash, one server per process."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from rlvr_bench.rewards import SandboxLimits, code_reward_detailed
from rlvr_bench.rewards._forkserver import fork_server

MODES = {"fork-server": SandboxLimits(timeout=3.0), "spawn": SandboxLimits(timeout=3.0, fork_server=False)}


def _run(program: str, tests: list[str], mode: str):
    return code_reward_detailed(f"```python\n{program}\n```", tests, limits=MODES[mode])


@pytest.mark.parametrize("mode", list(MODES))
def test_a_run_sees_only_its_own_descriptors_and_no_server_module(mode):
    program = "import os\nFDS = sorted(int(f) for f in os.listdir('/proc/self/fd'))"
    r = _run(program, ["assert FDS[:4] == [0, 1, 2, 3] and len(FDS) <= 5, FDS"], mode)
    assert r.correct, (r.reason, r.output_tail)
    for module in ("socket", "ctypes"):  # imported by the server and the harness, not given to the program
        r = _run(f"import {module}", ["assert True"], mode)
        assert r.reason == "exception:PermissionError", (module, r)


@pytest.mark.parametrize("mode", list(MODES))
def test_standard_library_imports_after_the_privilege_drop(mode):
    program = ("from typing import List\nimport hashlib, decimal, fractions, statistics, json, random\n"
               "import encodings.idna\nH = hashlib.sha256(b'x').hexdigest()[:8]\nU = 'é'.encode('latin-1')")
    r = _run(program, ["assert H == '2d711642' and U == b'\\xe9'"], mode)
    assert r.correct, (r.reason, r.output_tail)
    if os.geteuid() == 0:
        assert "uid" in r.isolation.split(",")


def test_same_verdicts_with_and_without_the_fork_server():
    cases = [("def f(x):\n    return x + 1", "assert f(1) == 2"), ("def f(x):\n    return x", "assert f(1) == 2"),
             ("def f(x):\n    raise KeyError(x)", "assert f(1) == 2"), ("def f(x:\n", "assert f(1) == 2")]
    for program, test in cases:
        a, b = (_run(program, [test], mode) for mode in MODES)
        assert (a.score, a.reason, a.isolation) == (b.score, b.reason, b.isolation)


def test_the_server_is_restarted_after_it_dies():
    assert _run("x = 1", ["assert x == 1"], "fork-server").correct
    first = fork_server().pid
    assert first is not None
    os.kill(first, signal.SIGKILL)
    deadline = time.monotonic() + 5
    while fork_server().pid == first and time.monotonic() < deadline:
        time.sleep(0.01)
    assert _run("x = 2", ["assert x == 2"], "fork-server").correct
    assert fork_server().pid not in (None, first)


SCRIPT = """
import json, os
from rlvr_bench.rewards import code_reward
from rlvr_bench.rewards._forkserver import fork_server
assert code_reward("```python\\nx = 1\\n```", ["assert x == 1"]) == 1.0
parent = fork_server().pid
r, w = os.pipe()
pid = os.fork()
if pid == 0:
    ok = code_reward("```python\\nx = 2\\n```", ["assert x == 2"]) == 1.0
    os.write(w, json.dumps([ok, fork_server().pid]).encode())
    os._exit(0)
os.waitpid(pid, 0)
ok, child = json.loads(os.read(r, 1000))
print(json.dumps({"parent": parent, "child": child, "ok": ok, "again": code_reward("```python\\nx = 3\\n```", ["assert x == 3"])}))
"""


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(") ", 1)[1][:1] != "Z"
    except OSError:
        return False


def test_one_server_per_process_and_it_ends_with_its_process():
    out = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=120, check=True)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["ok"] and result["again"] == 1.0
    assert None not in (result["parent"], result["child"]) and result["parent"] != result["child"]
    deadline = time.monotonic() + 5
    while (_alive(result["parent"]) or _alive(result["child"])) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(result["parent"]) and not _alive(result["child"])


def test_runs_forked_from_one_server_draw_their_own_random_numbers():
    """The server imports ``random`` (LiveCodeBench's import header needs it): each run reseeds it."""
    program = "import random\nprint('draw', random.getrandbits(64))"
    draws = {_run(program, ["assert True"], "fork-server").output_tail for _ in range(3)}
    assert len(draws) == 3 and all(d.startswith("draw ") for d in draws)
