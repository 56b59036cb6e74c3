"""The code reward: test formats (asserts, io, HumanEval, stdin/stdout, EvalPlus), scores, failure reasons,
batching, hostile stdin/stdout programs and reward hacks (objects that compare equal to anything, patched
builtins, ...)."""

from __future__ import annotations

import json
import time

import pytest

from rlvr_bench.rewards import (
    CODE_REASONS,
    code_reward,
    code_reward_detailed,
    code_score_batch,
    code_score_batch_detailed,
    parse_tests,
)
from rlvr_bench.rewards.code_tests import split_assert

ADD = "Here you go:\n```python\ndef add(a, b):\n    return a + b\n```\n"
ADD_WRONG = "```python\ndef add(a, b):\n    return a - b\n```"
ASSERTS = ["assert add(1, 2) == 3", "assert add(-1, 1) == 0", "assert add(2, 2) == 5"]


def test_asserts_all_or_nothing_and_partial() -> None:
    r = code_reward_detailed(ADD, ASSERTS)
    assert (r.score, r.passed, r.total, r.reason) == (0.0, 2, 3, "wrong_answer")
    assert r.test_status == ("pass", "pass", "wrong_answer")
    assert code_reward(ADD, ASSERTS, partial_credit=True) == pytest.approx(2 / 3)
    assert code_reward(ADD, ASSERTS[:2]) == 1.0
    assert code_reward_detailed(ADD, ASSERTS[:2]).reason == "passed"


def test_io_pairs_for_a_named_function() -> None:
    tests = {
        "fn_name": "add",
        "cases": [
            {"input": [1, 2], "output": 3},
            {"input": [0.1, 0.2], "output": 0.3},  # float tolerance
            [[[1], [2]], [1, 2]],  # [input, output] pair form; lists concatenate
            {"input": ["a", "b"], "output": "ab"},
        ],
    }
    assert code_reward(ADD, tests) == 1.0
    assert code_reward(ADD, json.dumps(tests)) == 1.0
    r = code_reward_detailed(ADD_WRONG, tests, partial_credit=True)
    assert r.test_status[0] == "wrong_answer" and r.test_status[3] == "exception:TypeError"
    assert r.score == 0.0 and r.reason == "wrong_answer"


def test_tuples_compare_equal_to_json_lists() -> None:
    code = "```python\ndef pair(x):\n    return (x, {'k': x})\n```"
    assert code_reward(code, {"fn_name": "pair", "cases": [{"input": [1], "output": [1, {"k": 1}]}]}) == 1.0


def test_humaneval_format_with_and_without_prompt() -> None:
    problem = {
        "prompt": "def add(a, b):\n    \"\"\"Add two numbers.\"\"\"\n",
        "test": "def check(candidate):\n    assert candidate(1, 2) == 3\n    assert candidate(0, 0) == 0\n",
        "entry_point": "add",
    }
    assert code_reward(ADD, problem) == 1.0
    body_only = "```python\n    return a + b\n```"  # HumanEval-style completion: the body only
    assert code_reward(body_only, problem) == 1.0
    assert code_reward_detailed(ADD_WRONG, problem).reason == "wrong_answer"


@pytest.mark.parametrize(
    ("completion", "reason"),
    [
        ("no code at all", "no_code"),
        ("```python\n\n```", "no_code"),
        ("```python\ndef add(a, b:\n    return a\n```", "syntax_error"),
        ("```python\nraise ValueError('boom')\n```", "exception:ValueError"),
        ("```python\ndef add(a, b):\n    return undefined_name\n```", "exception:NameError"),
        ("```python\nimport sys\nsys.exit(0)\n```", "exception:SystemExit"),
        ("```python\nimport os\nos._exit(0)\n```", "crash"),
        ("```python\nwhile True:\n    pass\n```", "timeout"),
        ("```python\nx = bytearray(8 << 30)\n```", "memory"),
        ("```python\ndef add(a, b):\n    return add(a, b)\n```", "exception:RecursionError"),
    ],
)
def test_failure_reasons(completion: str, reason: str) -> None:
    r = code_reward_detailed(completion, ASSERTS[:2], timeout=1.0)
    assert (r.score, r.reason) == (0.0, reason)
    assert reason in CODE_REASONS or reason.startswith("exception:")


def test_timeout_keeps_tests_that_passed_before() -> None:
    code = "```python\ndef f(x):\n    while x:\n        pass\n    return 0\n```"
    r = code_reward_detailed(code, ["assert f(0) == 0", "assert f(1) == 0"], partial_credit=True, timeout=1.0)
    assert r.test_status == ("pass", "timeout") and r.score == 0.5


