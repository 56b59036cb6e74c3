"""The registry of methods: what a recipe's ``method`` can name, and what the rest of the package needs to know.

One entry per method (``Method``): its report ``kind``, the ``runner`` that trains it (a ``module:function``
string, imported only when a recipe runs), the model fields that name models which must exist before it
starts (``depends_on``) and a one-line description. Everything else reads this registry:

- ``rlvr_bench.config.schema.METHODS`` (the allowed values of a recipe's ``method``) is a live view of it;
- ``rlvr_bench.runner.resolve_runner`` imports the entry's runner;
- ``rlvr_bench.analysis.runs.method_kind`` classifies a run by its recorded method's kind;
- the study (``rlvr_bench.study.runner``) runs RL methods with every training seed, runs the base's
  ``prepare`` step alone before the others, and starts a method whose ``depends_on`` fields name the
  teacher's model once the teacher is complete.

Adding a method is one ``register(Method(...))`` call (or one entry in ``_BUILTIN``). This module imports
nothing from the package and nothing heavy, so ``rlvr_bench.config`` can import it.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import overload

__all__ = ["KINDS", "METHODS", "Method", "get_method", "method_names", "register", "unregister"]

KINDS = ("rl", "sft", "rft", "distill", "base", "teacher", "eval")
"""Report kinds: RL, supervised fine-tuning, rejection-sampling fine-tuning, distillation, the base model,
the teacher, and an evaluation of a model trained elsewhere."""


@dataclass(frozen=True)
class Method:
    """One method a recipe can name.

    Attributes:
        name: the recipe's ``method`` value (``rl``, ``sft``, ``distill_seq``, ...).
        kind: the report's kind, one of ``KINDS``.
        runner: ``"module:function"`` of ``run(cfg: RecipeConfig) -> Path`` (the run directory), imported lazily.
        depends_on: dotted recipe fields (``model.teacher``) naming models that must exist before this method
            starts; in a study, a method whose field equals the teacher recipe's ``model.name_or_path`` waits
            for the teacher.
        description: one line for listings and docs.
        prepare: ``"module:function"`` of ``prepare(cfg: RecipeConfig) -> None``, which makes the models the
            run starts from without training or evaluating anything (the toy base's build); a study runs the
            base's ``prepare`` alone on every core and then evaluates the base beside the other runs.
    """

    name: str
    kind: str
    runner: str
    depends_on: tuple[str, ...] = ()
    description: str = ""
    prepare: str | None = None

    def __post_init__(self) -> None:
        if not self.name or not self.name.isidentifier():
            raise ValueError(f"method name must be an identifier, got {self.name!r}")
        if self.kind not in KINDS:
            raise ValueError(f"method {self.name!r}: kind {self.kind!r} is not one of {', '.join(KINDS)}")
        for what, ref in (("runner", self.runner), ("prepare", self.prepare)):
            module, sep, func = (ref or "").partition(":")
            if (ref is not None or what == "runner") and not (module and sep and func):
                raise ValueError(f"method {self.name!r}: {what} {ref!r} is not 'module:function'")
        if isinstance(self.depends_on, str):
            raise ValueError(f"method {self.name!r}: depends_on must be a tuple of field names, not a string")

    @property
    def is_rl(self) -> bool:
        """Whether the method is RL (a study trains it with every RL seed)."""
        return self.kind == "rl"


_BUILTIN = (
    Method("rl", "rl", "rlvr_bench.trainers.rl:run_rl", description="RL with a verifiable reward (a preset)"),
    Method("sft", "sft", "rlvr_bench.trainers.sft:run_sft", description="supervised fine-tuning on solutions"),
    Method("rft", "rft", "rlvr_bench.trainers.sft:run_rft",
           description="rejection-sampling fine-tuning on the model's own correct samples"),
    Method("distill_seq", "distill", "rlvr_bench.trainers.distill:run_distill_seq", ("model.teacher",),
           "sequence-level distillation from the teacher's samples"),
    Method("distill_logit", "distill", "rlvr_bench.trainers.distill:run_distill_logit", ("model.teacher",),
           "on-policy logit distillation from the teacher"),
    Method("toy_base", "base", "rlvr_bench.trainers.toy:run_toy_base", description="pretrain the toy base model",
           prepare="rlvr_bench.trainers.toy:prepare_toy_base"),
    Method("toy_teacher", "teacher", "rlvr_bench.trainers.toy:run_toy_teacher",
           description="pretrain the toy teacher model"),
    Method("eval", "eval", "rlvr_bench.trainers.evalonly:run_eval_only",
           description="evaluate a model trained elsewhere (no training)"),
)

_REGISTRY: dict[str, Method] = {m.name: m for m in _BUILTIN}


def register(method: Method, *, replace: bool = False) -> Method:
    """Add ``method`` to the registry (``replace=True`` to redefine an existing name); returns it."""
    if method.name in _REGISTRY and not replace:
        raise ValueError(f"method {method.name!r} is already registered")
    _REGISTRY[method.name] = method
    return method


def unregister(name: str) -> None:
    """Remove a registered method (tests; built-in methods can be removed too)."""
    _REGISTRY.pop(name, None)


def get_method(name: str) -> Method | None:
    """The registered method called ``name``, or None."""
    return _REGISTRY.get(name)


def method_names() -> tuple[str, ...]:
    """Every registered method name, in registration order."""
    return tuple(_REGISTRY)


class _MethodNames(Sequence[str]):
    """A read-only, always-current view of the registered method names (a tuple-like ``METHODS``)."""

    @overload
    def __getitem__(self, index: int) -> str: ...

    @overload
    def __getitem__(self, index: slice) -> tuple[str, ...]: ...

    def __getitem__(self, index: int | slice) -> str | tuple[str, ...]:
        return method_names()[index]

    def __len__(self) -> int:
        return len(_REGISTRY)

    def __iter__(self) -> Iterator[str]:
        return iter(method_names())

    def __contains__(self, value: object) -> bool:
        return isinstance(value, str) and value in _REGISTRY

    def __eq__(self, other: object) -> bool:
        return tuple(self) == (tuple(other) if isinstance(other, (tuple, list, _MethodNames)) else other)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return repr(method_names())


METHODS: Sequence[str] = _MethodNames()
"""Every registered method name; follows ``register``/``unregister``."""
