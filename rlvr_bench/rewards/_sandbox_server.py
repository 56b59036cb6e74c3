"""The sandbox fork server (stdlib only; it must not import rlvr_bench; the parent side is _forkserver.py).

A long-lived ``python -I -S -B`` that has loaded the child's modules and the standard modules most
programs import (``_WARM``) once, and forks one run per request: the fork becomes what a spawned child
would be (``_runner``), then goes through ``_sandbox_child.main`` like a spawned one. It never runs
untrusted code itself.
"""

from __future__ import annotations

import os
import sys

if __package__:  # imported in the parent, as part of rlvr_bench.rewards
    from . import _sandbox_child as child
    from . import _sandbox_isolation as isolation
else:  # in the fork server: its boot code installed them under their bare names
    import _sandbox_child as child
    import _sandbox_isolation as isolation

__all__ = ["serve"]

# Standard modules most programs import, and those of LiveCodeBench's import header (code_benchmarks.LCB_IMPORTS,
# 18 ms a run when each run imports them; the larger server forks no slower, measured on HumanEval): loaded
# once by the server, so that a forked run gets them for free. ``random`` is reseeded in every run (_runner).
_WARM = ("json", "typing", "collections", "re", "functools", "itertools", "heapq", "bisect", "string", "math",
         "decimal", "copy", "datetime", "operator", "io", "random", "statistics")


def _die_with_parent() -> None:
    """PR_SET_PDEATHSIG = SIGKILL: a run dies with the fork server (even after setsid())."""
    isolation.load_libc().prctl(1, 9, 0, 0, 0)


def _fork(libc, own_pid_ns: int | None, new_pid_ns: bool) -> tuple[int, bool]:
    """fork(); with ``new_pid_ns`` (as root) the child is PID 1 of a new PID namespace. Returns (pid, whether
    it is); the server's own namespace for later children is restored right after."""
    moved = new_pid_ns and own_pid_ns is not None and libc.unshare(isolation.CLONE_NEWPID) == 0
    pid = -1
    try:
        pid = os.fork()
    finally:
        if moved and pid != 0:  # in the server (also when fork failed)
            libc.setns(own_pid_ns, isolation.CLONE_NEWPID)
    return pid, moved


def _runner(request: dict, fds: list[int], sockets: list) -> None:
    """In the forked child of the server: become what a spawned child would be, then run ``main``.

    stdin /dev/null, stdout/stderr the run's output file, the result pipe on fd 3, every other descriptor
    (the server's sockets, other runs' pidfds) closed, a new session, the run's cwd and environment.
    """
    code = 70
    try:
        for sock in sockets:  # never close fd 3 later through a stale socket object
            sock.detach()
        os.setsid()
        _req, result_w, out = fds
        null = os.open(os.devnull, os.O_RDWR)
        for src, dst in ((null, 0), (out, 1), (out, 2), (result_w, 3)):
            os.dup2(src, dst)
        for name in os.listdir("/proc/self/fd"):
            if int(name) > 3:
                try:
                    os.close(int(name))
                except OSError:
                    pass
        _die_with_parent()
        if "random" in sys.modules:  # imported by the server (_WARM): each run draws its own seed
            sys.modules["random"].seed()
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        code = child.main(["3", request["spec"]])
    except BaseException:
        pass
    os._exit(code)


class _Run:
    """One forked run, as the server tracks it."""

    def __init__(self, pid: int, req, deadline: float) -> None:
        self.pid, self.req, self.deadline = pid, req, deadline
        self.killed = False
        self.parent_gone = False

    def kill(self) -> None:
        for kill in (lambda: os.killpg(self.pid, 9), lambda: os.kill(self.pid, 9)):
            try:
                kill()
            except OSError:
                pass
        self.killed = True


def _exit_code(status: int) -> int:
    return -os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)


def _reply(run: _Run, message: dict) -> None:
    import json

    try:
        run.req.send(json.dumps(message).encode())
    except OSError:
        pass


def _start_run(ctrl, runs: dict, message: bytes, fds: list[int], own_pid_ns: int | None) -> None:
    """Fork one run. On failure (e.g. no process left) the request socket just closes: the parent then
    starts that run itself."""
    import json
    import socket

    if len(fds) != 3:
        for fd in fds:
            os.close(fd)
        return
    req = socket.socket(fileno=fds[0])
    try:
        request = json.loads(message)
        pid, pid1 = _fork(isolation.load_libc(), own_pid_ns, bool(request.get("pidns")))
    except (OSError, ValueError):
        req.close()
        for fd in fds[1:]:
            os.close(fd)
        return
    if pid == 0:
        isolation.FORKED_AS_PID1[0] = pid1
        _runner(request, fds, [ctrl, req] + [r.req for r in runs.values()])
    for fd in fds[1:]:
        os.close(fd)
    run = _Run(pid, req, float(request["deadline"]))
    runs[os.pidfd_open(pid)] = run
    _reply(run, {"pid": pid})


def _reap(runs: dict, pidfd: int) -> None:
    run = runs.pop(pidfd)
    _, status = os.waitpid(run.pid, 0)
    os.close(pidfd)
    _reply(run, {"exit": _exit_code(status), "killed": run.killed})
    run.req.close()


def serve(ctrl_fd: int) -> int:
    """The fork server: ``python -I -S -B -c BOOT CHILD_DIR CTRL_FD`` (the parent side: _forkserver.py).

    Each message on the control socket is a JSON request (spec path, cwd, environment, monotonic
    deadline) with three descriptors: the request socket, the result pipe and the output file. The server
    forks a run (``_runner``), answers ``{"pid"}`` then ``{"exit", "killed"}`` on the request socket, kills
    the run's process group at the deadline or when the parent closes the request socket, and exits (killing
    what still runs) when the control socket closes. It never runs untrusted code itself.
    """
    import json
    import select
    import socket
    import time

    for name in _WARM:
        __import__(name)
    isolation.load_libc()  # ctypes, for the namespaces (as root) and PR_SET_PDEATHSIG
    os.close(os.pidfd_open(os.getpid()))  # Linux >= 5.3, else fail here: the parent then spawns each run
    own_pid_ns = os.open("/proc/self/ns/pid", os.O_RDONLY) if os.geteuid() == 0 else None
    ctrl = socket.socket(fileno=ctrl_fd)
    ctrl.send(json.dumps({"ready": os.getpid()}).encode())
    runs: dict[int, _Run] = {}
    while True:
        now = time.monotonic()
        for run in runs.values():
            if not run.killed and now >= run.deadline:
                run.kill()
        waits = [run.deadline - now for run in runs.values() if not run.killed]
        watch = [ctrl, *runs, *[r.req for r in runs.values() if not r.parent_gone]]
        ready = select.select(watch, [], [], max(0.0, min(waits)) if waits else None)[0]
        for item in ready:
            if item is ctrl:
                message, fds, _, _ = socket.recv_fds(ctrl, 1 << 16, 3)
                if not message:
                    for run in runs.values():
                        run.kill()
                    for pidfd in list(runs):
                        _reap(runs, pidfd)
                    return 0
                _start_run(ctrl, runs, message, fds, own_pid_ns)
            elif isinstance(item, int):
                _reap(runs, item)
            else:  # the parent closed a request socket: it gave up on that run
                for run in runs.values():
                    if run.req is item:
                        run.parent_gone = True
                        run.kill()
