"""The test harness of the sandbox child (stdlib only; it must not import rlvr_bench): load the program,
then run each test, reporting one event per step (see _sandbox_protocol.py).

One function per test kind, ``(tests, ns, index) -> None``, raising on failure (AssertionError =
``wrong_answer``, any other exception = ``exception:<Type>``, a passed time limit = ``timeout``), registered
in ``TEST_KINDS``; ``PREPARE``
runs before the program loads (EvalPlus: the reference outputs), ``NOT_LOADED`` kinds only compile the
program (stdio runs it once per case). A new kind is one function and one ``TEST_KINDS`` entry here, plus
its parsing in code_tests.py (``parse_tests`` / ``CodeTests.to_spec``).

Results are compared as plain data (``_sandbox_values.plain``) in namespaces with the builtins as they were
before the program ran (``PRISTINE``), so that returning an object that overrides ``__eq__``/``__bool__`` or
patching ``builtins`` does not make a test pass; an assert test of the form ``assert <a> <op> <b>`` (or
``assert <a>``, ``assert not <a>``, joined by ``and``) has each side evaluated and compared here, other
asserts run as written. What this does not protect against: docs/code.md, "Reward hacking".
"""

from __future__ import annotations

import builtins as _builtins
import sys as _sys

if __package__:  # imported in the parent, as part of rlvr_bench.rewards
    from ._sandbox_evalplus import prepare as prepare_evalplus
    from ._sandbox_evalplus import run_evalplus
    from ._sandbox_stdio import CaseTimeout, run_stdio
    from ._sandbox_values import PRISTINE, NotPlain, plain, same
else:  # in the sandbox child: the boot code installed them under their bare names
    from _sandbox_evalplus import prepare as prepare_evalplus
    from _sandbox_evalplus import run_evalplus
    from _sandbox_stdio import CaseTimeout, run_stdio
    from _sandbox_values import PRISTINE, NotPlain, plain, same

__builtins__ = dict(_builtins.__dict__)  # noqa: A001 - builtins as loaded, whatever a program patches

__all__ = ["NOT_LOADED", "PREPARE", "STOP_AT_TIMEOUT", "TEST_KINDS", "run_tests", "same"]

_REAL_BUILTINS = _builtins
_COMPARE = {
    "==": lambda a, b: a == b, "!=": lambda a, b: a != b, "<": lambda a, b: a < b, "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b, ">=": lambda a, b: a >= b, "in": lambda a, b: a in b,
    "not in": lambda a, b: a not in b, "is": lambda a, b: a is b, "is not": lambda a, b: a is not b,
}


def _status(exc: BaseException) -> str:
    if isinstance(exc, AssertionError):
        return "wrong_answer"
    if isinstance(exc, MemoryError):
        return "memory"
    if isinstance(exc, CaseTimeout):
        return "timeout"
    return f"exception:{type(exc).__name__}"


_HEAP_TYPE = 1 << 9  # Py_TPFLAGS_HEAPTYPE: a class defined in Python (by the program, among others)
_type_flags = type.__dict__["__flags__"].__get__


def _result(value: object) -> object:
    """A program function's result as the tests see it: plain data, or an object of a type implemented in C
    (a generator, ``map``, ``deque``: the program cannot override its methods); any other object refused."""
    try:
        return plain(value)
    except NotPlain:
        if not _type_flags(type(value)) & _HEAP_TYPE:
            return value
        raise


def _guarded(fn):
    def call(*args, **kwargs):
        return _result(fn(*args, **kwargs))

    return call


def _test_namespace(ns: dict) -> dict:
    """The program's names, each function wrapped so that what it returns is checked by ``_result`` before
    the test computes anything with it (classes are not wrapped), and the builtins as they were before the
    program ran."""
    test_ns = {k: _guarded(v) if callable(v) and not isinstance(v, type) else v for k, v in ns.items()}
    test_ns["__builtins__"] = dict(PRISTINE)
    return test_ns


def _value(text: str, test_ns: dict, index: int) -> object:
    return eval(compile(text, f"<test {index}>", "eval"), test_ns)


