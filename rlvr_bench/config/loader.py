"""YAML recipes -> validated dataclasses, with ``section.key=value`` overrides.

Every user mistake becomes one ``ConfigError`` line that names the file, the key, the bad value and what
is allowed (with a "did you mean" suggestion for misspelled keys). The CLI prints that line and exits 2:
no traceback for user mistakes.

An override value is read against its field's annotation: text fields keep the text as typed (YAML 1.1
would turn ``no``/``on`` into booleans), the other fields are parsed as YAML. After a whole recipe is built,
``data.template`` and ``evaluation.benchmarks`` left at ``None`` are resolved: the toy world's values for a
toy model, a one-line error naming the key to set for any other model.
"""

from __future__ import annotations

import copy
import dataclasses
import difflib
import importlib.util
import types
import typing
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml

from rlvr_bench.config.schema import AlgorithmConfig, LoggingConfig, RecipeConfig, TrainerConfig
from rlvr_bench.config.toy_visual import VISUAL_BENCHMARK, VL_REFS
from rlvr_bench.errors import UserError

__all__ = [
    "ConfigError",
    "apply_overrides",
    "check_runs_here",
    "config_from_dict",
    "config_to_dict",
    "field_help",
    "is_toy_recipe",
    "load_config",
    "save_config",
]


class ConfigError(UserError):
    """A recipe mistake, described in one line."""


_NONE = type(None)
_NULL_TEXTS = ("", "~", "null", "Null", "NULL")
_YAML_OPENERS = ("[", "{", "'", '"')
TOY_METHODS = ("toy_base", "toy_teacher")
# logging.trackers name -> (module that must be importable, how to install it)
_TRACKERS = {
    "tensorboard": ("tensorboard", "pip install tensorboard, or pip install -e ."),
    "wandb": ("wandb", "pip install wandb, or pip install -e '.[wandb]'"),
    "trackio": ("trackio", "pip install trackio"),
}


