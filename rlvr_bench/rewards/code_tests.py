"""The test formats accepted by the code reward, parsed into one normalised ``CodeTests``.

Accepted (as Python objects or as their JSON text):

1. assert statements: ``["assert add(1, 2) == 3", "assert add(0, 0) == 0"]`` or
   ``{"asserts": [...], "setup": "import math"}``; each string is one test;
2. input/output pairs for a named function: ``{"fn_name": "add", "cases": [{"input": [1, 2], "output": 3},
   ...]}``; ``input`` is the list of positional arguments (``[[1, 2, 3]]`` for one list argument; a
   ``[args, output]`` pair is accepted too); results are compared after a JSON round trip (tuples equal
   lists), floats within 1e-6 relative; each case is one test;
3. HumanEval: ``{"test": "def check(candidate): ...", "entry_point": "add", "prompt": "def add(a, b):..."}``;
   one test, ``check(<entry_point>)``; when the extracted code does not define ``entry_point``, the
   prompt is put in front of it (HumanEval completions are often only the function body; an unfenced
   body is fenced first by ``as_code_completion``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

T = TypeVar("T")

__all__ = ["HUMANEVAL_STOP", "CodeTests", "as_code_completion", "is_code_tests", "parse_tests", "route_code_rows"]

#: Codex's stop sequences for HumanEval completions: the body of the prompt's function ends at the first.
HUMANEVAL_STOP: tuple[str, ...] = ("\nclass", "\ndef", "\n#", "\nif", "\nprint")


@dataclass(frozen=True)
class CodeTests:
    """Normalised tests: ``kind`` is "asserts", "io" or "humaneval" (see module docstring)."""

    kind: str
    asserts: tuple[str, ...] = ()
    setup: str = ""
    fn_name: str = ""
    cases: tuple[tuple[list[Any], Any], ...] = ()
    test_code: str = ""
    entry_point: str = ""
    prompt: str = ""

    @property
    def total(self) -> int:
        """Number of tests."""
        if self.kind == "asserts":
            return len(self.asserts)
        if self.kind == "io":
            return len(self.cases)
        return 1

    def program(self, code: str) -> str:
        """The program to load: the code, with the HumanEval prompt in front when it is needed."""
        if self.kind == "humaneval" and self.prompt:
            if not re.search(rf"^\s*(?:async\s+)?def\s+{re.escape(self.entry_point)}\s*\(", code, re.M):
                return self.prompt + code
        return code

    def to_spec(self) -> dict[str, Any]:
        """The JSON-serialisable form the sandboxed child reads."""
        return {
            "kind": self.kind,
            "asserts": list(self.asserts),
            "setup": self.setup,
            "fn_name": self.fn_name,
            "cases": [[args, out] for args, out in self.cases],
            "test_code": self.test_code,
            "entry_point": self.entry_point,
            "total": self.total,
        }


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


def parse_tests(tests: Any) -> CodeTests:
    """Normalise any accepted test format (a JSON string or the object); ValueError names what is wrong."""
    if isinstance(tests, CodeTests):
        return tests
    if isinstance(tests, str):
        try:
            tests = json.loads(tests)
        except ValueError as exc:
            raise ValueError(f"code tests must be JSON (see rlvr_bench.rewards.code_tests): {exc}") from None
    if isinstance(tests, (list, tuple)):
        tests = {"asserts": list(tests)}
    if not isinstance(tests, dict):
        raise ValueError(f"code tests must be a list of asserts or a dict, got {type(tests).__name__}")
    if "asserts" in tests:
        asserts = tests["asserts"]
        if not all(isinstance(a, str) for a in asserts):
            raise ValueError("every assert test must be a string of Python code")
        return CodeTests("asserts", asserts=tuple(asserts), setup=str(tests.get("setup", "")))
    if "fn_name" in tests:
        cases = tuple(_case(c, i) for i, c in enumerate(tests.get("cases", [])))
        return CodeTests("io", fn_name=str(tests["fn_name"]), cases=cases, setup=str(tests.get("setup", "")))
    if "test" in tests and "entry_point" in tests:
        return CodeTests(
            "humaneval",
            test_code=str(tests["test"]),
            entry_point=str(tests["entry_point"]),
            prompt=str(tests.get("prompt", "")),
        )
    raise ValueError(
        "unknown code test format: expected a list of asserts, {'asserts': [...]}, "
        "{'fn_name': ..., 'cases': [...]} or {'test': ..., 'entry_point': ...}; "
        f"got keys {sorted(tests)}"
    )


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
    """A completion-style HumanEval sample as the code reward expects it.

    When the tests are HumanEval's (with the prompt), the completion has no fenced block and its first
    non-blank line is indented, it is the body of the prompt's function (HumanEval's own protocol): it is
    cut at the first :data:`HUMANEVAL_STOP` sequence and fenced, and the reward puts the prompt in front.
    Anything else is returned unchanged (a completion without code then scores ``no_code``).
    """
    if not isinstance(text, str) or not isinstance(answer, str) or "```" in text or '"entry_point"' not in answer:
        return text
    first = text.lstrip("\r\n")
    if not first[:1].isspace():
        return text
    try:
        tests = json.loads(answer)
    except ValueError:
        return text
    if not isinstance(tests, dict) or not tests.get("prompt") or "test" not in tests:
        return text
    cut = min([i for i in (text.find(s) for s in HUMANEVAL_STOP) if i >= 0], default=len(text))
    return "```python\n" + text[:cut] + "\n```"
