"""Run a program and its tests in a contained child process (the parent side; see _sandbox_child.py).

Layers, strongest first (``SandboxOutcome.isolation`` lists those that were active):

* as root (Linux): PID, mount and network namespaces (the code runs as PID 1 of its own PID namespace,
  so every process it starts dies with it; no network interface but a down loopback); every mount
  read-only except the sandbox directory; a fresh random unprivileged uid (cannot signal or read other
  processes' memory/environment, cannot write root-owned files); RLIMIT_NPROC per that uid;
* always: a fresh temporary directory as cwd/HOME/TMPDIR, a clean environment (no inherited variables),
  a ``python -I -S -B`` interpreter (no site-packages, no PYTHON* variables; forked from the fork server
  or spawned), stdin /dev/null (a stdin/stdout test gives each case its input), RLIMIT_CPU/AS/FSIZE/NOFILE/CORE, a new
  session (process group) killed with SIGKILL at the wall-clock deadline, and an audit hook refusing
  process creation, signals, sockets, ctypes and writes outside the sandbox directory.

Start cost: by default the child is forked from a warm fork server (see _forkserver.py: no interpreter
start, common imports done once); spawned instead, it receives its own code precompiled (marshalled with
the spec, run by the ``-c`` boot line) and imports no ``json``.

What it does not protect against is listed in docs/rewards.md.
"""

from __future__ import annotations

import functools
import json
import marshal
import math
import os
import secrets
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ._forkserver import drain_fd
from ._sandbox_child import CHILD_MODULES
from ._sandbox_protocol import parse_events
from .code_tests import CodeTests

__all__ = ["SandboxLimits", "SandboxOutcome", "RunVerdicts", "run_in_sandbox", "run_tests"]

_CHILD_DIR = Path(__file__).parent
_CHILD = str(_CHILD_DIR / "_sandbox_child.py")
# argv: -c CHILD_PATH RESULT_FD SPEC_PATH; the spec file holds marshal.dumps((modules, spec)), modules being
# the child's (name, path, code) in CHILD_MODULES order: each is installed in sys.modules under its bare
# name before the next runs (they import one another so), then _sandbox_child.main runs the steps
_BOOT = (
    "import marshal, sys\n"
    "with open(sys.argv[3], 'rb') as f:\n"
    "    modules, spec = marshal.loads(f.read())\n"
    "for name, path, code in modules:\n"
    "    module = sys.modules[name] = type(sys)(name)\n"
    "    module.__file__ = path\n"
    "    exec(code, module.__dict__)\n"
    "del code, f, modules, module\n"
    "sys.exit(sys.modules['_sandbox_child'].main(sys.argv[2:], spec))\n"
)
_MAX_RESULT_BYTES = 4 << 20
_UID_RANGE = (1_000_000, 2_000_000_000)


@dataclass(frozen=True)
class SandboxLimits:
    """Limits for one sandboxed run.

    timeout: wall-clock seconds for loading the program and running all tests (then SIGKILL).
    cpu_s: CPU seconds (RLIMIT_CPU); default ceil(timeout) + 1. memory_mb: address space (RLIMIT_AS).
    file_size_mb: largest file the program may write, its printed output included (RLIMIT_FSIZE).
    max_processes: processes/threads of the sandbox uid (RLIMIT_NPROC; root mode only).
    network: True keeps the host network (off by default). audit_hook: refuse dangerous calls in-process.
    drop_privileges: as root, run the code under a fresh unprivileged uid in new namespaces.
    fork_server: fork the child from a warm, long-lived interpreter (_forkserver.py) instead of starting
    a new one per run; the child then sets up the same layers. Falls back to spawning when unavailable.
    """

    timeout: float = 5.0
    cpu_s: int | None = None
    memory_mb: int = 1024
    file_size_mb: int = 16
    max_processes: int = 32
    max_open_files: int = 256
    network: bool = False
    audit_hook: bool = True
    drop_privileges: bool = True
    kill_grace: float = 0.5
    output_tail_bytes: int = 2048
    fork_server: bool = True

    def child_limits(self) -> dict[str, int]:
        """The rlimit values passed to the child."""
        cpu = self.cpu_s if self.cpu_s is not None else int(math.ceil(self.timeout)) + 1
        return {
            "cpu_s": max(1, int(cpu)),
            "memory_mb": int(self.memory_mb),
            "file_size_mb": int(self.file_size_mb),
            "max_processes": int(self.max_processes),
            "max_open_files": int(self.max_open_files),
        }


