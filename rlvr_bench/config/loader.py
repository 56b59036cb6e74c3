"""YAML recipes -> validated dataclasses, with ``section.key=value`` overrides.

Every user mistake becomes one ``ConfigError`` line that names the file, the key, the bad value and what
is allowed (with a "did you mean" suggestion for misspelled keys). The CLI prints that line and exits 2:
no traceback for user mistakes.
"""

from __future__ import annotations

import copy
import dataclasses
import difflib
import types
import typing
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml

from rlvr_bench.config.schema import RecipeConfig
from rlvr_bench.errors import UserError

__all__ = [
    "ConfigError",
    "apply_overrides",
    "config_from_dict",
    "config_to_dict",
    "field_help",
    "load_config",
    "save_config",
]


class ConfigError(UserError):
    """A recipe mistake, described in one line."""


_NONE = type(None)


def load_config(path: str | Path, overrides: Iterable[str] = (), *, cls: type = RecipeConfig) -> Any:
    """Load, override and validate a recipe file.

    Args:
        path: YAML recipe.
        overrides: ``section.key=value`` strings (values parsed as YAML).
        cls: the dataclass to build (``RecipeConfig`` or a subclass).
    """
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: recipe file not found")
    try:
        raw = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or "syntax error"
        raise ConfigError(f"{path}: invalid YAML{where}: {problem}") from None
    if raw is None:
        raise ConfigError(f"{path}: empty recipe (expected a mapping with at least 'method')")
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: a recipe must be a mapping of sections, got {type(raw).__name__}")
    raw = apply_overrides(raw, overrides, source=str(path), cls=cls)
    cfg = config_from_dict(raw, source=str(path), cls=cls)
    if getattr(cfg, "output_dir", "") is None and hasattr(cfg, "seed"):
        cfg.output_dir = str(Path("runs") / path.stem / f"s{cfg.seed}")
    return cfg


def apply_overrides(raw: Mapping[str, Any], overrides: Iterable[str], *, source: str = "<overrides>",
                    cls: type = RecipeConfig) -> dict[str, Any]:
    """Return a copy of ``raw`` with ``a.b.c=value`` overrides applied (value parsed as YAML)."""
    out = _deep_copy(raw)
    for item in overrides:
        if "=" not in item:
            raise ConfigError(f"override {item!r}: expected section.key=value")
        dotted, _, text = item.partition("=")
        dotted = dotted.strip()
        try:
            value = yaml.safe_load(text) if text.strip() else None
        except yaml.YAMLError:
            value = text
        keys = dotted.split(".")
        _check_path(keys, cls, f"override '{item}'")
        node = out
        for key in keys[:-1]:
            if not isinstance(node.get(key), dict):
                node[key] = {}
            node = node[key]
        node[keys[-1]] = value
    return out


def config_from_dict(raw: Mapping[str, Any], *, source: str = "<dict>", cls: type = RecipeConfig) -> Any:
    """Build and validate a dataclass tree from a plain mapping."""
    return _build(cls, raw, source, prefix="")


def config_to_dict(cfg: Any) -> dict[str, Any]:
    """Plain nested dict of a config (YAML-serialisable)."""
    return dataclasses.asdict(cfg)


def save_config(cfg: Any, path: str | Path) -> None:
    """Write ``cfg`` as a re-runnable YAML recipe."""
    Path(path).write_text(yaml.safe_dump(config_to_dict(cfg), sort_keys=False))


def field_help(cls: type = RecipeConfig, prefix: str = "", defaults: Any = None) -> list[tuple[str, str, Any]]:
    """(dotted key, help, default) for every leaf field, for docs and ``--help`` output."""
    rows: list[tuple[str, str, Any]] = []
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        sub = _dataclass_of(hints[f.name])
        if sub is not None:
            rows.extend(field_help(sub, f"{prefix}{f.name}.", _default_of(f, defaults)))
        else:
            rows.append((prefix + f.name, f.metadata.get("help", ""), _default_of(f, defaults)))
    return rows


# --------------------------------------------------------------------------------------------- internals