def load_config(path: str | Path, overrides: Iterable[str] = (), *, cls: type = RecipeConfig) -> Any:
    """Load, override and validate a recipe file.

    Args:
        path: YAML recipe.
        overrides: ``section.key=value`` strings (values read against the field's type, see
            ``apply_overrides``).
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
    """Return a copy of ``raw`` with ``a.b.c=value`` overrides applied.

    The value is read against the field's annotation (``_parse_override``): ``trainer.mixed_precision=no``
    is the string "no", ``trainer.learning_rate=1e-4`` the float 0.0001.
    """
    out = _deep_copy(raw)
    for item in overrides:
        if "=" not in item:
            raise ConfigError(f"override {item!r}: expected section.key=value")
        dotted, _, text = item.partition("=")
        keys = dotted.strip().split(".")
        value = _parse_override(text, _check_path(keys, cls, f"override '{item}'"))
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


def _check_path(keys: list[str], cls: type, source: str) -> Any:
    """The annotation of the field at ``keys`` under ``cls``; ``ConfigError`` for an unknown key."""
    node: type | None = cls
    tp: Any = cls
    for depth, key in enumerate(keys):
        if node is None:
            raise ConfigError(f"{source}: '{'.'.join(keys[:depth])}' is not a section")
        hints = typing.get_type_hints(node)
        names = [f.name for f in dataclasses.fields(node)]
        if key not in names:
            raise _unknown_key(source, key, ".".join(keys[:depth]) + ("." if depth else ""), names)
        tp = hints[key]
        node = _dataclass_of(tp)
    return tp


def _is_text_type(tp: Any) -> bool:
    """True for ``str``, ``list[str]`` and their ``| None`` forms (fields whose values are text)."""
    args = typing.get_args(tp) if typing.get_origin(tp) in (typing.Union, types.UnionType) else (tp,)
    kinds = [a for a in args if a is not _NONE]
    return bool(kinds) and all(a is str or (typing.get_origin(a) is list and typing.get_args(a) == (str,))
                               for a in kinds)


def _load_yaml(text: str, loader: type) -> Any:
    """``text`` parsed with the PyYAML ``loader``; the text itself when it is not valid YAML."""
    try:
        return yaml.load(text, Loader=loader)  # SafeLoader or BaseLoader only
    except yaml.YAMLError:
        return text


def _parse_override(text: str, tp: Any) -> Any:
    """An override value read against its field's annotation ``tp``.

    Text fields (``str``, ``list[str]``, optional or not) keep the text as typed, so ``no``, ``on`` or
    ``1e-4`` stay strings; a list, mapping or quoted literal (``[a, b]``, ``'<|im_end|>'``) is parsed as YAML
    with every scalar kept as text; ``null``, ``~`` or nothing is None. Other fields are parsed as YAML.
    """
    text = text.strip()
    if not _is_text_type(tp):
        return _load_yaml(text, yaml.SafeLoader) if text else None
    if text in _NULL_TEXTS:
        return None
    return _load_yaml(text, yaml.BaseLoader) if text.startswith(_YAML_OPENERS) else text


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
    if choices is None and "registry" in meta:
        choices = _registry_names(meta["registry"])
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
    """Constraints between fields of one section (run for every section object as it is built)."""
    _check_ks(obj, source)
    if isinstance(obj, TrainerConfig):
        _check_warmup(obj, source)
    if isinstance(obj, LoggingConfig):
        _check_trackers(obj, source)
    if isinstance(obj, RecipeConfig):
        _check_algorithm_knobs(obj.algorithm, source, obj.rollout.n)
        _resolve_model_defaults(obj, source)


def _registry_names(kind: str) -> list[str]:
    """Names registered in ``rlvr_bench.algorithms`` (metadata ``registry=kind``); imported lazily, at
    validation time, so importing ``rlvr_bench.config`` stays free of torch."""
    from rlvr_bench.algorithms import registry_names

    return registry_names(kind)


def _check_algorithm_knobs(algo: AlgorithmConfig, source: str, group_size: int) -> None:
    """Policy-loss and estimator knobs (clip ratios, ``algorithm.knobs``) against the bounds their registry
    entry declares (``KnobSpec``), k of pass@k against the group size ``rollout.n``."""
    from rlvr_bench.algorithms import algorithm_problems

    for key, value, problem in algorithm_problems(algo.preset, vars(algo), group_size):
        raise ConfigError(f"{source}: 'algorithm.{key}' = {_show(value)} {problem}")


def _check_ks(obj: Any, source: str) -> None:
    """Every k of a pass@k curve needs at least k samples."""
    ks, n = getattr(obj, "ks", None), getattr(obj, "n", None)
    if isinstance(ks, list) and isinstance(n, int):
        too_big = [k for k in ks if k > n]
        if too_big:
            raise ConfigError(
                f"{source}: 'evaluation.ks' contains k = {too_big[0]} larger than evaluation.n = {n} "
                "(pass@k needs n >= k samples)"
            )


def _check_warmup(trainer: TrainerConfig, source: str) -> None:
    """A warmup longer than the run never reaches the peak learning rate."""
    if trainer.warmup_steps > trainer.steps:
        raise ConfigError(
            f"{source}: 'trainer.warmup_steps' = {trainer.warmup_steps} is longer than the run "
            f"(trainer.steps = {trainer.steps}); lower warmup_steps or raise steps"
        )


def _check_trackers(logging: LoggingConfig, source: str) -> None:
    """Every tracker in ``logging.trackers`` must be importable (checked now, not at the first log call)."""
    for name in logging.trackers:
        module, install = _TRACKERS[name]
        if importlib.util.find_spec(module) is None:
            raise ConfigError(
                f"{source}: logging.trackers names '{name}' but the {module} package is not installed "
                f"({install}); remove it from logging.trackers to run without it"
            )


def check_runs_here(cfg: Any, source: str = "recipe") -> None:
    """Checks of a recipe against this machine, run before it trains here (``run_recipe``); not by
    ``rlvr-bench recipes`` or ``verl export``, which validate recipes meant for other machines.

    ``rollout.backend: vllm`` needs a CUDA GPU and the ``vllm`` extra (one line each when missing).
    """
    rollout = getattr(cfg, "rollout", None)
    if getattr(rollout, "backend", None) != "vllm":
        return
    import torch  # lazily: validation alone stays free of torch

    if not torch.cuda.is_available():
        raise ConfigError(f"{source}: rollout.backend = 'vllm' needs a CUDA GPU and none is visible here; use "
                          "rollout.backend=hf on this machine, or `rlvr-bench verl export` for a GPU cluster")
    if getattr(cfg.model, "device", None) == "cpu":
        raise ConfigError(f"{source}: rollout.backend = 'vllm' runs on the GPU but model.device = 'cpu'; use "
                          "rollout.backend=hf, or another model.device")
    if importlib.util.find_spec("vllm") is None:
        raise ConfigError(f"{source}: rollout.backend = 'vllm' needs the vllm extra: pip install -e '.[vllm]' "
                          "(CUDA torch first, see README)")


def is_toy_recipe(cfg: Any) -> bool:
    """True for a recipe of the offline toy world: a ``toy:`` policy, or a toy_base / toy_teacher build."""
    return str(cfg.model.name_or_path or "").startswith("toy:") or cfg.method in TOY_METHODS


def _resolve_model_defaults(cfg: RecipeConfig, source: str) -> None:
    """Fill ``data.template`` and ``evaluation.benchmarks`` left at None (toy values for a toy recipe).

    A real model must name both: the toy template and benchmark are for the offline toy world. Explicit
    values, ``toy`` included, are kept as given.
    """
    toy = is_toy_recipe(cfg)
    if cfg.data.template is None:
        if not toy:
            raise ConfigError(
                f"{source}: model '{cfg.model.name_or_path}' is not a toy model: set data.template (e.g. "
                "qwen_boxed for a Qwen chat format; `rlvr-bench recipes` checks the name); the 'toy' template is "
                "for the offline toy world"
            )
        cfg.data.template = "toy"
    if cfg.evaluation.benchmarks is None:
        if not toy and cfg.evaluation.enabled:
            raise ConfigError(
                f"{source}: model '{cfg.model.name_or_path}' is not a toy model: set evaluation.benchmarks "
                "(e.g. [math500, gsm8k]) or evaluation.enabled: false"
            )
        vision = str(cfg.model.name_or_path or "") in VL_REFS
        cfg.evaluation.benchmarks = ([VISUAL_BENCHMARK] if vision else ["toy"]) if toy else []