@dataclass
class SandboxOutcome:
    """What came back: the child's events (in order), how it ended, its printed output's tail."""

    events: list[dict[str, Any]] = field(default_factory=list)
    returncode: int | None = None
    timed_out: bool = False
    wall_s: float = 0.0
    output_tail: str = ""
    isolation: str = ""


def _uid_in_use(uid: int) -> bool:
    """True if a live (non-zombie) process runs with this uid."""
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if os.stat(f"/proc/{entry}").st_uid != uid:
                    continue
                with open(f"/proc/{entry}/stat") as f:
                    if f.read().rpartition(") ")[2][:1] != "Z":
                        return True
            except OSError:
                continue
    return False


def _fresh_uid() -> int | None:
    """A random unused uid when we are root on Linux and can use namespaces, else None."""
    if sys.platform != "linux" or os.geteuid() != 0:
        return None
    rng = secrets.SystemRandom()
    for _ in range(10):
        uid = rng.randrange(*_UID_RANGE)
        if not _uid_in_use(uid):
            return uid
    return None  # pragma: no cover - 10 random collisions in a range of two billion


@functools.lru_cache(maxsize=1)
def _child_code() -> tuple[tuple[str, str, Any], ...]:
    """The child's modules compiled once per process (the child itself then compiles nothing of ours)."""
    paths = [str(_CHILD_DIR / f"{name}.py") for name in CHILD_MODULES]
    return tuple((name, path, compile(Path(path).read_text(encoding="utf-8"), path, "exec"))
                 for name, path in zip(CHILD_MODULES, paths))


def _write_spec(path: str, spec: dict[str, Any], with_code: bool = True) -> None:
    """Write ``(the child's modules, spec)`` with marshal; the tests go through JSON first, so that the child sees
    exactly the JSON types (tuples become lists) it always saw. A run forked from the fork server needs no
    modules (the server has them): ``with_code=False`` writes none (unmarshalling them cost 0.8 ms a run)."""
    spec = {**spec, "tests": json.loads(json.dumps(spec["tests"]))}
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(marshal.dumps((_child_code() if with_code else (), spec)))


def _read_tail(path: str, size: int) -> str:
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - size))
            return f.read().decode("utf-8", "replace")
    except OSError:
        return ""


def _collect(proc: subprocess.Popen, result_r: int, deadline: float) -> tuple[bytes, bool]:
    """Read the result pipe until the child exits or the deadline passes (then kill its group)."""
    raw = bytearray()
    eof = False
    try:
        pidfd = os.pidfd_open(proc.pid)
    except (AttributeError, OSError):
        pidfd = None
    try:
        while proc.poll() is None:
            now = time.monotonic()
            if now >= deadline:
                _kill_group(proc)
                return bytes(raw), True
            watch = ([] if eof else [result_r]) + ([pidfd] if pidfd is not None else [])
            wait = deadline - now if pidfd is not None else min(deadline - now, 0.05)
            if not watch:  # no pidfd and the pipe is at EOF: poll the process
                time.sleep(wait)
                continue
            readable, _, _ = select.select(watch, [], [], wait)
            if result_r in readable:
                chunk = os.read(result_r, 1 << 16)
                eof = not chunk
                if len(raw) < _MAX_RESULT_BYTES:
                    raw += chunk
    finally:
        if pidfd is not None:
            os.close(pidfd)
    drain_fd(result_r, raw, _MAX_RESULT_BYTES)
    return bytes(raw), False


def _kill_group(proc: subprocess.Popen) -> None:
    for kill in (lambda: os.killpg(proc.pid, signal.SIGKILL), proc.kill):
        try:
            kill()
        except (ProcessLookupError, PermissionError, OSError):
            pass


