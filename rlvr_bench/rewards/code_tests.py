"""The test formats accepted by the code reward, parsed into one normalised ``CodeTests``.

Accepted (as Python objects or as their JSON text):

1. assert statements: ``["assert add(1, 2) == 3", "assert add(0, 0) == 0"]`` or
   ``{"asserts": [...], "setup": "import math"}``; each string is one test. An assert of the form
   ``assert <a> <op> <b>`` (any comparison, chained too), ``assert <a>``, ``assert not <a>``, or such forms
   joined by ``and``, is split here (:func:`split_assert`): the sandbox evaluates each side alone and
   compares them as plain data; any other test code runs as written;
2. input/output pairs for a named function: ``{"fn_name": "add", "cases": [{"input": [1, 2], "output": 3},
   ...]}``; ``input`` is the list of positional arguments (``[[1, 2, 3]]`` for one list argument; a
   ``[args, output]`` pair is accepted too); results are compared as JSON data (tuples equal lists), floats
   within ``rel_tol`` (default 1e-6) / ``abs_tol`` (1e-9) (both 0: exact); ``class_name`` calls the method
   ``fn_name`` of a fresh ``class_name()`` per case (LeetCode's ``Solution``); each case is one test;
3. HumanEval: ``{"test": "def check(candidate): ...", "entry_point": "add", "prompt": "def add(a, b):..."}``;
   one test, ``check(<entry_point>)``; when the extracted code does not define ``entry_point``, the
   prompt is put in front of it (HumanEval completions are often only the function body; an unfenced
   body is fenced first by ``as_code_completion``);
4. stdin/stdout: ``{"stdio": [{"input": "1 2\\n", "output": "3\\n"}, ...], "time_limit": 6}``; the program
   reads the input on stdin and its stdout is compared with the output as LiveCodeBench does (stripped lines,
   numbers equal as decimals); each case is one test, ``time_limit`` wall seconds each (default 6, as
   LiveCodeBench);
5. EvalPlus: ``{"entry_point": "f", "inputs": ["[1, 2]", ...], "reference": "<prompt + canonical>" |
   "expected": ["3", ...], "atol": 0, "prompt": "..."}``: each input (a Python literal of the argument list)
   is one test; the output must equal the reference's (computed in the sandbox) or the expected literal,
   within ``atol`` (see _sandbox_evalplus.py).

Every format takes an optional ``prelude``: code put in front of the program (LiveCodeBench's imports).
"""

from __future__ import annotations

import ast
import functools
import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

T = TypeVar("T")

__all__ = ["HUMANEVAL_STOP", "STDIO_TIME_LIMIT", "CodeTests", "as_code_completion", "is_code_tests", "parse_tests",
           "route_code_rows", "split_assert"]

#: Codex's stop sequences for HumanEval completions: the body of the prompt's function ends at the first.
HUMANEVAL_STOP: tuple[str, ...] = ("\nclass", "\ndef", "\n#", "\nif", "\nprint")
#: Wall seconds per stdin/stdout case when the tests do not say (LiveCodeBench's default ``--timeout 6``).
STDIO_TIME_LIMIT = 6.0
#: EvalPlus's minimum time limit per input (``DEFAULT_MIN_TIME_LIMIT``); 4x the reference's time when longer.
EVALPLUS_TIME_LIMIT = 1.0

_OPS = {ast.Eq: "==", ast.NotEq: "!=", ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=", ast.In: "in",
        ast.NotIn: "not in", ast.Is: "is", ast.IsNot: "is not"}


