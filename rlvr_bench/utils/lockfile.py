"""The dependency lock: exact pins read from ``requirements-lock.txt`` and ``constraints-cpu.txt``, compared
with what is installed.

``requirements-lock.txt`` (repository root) pins every direct and indirect dependency of
``pip install -e ".[dev,code]"`` except torch, at the versions CI ran; ``constraints-cpu.txt`` pins torch (the
CPU wheel on the development machines; a GPU install drops that file and keeps the lock, see README). Both
are pip constraints files that ``make install`` passes with ``-c``; together they are "the lock".

:func:`lock_record` is the ``lock`` field of ``env.json`` and ``rlvr-bench env``: the files compared and every
installed version that differs from them, every pinned package that is missing, and every installed package
the lock does not pin. :mod:`rlvr_bench.utils.lockcheck` checks the lock against ``pyproject.toml``.

An installed version matches a pin under PEP 440 ``==``: ``torch 2.13.0+cpu`` (or ``+cu128``) matches
``torch==2.13.0``.
"""

from __future__ import annotations

import importlib.metadata as md
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from rlvr_bench.errors import UserError

__all__ = ["LOCK_FILE", "PROJECT", "TORCH_CONSTRAINTS", "LockError", "checkout_root", "compare_installed",
           "default_lock_files", "installed_versions", "lock_record", "matches_pin", "parse_pins", "read_pins"]

LOCK_FILE = "requirements-lock.txt"
TORCH_CONSTRAINTS = "constraints-cpu.txt"
PROJECT = "rlvr-bench"
# installer tools a venv may hold without any dependency asking for them: not reported as "not_in_lock"
_TOOLS = frozenset({"pip", "setuptools", "wheel", PROJECT})


class LockError(UserError):
    """A lock file that cannot be read as exact pins (message: one line)."""


def checkout_root() -> Path:
    """The directory holding ``pyproject.toml`` when the package runs from a checkout (editable install)."""
    return Path(__file__).resolve().parents[2]


def default_lock_files(root: Path | None = None) -> list[Path]:
    """``requirements-lock.txt`` and ``constraints-cpu.txt`` of the checkout, those that exist."""
    root = checkout_root() if root is None else root
    return [p for p in (root / LOCK_FILE, root / TORCH_CONSTRAINTS) if p.is_file()]


def parse_pins(text: str, source: str = "<lock>") -> dict[str, str]:
    """``{canonical name: version}`` of a lock's ``name==version`` lines (comments and blank lines skipped).

    Raises :class:`LockError` naming ``source:line`` for anything else (a range, an extra, a marker, a URL, an
    include, a name pinned twice): a lock that does not say exactly one version per package is no lock.
    """
    pins: dict[str, str] = {}
    for no, raw in enumerate(text.splitlines(), 1):
        line = raw.split(" #", 1)[0].strip() if not raw.lstrip().startswith("#") else ""
        if not line:
            continue
        try:
            req = Requirement(line)
        except InvalidRequirement:
            raise LockError(f"{source}:{no}: {line!r} is not a pin 'name==version'") from None
        specs = list(req.specifier)
        if (req.url or req.extras or req.marker or len(specs) != 1 or specs[0].operator != "=="
                or specs[0].version.endswith("*")):
            raise LockError(f"{source}:{no}: {line!r} is not an exact pin 'name==version'")
        name = canonicalize_name(req.name)
        if name in pins:
            raise LockError(f"{source}:{no}: {req.name} is pinned twice")
        pins[name] = specs[0].version
    return pins


def read_pins(paths: Iterable[str | Path]) -> dict[str, str]:
    """The pins of several lock files together; a package pinned in two of them is a :class:`LockError`."""
    pins: dict[str, str] = {}
    for path in paths:
        path = Path(path)
        try:
            text = path.read_text()
        except OSError as exc:
            raise LockError(f"cannot read lock file {path}: {exc.strerror or exc}") from None
        for name, version in parse_pins(text, str(path)).items():
            if name in pins:
                raise LockError(f"{path}: {name} is already pinned by another lock file")
            pins[name] = version
    return pins


def installed_versions() -> dict[str, str]:
    """``{canonical name: version}`` of every distribution importable from ``sys.path`` (first one wins)."""
    found: dict[str, str] = {}
    for dist in md.distributions():
        name = dist.metadata["Name"]
        if name:
            found.setdefault(canonicalize_name(name), dist.version)
    return found


def matches_pin(installed: str, pinned: str) -> bool:
    """Whether an installed version satisfies ``==pinned`` (PEP 440: a local label such as ``+cpu`` is ignored)."""
    try:
        return SpecifierSet(f"=={pinned}").contains(Version(installed), prereleases=True)
    except InvalidVersion:
        return installed == pinned


def compare_installed(pins: Mapping[str, str], installed: Mapping[str, str]) -> dict[str, Any]:
    """How an environment departs from a lock.

    Returns:
        ``differs``: ``{name: {"lock": pinned, "installed": version}}``; ``missing``: pinned names not installed;
        ``not_in_lock``: installed names the lock does not pin (pip, setuptools, wheel and rlvr-bench aside);
        ``matches``: no difference and nothing missing.
    """
    differs = {n: {"lock": v, "installed": installed[n]} for n, v in sorted(pins.items())
               if n in installed and not matches_pin(installed[n], v)}
    missing = sorted(n for n in pins if n not in installed)
    extra = sorted(n for n in installed if n not in pins and n not in _TOOLS)
    return {"matches": not differs and not missing, "differs": differs, "missing": missing, "not_in_lock": extra}


def lock_record(files: Iterable[str | Path] | None = None) -> dict[str, Any]:
    """The ``lock`` field of the environment record: the lock files compared and how the environment departs.

    ``files`` defaults to the checkout's lock files; outside a checkout (a wheel install) there are none and the
    record says so. A malformed lock file is reported in ``error``, never raised (the record must be written).
    """
    paths = [Path(p) for p in files] if files is not None else default_lock_files()
    record: dict[str, Any] = {"files": [str(p) for p in paths]}
    if not paths:
        record["error"] = f"no {LOCK_FILE} next to the package (not run from a checkout)"
        return record
    try:
        pins = read_pins(paths)
    except LockError as exc:
        record["error"] = str(exc)
        return record
    record["pins"] = len(pins)
    record.update(compare_installed(pins, installed_versions()))
    return record
