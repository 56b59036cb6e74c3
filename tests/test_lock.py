"""The lock (requirements-lock.txt + constraints-cpu.txt) agrees with pyproject.toml, fails when it does not,
and `rlvr-bench env` reports how the environment departs from it.

The disagreeing cases are temporary copies of the real files with one thing changed; the dependency tree is
read from this venv's installed metadata (``make test`` installs it from the lock).
"""

from __future__ import annotations

import importlib.metadata as md
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from rlvr_bench.utils import lockcheck
from rlvr_bench.utils.lockfile import (
    LOCK_FILE,
    TORCH_CONSTRAINTS,
    LockError,
    compare_installed,
    lock_record,
    matches_pin,
    parse_pins,
    read_pins,
)

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """A copy of the checkout's pyproject.toml and lock files."""
    for name in ("pyproject.toml", LOCK_FILE, TORCH_CONSTRAINTS):
        shutil.copy2(ROOT / name, tmp_path / name)
    return tmp_path


def _problems(root: Path) -> list[str]:
    return lockcheck.check(root / "pyproject.toml", [root / LOCK_FILE, root / TORCH_CONSTRAINTS])


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, old
    path.write_text(text.replace(old, new, 1))


def test_the_committed_lock_agrees_with_pyproject_and_the_installed_venv(capsys):
    assert lockcheck.main(["--installed"]) == 0, capsys.readouterr().err
    assert "agree" in capsys.readouterr().err


def test_the_lock_is_what_freeze_writes_for_this_venv(root):
    """The committed lock is exactly the documented freeze of the environment `make install` built from it."""
    out = root / "fresh.txt"
    assert lockcheck.main(["freeze", "--out", str(out)]) == 0
    assert parse_pins(out.read_text()) == parse_pins((ROOT / LOCK_FILE).read_text())
    assert "torch" not in parse_pins(out.read_text()) and "rlvr-bench" not in parse_pins(out.read_text())


def test_a_new_dependency_without_a_pin_fails(root):
    _edit(root / "pyproject.toml", '  "psutil>=', '  "left-pad-xyz>=1.0",\n  "psutil>=')
    problems = _problems(root)
    assert any("left-pad-xyz" in p and "no pin" in p for p in problems), problems


def test_a_pin_below_the_lower_bound_fails(root):
    _edit(root / "pyproject.toml", '"trl>=1.16"', '"trl>=99.0"')
    problems = _problems(root)
    assert any(re.search(r"pins trl==[\d.]+, outside pyproject.toml's trl>=99.0", p) for p in problems), problems


def test_a_pin_that_nothing_needs_fails(root):
    with (root / LOCK_FILE).open("a") as fh:
        fh.write("six==1.17.0\n")
    problems = _problems(root)
    assert problems == ["the lock pins six==1.17.0, which nothing in pyproject.toml's dependency tree needs"]


def test_an_indirect_dependency_without_a_pin_fails(root):
    lock = root / LOCK_FILE
    lock.write_text("".join(line for line in lock.read_text().splitlines(keepends=True)
                            if not line.startswith("mpmath==")))
    assert _problems(root) == ["mpmath is needed (by sympy) but the lock has no pin for it"]


def test_torch_must_be_pinned_by_the_constraints_file(root):
    (root / TORCH_CONSTRAINTS).write_text("# no torch\n")
    problems = _problems(root)
    assert any(p.startswith("pyproject.toml needs torch>=") for p in problems), problems


def test_a_pin_differing_from_the_installed_version_is_reported(root):
    version = md.version("tqdm")
    _edit(root / LOCK_FILE, f"tqdm=={version}", "tqdm==4.66.3")
    problems = lockcheck.check(root / "pyproject.toml", [root / LOCK_FILE, root / TORCH_CONSTRAINTS],
                               installed=True)
    assert f"installed tqdm {version} differs from the lock's 4.66.3" in problems
    assert any(p.startswith("cannot read the dependencies of tqdm") for p in problems), problems


