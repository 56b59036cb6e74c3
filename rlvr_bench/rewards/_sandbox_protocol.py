"""The result protocol between the sandbox child and its parent (stdlib only; it must not import
rlvr_bench).

The child writes one line per event on its result pipe: ``NONCE<TAB>{json object}``, where NONCE is the
run's secret (a program cannot forge events without it). Events, in order: ``{"event": "start",
"isolation": "..."}``, ``{"event": "load", "status": "ok" | reason}``, one ``{"event": "test", "index": i,
"status": "pass" | reason}`` per test, ``{"event": "done"}``. The child encodes them with ``dumps`` (no
``json`` import in the child); the parent decodes them with ``parse_events``.
"""

from __future__ import annotations

import builtins as _builtins

__builtins__ = dict(_builtins.__dict__)  # noqa: A001 - builtins as loaded, whatever a program patches

__all__ = ["dumps", "emitter", "parse_events"]

_ESCAPES = {i: f"\\u{i:04x}" for i in range(32)} | {ord('"'): '\\"', ord("\\"): "\\\\"}


def _json_str(text: str) -> str:
    """``text`` as a JSON string literal, pure ASCII (the same text as ``json.dumps``)."""
    text = text.translate(_ESCAPES)
    if not text.isascii():
        chars = []
        for ch in text:
            code = ord(ch)
            if code < 0x80:
                chars.append(ch)
            elif code < 0x10000:
                chars.append(f"\\u{code:04x}")
            else:  # a surrogate pair
                code -= 0x10000
                chars.append(f"\\u{0xD800 | (code >> 10):04x}\\u{0xDC00 | (code & 0x3FF):04x}")
        text = "".join(chars)
    return '"' + text + '"'


def dumps(event: dict) -> str:
    """One event (str keys; str, int, bool or None values) as a JSON object, without importing json."""
    parts = []
    for key, value in event.items():
        if isinstance(value, str):
            text = _json_str(value)
        elif value is None or isinstance(value, bool):
            text = {None: "null", True: "true", False: "false"}[value]
        else:
            text = str(int(value))
        parts.append(_json_str(key) + ": " + text)
    return "{" + ", ".join(parts) + "}"


def emitter(out, nonce: str):
    """The child's ``emit(event)``: one line on the result stream ``out``, flushed at once."""

    def emit(obj: dict, _out=out, _nonce=nonce, _dumps=dumps) -> None:
        _out.write(_nonce + "\t" + _dumps(obj) + "\n")
        _out.flush()

    return emit


def parse_events(raw: bytes, nonce: str) -> list[dict]:
    """The parent's side: the events of the lines of ``raw`` that carry ``nonce`` (others are ignored)."""
    import json  # the parent only: the child never calls this

    events = []
    prefix = nonce + "\t"
    for line in raw.decode("utf-8", "replace").splitlines():
        if line.startswith(prefix):
            try:
                event = json.loads(line[len(prefix) :])
            except ValueError:
                continue
            if isinstance(event, dict):
                events.append(event)
    return events