@dataclass(frozen=True)
class CodeTests:
    """Normalised tests: ``kind`` is "asserts", "io", "humaneval", "stdio" or "evalplus" (see module
    docstring). ``cases``: (arguments, output) for io, (input text, output text) for stdio."""

    kind: str
    asserts: tuple[str, ...] = ()
    setup: str = ""
    fn_name: str = ""
    cases: tuple[tuple[Any, Any], ...] = ()
    test_code: str = ""
    entry_point: str = ""
    prompt: str = ""
    prelude: str = ""
    class_name: str = ""
    rel_tol: float = 1e-6
    abs_tol: float = 1e-9
    time_limit: float | None = None
    inputs: tuple[str, ...] = ()
    expected: tuple[str, ...] | None = None
    reference: str = ""
    atol: float = 0.0
    oracle: str | None = None

    @property
    def total(self) -> int:
        """Number of tests."""
        if self.kind == "asserts":
            return len(self.asserts)
        if self.kind in ("io", "stdio"):
            return len(self.cases)
        if self.kind == "evalplus":
            return len(self.inputs)
        return 1

    def time_budget(self) -> float:
        """Wall seconds the run gets on top of the reward's timeout: the per-test limits of the kinds that
        have them (stdio: ``time_limit`` per case; EvalPlus: its minimum limit per input)."""
        if self.kind in ("stdio", "evalplus") and self.time_limit:
            return self.total * self.time_limit
        return 0.0

    def program(self, code: str) -> str:
        """The program to load: the code, with the prelude, and the prompt when it is needed, in front."""
        if self.kind in ("humaneval", "evalplus") and self.prompt:
            if not re.search(rf"^\s*(?:async\s+)?def\s+{re.escape(self.entry_point)}\s*\(", code, re.M):
                code = self.prompt + code
        return self.prelude + code if self.prelude else code

    def to_spec(self) -> dict[str, Any]:
        """The JSON-serialisable form the sandboxed child reads."""
        spec: dict[str, Any] = {"kind": self.kind, "total": self.total, "setup": self.setup,
                                "time_limit": self.time_limit}
        if self.kind == "asserts":
            spec.update(asserts=list(self.asserts), checks=[split_assert(a) for a in self.asserts])
        elif self.kind in ("io", "stdio"):
            spec.update(cases=[[a, b] for a, b in self.cases], fn_name=self.fn_name, class_name=self.class_name,
                        rel_tol=self.rel_tol, abs_tol=self.abs_tol)
        elif self.kind == "humaneval":
            spec.update(test_code=self.test_code, entry_point=self.entry_point)
        else:
            spec.update(entry_point=self.entry_point, inputs=list(self.inputs), reference=self.reference,
                        expected=None if self.expected is None else list(self.expected), atol=self.atol,
                        oracle=self.oracle)
        return spec


# ------------------------------------------------------------------------------------------ asserts


def _check_of(node: ast.expr, src: str) -> dict[str, Any]:
    def text(n: ast.expr) -> str:
        return ast.get_source_segment(src, n) or ast.unparse(n)

    if isinstance(node, ast.Compare) and all(type(op) in _OPS for op in node.ops):
        return {"form": "compare", "operands": [text(node.left), *map(text, node.comparators)],
                "ops": [_OPS[type(op)] for op in node.ops]}
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
        return {"form": "falsy", "operands": [text(node.operand)]}
    return {"form": "truthy", "operands": [text(node)]}


@functools.lru_cache(maxsize=4096)
def split_assert(src: str) -> list[dict[str, Any]] | None:
    """The checks of one assert test, each side evaluated alone in the sandbox; None: run it as written.

    ``assert f(x) == 3`` -> ``[{"form": "compare", "operands": ["f(x)", "3"], "ops": ["=="]}]``;
    ``assert f(x)`` -> ``truthy``, ``assert not f(x)`` -> ``falsy``; ``assert a == 1 and b < 2`` -> one check
    per term. Anything but a single ``assert`` statement (a loop, two statements, ``or``) -> None."""
    try:
        tree = ast.parse(src)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None
    if len(tree.body) != 1 or not isinstance(tree.body[0], ast.Assert):
        return None
    test = tree.body[0].test
    terms = test.values if isinstance(test, ast.BoolOp) and isinstance(test.op, ast.And) else [test]
    return [_check_of(term, src) for term in terms]


# -------------------------------------------------------------------------------------------- parse


