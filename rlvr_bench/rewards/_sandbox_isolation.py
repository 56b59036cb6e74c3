"""What makes the sandbox child safe (stdlib only; it must not import rlvr_bench): namespaces, the
read-only filesystem, rlimits, the uid drop, the audit hook and the modules it blocks.

Used by ``_sandbox_child.main`` in this order, before any untrusted code runs: ``enter_namespaces`` (as
root), ``enter_workdir``, ``set_limits``, ``drop_privileges`` (as root), ``forget(SERVER_MODULES)``,
``install_audit_hook``. See _sandbox_child.py for the steps and sandbox.py for the layers.
"""

from __future__ import annotations

import os
import resource
import stat
import sys

__all__ = [
    "FORKED_AS_PID1",
    "SERVER_MODULES",
    "drop_privileges",
    "enter_namespaces",
    "enter_workdir",
    "forget",
    "install_audit_hook",
    "load_libc",
    "set_limits",
]

CLONE_NEWNS, CLONE_NEWPID, CLONE_NEWNET = 0x00020000, 0x20000000, 0x40000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 1, 2, 4, 8
MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 32, 4096, 16384, 1 << 18
_KEEP_WRITABLE = ("/proc", "/sys", "/dev/pts")


def load_libc():
    """libc through ctypes (mount, unshare, prctl); only while the child is still trusted."""
    import ctypes

    return ctypes.CDLL(None, use_errno=True)


def _mount(libc, source: str | None, target: str, fstype: str | None, flags: int) -> bool:
    def enc(text: str | None) -> bytes | None:
        return None if text is None else text.encode()

    return libc.mount(enc(source), enc(target), enc(fstype), flags, None) == 0


def _mount_points() -> list[str]:
    points = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            field = line.split(" ")[4]
            points.append(field.encode().decode("unicode_escape"))
    return points


def _reachable(path: str) -> bool:
    """True when a uid with no owner or group rights can list ``path`` (every ancestor searchable)."""
    try:
        if os.stat(path).st_mode & (stat.S_IROTH | stat.S_IXOTH) != stat.S_IROTH | stat.S_IXOTH:
            return False
        parent = os.path.dirname(path)
        while parent and parent != path:
            if not os.stat(parent).st_mode & stat.S_IXOTH:
                return False
            path, parent = parent, os.path.dirname(parent)
    except OSError:
        return False
    return True


def _expose_python(libc, spec: dict) -> None:
    """Bind-mount the ``sys.path`` directories the sandbox uid cannot reach under ``spec["python_dir"]``
    (made read-only with every other mount) and point ``sys.path`` there: else ``import typing`` fails
    after the uid drop when Python lives under a private directory such as ``/root/.pyenv``."""
    root = spec.get("python_dir")
    if not root or not os.path.isdir(root):
        return
    moved: dict[str, str] = {}
    for i, entry in enumerate(list(sys.path)):
        if not os.path.isdir(entry) or _reachable(entry):
            continue
        target = os.path.join(root, str(i))
        try:
            os.mkdir(target, 0o755)
        except OSError:
            continue
        if _mount(libc, entry, target, None, MS_BIND | MS_REC):
            sys.path[i] = moved[entry.rstrip(os.sep)] = target
    if not moved:
        return
    for module in list(sys.modules.values()):  # packages already imported (encodings, ...) find
        path = getattr(module, "__path__", None)  # their submodules through __path__
        if isinstance(path, list):
            path[:] = [_moved(p, moved) for p in path]
    sys.path_importer_cache.clear()


def _moved(path: str, moved: dict[str, str]) -> str:
    """``path`` under its bind-mounted copy when one of the ``moved`` directories contains it."""
    for old, new in moved.items():
        if path == old or path.startswith(old + os.sep):
            return new + path[len(old):]
    return path


def _read_only_fs(libc, spec: dict) -> bool:
    """A private size-limited tmpfs on the run's base directory holding the sandbox directory (the
    program's own) and the mount points of ``_expose_python``; every other mount read-only except /proc,
    /sys and /dev (device nodes). Nothing is created on the host's disk."""
    if not _mount(libc, None, "/", None, MS_REC | MS_PRIVATE):
        return False
    uid, size = spec["uid"], spec["limits"]["file_size_mb"] * 4
    work = spec["workdir"]
    base = os.path.dirname(work)
    opts = f"size={size}m,nr_inodes=4096,mode=0711".encode()
    if libc.mount(b"tmpfs", base.encode(), b"tmpfs", MS_NOSUID | MS_NODEV, opts) != 0:
        return False
    os.mkdir(work, 0o700)
    os.chown(work, uid, uid)
    os.mkdir(spec["python_dir"], 0o755)
    os.chdir(work)  # enter the new mount (the old cwd is the directory underneath it)
    _mount(libc, "proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    _expose_python(libc, spec)
    ok = True
    for point in _mount_points():
        if point == base or point == "/dev" or point.startswith(_KEEP_WRITABLE):
            continue
        ok = _mount(libc, None, point, None, MS_REMOUNT | MS_BIND | MS_RDONLY) and ok
    return ok


FORKED_AS_PID1 = [False]  # set by _sandbox_server when the fork server forked this run into a new PID namespace


def enter_namespaces(spec: dict, layers: list[str]) -> None:
    """As root: unshare, fork (the child continues as PID 1 of a new PID namespace), lock the filesystem.

    A run the fork server forked straight into a new PID namespace is PID 1 already: it only unshares
    the mount and network namespaces (no second process)."""
    libc = load_libc()
    net = 0 if spec["network"] else CLONE_NEWNET
    if FORKED_AS_PID1[0]:
        if libc.unshare(CLONE_NEWNS | net) != 0:
            return
    else:
        if libc.unshare(CLONE_NEWNS | CLONE_NEWPID | net) != 0:
            return
        pid = os.fork()
        if pid:  # the outer process only waits and mirrors the exit status
            os.close(spec["result_fd"])
            _, status = os.waitpid(pid, 0)
            os._exit(128 + os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status))
        libc.prctl(1, 9, 0, 0, 0)  # PR_SET_PDEATHSIG, SIGKILL: die with the outer process, even after setsid()
    layers += ["pidns", "mountns"] + ([] if spec["network"] else ["netns"])
    if _read_only_fs(libc, spec):
        layers += ["tmpfs-workdir", "ro-fs"]