def _check(check: dict, test_ns: dict, index: int) -> None:
    """One parsed assert: each operand evaluated alone, checked by ``_result``, then compared here."""
    form = check["form"]
    if form == "compare":
        raw = [_value(text, test_ns, index) for text in check["operands"]]
        values = [_result(v) for v in raw]
        for i, op in enumerate(check["ops"]):
            left, right = (raw[i], raw[i + 1]) if op in ("is", "is not") else (values[i], values[i + 1])
            if not _COMPARE[op](left, right):
                raise AssertionError(f"{values[i]!r:.200} {op} {values[i + 1]!r:.200} is false")
        return
    value = _result(_value(check["operands"][0], test_ns, index))
    if bool(value) != (form == "truthy"):
        raise AssertionError(f"{value!r:.200} is {'false' if form == 'truthy' else 'true'}")


def _run_asserts(tests: dict, ns: dict, index: int) -> None:
    """One assert statement: parsed ones (see ``code_tests.split_assert``) checked on plain data, any other
    code run as written, in the program's names with the original builtins."""
    test_ns = _test_namespace(ns)
    checks = tests["checks"][index] if tests.get("checks") else None
    if not checks:
        exec(compile(tests["asserts"][index], f"<test {index}>", "exec"), test_ns)
        return
    for check in checks:
        _check(check, test_ns, index)


def _run_io(tests: dict, ns: dict, index: int) -> None:
    """One call of ``fn_name`` (a method of a fresh ``class_name()`` when given) with the case's arguments;
    the result, as JSON-like plain data, must equal the case's output (floats within the tolerances)."""
    args, expected = tests["cases"][index]
    fn = getattr(ns[tests["class_name"]](), tests["fn_name"]) if tests.get("class_name") else ns[tests["fn_name"]]
    actual = plain(fn(*args), json_like=True)
    if not same(actual, expected, tests.get("rel_tol", 1e-6), tests.get("abs_tol", 1e-9)):
        raise AssertionError(f"got {actual!r:.200}, expected {expected!r:.200}")


def _run_humaneval(tests: dict, ns: dict, index: int) -> None:
    """HumanEval's ``check(candidate)`` in the test namespace (``_test_namespace``: the candidate's results
    are checked plain data; a class entry point is passed as is)."""
    test_ns = _test_namespace(ns)
    exec(compile(tests["test_code"], "<test>", "exec"), test_ns)
    test_ns["check"](test_ns[tests["entry_point"]])


def _run_stdio(tests: dict, ns: dict, index: int) -> None:
    run_stdio(tests, ns["__code__"], index)


#: Test kind (``CodeTests.kind``) -> the function running its test ``index``.
TEST_KINDS = {"asserts": _run_asserts, "io": _run_io, "humaneval": _run_humaneval, "stdio": _run_stdio,
              "evalplus": run_evalplus}
#: Test kind -> run before the program loads, with the tests.
PREPARE = {"evalplus": prepare_evalplus}
#: Kinds whose program is compiled but not run at load (run by each test).
NOT_LOADED = frozenset({"stdio"})
#: Kinds that stop at their first timeout (each test has its own time limit): the rest count as timed out.
STOP_AT_TIMEOUT = frozenset({"stdio", "evalplus"})


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
    tests = spec["tests"]
    for name in ("exit", "quit"):  # what the site module adds (the child runs with -S)
        if not hasattr(_REAL_BUILTINS, name):
            setattr(_REAL_BUILTINS, name, _sys.exit)
    ns: dict = {"__name__": "__candidate__", "__builtins__": _REAL_BUILTINS}
    failure = _attempt(lambda: _load(tests, code, ns))
    if failure is not None:
        ns.clear()  # a memory hog's data lives here: free it before reporting
        emit({"event": "load", "status": failure[0], "detail": failure[1]})
        return
    emit({"event": "load", "status": "ok"})
    stopped = False
    for index in range(tests["total"]):
        if stopped:
            emit({"event": "test", "index": index, "status": "timeout", "detail": "not run: an earlier test timed out"})
            continue
        failure = _attempt(lambda i=index: _run_one(spec, ns, i))
        if failure is None:
            emit({"event": "test", "index": index, "status": "pass"})
        else:
            emit({"event": "test", "index": index, "status": failure[0], "detail": failure[1]})
            stopped = failure[0] == "timeout" and tests["kind"] in STOP_AT_TIMEOUT


def _load(tests: dict, code: object, ns: dict) -> None:
    kind = tests["kind"]
    if kind in PREPARE:
        PREPARE[kind](tests)
    if kind in NOT_LOADED:
        ns["__code__"] = code
        return
    exec(code, ns)
    if tests.get("setup"):
        exec(compile(tests["setup"], "<setup>", "exec"), ns)


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
