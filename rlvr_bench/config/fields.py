"""Field helper shared by every recipe section.

Every recipe field is a dataclass field whose ``metadata`` carries its help text and its constraints, so
one generic validator (``rlvr_bench.config.loader``) checks every section, the CLI can print help, and the
docs can be generated. Recognised metadata keys:

``help`` (required), ``choices`` (allowed values), ``gt``/``ge``/``lt``/``le`` (numeric bounds, applied to
every element of a list), ``required`` (``None`` is not accepted: the recipe must set it), ``registry``
(the allowed values are the names registered in that ``rlvr_bench.algorithms`` registry: ``presets``,
``advantage_estimators``, ``policy_losses``; looked up at validation time, so the registry is the only list).
"""

from __future__ import annotations

import dataclasses
from typing import Any

__all__ = ["opt", "MISSING_VALUE"]

MISSING_VALUE = None


def opt(default: Any = None, help: str = "", *, factory: Any = None, **constraints: Any) -> Any:
    """A dataclass field with help text and constraints.

    ``factory`` builds mutable defaults (lists, dicts, nested sections).
    """
    if not help:
        raise ValueError("every recipe field needs a help string")
    meta = {"help": help, **constraints}
    if factory is not None:
        return dataclasses.field(default_factory=factory, metadata=meta)
    return dataclasses.field(default=default, metadata=meta)
