"""The shipped recipes travel with the package: a wheel holds them and an installed copy finds them.

The wheel is built from a copy of the sources (so the checkout gets no build/ or egg-info changes), with the
venv's pip, offline (no build isolation, no index), then installed with ``--target`` and imported from a
temporary working directory with only that target on ``PYTHONPATH``: the checkout is not on the path.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

_CHECK = """
import json, sys
from pathlib import Path
import rlvr_bench
from rlvr_bench.recipes import recipes_dir, resolve_recipe, validate_all
from rlvr_bench.study import default_study_path
rows, errors = validate_all(recipes_dir())
print(json.dumps({"module": rlvr_bench.__file__, "recipes": str(recipes_dir()), "rows": [r for r, _ in rows],
                  "errors": errors, "toy": str(resolve_recipe("toy/grpo.yaml")),
                  "study": str(default_study_path()), "study_exists": default_study_path().is_file()}))
"""


def _pip(*args: str, cwd: Path) -> None:
    env = {**os.environ, "PIP_NO_INDEX": "1", "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    proc = subprocess.run([sys.executable, "-m", "pip", *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    src = tmp_path_factory.mktemp("src")
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, src / name)
    shutil.copytree(ROOT / "rlvr_bench", src / "rlvr_bench",
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    out = tmp_path_factory.mktemp("wheel")
    _pip("wheel", "--no-deps", "--no-build-isolation", "-w", str(out), ".", cwd=src)
    (found,) = out.glob("rlvr_bench-*.whl")
    return found


def test_the_wheel_holds_every_shipped_recipe(wheel):
    shipped = {p.relative_to(ROOT / "rlvr_bench").as_posix()
               for p in (ROOT / "rlvr_bench" / "recipe_files").rglob("*.yaml")}
    assert len(shipped) > 20
    with zipfile.ZipFile(wheel) as zf:
        names = {n.removeprefix("rlvr_bench/") for n in zf.namelist()}
    assert shipped <= names, sorted(shipped - names)


def test_an_installed_copy_lists_and_validates_its_recipes(wheel, tmp_path):
    target = tmp_path / "site"
    _pip("install", "--no-deps", "--target", str(target), str(wheel), cwd=tmp_path)
    work = tmp_path / "work"
    work.mkdir()
    env = {**os.environ, "PYTHONPATH": str(target)}
    proc = subprocess.run([sys.executable, "-c", _CHECK], cwd=work, env=env, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    got = json.loads(proc.stdout.strip().splitlines()[-1])
    assert got["module"].startswith(str(target)), got["module"]  # the installed copy, not the checkout
    assert got["recipes"].startswith(str(target))
    assert not got["errors"], got["errors"]
    assert {"toy/grpo.yaml", "study/toy.yaml", "verl/toy-grpo.yaml"} <= set(got["rows"])
    assert got["toy"].startswith(str(target)) and got["study_exists"]


def test_the_installed_command_lists_recipes_and_plans_the_default_study(wheel, tmp_path):
    """`rlvr-bench recipes` and `rlvr-bench study --dry-run` of the installed copy, from another directory."""
    target = tmp_path / "site"
    _pip("install", "--no-deps", "--target", str(target), str(wheel), cwd=tmp_path)
    work = tmp_path / "elsewhere"
    work.mkdir()
    env = {**os.environ, "PYTHONPATH": str(target)}

    def cli(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "rlvr_bench.cli", *args], cwd=work, env=env,
                              capture_output=True, text=True, timeout=300)

    listed = cli("recipes")
    assert listed.returncode == 0, listed.stderr[-3000:]
    shipped = len(list((ROOT / "rlvr_bench" / "recipe_files").rglob("*.yaml"))) - 4  # accelerate/ configs
    assert f"{shipped} recipes valid, 0 broken" in listed.stderr
    plan = cli("study", "--dry-run")
    assert plan.returncode == 0, plan.stderr[-3000:]
    assert "study toy-study: 22 runs" in plan.stdout and str(target) in plan.stdout
    assert "nothing was trained" in plan.stdout and not (work / "runs").exists()