def test_the_command_line_prints_one_line_per_problem_and_exits_1(root, capsys):
    _edit(root / "pyproject.toml", '"trl>=1.16"', '"trl>=99.0"')
    assert lockcheck.main(["--root", str(root)]) == 1
    err = capsys.readouterr().err.splitlines()
    assert err[0].startswith("lock: the lock pins trl==") and err[-1].endswith(": 1 problem")


@pytest.mark.parametrize("line, message", [
    ("trl>=1.16", "is not an exact pin"),
    ("trl[vllm]==1.16.0", "is not an exact pin"),
    ("trl==1.*", "is not an exact pin"),
    ("trl==1.16.0; python_version < '3'", "is not an exact pin"),
    ("-r other.txt", "is not a pin"),
    ("trl==1.16.0\nTRL==1.16.0", "TRL is pinned twice"),
])
def test_a_malformed_lock_is_one_line_error(root, capsys, line, message):
    (root / LOCK_FILE).write_text(f"# comment\n\n{line}\n")
    with pytest.raises(LockError, match=re.escape(message)):
        read_pins([root / LOCK_FILE])
    assert lockcheck.main(["--root", str(root)]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"error: {root / LOCK_FILE}:") and "\n" not in err


def test_parse_pins_canonicalises_names_and_skips_comments():
    text = "# header\nPyYAML==6.0.4  # a comment\n\nJinja2==3.1.6\ntyping_extensions==4.16.0\n"
    assert parse_pins(text) == {"pyyaml": "6.0.4", "jinja2": "3.1.6", "typing-extensions": "4.16.0"}


def test_the_same_package_in_two_lock_files_is_an_error(root):
    (root / TORCH_CONSTRAINTS).write_text("tqdm==4.70.1\ntorch==2.13.0\n")
    with pytest.raises(LockError, match="tqdm is already pinned"):
        read_pins([root / LOCK_FILE, root / TORCH_CONSTRAINTS])


def test_dependency_tree_follows_extras_and_markers():
    """Hand-made metadata: a[x] pulls c only through the extra; d's marker is false on Python 3."""
    meta = {"a": ["b>=1", 'c; extra == "x"', 'd; python_version < "3"'], "b": ["e"], "c": [], "e": [], "f": ["g"]}
    needed, unreadable = lockcheck.dependency_tree([Requirement("a")], meta.get)
    assert needed == {"a": "pyproject.toml", "b": "a", "e": "b"} and unreadable == []
    needed, _ = lockcheck.dependency_tree([Requirement("a[x]"), Requirement("h")], meta.get)
    assert needed == {"a": "pyproject.toml", "b": "a", "c": "a", "e": "b", "h": "pyproject.toml"}
    assert lockcheck.dependency_tree([Requirement("h")], meta.get)[1] == ["h"]  # no metadata: unreadable


def test_tree_problems_on_hand_made_metadata():
    meta = {"a": ["b"], "b": [], "z": []}
    pins = {"a": "1.0", "z": "2.0"}
    assert lockcheck.tree_problems([Requirement("a")], pins, meta.get) == [
        "b is needed (by a) but the lock has no pin for it",
        "the lock pins z==2.0, which nothing in pyproject.toml's dependency tree needs",
    ]


def test_matches_pin_ignores_local_labels_only():
    assert matches_pin("2.13.0+cpu", "2.13.0") and matches_pin("2.13.0+cu128", "2.13.0")
    assert matches_pin("6.0.4", "6.0.4") and not matches_pin("6.0.3", "6.0.4")
    assert not matches_pin("2.14.0+cpu", "2.13.0")


def test_compare_installed_hand_computed():
    pins = {"a": "1.0", "torch": "2.13.0", "gone": "3.0"}
    installed = {"a": "1.1", "torch": "2.13.0+cpu", "extra-pkg": "0.1", "pip": "26.0", "rlvr-bench": "0.1.0"}
    assert compare_installed(pins, installed) == {
        "matches": False, "differs": {"a": {"lock": "1.0", "installed": "1.1"}}, "missing": ["gone"],
        "not_in_lock": ["extra-pkg"]}
    assert compare_installed({"torch": "2.13.0"}, {"torch": "2.13.0+cpu"})["matches"]


