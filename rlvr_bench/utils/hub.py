"""Is the Hugging Face hub reachable? Decide once, fail fast with a one-line hint when it is not.

Offline, ``datasets`` and ``transformers`` retry a hub name for about 25 seconds before they give up;
the loaders call :func:`require_hub` first, so an unreachable hub costs at most one short TCP connect
per process.

The hub counts as offline when

* ``HF_HUB_OFFLINE``, ``HF_DATASETS_OFFLINE`` or ``TRANSFORMERS_OFFLINE`` holds a true value (``1``,
  ``true``, ``yes``, ``on``, any case, as ``huggingface_hub`` parses them), or the already imported
  ``huggingface_hub`` / ``datasets`` run in offline mode; else when
* one TCP connect to the hub host (``HF_ENDPOINT``, default ``huggingface.co:443``; the HTTPS proxy
  instead when one is configured for that host) fails within :data:`CONNECT_TIMEOUT_S`. That probe runs
  at most once per process; its answer is kept (:func:`reset_hub_detection` forgets it).
"""

from __future__ import annotations

import os
import socket
import sys
import urllib.request
from urllib.parse import urlsplit

from rlvr_bench.errors import UserError

__all__ = [
    "CONNECT_TIMEOUT_S",
    "OFFLINE_ENV_VARS",
    "HubUnavailableError",
    "hub_endpoint",
    "hub_offline",
    "offline_reason",
    "require_hub",
    "reset_hub_detection",
]

OFFLINE_ENV_VARS = ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "TRANSFORMERS_OFFLINE")
"""Environment variables that switch the Hugging Face libraries to offline mode."""

CONNECT_TIMEOUT_S = 2.5
"""Timeout of the one TCP connect that tells whether the hub host can be reached."""

_TRUE_VALUES = {"1", "ON", "YES", "TRUE"}  # huggingface_hub.constants.ENV_VARS_TRUE_VALUES
_DEFAULT_ENDPOINT = "https://huggingface.co"

_probe_result: tuple[str | None] | None = None
"""The cached network probe: ``None`` = not run yet, else a 1-tuple of the offline reason (``None``: online)."""


class HubUnavailableError(UserError):
    """The Hugging Face hub cannot be reached for a hub name (message: one line with the fix)."""


def hub_endpoint() -> tuple[str, int]:
    """Host and port of the hub endpoint (``HF_ENDPOINT``, default ``huggingface.co:443``)."""
    parts = urlsplit(os.environ.get("HF_ENDPOINT") or _DEFAULT_ENDPOINT)
    host = parts.hostname or "huggingface.co"
    try:
        port = parts.port
    except ValueError:  # a malformed port in HF_ENDPOINT
        port = None
    return host, port or (80 if parts.scheme == "http" else 443)


def offline_reason() -> str | None:
    """Why the hub counts as offline (e.g. ``"HF_HUB_OFFLINE=1"``), or ``None`` when it is reachable.

    Environment variables are read on every call; the network probe runs at most once per process.
    """
    reason = _env_reason() or _library_reason()
    if reason is not None:
        return reason
    global _probe_result
    if _probe_result is None:
        _probe_result = (_probe(),)
    return _probe_result[0]


def hub_offline() -> bool:
    """True when the Hugging Face hub cannot be used (see :func:`offline_reason`)."""
    return offline_reason() is not None


def require_hub(what: str, hint: str, *, error: type[HubUnavailableError] = HubUnavailableError) -> None:
    """Raise ``error`` (one line) when the hub is offline; return at once when it is reachable.

    The message reads ``cannot reach the Hugging Face hub for <what> (offline: <reason>); <hint>``.
    ``error`` lets a loader raise a subclass that is also its own error type.
    """
    reason = offline_reason()
    if reason is not None:
        raise error(f"cannot reach the Hugging Face hub for {what} (offline: {reason}); {hint}")


def reset_hub_detection() -> None:
    """Forget the cached network probe (tests; or after the network came back)."""
    global _probe_result
    _probe_result = None


# -------------------------------------------------------------------------------------------- internals


def _env_reason() -> str | None:
    """``NAME=value`` of the first offline variable set to a true value, else ``None``."""
    for name in OFFLINE_ENV_VARS:
        value = os.environ.get(name)
        if value is not None and value.strip().upper() in _TRUE_VALUES:
            return f"{name}={value.strip()}"
    return None


def _library_reason() -> str | None:
    """Offline mode of an already imported library (set at its import, or patched); never imports one."""
    hub_constants = sys.modules.get("huggingface_hub.constants")
    if hub_constants is not None and getattr(hub_constants, "HF_HUB_OFFLINE", False) is True:
        return "huggingface_hub offline mode (HF_HUB_OFFLINE)"
    ds_config = sys.modules.get("datasets.config")
    if ds_config is not None and getattr(ds_config, "HF_HUB_OFFLINE", False) is True:
        return "datasets offline mode (HF_DATASETS_OFFLINE)"
    return None


def _probe_target() -> tuple[str, int, str]:
    """(host, port, label): the HTTPS proxy for the hub host when one is configured, else the hub host."""
    host, port = hub_endpoint()
    scheme = "http" if urlsplit(os.environ.get("HF_ENDPOINT") or _DEFAULT_ENDPOINT).scheme == "http" else "https"
    proxies = urllib.request.getproxies()
    proxy = proxies.get(scheme) or proxies.get("all")
    if proxy and not urllib.request.proxy_bypass(host):
        parts = urlsplit(proxy if "://" in proxy else f"http://{proxy}")
        if parts.hostname:
            try:
                proxy_port = parts.port or (443 if parts.scheme == "https" else 80)
            except ValueError:
                proxy_port = 80
            return parts.hostname, proxy_port, f"proxy {parts.hostname}:{proxy_port}"
    return host, port, f"{host}:{port}"


def _probe() -> str | None:
    """One TCP connect to the hub (or its proxy); the offline reason, or ``None`` when it connects."""
    host, port, label = _probe_target()
    try:
        conn = socket.create_connection((host, port), timeout=CONNECT_TIMEOUT_S)
    except OSError as err:  # DNS failure (socket.gaierror), refused, unreachable, timeout
        detail = err.strerror or str(err) or type(err).__name__  # e.g. "Name or service not known"
        return f"no connection to {label}: {detail}"
    conn.close()
    return None