def _case(raw: Any, i: int) -> tuple[list[Any], Any]:
    if isinstance(raw, dict) and "input" in raw and "output" in raw:
        args, out = raw["input"], raw["output"]
    elif isinstance(raw, (list, tuple)) and len(raw) == 2:
        args, out = raw
    else:
        raise ValueError(f"case {i} must be {{'input': [...], 'output': ...}} or [input, output], got {raw!r:.100}")
    if not isinstance(args, (list, tuple)):
        raise ValueError(f"case {i}: 'input' must be the list of positional arguments, got {args!r:.100}")
    return list(args), out


def _stdio_case(raw: Any, i: int) -> tuple[str, str]:
    pair = (raw.get("input"), raw.get("output")) if isinstance(raw, dict) else raw
    if not (isinstance(pair, (list, tuple)) and len(pair) == 2 and all(isinstance(x, str) for x in pair)):
        raise ValueError(f"stdio case {i} must be {{'input': str, 'output': str}}, got {raw!r:.100}")
    return pair[0], pair[1]


def _positive(value: Any, name: str, default: float | None) -> float | None:
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        raise ValueError(f"{name} must be a non-negative number, got {value!r:.50}")
    return float(value)


def _strings(value: Any, name: str) -> tuple[str, ...]:
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
        raise ValueError(f"{name} must be a list of Python literals (strings)")
    return tuple(value)


def _parse_evalplus(tests: dict[str, Any]) -> CodeTests:
    inputs = _strings(tests["inputs"], "'inputs'")
    expected = tests.get("expected")
    if expected is not None:
        expected = _strings(expected, "'expected'")
        if len(expected) != len(inputs):
            raise ValueError(f"{len(inputs)} inputs but {len(expected)} expected outputs")
    elif not isinstance(tests.get("reference"), str):
        raise ValueError("EvalPlus tests need 'reference' (the canonical program) or 'expected' (outputs)")
    return CodeTests("evalplus", entry_point=str(tests["entry_point"]), inputs=inputs, expected=expected,
                     reference=str(tests.get("reference") or ""), atol=_positive(tests.get("atol"), "atol", 0.0),
                     oracle=tests.get("oracle"), prompt=str(tests.get("prompt") or ""),
                     prelude=str(tests.get("prelude") or ""),
                     time_limit=_positive(tests.get("time_limit"), "time_limit", EVALPLUS_TIME_LIMIT))


def _parse_dict(tests: dict[str, Any]) -> CodeTests:
    prelude = str(tests.get("prelude") or "")
    if "asserts" in tests:
        asserts = tests["asserts"]
        if not all(isinstance(a, str) for a in asserts):
            raise ValueError("every assert test must be a string of Python code")
        return CodeTests("asserts", asserts=tuple(asserts), setup=str(tests.get("setup", "")), prelude=prelude)
    if "fn_name" in tests:
        cases = tuple(_case(c, i) for i, c in enumerate(tests.get("cases", [])))
        return CodeTests("io", fn_name=str(tests["fn_name"]), cases=cases, setup=str(tests.get("setup", "")),
                         prelude=prelude, class_name=str(tests.get("class_name") or ""),
                         rel_tol=_positive(tests.get("rel_tol"), "rel_tol", 1e-6),
                         abs_tol=_positive(tests.get("abs_tol"), "abs_tol", 1e-9))
    if "stdio" in tests:
        if not isinstance(tests["stdio"], (list, tuple)):
            raise ValueError("'stdio' must be a list of {'input', 'output'} cases")
        cases = tuple(_stdio_case(c, i) for i, c in enumerate(tests["stdio"]))
        return CodeTests("stdio", cases=cases, prelude=prelude,
                         time_limit=_positive(tests.get("time_limit"), "time_limit", STDIO_TIME_LIMIT))
    if "inputs" in tests and "entry_point" in tests:
        return _parse_evalplus(tests)
    if "test" in tests and "entry_point" in tests:
        return CodeTests("humaneval", test_code=str(tests["test"]), entry_point=str(tests["entry_point"]),
                         prompt=str(tests.get("prompt", "")), prelude=prelude)
    raise ValueError(
        "unknown code test format: expected a list of asserts, {'asserts': [...]}, "
        "{'fn_name': ..., 'cases': [...]}, {'stdio': [...]}, {'entry_point': ..., 'inputs': [...]} or "
        f"{{'test': ..., 'entry_point': ...}}; got keys {sorted(tests)}"
    )


