"""Unwritable or full output locations: one line naming the path and the reason, nothing half-written.

Tests run as root, where ``chmod`` does not stop writes: the faults are simulated by patching the write
calls to raise ``OSError`` with the error number a read-only or full file system gives.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path
from types import SimpleNamespace

import pytest

from rlvr_bench.errors import UserError
from rlvr_bench.utils import fsio
from rlvr_bench.utils.fsio import OutputLocationError, atomic_dir, check_writable, write_text_atomic
from rlvr_bench.utils.rundir import RunDir, write_json_atomic

EROFS = OSError(errno.EROFS, os.strerror(errno.EROFS))
ENOSPC = OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def _raiser(err: BaseException):
    def fail(*args, **kwargs):
        raise err

    return fail


def _one_line(info: pytest.ExceptionInfo) -> str:
    msg = str(info.value)
    assert "\n" not in msg
    assert isinstance(info.value, UserError)
    return msg


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.rglob("*") if p.name.endswith((".tmp", ".old")))


# ---------------------------------------------------------------------------------------- check_writable


def test_check_writable_creates_the_folder_and_leaves_nothing(tmp_path):
    out = tmp_path / "runs" / "a"
    check_writable(out)
    assert out.is_dir() and list(out.iterdir()) == []


def test_check_writable_read_only_file_system(tmp_path, monkeypatch):
    out = tmp_path / "ro" / "run"
    monkeypatch.setattr(Path, "mkdir", _raiser(EROFS))
    with pytest.raises(OutputLocationError) as info:
        check_writable(out)
    assert _one_line(info) == f"cannot write to '{out}': Read-only file system"


def test_check_writable_full_disk_is_found_by_the_probe_write(tmp_path, monkeypatch):
    """An existing folder on a full disk: mkdir succeeds, the probe's fsync fails; the probe is removed."""
    monkeypatch.setattr(os, "fsync", _raiser(ENOSPC))
    with pytest.raises(OutputLocationError) as info:
        check_writable(tmp_path)
    assert _one_line(info) == f"cannot write to '{tmp_path}': No space left on device"
    assert list(tmp_path.iterdir()) == []


def test_check_writable_permission_denied(tmp_path, monkeypatch):
    denied = PermissionError(errno.EACCES, "Permission denied")
    monkeypatch.setattr(fsio, "open", _raiser(denied), raising=False)
    with pytest.raises(OutputLocationError, match=rf"^cannot write to '{tmp_path}': Permission denied$"):
        check_writable(tmp_path)


# ------------------------------------------------------------------------------- atomic files, RunDir


def test_write_text_atomic_leaves_no_tmp_file(tmp_path, monkeypatch):
    path = tmp_path / "a" / "notes.txt"
    write_text_atomic(path, "one")
    monkeypatch.setattr(os, "replace", _raiser(EROFS))
    with pytest.raises(OutputLocationError) as info:
        write_text_atomic(path, "two")
    assert _one_line(info) == f"cannot write to '{path}': Read-only file system"
    assert path.read_text() == "one" and _leftovers(tmp_path) == []


def test_write_json_atomic_full_disk(tmp_path, monkeypatch):
    path = tmp_path / "state.json"
    monkeypatch.setattr(Path, "write_text", _raiser(ENOSPC))
    with pytest.raises(OutputLocationError, match=rf"^cannot write to '{path}': No space left on device$"):
        write_json_atomic(path, {"step": 1})
    assert not path.exists()


@pytest.mark.parametrize(("method", "file"), [("write_env", "env.json"), ("mark_complete", "complete.json")])
def test_rundir_json_writes_name_the_file(tmp_path, monkeypatch, method, file):
    run = RunDir(tmp_path / "run")
    monkeypatch.setattr(Path, "write_text", _raiser(ENOSPC))
    with pytest.raises(OutputLocationError) as info:
        getattr(run, method)({"x": 1})
    assert _one_line(info) == f"cannot write to '{run.path / file}': No space left on device"
    assert _leftovers(tmp_path) == []


def test_rundir_log_metrics_read_only(tmp_path, monkeypatch):
    import rlvr_bench.utils.rundir as rundir

    run = RunDir(tmp_path / "run")
    run.log_metrics({"step": 1})
    monkeypatch.setattr(rundir, "open", _raiser(EROFS), raising=False)
    with pytest.raises(OutputLocationError) as info:
        run.log_metrics({"step": 2})
    assert _one_line(info) == f"cannot write to '{run.metrics_path}': Read-only file system"
    monkeypatch.undo()
    assert run.metrics() == [{"step": 1}]


def test_rundir_check_writable(tmp_path, monkeypatch):
    run = RunDir(tmp_path / "run")
    run.check_writable()
    assert run.path.is_dir()
    monkeypatch.setattr(Path, "mkdir", _raiser(EROFS))
    with pytest.raises(OutputLocationError, match="Read-only file system"):
        RunDir(tmp_path / "other").check_writable()


# -------------------------------------------------------------------------------------------- atomic_dir


def _old_checkpoint(tmp_path: Path) -> Path:
    final = tmp_path / "checkpoints" / "step-2"
    final.mkdir(parents=True)
    (final / "weights.bin").write_text("old")
    return final


def test_atomic_dir_publishes_and_replaces(tmp_path):
    final = _old_checkpoint(tmp_path)
    with atomic_dir(final) as tmp:
        assert tmp == final.with_name("step-2.tmp") and tmp.is_dir() and list(tmp.iterdir()) == []
        (tmp / "weights.bin").write_text("new")
    assert (final / "weights.bin").read_text() == "new"
    assert sorted(p.name for p in final.parent.iterdir()) == ["step-2"]