def _kill_uid(uid: int) -> None:
    """Kill every process left with the sandbox uid (defence in depth: the PID namespace already did)."""
    for _ in range(5):
        if not _uid_in_use(uid):
            return
        code = f"import os\nos.setgid({uid})\nos.setuid({uid})\nos.kill(-1, 9)"
        subprocess.run([sys.executable, "-I", "-S", "-c", code], env={}, timeout=10, check=False)


_SHM = "/dev/shm"
_SHM_MIN_FREE = 1 << 30
_private_tmpfs_seen = [False]  # a run had its private tmpfs (root with mount namespaces works here)


def _scratch_root(uid: int | None) -> str | None:
    """Where a run's base directory goes: ``/dev/shm`` (no disk I/O; deleting a directory on a disk
    mounted with ``discard`` takes milliseconds) when the run gets a private size-limited tmpfs as its
    sandbox directory (as root, once a run has shown that mount namespaces work) so that only the spec
    and the output file (RLIMIT_FSIZE) live there, and /dev/shm has 1 GiB free; else the temp dir."""
    if uid is None or not _private_tmpfs_seen[0]:
        return None
    try:
        st = os.statvfs(_SHM)
    except OSError:
        return None
    return _SHM if st.f_bavail * st.f_frsize >= _SHM_MIN_FREE and os.access(_SHM, os.W_OK) else None


def _clean_env(workdir: str) -> dict[str, str]:
    return {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": workdir, "TMPDIR": workdir, "LANG": "C.UTF-8"}


def _open_output(path: str) -> int:
    """The run's output file (its stdout and stderr), readable by us only."""
    return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)


def _via_fork_server(base: str, spec_path: str, out_path: str, workdir: str, deadline: float, pidns: bool
                     ) -> tuple[bytes, int | None, bool] | None:
    """Run the child forked by the fork server (``pidns``: straight into a new PID namespace, as root);
    None when the server did not take it (then spawn)."""
    from ._forkserver import fork_server, wait_for_run

    result_r, result_w = os.pipe()
    out = _open_output(out_path)
    try:
        request = {"spec": spec_path, "cwd": base, "env": _clean_env(workdir), "deadline": deadline,
                   "pidns": pidns}
        req = fork_server().launch(request, [result_w, out])
        os.close(result_w)
        result_w = -1
        if req is None:
            return None
        raw, code, timed_out, started = wait_for_run(req, result_r, deadline, _MAX_RESULT_BYTES)
        return (raw, code, timed_out) if started else None
    finally:
        for fd in (result_r, result_w, out):
            if fd >= 0:
                os.close(fd)


def _via_spawn(base: str, spec_path: str, out_path: str, workdir: str, deadline: float
               ) -> tuple[bytes, int | None, bool]:
    """Run the child as a fresh ``python -I -S -B`` process."""
    proc: subprocess.Popen | None = None
    result_r, result_w = os.pipe()
    out = _open_output(out_path)
    try:
        proc = subprocess.Popen(
            [sys.executable, "-I", "-S", "-B", "-c", _BOOT, _CHILD, str(result_w), spec_path],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            pass_fds=(result_w,),
            cwd=base,
            env=_clean_env(workdir),
            start_new_session=True,
            close_fds=True,
        )
        os.close(result_w)
        result_w = -1
        raw, timed_out = _collect(proc, result_r, deadline)
    finally:
        for fd in (result_r, result_w, out):
            if fd >= 0:
                os.close(fd)
        if proc is not None:
            _kill_group(proc)
            proc.wait()
    return raw, proc.returncode, timed_out