def _deep_copy(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {k: _deep_copy(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_deep_copy(v) for v in obj]
    return obj


def _dataclass_of(tp: Any) -> type | None:
    return tp if isinstance(tp, type) and dataclasses.is_dataclass(tp) else None


def _unknown_key(source: str, key: str, prefix: str, valid: Iterable[str]) -> ConfigError:
    valid = list(valid)
    guess = difflib.get_close_matches(key, valid, n=1, cutoff=0.6)
    hint = f" (did you mean '{prefix}{guess[0]}'?)" if guess else f" (valid keys: {', '.join(valid)})"
    return ConfigError(f"{source}: unknown key '{prefix}{key}'{hint}")


def _check_path(keys: list[str], cls: type, source: str) -> None:
    node: type | None = cls
    for depth, key in enumerate(keys):
        if node is None:
            raise ConfigError(f"{source}: '{'.'.join(keys[:depth])}' is not a section")
        hints = typing.get_type_hints(node)
        names = [f.name for f in dataclasses.fields(node)]
        if key not in names:
            raise _unknown_key(source, key, ".".join(keys[:depth]) + ("." if depth else ""), names)
        node = _dataclass_of(hints[key])


def _default_of(f: dataclasses.Field, defaults: Any) -> Any:
    """The default of field ``f``: from the enclosing default instance when there is one."""
    if defaults is not None:
        return copy.deepcopy(getattr(defaults, f.name))
    if f.default is not dataclasses.MISSING:
        return f.default
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    return dataclasses.MISSING


def _build(cls: type, raw: Any, source: str, prefix: str, defaults: Any = None) -> Any:
    """``cls`` from the mapping ``raw``; a missing key takes its value from ``defaults`` (the parent field's
    default instance, e.g. the teacher's own training defaults) or else from the field's default."""
    section = prefix.rstrip(".") or "recipe"
    if raw is None:
        raw = {}
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{source}: '{section}' must be a mapping, got {_show(raw)}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    for key in raw:
        if key not in fields:
            raise _unknown_key(source, str(key), prefix, fields)
    kwargs: dict[str, Any] = {}
    for name, f in fields.items():
        key = prefix + name
        sub = _dataclass_of(hints[name])
        if sub is not None:
            kwargs[name] = _build(sub, raw.get(name), source, key + ".", _default_of(f, defaults))
            continue
        if name in raw:
            value = _coerce(raw[name], hints[name], source, key)
        else:
            value = _default_of(f, defaults)
        _check_constraints(value, f.metadata, source, key)
        kwargs[name] = value
    obj = cls(**kwargs)
    _cross_checks(obj, source)
    return obj


def _type_name(tp: Any) -> str:
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_type_name(a) for a in typing.get_args(tp))
    if origin in (list, dict):
        return f"{origin.__name__}[{', '.join(_type_name(a) for a in typing.get_args(tp))}]"
    return "null" if tp is _NONE else getattr(tp, "__name__", str(tp))


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _coerce(value: Any, tp: Any, source: str, key: str) -> Any:
    """Check ``value`` against the annotation ``tp``; ints are accepted for floats."""
    try:
        return _coerce_inner(value, tp)
    except TypeError:
        raise ConfigError(f"{source}: '{key}' = {_show(value)} is not a valid {_type_name(tp)}") from None


def _coerce_inner(value: Any, tp: Any) -> Any:
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(tp)
        if value is None and _NONE in args:
            return None
        for arg in args:
            if arg is _NONE:
                continue
            try:
                return _coerce_inner(value, arg)
            except TypeError:
                pass
        raise TypeError
    if origin is list:
        (item_tp,) = typing.get_args(tp)
        if not isinstance(value, list):
            raise TypeError
        return [_coerce_inner(v, item_tp) for v in value]
    if origin is dict:
        key_tp, val_tp = typing.get_args(tp)
        if not isinstance(value, dict):
            raise TypeError
        return {_coerce_inner(k, key_tp): _coerce_inner(v, val_tp) for k, v in value.items()}
    if tp is bool:
        if isinstance(value, bool):
            return value
        raise TypeError
    if tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise TypeError
    if tp is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str):  # PyYAML reads "1e-4" as a string
            try:
                return float(value)
            except ValueError:
                raise TypeError from None
        raise TypeError
    if tp is str:
        if isinstance(value, str):
            return value
        raise TypeError
    if tp is Any:
        return value
    raise TypeError


_BOUNDS = {"gt": (lambda v, b: v > b, ">"), "ge": (lambda v, b: v >= b, ">="),
           "lt": (lambda v, b: v < b, "<"), "le": (lambda v, b: v <= b, "<=")}


def _check_constraints(value: Any, meta: Mapping[str, Any], source: str, key: str) -> None:
    if value is None:
        if meta.get("required"):
            raise ConfigError(f"{source}: missing required key '{key}' ({meta.get('help', '')})")
        return
    items = value if isinstance(value, list) else [value]
    choices = meta.get("choices")
    for item in items:
        if choices is not None and item not in choices:
            guess = difflib.get_close_matches(str(item), [str(c) for c in choices], n=1, cutoff=0.6)
            hint = f"; did you mean '{guess[0]}'?" if guess else ""
            raise ConfigError(
                f"{source}: '{key}' = {_show(item)} is not allowed (choose one of: "
                f"{', '.join(map(str, choices))}){hint}"
            )
        for name, (ok, sign) in _BOUNDS.items():
            if name in meta and isinstance(item, (int, float)) and not ok(item, meta[name]):
                raise ConfigError(f"{source}: '{key}' = {_show(item)} is out of range (must be {sign} {meta[name]})")


def _cross_checks(obj: Any, source: str) -> None:
    """Constraints between fields of one section."""
    ks, n = getattr(obj, "ks", None), getattr(obj, "n", None)
    if isinstance(ks, list) and isinstance(n, int):
        too_big = [k for k in ks if k > n]
        if too_big:
            raise ConfigError(
                f"{source}: 'evaluation.ks' contains k = {too_big[0]} larger than evaluation.n = {n} "
                "(pass@k needs n >= k samples)"
            )
