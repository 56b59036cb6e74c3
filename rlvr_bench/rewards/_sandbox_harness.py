"""The test harness of the sandbox child (stdlib only; it must not import rlvr_bench): load the program,
then run each test, reporting one event per step (see _sandbox_protocol.py).

One function per test kind, ``(tests, ns, index) -> None``, raising on failure (AssertionError =
``wrong_answer``, any other exception = ``exception:<Type>``), registered in ``TEST_KINDS``; modules a
kind needs after the privilege drop go in ``PRELOAD``. A new kind (e.g. stdin/stdout) is one function and
one ``TEST_KINDS`` entry here, plus its parsing in code_tests.py (``parse_tests`` / ``CodeTests.to_spec``).
"""

from __future__ import annotations

import math

__all__ = ["PRELOAD", "TEST_KINDS", "preload", "run_tests", "same"]


def _normalise(value: object) -> object:
    import json  # imported before the privilege drop when io tests need it (preload)

    try:
        return json.loads(json.dumps(value))
    except (TypeError, ValueError, OverflowError, RecursionError):
        return value


def same(actual: object, expected: object) -> bool:
    """Equality for input/output tests: JSON-normalised (tuples == lists), floats within 1e-6 relative."""
    if isinstance(actual, float) or isinstance(expected, float):
        if isinstance(actual, (int, float)) and isinstance(expected, (int, float)):
            if isinstance(actual, bool) or isinstance(expected, bool):
                return actual == expected
            return math.isclose(actual, expected, rel_tol=1e-6, abs_tol=1e-9)
        return False
    if isinstance(actual, list) and isinstance(expected, list):
        return len(actual) == len(expected) and all(same(a, e) for a, e in zip(actual, expected))
    if isinstance(actual, dict) and isinstance(expected, dict):
        return actual.keys() == expected.keys() and all(same(actual[k], expected[k]) for k in actual)
    return actual == expected


def _status(exc: BaseException) -> str:
    if isinstance(exc, AssertionError):
        return "wrong_answer"
    if isinstance(exc, MemoryError):
        return "memory"
    return f"exception:{type(exc).__name__}"


def _run_asserts(tests: dict, ns: dict, index: int) -> None:
    """One assert statement (or any code) run in the program's namespace."""
    exec(compile(tests["asserts"][index], f"<test {index}>", "exec"), ns)


def _run_io(tests: dict, ns: dict, index: int) -> None:
    """One call of ``fn_name`` with the case's arguments; the result must equal the case's output."""
    args, expected = tests["cases"][index]
    actual = ns[tests["fn_name"]](*args)
    if not same(_normalise(actual), expected):
        raise AssertionError(f"got {actual!r:.200}, expected {expected!r:.200}")


def _run_humaneval(tests: dict, ns: dict, index: int) -> None:
    """HumanEval's ``check(candidate)`` on the entry point."""
    exec(compile(tests["test_code"], "<test>", "exec"), ns)
    ns["check"](ns[tests["entry_point"]])


#: Test kind (``CodeTests.kind``) -> the function running its test ``index``.
TEST_KINDS = {"asserts": _run_asserts, "io": _run_io, "humaneval": _run_humaneval}
#: Test kind -> standard modules its function imports, loaded while the child is still privileged.
PRELOAD = {"io": ("json",)}


def _run_one(spec: dict, ns: dict, index: int) -> None:
    tests = spec["tests"]
    TEST_KINDS[tests["kind"]](tests, ns, index)


def run_tests(spec: dict, emit) -> None:
    """Load the program, then run every test, emitting one event per step."""
    try:
        code = compile(spec["program"], "<solution>", "exec")
    except (SyntaxError, ValueError, OverflowError) as exc:
        emit({"event": "load", "status": "syntax_error", "detail": f"{type(exc).__name__}: {exc}"[:300]})
        return
    except BaseException as exc:  # MemoryError, RecursionError while compiling
        emit({"event": "load", "status": _status(exc)})
        return
    ns: dict = {"__name__": "__candidate__", "__builtins__": __builtins__}
    failure = _attempt(lambda: _load(spec, code, ns))
    if failure is not None:
        ns.clear()  # a memory hog's data lives here: free it before reporting
        emit({"event": "load", "status": failure[0], "detail": failure[1]})
        return
    emit({"event": "load", "status": "ok"})
    for index in range(spec["tests"]["total"]):
        failure = _attempt(lambda i=index: _run_one(spec, ns, i))
        if failure is None:
            emit({"event": "test", "index": index, "status": "pass"})
        else:
            emit({"event": "test", "index": index, "status": failure[0], "detail": failure[1]})


def _load(spec: dict, code: object, ns: dict) -> None:
    exec(code, ns)
    if spec["tests"].get("setup"):
        exec(compile(spec["tests"]["setup"], "<setup>", "exec"), ns)


# address space (RLIMIT_AS) released on MemoryError so that the report itself can be written; bytes(n)
# comes from calloc, so its untouched pages cost no time (bytearray(n) would write all 4 MiB)
_reserve = [bytes(1 << 22)]


def _attempt(fn) -> tuple[str, str] | None:
    """Run fn; None on success, else (status, detail). The exception and its frames are dropped here."""
    try:
        fn()
        return None
    except BaseException as exc:
        if isinstance(exc, MemoryError):
            _reserve.clear()
            return "memory", "MemoryError"
        try:
            detail = repr(exc)[:300]
        except BaseException:
            detail = type(exc).__name__
        return _status(exc), detail


def preload(spec: dict) -> None:
    """Import, while still privileged, the standard modules the harness may need later."""
    for name in PRELOAD.get(spec["tests"]["kind"], ()):
        __import__(name)
