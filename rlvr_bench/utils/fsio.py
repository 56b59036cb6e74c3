"""Output writes that fail in one line: read-only file systems, full disks, missing permissions.

``cannot write to '<path>': <reason>`` (the reason is ``os.strerror`` of the error number, e.g.
``Read-only file system``, ``No space left on device``, ``Permission denied``) replaces an ``OSError``
traceback, and nothing half-written is left behind: :func:`write_text_atomic` writes through a temporary
file, :func:`atomic_dir` builds a directory (a checkpoint) under a temporary name and renames it into
place only when it is complete.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

from rlvr_bench.errors import UserError

__all__ = [
    "WRITE_ERRNOS",
    "OutputLocationError",
    "atomic_dir",
    "check_writable",
    "output_error",
    "write_text_atomic",
]

WRITE_ERRNOS = frozenset(
    e for e in (errno.EROFS, errno.ENOSPC, errno.EACCES, errno.EPERM, getattr(errno, "EDQUOT", None)) if e
)
"""Error numbers of an output location that cannot take writes (read-only, full, no permission, quota)."""

_LOW_SPACE_BYTES = 1 << 20
"""Free space below which a failed write is put down to a full disk (libraries that hide the OSError)."""


class OutputLocationError(UserError):
    """An output path cannot be written (message: one line naming the path and the reason)."""


def output_error(path: str | Path, err: OSError) -> OutputLocationError:
    """``cannot write to '<path>': <reason>`` for ``err`` (raise it ``from err``)."""
    if isinstance(err.errno, int) and err.errno > 0:
        reason = os.strerror(err.errno)
    else:
        reason = (str(err).strip() or type(err).__name__).splitlines()[0]
    return OutputLocationError(f"cannot write to '{path}': {reason}")


def check_writable(path: str | Path) -> None:
    """Create directory ``path`` (and parents) and prove a file can be written and synced in it.

    Raises:
        OutputLocationError: the directory cannot be created or written (read-only file system, no space,
            no permission, quota, a file in the way).
    """
    folder = Path(path)
    probe = folder / f".rlvr-write-check-{os.getpid()}"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with open(probe, "wb") as fh:
            fh.write(b"ok\n")
            fh.flush()
            os.fsync(fh.fileno())
    except OSError as err:
        raise output_error(folder, err) from err
    finally:
        with contextlib.suppress(OSError):
            probe.unlink()


def write_text_atomic(path: str | Path, text: str) -> None:
    """Write ``text`` through ``<path>.tmp`` and ``os.replace``: never a half-written file.

    Raises:
        OutputLocationError: the file cannot be written; no ``.tmp`` file is left behind.
    """
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    except OSError as err:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise output_error(path, err) from err


@contextlib.contextmanager
def atomic_dir(final: str | Path) -> Iterator[Path]:
    """Build directory ``final`` under the temporary sibling ``<final>.tmp``; publish it only on success.

    ``with atomic_dir(run.checkpoint_dir(step)) as tmp: model.save_pretrained(tmp)`` - the block writes
    into ``tmp`` (created empty; a stale one from a killed run is removed first). When the block succeeds,
    ``tmp`` is renamed to ``final``; an existing ``final`` is replaced (moved to ``<final>.old`` first and
    deleted after the rename, so one of the two is complete at every moment). On any failure, the block's
    or the rename's, ``tmp`` is removed and an existing ``final`` stays as it was.

    Raises:
        OutputLocationError: an ``OSError`` (the block's, also one inside an ``OutputLocationError`` of a
            nested write such as :func:`write_text_atomic`, or creating/renaming the directories), or any
            error while the disk has (almost) no free space left; named as ``final``, the original chained.
        Other exceptions of the block unchanged, after the cleanup.
    """
    final = Path(final)
    tmp = final.with_name(final.name + ".tmp")
    try:
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
    except OSError as err:
        raise output_error(final, err) from err
    try:
        yield tmp
        _publish(tmp, final)
    except BaseException as err:
        shutil.rmtree(tmp, ignore_errors=True)
        if isinstance(err, OSError):
            raise output_error(final, err) from err
        if isinstance(err, OutputLocationError) and isinstance(err.__cause__, OSError):  # a nested write
            raise output_error(final, err.__cause__) from err.__cause__
        if isinstance(err, Exception) and _disk_full(final.parent):  # e.g. torch.save's RuntimeError
            raise output_error(final, OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))) from err
        raise


def _publish(tmp: Path, final: Path) -> None:
    """Rename ``tmp`` onto ``final``; an old ``final`` is kept (as ``<final>.old``) until the new one is in."""
    old = final.with_name(final.name + ".old")
    had_final = final.exists()
    if had_final:  # an old ".old" beside a complete final is stale
        shutil.rmtree(old, ignore_errors=True)
        os.replace(final, old)
    try:
        os.replace(tmp, final)
    except OSError:
        if had_final:
            with contextlib.suppress(OSError):  # put the old one back; else it stays at <final>.old
                os.replace(old, final)
        raise
    shutil.rmtree(old, ignore_errors=True)  # also one left by a run killed between the two renames


def _disk_full(folder: Path) -> bool:
    """True when the file system of ``folder`` has less than 1 MiB free (unknown: False)."""
    try:
        return shutil.disk_usage(folder).free < _LOW_SPACE_BYTES
    except OSError:
        return False