def test_printed_output_is_returned_and_setup_runs() -> None:
    code = "```python\nprint('hello from the sandbox')\ndef g():\n    return math.pi\n```"
    r = code_reward_detailed(code, {"asserts": ["assert g() > 3"], "setup": "import math"})
    assert r.score == 1.0 and "hello from the sandbox" in r.output_tail


def test_malformed_tests_raise() -> None:
    for bad in ("not json", {"unknown": 1}, [1, 2], {"fn_name": "f", "cases": [{"input": 1, "output": 2}]}):
        with pytest.raises(ValueError):
            parse_tests(bad)
    assert code_reward_detailed(ADD, []).reason == "no_tests"


def test_batch_runs_in_parallel_and_keeps_order() -> None:
    slow = "```python\nimport time\ntime.sleep(0.6)\ndef add(a, b):\n    return a + b\n```"
    completions = [slow, ADD_WRONG, slow, "nothing"]
    start = time.monotonic()
    results = code_score_batch_detailed(completions, [ASSERTS[:2]] * 4, max_workers=2)
    elapsed = time.monotonic() - start
    assert [r.reason for r in results] == ["passed", "wrong_answer", "passed", "no_code"]
    assert elapsed < sum(r.wall_s for r in results) - 0.3  # the sandboxes overlapped
    assert code_score_batch(completions[:2], [ASSERTS[:2]] * 2) == [1.0, 0.0]
    with pytest.raises(ValueError):
        code_score_batch(["a"], [])


# ------------------------------------------------------------------------------------ stdin/stdout

SUM = {"stdio": [{"input": "1 2\n", "output": "3\n"}, {"input": "10 20\n", "output": "30"},
                 {"input": "-4 4\n", "output": "0\n"}], "time_limit": 0.5}


def _stdio(program: str, tests: dict = SUM, **kw):
    return code_reward_detailed(f"```python\n{program}\n```", tests, **kw)


@pytest.mark.parametrize("program", [
    "a, b = map(int, input().split())\nprint(a + b)",
    "import sys\na, b = map(int, sys.stdin.buffer.read().split())\nsys.stdout.buffer.write(b'%d\\n' % (a + b))",
    "import os\na, b = map(int, open(0).read().split())\nos.write(1, str(a + b).encode())",
    "def main():\n    a, b = map(int, input().split())\n    print(f' {a + b}.000  \\n\\n')\n\n"
    "if __name__ == '__main__':\n    main()\n    exit()",  # stripped lines; 3.000 == 3 as decimals
    "import sys\nsys.stderr.write('debug\\n' * 100)\nprint(sum(map(int, input().split())))",  # stderr is ignored
])
def test_stdio_programs_that_print_the_answer_pass(program: str) -> None:
    r = _stdio(program)
    assert (r.score, r.test_status) == (1.0, ("pass",) * 3), (r.reason, r.output_tail)


def test_lcb_line_comparison_by_hand() -> None:
    from decimal import Decimal

    from rlvr_bench.rewards._sandbox_values import lcb_lines_equal

    assert lcb_lines_equal("1 2\n3\n", "1 2\n3", Decimal)
    assert lcb_lines_equal("  1.50 2 \r\n", "1.5 2.0", Decimal)
    assert not lcb_lines_equal("1.5000001", "1.5", Decimal)  # no tolerance beyond equal decimals
    assert not lcb_lines_equal("1\n2", "1 2", Decimal)  # line structure counts
    assert not lcb_lines_equal("yes", "YES", Decimal)
    assert lcb_lines_equal("\n\n", "", Decimal) and not lcb_lines_equal("x", "", Decimal)


@pytest.mark.parametrize(("program", "status"), [
    ("print(3)", ("pass", "wrong_answer", "wrong_answer")),  # prints the expected output of another case
    ("import sys\nsys.exit(0)\nprint(3)", ("wrong_answer",) * 3),  # exits before printing
    ("input()\ninput()", ("exception:EOFError",) * 3),  # reads more stdin than given
    ("print('all tests passed')", ("wrong_answer",) * 3),
    ("import os\nos._exit(0)", ("crash",) * 3),
    ("import os\nos.fork()\nprint(3)", ("exception:PermissionError",) * 3),  # no process creation
    ("print('1' * (20 << 20))", ("exception:OSError",) * 3),  # past the 16 MiB output limit
])
def test_hostile_stdio_programs_fail_per_case(program: str, status: tuple) -> None:
    r = _stdio(program)
    assert r.test_status == status and r.score == 0.0, (r.test_status, r.output_tail)


