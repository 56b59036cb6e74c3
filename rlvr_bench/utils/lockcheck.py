"""Check that the lock and ``pyproject.toml`` agree, and write the lock from an environment.

``python -m rlvr_bench.utils.lockcheck`` (CI runs it with ``--installed`` before ``make test``; so does
``tests/test_lock.py``) prints one line per problem and exits 1 when:

* a dependency of ``pyproject.toml`` (with the extras ``make install`` installs, ``dev,code``) has no pin;
* a pin lies outside ``pyproject.toml``'s specifier for that package (its lower bound, say);
* the dependency tree of those requirements needs a package the lock does not pin, or the lock pins a package
  that nothing in the tree needs (markers evaluated for this interpreter; the lock is for CPython 3.11 on
  Linux x86_64, what CI runs). The tree is read from the installed distributions' metadata, so the packages
  must be installed at their pinned versions (``make install``); one that is not is reported as such;
* with ``--installed``: an installed version differs from its pin, or a pinned package is missing.

``python -m rlvr_bench.utils.lockcheck freeze --out requirements-lock.txt`` writes the lock from the running
environment: the dependency tree of ``pyproject.toml`` at its installed versions, less torch (pinned in
``constraints-cpu.txt``) and the project itself. ``make lock`` runs it in a fresh venv (see the Makefile).

It lives in the package (not a ``tools/`` script) because ``rlvr-bench env`` reads the same lock
(:mod:`rlvr_bench.utils.lockfile`) and because ``python -m`` finds it in any venv that has the project,
including the temporary one of ``make lock``.
"""

from __future__ import annotations

import argparse
import importlib.metadata as md
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path

from packaging.markers import Marker
from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from rlvr_bench.utils.lockfile import (
    LOCK_FILE,
    PROJECT,
    TORCH_CONSTRAINTS,
    LockError,
    checkout_root,
    compare_installed,
    installed_versions,
    read_pins,
)

__all__ = ["DEFAULT_EXTRAS", "agreement_problems", "check", "dependency_tree", "freeze_text", "installed_requires",
           "main", "project_requirements", "tree_problems"]

DEFAULT_EXTRAS = ("dev", "code")  # the extras `make install` installs (Makefile EXTRAS)

# requires_of(name) -> the Requires-Dist lines of that package, or None when they cannot be read
RequiresOf = Callable[[str], "list[str] | None"]