def test_lock_record_reports_differences_and_missing_packages(tmp_path):
    lock = tmp_path / "lock.txt"
    lock.write_text(f"tqdm==0.0.1\nnot-installed-xyz==1.0\npyyaml=={md.version('pyyaml')}\n")
    record = lock_record([lock])
    assert record["files"] == [str(lock)] and record["pins"] == 3 and record["matches"] is False
    assert record["differs"] == {"tqdm": {"lock": "0.0.1", "installed": md.version("tqdm")}}
    assert record["missing"] == ["not-installed-xyz"] and "transformers" in record["not_in_lock"]


def test_lock_record_of_a_malformed_lock_or_none_is_a_note_not_an_exception(tmp_path):
    bad = tmp_path / "lock.txt"
    bad.write_text("tqdm>=1\n")
    assert "is not an exact pin" in lock_record([bad])["error"]
    assert "not run from a checkout" in lock_record([])["error"]


def test_rlvr_bench_env_has_the_lock_field(capsys):
    from rlvr_bench.cli import main

    assert main(["env"]) == 0
    lock = json.loads(capsys.readouterr().out)["lock"]
    assert lock["files"] == [str(ROOT / LOCK_FILE), str(ROOT / TORCH_CONSTRAINTS)]
    assert lock["pins"] == len(read_pins([ROOT / LOCK_FILE, ROOT / TORCH_CONSTRAINTS]))
    assert lock["matches"] is True and lock["differs"] == {} and lock["missing"] == []


def _make_n(*args: str) -> str:
    proc = subprocess.run(["make", "-n", "-B", *args], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_make_install_uses_the_lock_and_make_lock_resolves_without_it(tmp_path):
    """The Makefile's logic, dry-run: install with both constraint files; lock from a fresh unpinned venv."""
    venv = tmp_path / "venv"
    install = _make_n("install", f"VENV={venv}")
    assert f"{venv}/bin/pip install -q -c constraints-cpu.txt -c requirements-lock.txt -e \".[dev,code]\"" in install
    assert "-c requirements-lock.txt" not in _make_n("install", f"VENV={venv}", "LOCK=")
    gpu = _make_n("install", f"VENV={venv}", "CONSTRAINTS=")
    assert "constraints-cpu.txt" not in gpu and "-c requirements-lock.txt -e" in gpu
    out = tmp_path / "new-lock.txt"
    lock = _make_n("lock", f"LOCK_OUT={out}")
    steps = ["-m venv", "-c constraints-cpu.txt torch", '-c constraints-cpu.txt -e ".[dev,code]"',
             f'lockcheck freeze --extras dev,code --out "{out}"', f'--lock "{out}" --installed']
    positions = [lock.find(s) for s in steps]
    assert -1 not in positions and positions == sorted(positions), lock
    assert "requirements-lock.txt" not in lock  # resolved from pyproject.toml's bounds, not from the old lock


def test_ci_checks_the_lock_before_the_tests_with_the_installed_extras():
    make = (ROOT / "Makefile").read_text()
    assert re.search(r"^EXTRAS \?= (.+)$", make, re.M).group(1) == ",".join(lockcheck.DEFAULT_EXTRAS)
    assert "-m rlvr_bench.utils.lockcheck --extras $(EXTRAS) --installed" in make.split("\nlockcheck:", 1)[1]
    lock_python = re.search(r"^LOCK_PYTHON = (.+)$", make, re.M).group(1)
    assert f"(CPython {lock_python}," in (ROOT / LOCK_FILE).read_text()  # the lock's header
    steps = [line for line in (ROOT / ".ci" / "run").read_text().splitlines() if line.startswith("make ")]
    assert steps.index("make lockcheck") < steps.index("make test"), steps