def run_in_sandbox(program: str, tests_spec: dict[str, Any], limits: SandboxLimits | None = None) -> SandboxOutcome:
    """Run ``program`` then the tests described by ``tests_spec`` (see code_tests.CodeTests.to_spec)."""
    limits = limits or SandboxLimits()
    uid = _fresh_uid() if limits.drop_privileges else None
    base = tempfile.mkdtemp(prefix="rlvr_sbx_", dir=_scratch_root(uid))
    workdir = os.path.join(base, "work")
    nonce = secrets.token_hex(16)
    outcome = SandboxOutcome()
    start = time.monotonic()
    deadline = start + limits.timeout + limits.kill_grace
    try:
        if uid is None:  # as root the child makes it inside a private tmpfs mounted on base
            os.mkdir(workdir, 0o700)
        os.chmod(base, 0o711)
        spec_path = os.path.join(base, "spec.json")
        spec = {
            "program": program,
            "tests": tests_spec,
            "limits": limits.child_limits(),
            "nonce": nonce,
            "uid": uid,
            "network": limits.network,
            "audit": limits.audit_hook,
            "workdir": workdir,
            "python_dir": os.path.join(base, "python"),
        }
        out_path = os.path.join(base, "output")
        ran = None
        if limits.fork_server:
            _write_spec(spec_path, spec, with_code=False)
            ran = _via_fork_server(base, spec_path, out_path, workdir, deadline, pidns=uid is not None)
        if ran is None:
            spec_path = os.path.join(base, "spec.spawn")
            _write_spec(spec_path, spec)
            ran = _via_spawn(base, spec_path, out_path, workdir, deadline)
        raw, outcome.returncode, outcome.timed_out = ran
        outcome.events = parse_events(raw, nonce)
        outcome.output_tail = _read_tail(out_path, limits.output_tail_bytes)
    finally:
        if uid is not None:
            _kill_uid(uid)
        shutil.rmtree(base, ignore_errors=True)
    outcome.wall_s = time.monotonic() - start
    for event in outcome.events:  # the harness reports "start" once, before the program runs
        if event.get("event") == "start":
            outcome.isolation = str(event.get("isolation", ""))
            break
    if "tmpfs-workdir" in outcome.isolation.split(","):
        _private_tmpfs_seen[0] = True
    return outcome


@dataclass(frozen=True)
class RunVerdicts:
    """The verdict of each test of one sandboxed run: "pass" or why it failed (CODE_REASONS or
    "exception:<Type>"), and how the run went (isolation layers, printed output's tail, wall seconds)."""

    status: tuple[str, ...]
    isolation: str = ""
    output_tail: str = ""
    wall_s: float = 0.0


def _end_reason(outcome: SandboxOutcome) -> str:
    """Why tests that never reported did not run."""
    if outcome.timed_out:
        return "timeout"
    rc = outcome.returncode
    if rc in (-24, 128 + 24):  # SIGXCPU: the CPU-time limit
        return "timeout"
    if rc in (-9, 128 + 9):  # SIGKILL we did not send: the kernel's OOM killer
        return "memory"
    if rc in (-25, 128 + 25):  # SIGXFSZ
        return "exception:OSError"
    return "crash"


def _statuses(outcome: SandboxOutcome, total: int) -> tuple[str, ...]:
    """Each test's status from the run's events: the load failure for all when the program did not load,
    else the test's own report, or ``_end_reason`` for the tests that never reported."""
    status: list[str | None] = [None] * total
    load_status = None
    for event in outcome.events:
        kind = event.get("event")
        if kind == "load":
            load_status = str(event.get("status"))
        elif kind == "test":
            index = event.get("index")
            if isinstance(index, int) and 0 <= index < total and status[index] is None:
                status[index] = str(event.get("status"))
    if load_status not in (None, "ok"):
        status = [load_status] * total
    else:
        fill = _end_reason(outcome)
        status = [s if s is not None else fill for s in status]
    return tuple(s or "" for s in status)


def run_tests(program: str, tests: CodeTests, limits: SandboxLimits | None = None) -> RunVerdicts:
    """Run ``program`` then each of ``tests`` in the sandbox: the verdict of every test.

    The one entry of the sandbox (the code reward calls it). Raises only for the machine's failures
    (e.g. no space left for the run's directory), never for the program's.
    """
    outcome = run_in_sandbox(program, tests.to_spec(), limits)
    return RunVerdicts(_statuses(outcome, tests.total), outcome.isolation, outcome.output_tail, outcome.wall_s)
