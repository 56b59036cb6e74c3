"""The parent side of the sandbox fork server (the server itself is ``_sandbox_server.serve``).

Starting a fresh ``python -I -S -B`` per run costs about 15-20 ms of CPU before the program even loads,
plus the imports most programs make (``typing`` alone is 5 ms). The fork server is one long-lived,
stdlib-only interpreter per process, started with the same flags and a clean environment, that has done
those imports once and forks a child per run. The child then goes through exactly the same steps as a
spawned one (namespaces, read-only filesystem, rlimits, uid, audit hook; see _sandbox_child.py): only
the interpreter start-up is shared. The server never runs untrusted code; it is not reachable from a run
(its sockets are closed in the child); it dies when its control socket closes (this process exits) and
takes its runs with it (``PR_SET_PDEATHSIG``).

When the server cannot be started or used (not Linux >= 5.3, a failure), runs are spawned as before.
"""

from __future__ import annotations

import atexit
import json
import logging
import os
import select
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from ._sandbox_child import CHILD_MODULES, SERVER_MODULE

__all__ = ["ForkServer", "fork_server"]

logger = logging.getLogger("rlvr_bench.rewards")

_CHILD_DIR = str(Path(__file__).parent)
# argv: -c CHILD_DIR CTRL_FD MODULES; the server installs the child's modules then its own (MODULES, comma
# separated: _sandbox_child.CHILD_MODULES + SERVER_MODULE) in sys.modules under their bare names, as the
# spawned child's boot code does (the command line names no "_sandbox_child.py": the server runs no program)
_SERVER_BOOT = (
    "import sys\n"
    "for name in sys.argv[3].split(','):\n"
    "    path = sys.argv[1] + '/' + name + '.py'\n"
    "    with open(path) as f:\n"
    "        code = compile(f.read(), path, 'exec')\n"
    "    module = sys.modules[name] = type(sys)(name)\n"
    "    module.__file__ = path\n"
    "    exec(code, module.__dict__)\n"
    "sys.exit(sys.modules['_sandbox_server'].serve(int(sys.argv[2])))\n"
)
_SERVER_MODULES = ",".join((*CHILD_MODULES, SERVER_MODULE))
_START_TIMEOUT = 20.0
_MAX_START_FAILURES = 3


class ForkServer:
    """A lazily started fork server shared by the threads of this process (see module docstring)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._proc: subprocess.Popen | None = None
        self._ctrl: socket.socket | None = None
        self._owner = os.getpid()
        self._failures = 0
        self._hooks = False

    def launch(self, request: dict[str, Any], fds: list[int]) -> socket.socket | None:
        """Hand one run to the server: ``request`` (spec path, cwd, env, monotonic deadline) and the
        result-pipe and output-file descriptors. Returns the run's request socket (``{"pid"}`` then
        ``{"exit", "killed"}`` arrive on it; closing it kills the run), or None: spawn the run instead."""
        with self._lock:
            if self._owner != os.getpid():  # a forked copy of this process: its own server
                self._forget()
            if not self._alive() and not self._start():
                return None
            mine, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
            try:
                socket.send_fds(self._ctrl, [json.dumps(request).encode()], [theirs.fileno(), *fds])
            except OSError as exc:
                logger.warning("sandbox fork server unreachable (%r); restarting it", exc)
                mine.close()
                self._stop()
                return None
            finally:
                theirs.close()
            return mine

    @property
    def pid(self) -> int | None:
        """The server's process id while it runs in this process's service, else None."""
        with self._lock:
            return self._proc.pid if self._alive() and self._owner == os.getpid() else None

    def close(self) -> None:
        """Stop the server (it kills the runs still going)."""
        with self._lock:
            self._stop()

    # ------------------------------------------------------------------------------------ internals
    def _alive(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def _start(self) -> bool:
        if self._failures >= _MAX_START_FAILURES or not hasattr(socket, "send_fds") or sys.platform != "linux":
            return False
        self._stop()
        ctrl, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            proc = subprocess.Popen(
                [sys.executable, "-I", "-S", "-B", "-c", _SERVER_BOOT, _CHILD_DIR, str(theirs.fileno()),
                 _SERVER_MODULES],
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                pass_fds=(theirs.fileno(),), cwd="/", env={"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8"},
                start_new_session=True, close_fds=True,
            )
        except OSError as exc:
            theirs.close()
            ctrl.close()
            return self._failed(f"cannot start: {exc!r}")
        theirs.close()
        ready, _, _ = select.select([ctrl], [], [], _START_TIMEOUT)
        hello = ctrl.recv(256) if ready else b""
        if not hello:
            proc.kill()
            proc.wait()
            ctrl.close()
            return self._failed("it did not come up")
        self._proc, self._ctrl = proc, ctrl
        if not self._hooks:
            self._hooks = True
            atexit.register(self.close)
            os.register_at_fork(after_in_child=self._after_fork)
        return True

    def _failed(self, why: str) -> bool:
        self._failures += 1
        logger.warning("sandbox fork server %s; spawning a process per run instead", why)
        return False

    def _stop(self) -> None:
        if self._ctrl is not None:
            self._ctrl.close()  # EOF: the server kills its runs and exits
            self._ctrl = None
        if self._proc is not None:
            try:
                self._proc.wait(timeout=2.0)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
            self._proc = None

    def _forget(self) -> None:
        """In a forked child: drop (without stopping) the parent's server."""
        if self._ctrl is not None:
            self._ctrl.close()  # our copy only; the parent's stays open
        self._ctrl, self._proc = None, None
        self._owner = os.getpid()

    def _after_fork(self) -> None:
        self._lock = threading.Lock()  # another thread may have held it at fork time
        self._forget()


_SERVER = ForkServer()


def fork_server() -> ForkServer:
    """The process-wide fork server (started on first use)."""
    return _SERVER


def wait_for_run(req: socket.socket, result_r: int, deadline: float, max_bytes: int
                 ) -> tuple[bytes, int | None, bool, bool]:
    """Read a forked run's result pipe until the server reports its end.

    Returns ``(raw result bytes, exit code, timed out, started)``; ``started`` is False when the server
    closed the request socket without forking (the caller then spawns the run). The server kills the run
    at ``deadline``; past ``deadline + 5 s`` without a report the run is abandoned (closing the socket
    makes the server kill it) and counted as timed out.
    """
    raw = bytearray()
    eof = started = False
    code: int | None = None
    timed_out = False
    backstop = deadline + 5.0
    while True:
        wait = backstop - time.monotonic()
        if wait <= 0:
            timed_out = True
            break
        readable, _, _ = select.select([req] + ([] if eof else [result_r]), [], [], wait)
        if result_r in readable:
            chunk = os.read(result_r, 1 << 16)
            eof = not chunk
            if len(raw) < max_bytes:
                raw += chunk
        if req in readable:
            message = req.recv(1 << 12)
            if not message:  # the server went away (or never forked this run)
                timed_out = started
                break
            report = json.loads(message)
            started = True
            if "exit" in report:
                code, timed_out = int(report["exit"]), bool(report["killed"])
                break
    req.close()
    drain_fd(result_r, raw, max_bytes)
    return bytes(raw), code, timed_out, started


def drain_fd(fd: int, raw: bytearray, max_bytes: int) -> None:
    """Append what is left to read on ``fd`` (non-blocking, up to ``max_bytes`` in all) to ``raw``."""
    os.set_blocking(fd, False)
    try:
        while len(raw) < max_bytes:
            chunk = os.read(fd, 1 << 16)
            if not chunk:
                break
            raw += chunk
    except (BlockingIOError, OSError):
        pass
