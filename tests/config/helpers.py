"""Helpers shared by the config tests: write a recipe, and the one-line error it raises."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from rlvr_bench.config import ConfigError, load_config


def write(tmp_path: Path, text: str, name: str = "r.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def error_of(path: Path, overrides=()) -> str:
    with pytest.raises(ConfigError) as info:
        load_config(path, overrides)
    msg = str(info.value)
    assert "\n" not in msg, "errors must be one line"
    return msg