def test_atomic_dir_removes_a_stale_tmp_first(tmp_path):
    final = tmp_path / "step-1"
    stale = tmp_path / "step-1.tmp"
    stale.mkdir()
    (stale / "half.bin").write_text("x")
    with atomic_dir(final) as tmp:
        assert list(tmp.iterdir()) == []
    assert final.is_dir() and not stale.exists()


def test_atomic_dir_full_disk_in_the_block_keeps_the_old_directory(tmp_path):
    final = _old_checkpoint(tmp_path)

    def save(folder: Path) -> None:  # a save function that runs out of space half way
        (folder / "weights.bin").write_text("part")
        raise OSError(errno.ENOSPC, "No space left on device", str(folder / "weights.bin"))

    with pytest.raises(OutputLocationError) as info:
        with atomic_dir(final) as tmp:
            save(tmp)
    assert _one_line(info) == f"cannot write to '{final}': No space left on device"
    assert (final / "weights.bin").read_text() == "old"
    assert sorted(p.name for p in final.parent.iterdir()) == ["step-2"]


def test_atomic_dir_names_the_final_directory_for_a_nested_atomic_write(tmp_path, monkeypatch):
    final = _old_checkpoint(tmp_path)
    monkeypatch.setattr(Path, "write_text", _raiser(ENOSPC))
    with pytest.raises(OutputLocationError) as info:
        with atomic_dir(final) as tmp:
            write_json_atomic(tmp / "rlvr_state.json", {"step": 3})
    assert _one_line(info) == f"cannot write to '{final}': No space left on device"
    monkeypatch.undo()
    assert (final / "weights.bin").read_text() == "old" and _leftovers(tmp_path) == []


def test_atomic_dir_other_errors_pass_unchanged_after_cleanup(tmp_path):
    final = _old_checkpoint(tmp_path)
    with pytest.raises(ValueError, match="^bad tensor$"):
        with atomic_dir(final):
            raise ValueError("bad tensor")
    with pytest.raises(KeyboardInterrupt):
        with atomic_dir(final):
            raise KeyboardInterrupt
    assert (final / "weights.bin").read_text() == "old" and _leftovers(tmp_path) == []


def test_atomic_dir_hidden_full_disk_is_named(tmp_path, monkeypatch):
    """torch.save reports a full disk as a RuntimeError: with no free space left it is named as such."""
    final = _old_checkpoint(tmp_path)
    monkeypatch.setattr(fsio.shutil, "disk_usage", lambda p: SimpleNamespace(total=100, used=100, free=0))
    with pytest.raises(OutputLocationError, match=rf"^cannot write to '{final}': No space left on device$"):
        with atomic_dir(final):
            raise RuntimeError("[enforce fail at inline_container.cc] PytorchStreamWriter failed writing file")
    assert (final / "weights.bin").read_text() == "old" and _leftovers(tmp_path) == []


def test_atomic_dir_failed_rename_restores_the_old_directory(tmp_path, monkeypatch):
    final = _old_checkpoint(tmp_path)
    real_replace = os.replace

    def replace(src, dst):
        if str(src).endswith(".tmp"):
            raise OSError(errno.EROFS, os.strerror(errno.EROFS))
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", replace)
    with pytest.raises(OutputLocationError, match=rf"^cannot write to '{final}': Read-only file system$"):
        with atomic_dir(final) as tmp:
            (tmp / "weights.bin").write_text("new")
    assert (final / "weights.bin").read_text() == "old" and _leftovers(tmp_path) == []


def test_atomic_dir_cannot_create_the_tmp_directory(tmp_path, monkeypatch):
    final = tmp_path / "ro" / "step-1"
    monkeypatch.setattr(Path, "mkdir", _raiser(EROFS))
    ran = []
    with pytest.raises(OutputLocationError, match=rf"^cannot write to '{final}': Read-only file system$"):
        with atomic_dir(final):
            ran.append(1)
    assert ran == []


# ----------------------------------------------------------------------------------------------- CLI


def _cli(monkeypatch, capsys, err: BaseException) -> tuple[int, list[str]]:
    import rlvr_bench.cli as cli

    monkeypatch.setattr(cli, "_cmd_env", _raiser(err))
    code = cli.main(["env"])
    return code, capsys.readouterr().err.strip().splitlines()


@pytest.mark.parametrize(("number", "reason"), [(errno.EROFS, "Read-only file system"),
                                                (errno.ENOSPC, "No space left on device"),
                                                (errno.EACCES, "Permission denied")])
def test_cli_bare_oserror_is_one_line(monkeypatch, capsys, number, reason):
    code, lines = _cli(monkeypatch, capsys, OSError(number, os.strerror(number), "/runs/a/metrics.jsonl"))
    assert (code, lines) == (2, [f"error: cannot write to '/runs/a/metrics.jsonl': {reason}"])


def test_cli_oserror_without_a_file_name(monkeypatch, capsys):
    code, lines = _cli(monkeypatch, capsys, OSError(errno.ENOSPC, os.strerror(errno.ENOSPC)))
    assert (code, lines) == (2, ["error: cannot write output: No space left on device"])


def test_cli_output_location_error_is_one_line(monkeypatch, capsys, tmp_path):
    run = RunDir(tmp_path / "run")
    monkeypatch.setattr(Path, "write_text", _raiser(ENOSPC))
    with pytest.raises(OutputLocationError) as info:
        run.write_env({})
    code, lines = _cli(monkeypatch, capsys, info.value)
    assert (code, lines) == (2, [f"error: cannot write to '{run.env_path}': No space left on device"])


def test_cli_other_oserrors_are_not_hidden(monkeypatch, capsys):
    with pytest.raises(ConnectionResetError):
        _cli(monkeypatch, capsys, ConnectionResetError(errno.ECONNRESET, "Connection reset by peer"))