def _toml(path: Path) -> dict:
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # the dev extra installs tomli on Python 3.10
        import tomli as tomllib
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except OSError as exc:
        raise LockError(f"cannot read {path}: {exc.strerror or exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise LockError(f"{path} is not valid TOML: {exc}") from None


def project_requirements(pyproject: str | Path, extras: Iterable[str] = DEFAULT_EXTRAS) -> list[Requirement]:
    """``[project] dependencies`` plus the named ``optional-dependencies`` of a ``pyproject.toml``."""
    path = Path(pyproject)
    project = _toml(path).get("project", {})
    lines = list(project.get("dependencies", []))
    optional = project.get("optional-dependencies", {})
    for extra in extras:
        if extra not in optional:
            raise LockError(f"{path} has no optional-dependencies extra {extra!r} (has: {', '.join(optional)})")
        lines += optional[extra]
    try:
        return [Requirement(line) for line in lines]
    except InvalidRequirement as exc:
        raise LockError(f"{path}: {exc}") from None


def _applies(marker: Marker | None, extras: Iterable[str]) -> bool:
    """Whether a requirement's marker holds on this interpreter for a package installed with ``extras``."""
    return marker is None or any(marker.evaluate({"extra": e}) for e in ("", *extras))


def agreement_problems(requirements: Sequence[Requirement], pins: Mapping[str, str]) -> list[str]:
    """Direct requirements without a pin, and pins outside their requirement's specifier."""
    problems = []
    for req in requirements:
        if not _applies(req.marker, ()):
            continue
        name = canonicalize_name(req.name)
        if name not in pins:
            problems.append(f"pyproject.toml needs {req} but the lock has no pin for {name}")
        elif req.specifier and not req.specifier.contains(pins[name], prereleases=True):
            problems.append(f"the lock pins {name}=={pins[name]}, outside pyproject.toml's {req}")
    return problems


def dependency_tree(requirements: Sequence[Requirement], requires_of: RequiresOf) -> tuple[dict[str, str], list[str]]:
    """Every package the requirements need, transitively, with extras and markers.

    Returns:
        ``({name: the package that first needed it, or "pyproject.toml"}, [names whose requirements could not
        be read])``.
    """
    needed: dict[str, str] = {}
    extras_of: dict[str, set[str]] = {}
    unreadable: list[str] = []
    queue = [(req, "pyproject.toml") for req in requirements if _applies(req.marker, ())]
    while queue:
        req, parent = queue.pop(0)
        name = canonicalize_name(req.name)
        wanted = set(req.extras)
        if name in needed and wanted <= extras_of[name]:
            continue
        needed.setdefault(name, parent)
        extras_of.setdefault(name, set()).update(wanted)
        lines = requires_of(name)
        if lines is None:
            if name not in unreadable:
                unreadable.append(name)
            continue
        for line in lines:
            sub = Requirement(line)
            if _applies(sub.marker, extras_of[name]):
                queue.append((sub, name))
    return needed, unreadable


def installed_requires(pins: Mapping[str, str] | None = None) -> RequiresOf:
    """``requires_of`` from the installed metadata; with ``pins``, None for a package not installed at its pin."""
    installed = installed_versions()

    def requires_of(name: str) -> list[str] | None:
        if name not in installed:
            return None
        if pins is not None and name in pins and compare_installed({name: pins[name]}, installed)["differs"]:
            return None
        return md.distribution(name).requires or []

    return requires_of


def tree_problems(requirements: Sequence[Requirement], pins: Mapping[str, str], requires_of: RequiresOf) -> list[str]:
    """Packages the tree needs that the lock does not pin, and pins that nothing in the tree needs."""
    needed, unreadable = dependency_tree(requirements, requires_of)
    installed = installed_versions()
    problems = [f"cannot read the dependencies of {n}: installed "
                f"{installed.get(n, 'nothing')}, the lock pins {pins.get(n, 'nothing')} (run `make install`)"
                for n in unreadable]
    problems += [f"{n} is needed (by {needed[n]}) but the lock has no pin for it"
                 for n in sorted(needed) if n not in pins and n not in unreadable]
    problems += [f"the lock pins {n}=={v}, which nothing in pyproject.toml's dependency tree needs"
                 for n, v in sorted(pins.items()) if n not in needed]
    return problems


def check(pyproject: str | Path, lock_files: Sequence[str | Path], *, extras: Iterable[str] = DEFAULT_EXTRAS,
          installed: bool = False, requires_of: RequiresOf | None = None) -> list[str]:
    """Every problem with the lock (see the module docstring); [] when the lock and pyproject.toml agree."""
    requirements = project_requirements(pyproject, extras)
    pins = read_pins(lock_files)
    problems = agreement_problems(requirements, pins)
    problems += tree_problems(requirements, pins, requires_of or installed_requires(pins))
    if installed:
        diff = compare_installed(pins, installed_versions())
        problems += [f"installed {n} {d['installed']} differs from the lock's {d['lock']}"
                     for n, d in diff["differs"].items()]
        problems += [f"{n} is pinned but not installed" for n in diff["missing"]]
    return problems


def freeze_text(pyproject: str | Path, *, extras: Iterable[str] = DEFAULT_EXTRAS,
                exclude: Iterable[str] = ("torch",)) -> str:
    """The lock for the running environment: the tree of ``pyproject.toml`` at its installed versions."""
    extras = tuple(extras)
    needed, unreadable = dependency_tree(project_requirements(pyproject, extras), installed_requires())
    if unreadable:
        raise LockError(f"not installed, so not lockable: {', '.join(sorted(unreadable))}")
    installed = installed_versions()
    skip = {canonicalize_name(n) for n in exclude} | {PROJECT}
    py = ".".join(map(str, sys.version_info[:2]))
    lines = [
        f"# {LOCK_FILE}: the exact version of every direct and indirect dependency of",
        f'# `pip install -e ".[{",".join(extras)}]"` (CPython {py}, {sys.platform}), torch aside: it is pinned in',
        f"# {TORCH_CONSTRAINTS}. `make install` installs with `-c {LOCK_FILE}`; `make lock` refreshes it;",
        "# `python -m rlvr_bench.utils.lockcheck` checks it against pyproject.toml (CI and tests/test_lock.py do).",
        f"# Written by: python -m rlvr_bench.utils.lockcheck freeze --extras {','.join(extras)} --out {LOCK_FILE}",
    ]
    lines += [f"{n}=={installed[n]}" for n in sorted(needed) if n not in skip]
    return "\n".join(lines) + "\n"


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m rlvr_bench.utils.lockcheck", description=__doc__.split("\n")[0])
    p.add_argument("action", nargs="?", choices=("check", "freeze"), default="check")
    p.add_argument("--root", type=Path, default=None, help="the checkout (default: the one holding this package)")
    p.add_argument("--pyproject", type=Path, default=None, help="default: ROOT/pyproject.toml")
    p.add_argument("--lock", type=Path, default=None, help=f"default: ROOT/{LOCK_FILE}")
    p.add_argument("--constraints", default=None, help=f"the torch pin (default: ROOT/{TORCH_CONSTRAINTS}; '' = none)")
    p.add_argument("--extras", default=",".join(DEFAULT_EXTRAS), help="extras installed (default: %(default)s)")
    p.add_argument("--installed", action="store_true", help="check: the environment is also exactly the lock")
    p.add_argument("--out", type=Path, default=None, help="freeze: write here (default: print)")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Command line (see the module docstring): 0 when the lock agrees, 1 with one line per problem."""
    args = _parser().parse_args(argv)
    root = args.root or checkout_root()
    pyproject = args.pyproject or root / "pyproject.toml"
    lock = args.lock or root / LOCK_FILE
    constraints = root / TORCH_CONSTRAINTS if args.constraints is None else args.constraints
    extras = tuple(e for e in args.extras.split(",") if e)
    try:
        if args.action == "freeze":
            text = freeze_text(pyproject, extras=extras, exclude=read_pins([constraints]) if constraints else ())
            if args.out is None:
                sys.stdout.write(text)
            else:
                args.out.write_text(text)
                pins = sum(1 for line in text.splitlines() if not line.startswith("#"))
                print(f"wrote {args.out}: {pins} pins", file=sys.stderr)
            return 0
        problems = check(pyproject, [lock, *([constraints] if constraints else [])], extras=extras,
                         installed=args.installed)
    except LockError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    for line in problems:
        print(f"lock: {line}", file=sys.stderr)
    what = f"{lock} and {pyproject}" + (" and the installed environment" if args.installed else "")
    count = f"{len(problems)} problem" + ("s" if len(problems) > 1 else "")
    print(f"{what}: {count if problems else 'agree'}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
