"""Shared fixtures: a tiny random toy model saved locally (no hub), CPU threads kept low."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


@pytest.fixture(scope="session", autouse=True)
def _threads():
    import torch

    # one thread: on a loaded 2-core machine, 2 OpenMP threads per process oversubscribe the cores and
    # run up to 30x slower (measured); tests run their subprocesses single-threaded too
    torch.set_num_threads(1)


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory):
    """A randomly initialised toy-architecture Llama + char tokenizer saved with save_pretrained."""
    from rlvr_bench.models.toy import build_toy_model, build_toy_tokenizer, save_toy

    path = tmp_path_factory.mktemp("tiny_model")
    tok = build_toy_tokenizer()
    model = build_toy_model(seed=0, tokenizer=tok)
    save_toy(model, tok, path)
    return path


@pytest.fixture(scope="session")
def tiny_model(tiny_model_dir):
    from rlvr_bench.models.toy import load_toy

    return load_toy(tiny_model_dir)


@pytest.fixture
def count_evaluate(monkeypatch):
    """The ``run_dir`` of every call of the evaluation (``rlvr-bench eval`` imports ``evaluate`` at call time,
    so the module attribute is what gets called)."""
    import importlib

    ev = importlib.import_module("rlvr_bench.evaluation.evaluate")  # the package exports a function of that name
    calls: list = []
    real = ev.evaluate

    def wrapped(*args, **kwargs):
        calls.append(kwargs.get("run_dir"))
        return real(*args, **kwargs)

    monkeypatch.setattr(ev, "evaluate", wrapped)
    return calls
