"""Start one study run as its own process, forked from a server that has already imported the heavy libraries.

Every run of a study is ``rlvr-bench train ...`` in a process of its own (a crash stays in that run). Started
with ``subprocess``, each one imported torch, transformers and datasets again: 5.1 s per run on the 2-core
development machine, about a minute of a 22-run study's wall time. Here the runs are forked from
multiprocessing's fork server, a clean process that imports them once (``PRELOAD``) and computes nothing:
forking the study's own process instead would hang a child whenever that process had already run torch
on several threads (GNU OpenMP is not fork-safe; measured). The child executes the command line module as
``python -m rlvr_bench.cli`` would (``runpy``: the CLI runs as a program, nothing imports it), with the run's
environment and its output appended to the run's log. Where there is no fork server, runs start as
subprocesses, as before.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import runpy
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol

__all__ = ["PRELOAD", "RunProcess", "start_run"]

#: imported once by the fork server (a module that fails to import is skipped by multiprocessing)
PRELOAD = ["torch", "transformers", "datasets", "transformers.models.llama.modeling_llama",
           "rlvr_bench.trainers.rl", "rlvr_bench.evaluation"]
_CLI = ["-m", "rlvr_bench.cli"]
_context: Any = None


class RunProcess(Protocol):
    """What the study polls: ``poll()`` is None while the run lives, then its exit code (negative: a signal)."""

    def poll(self) -> int | None: ...


class _Forked:
    """A run forked from the fork server, polled like a ``subprocess.Popen``."""

    def __init__(self, process: Any) -> None:
        self.process = process

    def poll(self) -> int | None:
        return self.process.exitcode


@contextlib.contextmanager
def _main_not_reimported() -> Iterator[None]:
    """Hide ``__main__``'s file and spec while a process starts.

    multiprocessing re-imports the caller's ``__main__`` in every child, to find functions defined there; the
    child's function lives in this module, so it needs none of it, and the re-import would fail for a script
    read from stdin and start the study again from a script without an ``if __name__ == "__main__"`` guard.
    """
    main = sys.modules.get("__main__")
    if main is None:
        yield
        return
    saved = {key: main.__dict__[key] for key in ("__file__", "__spec__") if key in main.__dict__}
    main.__dict__.pop("__file__", None)
    main.__dict__["__spec__"] = None
    try:
        yield
    finally:
        main.__dict__.pop("__spec__", None)
        main.__dict__.update(saved)


def _fork_context() -> Any:
    """The fork-server context with its preload set (None where there is no fork server)."""
    global _context
    if _context is None and "forkserver" in multiprocessing.get_all_start_methods():
        _context = multiprocessing.get_context("forkserver")
        _context.set_forkserver_preload(PRELOAD)
    return _context


def _run_cli(argv: list[str], log: str, env: dict[str, str]) -> None:
    """In the forked child: the run's environment, stdout and stderr appended to ``log``, then the command
    line module as ``__main__`` (its ``sys.exit`` code is the process's exit code)."""
    os.environ.clear()
    os.environ.update(env)
    threads = env.get("OMP_NUM_THREADS", "")
    torch = sys.modules.get("torch")
    if torch is not None and threads.isdigit() and int(threads) > 0:
        # the server imported torch before this run's OMP_NUM_THREADS existed: without this, every run would
        # use all cores, and two runs on two cores were measured 2-3x slower
        torch.set_num_threads(int(threads))
    fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)
    sys.argv = ["rlvr-bench", *argv]
    runpy.run_module("rlvr_bench.cli", run_name="__main__", alter_sys=True)


def start_run(command: list[str], log: Path, env: dict[str, str]) -> RunProcess:
    """Start ``command`` (``[python, -m, rlvr_bench.cli, ...]``) with ``env``, its output appended to ``log``."""
    context = _fork_context() if command[1:3] == _CLI else None
    if context is not None:
        process = context.Process(target=_run_cli, args=(command[3:], str(log), dict(env)), daemon=False)
        with _main_not_reimported():
            process.start()
        return _Forked(process)
    with open(log, "ab") as out:
        return subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env)