def test_stdio_time_limit_is_per_case_and_stops_the_run() -> None:
    slow = "import time\na, b = map(int, input().split())\nif a == 10:\n    time.sleep(0.8)\nprint(a + b)"
    r = _stdio(slow, timeout=1.0)  # 0.8 s is within the run's limit (2.5 s), not within the case's (0.5 s)
    assert r.test_status == ("pass", "timeout", "timeout")  # the third is not run after a timeout
    assert parse_tests(SUM).time_budget() == 3 * 0.5  # the run's limit: the timeout plus 0.5 s per case
    swallow = "while True:\n    try:\n        while True:\n            pass\n    except BaseException:\n        pass"
    r = _stdio(swallow, timeout=1.0)  # swallowing the time limit only meets the run's deadline
    assert r.test_status == ("timeout",) * 3


def test_stdio_format_errors() -> None:
    for bad in ({"stdio": "1 2"}, {"stdio": [{"input": 1, "output": "2"}]}, {"stdio": [], "time_limit": -1}):
        with pytest.raises(ValueError):
            parse_tests(bad)
    parsed = parse_tests({"stdio": [["1\n", "1\n"]]})
    assert (parsed.kind, parsed.total, parsed.time_limit, parsed.time_budget()) == ("stdio", 1, 6.0, 6.0)


# ------------------------------------------------------------------------------------ reward hacking

TRICKS = ("class Liar:\n    def __eq__(self, other):\n        return True\n    def __ne__(self, other):\n"
          "        return False\n    def __bool__(self):\n        return True\n    def __lt__(self, other):\n"
          "        return True\n    __gt__ = __le__ = __ge__ = __lt__\n    def __sub__(self, other):\n"
          "        return 0\n    __rsub__ = __sub__\n    def __abs__(self):\n        return 0\n"
          "    def __hash__(self):\n        return 0\n")
HACKS = {
    "__eq__ object": TRICKS + "def add(a, b):\n    return Liar()",
    "int subclass": "class I(int):\n    def __eq__(self, other):\n        return True\n"
                    "    __ne__ = __eq__\ndef add(a, b):\n    return I(99)",
    "list subclass": "class L(list):\n    def __eq__(self, other):\n        return True\n"
                     "def add(a, b):\n    return L([99])",
    "patched builtins": "import builtins\nbuiltins.abs = lambda x: 0\nbuiltins.isinstance = lambda *a: True\n"
                        "builtins.len = lambda x: 0\nbuiltins.bool = lambda x: True\ndef add(a, b):\n    return 99",
    "patched json and math": "import json, math, operator\njson.loads = lambda *a, **k: 3\n"
                             "json.dumps = lambda *a, **k: '3'\nmath.isclose = lambda *a, **k: True\n"
                             "operator.eq = lambda a, b: True\ndef add(a, b):\n    return 99.5",
    "fake report": "print('all tests passed')\nprint('OK')\ndef add(a, b):\n    return 99",
}
ASSERT_FORMS = ["assert add(1, 2) == 3", "assert add(2, 2) != 5", "assert 3 == add(1, 2)",
                "assert add(1, 1) == 2 and add(0, 0) == 0", "assert add(1, 2) in (3, 4)",
                "assert not add(0, 0)", "assert abs(add(1, 2) - 3) < 1e-9", "assert 2 < add(1, 2) <= 3"]
IO_TESTS = {"fn_name": "add", "cases": [[[1, 2], 3], [[0.5, 0.25], 0.75]]}
HE_TESTS = {"test": "def check(candidate):\n    assert candidate(1, 2) == 3\n"
                    "    assert abs(candidate(0.5, 0.25) - 0.75) < 1e-6\n    assert candidate(0, 0) == 0\n",
            "entry_point": "add"}
EP_TESTS = {"entry_point": "add", "inputs": ["[1, 2]", "[0.5, 0.25]"], "reference": "def add(a, b):\n    return a + b\n"}


def test_honest_program_passes_every_test_format() -> None:
    for tests in (ASSERT_FORMS, IO_TESTS, HE_TESTS, EP_TESTS):
        r = code_reward_detailed(ADD, tests)
        assert r.reason == "passed", (tests, r.test_status)


@pytest.mark.parametrize("hack", list(HACKS))
def test_reward_hacks_do_not_pass(hack: str) -> None:
    """Objects that compare equal to anything, subclasses of builtin types, patched builtins or comparison
    functions, a fake success message: no test of any format passes (asserts: ``assert add(2, 2) != 5`` is
    the honest exception for a program returning 99)."""
    program = f"```python\n{HACKS[hack]}\n```"
    r = code_reward_detailed(program, ASSERT_FORMS)
    passed = {ASSERT_FORMS[i] for i, s in enumerate(r.test_status) if s == "pass"}
    assert passed <= {"assert add(2, 2) != 5"}, (hack, passed)
    for tests in (IO_TESTS, HE_TESTS, EP_TESTS):
        r = code_reward_detailed(program, tests)
        assert r.score == 0.0 and "pass" not in r.test_status, (hack, tests, r.test_status)