@functools.lru_cache(maxsize=512)
def _parse_text(text: str) -> CodeTests:
    try:
        tests = json.loads(text)
    except ValueError as exc:
        raise ValueError(f"code tests must be JSON (see rlvr_bench.rewards.code_tests): {exc}") from None
    return _parse_object(tests)


def _parse_object(tests: Any) -> CodeTests:
    if isinstance(tests, (list, tuple)):
        tests = {"asserts": list(tests)}
    if not isinstance(tests, dict):
        raise ValueError(f"code tests must be a list of asserts or a dict, got {type(tests).__name__}")
    return _parse_dict(tests)


def parse_tests(tests: Any) -> CodeTests:
    """Normalise any accepted test format (a JSON string or the object); ValueError names what is wrong.
    JSON text is parsed once per process (the same answer is scored for every sample of a problem)."""
    if isinstance(tests, CodeTests):
        return tests
    if isinstance(tests, str):
        return _parse_text(tests)
    return _parse_object(tests)


def is_code_tests(ground_truth: Any) -> bool:
    """True when ``ground_truth`` is a code test spec of an accepted format (object or JSON text).

    The ``auto`` reward routes on it: a math answer (``37``, ``\\frac{1}{2}``, an interval ``[0, 1)``, a
    set ``{1, 2}``) is never a valid test spec, and a test spec is never a math answer.
    """
    if isinstance(ground_truth, str):
        text = ground_truth.lstrip()
        if not text.startswith(("{", "[")):
            return False
    elif not isinstance(ground_truth, (dict, list, tuple, CodeTests)):
        return False
    try:
        return parse_tests(ground_truth).total > 0
    except ValueError:
        return False


def route_code_rows(texts: Sequence[str], truths: Sequence[Any], code_fn: Callable[[list[str], list[Any]], list[T]],
                    other_fn: Callable[[list[str], list[Any]], list[T]]) -> list[T]:
    """Score rows whose ground truth is a code test spec with ``code_fn``, the others with ``other_fn``
    (each called once, on its rows, in order); results come back in the rows' order (the ``auto`` reward)."""
    is_code = [is_code_tests(t) for t in truths]
    out: list[Any] = [None] * len(texts)
    for flag, fn in ((True, code_fn), (False, other_fn)):
        idx = [i for i, c in enumerate(is_code) if c is flag]
        if idx:
            for i, value in zip(idx, fn([texts[i] for i in idx], [truths[i] for i in idx])):
                out[i] = value
    return out


def as_code_completion(text: str, answer: str) -> str:
    """A completion-style HumanEval (or HumanEval+) sample as the code reward expects it.

    When the tests carry a prompt to complete (HumanEval's, EvalPlus's), the completion has no fenced block
    and its first non-blank line is indented, it is the body of the prompt's function (HumanEval's own
    protocol): it is cut at the first :data:`HUMANEVAL_STOP` sequence and fenced, and the reward puts the
    prompt in front. Anything else is returned unchanged (a completion without code then scores ``no_code``).
    """
    if not isinstance(text, str) or not isinstance(answer, str) or "```" in text or '"entry_point"' not in answer:
        return text
    first = text.lstrip("\r\n")
    if not first[:1].isspace():
        return text
    try:
        tests = parse_tests(answer)
    except ValueError:
        return text
    if tests.kind not in ("humaneval", "evalplus") or not tests.prompt:
        return text
    cut = min([i for i in (text.find(s) for s in HUMANEVAL_STOP) if i >= 0], default=len(text))
    return "```python\n" + text[:cut] + "\n```"
