"""The stdin/stdout test kind and the per-test time limit (stdlib only; it must not import rlvr_bench).

A stdio test runs the whole program once per case, as ``__main__``, with the case's input on file
descriptor 0 and file descriptor 1 captured (``input()``, ``sys.stdin.buffer``, ``open(0)``, ``print``,
``sys.stdout.buffer.write`` and ``os.write(1, ...)`` all work); ``SystemExit`` ends the program normally (as
in LiveCodeBench, which catches it); what it printed is compared with the expected output as LiveCodeBench
does (``_sandbox_values.lcb_lines_equal``). stderr is not captured (it goes to the run's output file).

Each case runs under :func:`time_limit` (wall clock, as LiveCodeBench's ``signal.alarm``). The harness
stops after a case times out: the cases left are reported as timed out without being run.
"""

from __future__ import annotations

import builtins as _builtins
import io
import os
import signal
import sys

if __package__:  # imported in the parent, as part of rlvr_bench.rewards
    from ._sandbox_values import lcb_lines_equal
else:  # in the sandbox child: installed under its bare name
    from _sandbox_values import lcb_lines_equal

__builtins__ = dict(_builtins.__dict__)  # noqa: A001 - builtins as loaded, whatever a program patches

__all__ = ["CaseTimeout", "run_stdio", "time_limit"]

_REAL_BUILTINS = _builtins
_STDIN, _STDOUT = ".rlvr_stdin", ".rlvr_stdout"


class CaseTimeout(BaseException):
    """Raised in the program when its test's time limit passes (a BaseException: ``except Exception``
    in the program does not swallow it)."""


def _alarm(signum, frame) -> None:
    raise CaseTimeout()


class time_limit:  # noqa: N801 - used as a context manager, like the stdlib's
    """Wall-clock limit for one test: SIGALRM raises :class:`CaseTimeout` in the program after ``seconds``,
    again every 50 ms if the program swallows it (the run's own deadline still kills it in the end)."""

    def __init__(self, seconds: float | None) -> None:
        self.seconds = seconds

    def __enter__(self):
        if self.seconds:
            signal.signal(signal.SIGALRM, _alarm)
            signal.setitimer(signal.ITIMER_REAL, max(self.seconds, 0.001), 0.05)
        return self

    def __exit__(self, *exc) -> bool:
        if self.seconds:
            signal.setitimer(signal.ITIMER_REAL, 0, 0)
        return False


def _decimal() -> type:
    """``decimal.Decimal``, imported on the first line that differs as text (most outputs match as text)."""
    import decimal

    return decimal.Decimal


def _open_case_files(data: bytes) -> int:
    """Put ``data`` on fd 0 and a fresh capture file on fd 1; returns the capture file's own descriptor."""
    fd = os.open(_STDIN, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        os.lseek(fd, 0, os.SEEK_SET)
        os.dup2(fd, 0)
    finally:
        os.close(fd)
    out = os.open(_STDOUT, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o600)
    os.dup2(out, 1)
    return out


def _read_capture(fd: int, limit: int) -> tuple[str, bool]:
    """What the program wrote (at most ``limit`` bytes) and whether it wrote more."""
    os.lseek(fd, 0, os.SEEK_SET)
    chunks, size = [], 0
    while size <= limit:
        chunk = os.read(fd, min(1 << 20, limit + 1 - size))
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)[:limit].decode("utf-8", "replace"), size > limit


def _run_program(code: object, seconds: float | None) -> None:
    """The program once, as ``__main__`` with fresh ``sys.stdin``/``sys.stdout`` on fds 0/1."""
    sys.stdin = io.TextIOWrapper(io.BufferedReader(io.FileIO(0, "r", closefd=False)), encoding="utf-8",
                                 errors="replace")
    stdout = sys.stdout = io.TextIOWrapper(io.BufferedWriter(io.FileIO(1, "w", closefd=False)),
                                           encoding="utf-8", errors="replace")
    ns: dict = {"__name__": "__main__", "__builtins__": _REAL_BUILTINS}
    try:
        with time_limit(seconds):
            try:
                exec(code, ns)
            except SystemExit:  # exit() / sys.exit(): the program ended (LiveCodeBench catches it too)
                pass
            try:
                stdout.flush()
            except ValueError:  # the program closed it: what it flushed before is in the file
                pass
    finally:
        ns.clear()


def run_stdio(tests: dict, code: object, index: int) -> None:
    """Test ``index``: run the program on the case's input; its output must match the case's output."""
    data, expected = tests["cases"][index]
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # output past the file-size limit: OSError, not death
    saved = (os.dup(0), os.dup(1), sys.stdin, sys.stdout)
    out = -1
    try:
        out = _open_case_files(data.encode("utf-8"))
        _run_program(code, tests.get("time_limit"))
        got, longer = _read_capture(out, 4 * len(expected.encode("utf-8")) + (1 << 20))
    finally:
        sys.stdin, sys.stdout = saved[2], saved[3]
        for fd, target in ((saved[0], 0), (saved[1], 1)):
            os.dup2(fd, target)
            os.close(fd)
        if out >= 0:
            os.close(out)
    if longer or not lcb_lines_equal(got, expected, _decimal):
        raise AssertionError(f"printed {got[:200]!r}, expected {expected[:200]!r}")