def test_exit_at_import_and_assert_split() -> None:
    for tests in (ASSERT_FORMS, IO_TESTS, HE_TESTS, EP_TESTS):
        r = code_reward_detailed("```python\nraise SystemExit(0)\n```", tests)
        assert r.score == 0.0 and r.reason == "exception:SystemExit"
    assert split_assert("assert f(1) == 2") == [{"form": "compare", "operands": ["f(1)", "2"], "ops": ["=="]}]
    assert split_assert("assert not f(1), 'msg'") == [{"form": "falsy", "operands": ["f(1)"]}]
    assert split_assert("assert 1 < f(x) <= 3 and g()") == [
        {"form": "compare", "operands": ["1", "f(x)", "3"], "ops": ["<", "<="]},
        {"form": "truthy", "operands": ["g()"]}]
    assert split_assert("assert f(1) or f(2)") == [{"form": "truthy", "operands": ["f(1) or f(2)"]}]
    for unsplit in ("for x in [1]:\n    assert f(x)", "x = 1\nassert f(x)", "assert (", "print(1)"):
        assert split_assert(unsplit) is None
    r = code_reward_detailed(ADD, ["for x in [1, 2]:\n    assert add(x, 0) == x"])  # runs as written
    assert r.reason == "passed"


def test_plain_data_by_hand() -> None:
    from rlvr_bench.rewards._sandbox_values import NotPlain, allclose, plain

    class Int(int):
        def __eq__(self, other):
            return True

    assert type(plain(Int(3))) is int and plain(Int(3)) == 3
    assert plain(((1, 2), {"a": [3]}), json_like=True) == [[1, 2], {"a": [3]}]
    assert plain({1: "x", None: 2}, json_like=True) == {"1": "x", "null": 2}  # as json.dumps writes keys
    assert plain({(1, 2): {3}}) == {(1, 2): {3}} and type(plain((1,))) is tuple
    for bad in (object(), {1, 2}, b"x", 1j):
        with pytest.raises(NotPlain):
            plain(bad, json_like=True)
    with pytest.raises(NotPlain):
        plain([1, object()])
    assert allclose([1.0, float("nan")], (1.0000001, float("nan")), atol=1e-6)
    assert not allclose([1.0], [1.0, 2.0], atol=1.0) and not allclose("a", "a", atol=1.0)
    assert allclose(100.0, 100.00001, atol=0.0, rtol=1e-7) and not allclose(100.0, 100.01, atol=0.0)


def test_io_class_method_and_tolerances() -> None:
    code = "```python\nclass Solution:\n    def half(self, x):\n        return x / 3\n```"
    exact = {"fn_name": "half", "class_name": "Solution", "cases": [[[3], 1.0], [[1], 0.3333333]],
             "rel_tol": 0, "abs_tol": 0}
    assert code_reward_detailed(code, exact).test_status == ("pass", "wrong_answer")
    assert code_reward_detailed(code, {**exact, "rel_tol": 1e-6}).test_status == ("pass", "pass")


def test_evalplus_kind_against_the_reference() -> None:
    ref = "def f(xs, t):\n    return tuple(x * t for x in xs)\n"
    tests = {"entry_point": "f", "inputs": ["[[1, 2], 2]", "[(1.5,), 0.1]", "[[], 3]"], "reference": ref,
             "time_limit": 0.3}

    def status(body: str, **extra) -> tuple[str, ...]:
        return code_reward_detailed(f"```python\ndef f(xs, t):\n{body}\n```", {**tests, **extra}).test_status

    assert status("    return tuple(x * t for x in xs)") == ("pass",) * 3
    # a list is not the tuple EvalPlus expects, unless the expected value is floats (then allclose)
    assert status("    return [x * t for x in xs]") == ("wrong_answer", "pass", "pass")
    assert status("    return tuple(x * t + 1e-9 for x in xs)") == ("wrong_answer", "pass", "pass")
    assert status("    return tuple(x * t + 1e-9 for x in xs)", atol=1e-6) == ("pass",) * 3
    assert status("    while True:\n        pass") == ("timeout",) * 3  # stops at the first timeout
    assert status("    return (2, 4)", expected=["(2, 4)", "(0.15000000000000002,)", "()"]) == (
        "pass", "wrong_answer", "wrong_answer")
    broken = {**tests, "reference": ref.replace("return", "return 1 / len(xs) if not xs else")}
    r = code_reward_detailed(f"```python\n{ref}\n```", broken)
    assert r.test_status == ("pass", "pass", "wrong_answer")  # the reference raised on input 3
    with pytest.raises(ValueError):
        parse_tests({"entry_point": "f", "inputs": ["[1]"]})  # neither reference nor expected