def enter_workdir(spec: dict, as_root: bool) -> None:
    """chdir into the sandbox directory; as root without namespaces, create it (for the uid) first."""
    work = spec["workdir"]
    if os.getcwd() == work:  # the private tmpfs of _read_only_fs
        return
    if not os.path.isdir(work):
        os.mkdir(work, 0o700)
        if as_root:
            os.chown(work, spec["uid"], spec["uid"])
    os.chdir(work)


def set_limits(spec: dict, layers: list[str], as_root: bool) -> None:
    """The resource limits of ``spec["limits"]`` (RLIMIT_NPROC only as root, with the run's own uid)."""
    lim = spec["limits"]
    wanted = [
        (resource.RLIMIT_CPU, (lim["cpu_s"], lim["cpu_s"] + 1)),
        (resource.RLIMIT_AS, (lim["memory_mb"] << 20,) * 2),
        (resource.RLIMIT_FSIZE, (lim["file_size_mb"] << 20,) * 2),
        (resource.RLIMIT_NOFILE, (lim["max_open_files"],) * 2),
        (resource.RLIMIT_CORE, (0, 0)),
    ]
    if as_root:  # RLIMIT_NPROC counts the whole uid: only meaningful with our own unique uid
        wanted.append((resource.RLIMIT_NPROC, (lim["max_processes"],) * 2))
    for what, value in wanted:
        try:
            resource.setrlimit(what, value)
        except (ValueError, OSError):
            pass
    layers.append("rlimits")


def drop_privileges(uid: int, layers: list[str]) -> None:
    """Become the run's fresh unprivileged uid (no supplementary groups)."""
    os.setgroups([])
    os.setgid(uid)
    os.setuid(uid)
    layers.append("uid")


_DENY = frozenset(
    "os.fork os.forkpty os.posix_spawn os.spawn os.exec os.system subprocess.Popen os.kill os.killpg "
    "signal.pthread_kill socket.__new__ socket.connect socket.bind socket.getaddrinfo ctypes.dlopen "
    "ctypes.dlsym ctypes.cdata ctypes.call_function gc.get_objects gc.get_referrers gc.get_referents "
    "sys._current_frames os.setuid os.setgid".split()
)
_DENY_IMPORTS = frozenset({"_posixsubprocess", "_ctypes", "ctypes", "_socket", "socket"})
_PATH_EVENTS = frozenset(
    "os.remove os.rmdir os.mkdir os.rename os.link os.symlink os.chmod os.chown os.truncate os.utime "
    "os.setxattr os.removexattr os.mkfifo os.mknod shutil.rmtree shutil.copyfile".split()
)
_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND


def install_audit_hook(sandbox: str, layers: list[str]) -> None:
    """The PEP 578 hook refusing _DENY events, _DENY_IMPORTS, writes outside ``sandbox`` and reads of
    other processes' /proc entries (it cannot be removed once added)."""
    root = os.path.realpath(sandbox)

    def inside(path: object) -> bool:
        if isinstance(path, int):
            return True
        try:
            real = os.path.realpath(os.fsdecode(path))  # type: ignore[arg-type]
        except (TypeError, ValueError):
            return False
        return real == root or real.startswith(root + os.sep)

    def hook(event: str, args: tuple) -> None:
        if event in _DENY:
            raise PermissionError(f"sandbox: {event} is not allowed")
        if event == "import" and args and args[0] in _DENY_IMPORTS:
            raise PermissionError(f"sandbox: import {args[0]} is not allowed")
        if event == "open":
            path, mode, flags = args
            writing = bool(mode and any(c in mode for c in "wax+")) or bool((flags or 0) & _WRITE_FLAGS)
            if writing and not inside(path):
                raise PermissionError(f"sandbox: writing {path!r} is not allowed")
            if isinstance(path, str) and path.startswith("/proc/") and not path.startswith("/proc/self/"):
                raise PermissionError(f"sandbox: reading {path!r} is not allowed")
        elif event in _PATH_EVENTS:
            for arg in args[:2]:
                if isinstance(arg, (str, bytes, os.PathLike)) and not inside(arg):
                    raise PermissionError(f"sandbox: {event} outside the sandbox is not allowed")

    sys.addaudithook(hook)
    layers.append("audit")


# Modules only the harness uses (fd passing, prctl/mount): dropped from sys.modules before the program
# runs, so that importing them goes through the import system (and the audit hook) as in a fresh process.
SERVER_MODULES = ("socket", "_socket", "select", "selectors", "array", "ctypes", "_ctypes", "ctypes._endian")


def forget(names: tuple[str, ...]) -> None:
    """Drop these modules from ``sys.modules`` (a later import goes through the import system again)."""
    for name in names:
        sys.modules.pop(name, None)

