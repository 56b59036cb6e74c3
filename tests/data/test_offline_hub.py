"""Offline hub: hub names fail at once in one line with the fix for that split; local data never checks."""

from __future__ import annotations

import errno
import json
import socket
from pathlib import Path

import pytest

from rlvr_bench.data.benchmarks import DATA_DIR_ENV, load_benchmark
from rlvr_bench.data.loading import DataError, HubDataError, load_prompts, require_hub_dataset
from rlvr_bench.models.loading import HubModelError, ModelLoadError, load_policy, load_tokenizer
from rlvr_bench.utils import hub
from rlvr_bench.utils.hub import HubUnavailableError, hub_endpoint, hub_offline, offline_reason

PROXY_VARS = ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy", "NO_PROXY",
              "no_proxy")


def _no_connect(*args, **kwargs):
    raise AssertionError(f"socket.create_connection{args} called although the hub is offline by environment")


@pytest.fixture
def clean_hub(monkeypatch, tmp_path):
    """No offline variable, no proxy, libraries online, empty HF caches, no cached probe (before and after)."""
    import datasets
    import huggingface_hub.constants as hub_constants

    for name in (*hub.OFFLINE_ENV_VARS, "HF_ENDPOINT", DATA_DIR_ENV, *PROXY_VARS):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(hub_constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(hub_constants, "HF_HUB_CACHE", str(tmp_path / "hub-cache"))
    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", tmp_path / "datasets-cache")
    hub.reset_hub_detection()
    yield monkeypatch
    hub.reset_hub_detection()


@pytest.fixture
def offline_env(clean_hub):
    """HF_HUB_OFFLINE=1; any network probe fails the test."""
    clean_hub.setenv("HF_HUB_OFFLINE", "1")
    clean_hub.setattr(socket, "create_connection", _no_connect)
    return clean_hub


@pytest.fixture
def unreachable(clean_hub):
    """No offline variable; every TCP connect fails (counted in the returned list)."""
    calls: list[tuple] = []

    def refuse(address, *args, **kwargs):
        calls.append(address)
        raise OSError(errno.ENETUNREACH, "Network is unreachable")

    clean_hub.setattr(socket, "create_connection", refuse)
    return calls


def _one_line(err: pytest.ExceptionInfo) -> str:
    msg = str(err.value)
    assert "\n" not in msg
    return msg


# ---------------------------------------------------------------------------------------- detection


@pytest.mark.parametrize("name", hub.OFFLINE_ENV_VARS)
@pytest.mark.parametrize("value", ["1", "true", "YES", "On"])
def test_offline_variables_are_honoured_without_network(offline_env, name, value):
    offline_env.delenv("HF_HUB_OFFLINE")
    offline_env.setenv(name, value)
    assert hub_offline()
    assert offline_reason() == f"{name}={value}"


@pytest.mark.parametrize("value", ["0", "false", "no", ""])
def test_false_values_leave_the_decision_to_the_probe(clean_hub, value):
    calls = []
    clean_hub.setenv("HF_HUB_OFFLINE", value)
    clean_hub.setattr(socket, "create_connection", lambda a, *args, **kw: calls.append(a) or _Closable())
    assert not hub_offline()
    assert calls == [("huggingface.co", 443)]


class _Closable:
    def close(self) -> None:
        pass


def test_probe_runs_once_and_targets_hf_endpoint(unreachable, clean_hub):
    clean_hub.setenv("HF_ENDPOINT", "http://hub.example.org:8080/")
    assert hub_endpoint() == ("hub.example.org", 8080)
    assert offline_reason() == "no connection to hub.example.org:8080: Network is unreachable"
    assert hub_offline()
    assert unreachable == [("hub.example.org", 8080)]  # cached: asked once
    hub.reset_hub_detection()
    assert hub_offline() and len(unreachable) == 2


def test_probe_goes_to_the_configured_proxy(unreachable, clean_hub):
    clean_hub.setenv("https_proxy", "http://proxy.internal:3128")
    assert offline_reason() == "no connection to proxy proxy.internal:3128: Network is unreachable"
    hub.reset_hub_detection()
    clean_hub.setenv("no_proxy", "huggingface.co")
    assert hub_offline()
    assert unreachable == [("proxy.internal", 3128), ("huggingface.co", 443)]


def test_require_hub_message_format(offline_env):
    with pytest.raises(HubUnavailableError) as err:
        hub.require_hub("model 'a/b'", "pass a local model directory")
    assert _one_line(err) == ("cannot reach the Hugging Face hub for model 'a/b' (offline: HF_HUB_OFFLINE=1); "
                              "pass a local model directory")


# ------------------------------------------------------------------------------- hub names fail fast


def test_hub_dataset_name_fails_at_once_with_a_training_hint(offline_env):
    with pytest.raises(HubDataError) as err:
        load_prompts("openai/gsm8k", subset="main", split="train")
    assert isinstance(err.value, DataError)
    assert _one_line(err) == (
        "cannot reach the Hugging Face hub for data.source 'openai/gsm8k' subset 'main' split 'train' "
        "(offline: HF_HUB_OFFLINE=1); point data.source at a local .jsonl/.parquet/.csv file with problem "
        "and answer columns")


def test_benchmark_short_name_names_the_copy_it_would_read(offline_env):
    with pytest.raises(HubDataError) as err:
        load_benchmark("math500")
    assert _one_line(err) == (
        "cannot reach the Hugging Face hub for benchmark 'math500' (HuggingFaceH4/MATH-500, split 'test') "
        f"(offline: HF_HUB_OFFLINE=1); set {DATA_DIR_ENV} to a folder holding math500.jsonl, or pass a local "
        ".jsonl/.parquet/.csv file with problem and answer columns instead of 'math500'")


def test_benchmark_hint_names_the_folder_that_lacks_the_copy(offline_env, tmp_path):
    offline_env.setenv(DATA_DIR_ENV, str(tmp_path))
    with pytest.raises(HubDataError, match=rf"put gsm8k_test\.jsonl in '{tmp_path}', or pass"):
        load_benchmark("gsm8k")


def test_train_split_of_a_benchmark_does_not_offer_the_test_copy(offline_env):
    """gsm8k as training data (split train): the RLVR_BENCH_DATA_DIR copy is the test split only."""
    with pytest.raises(HubDataError) as err:
        load_prompts("gsm8k", split="train")
    msg = _one_line(err)
    assert msg.startswith("cannot reach the Hugging Face hub for benchmark 'gsm8k' "
                          "(openai/gsm8k, subset 'main', split 'train') (offline: HF_HUB_OFFLINE=1); ")
    assert msg.endswith("point data.source at a local .jsonl/.parquet/.csv file with problem and answer "
                        f"columns ({DATA_DIR_ENV}/gsm8k_test.jsonl holds only split 'test')")
    assert "set RLVR_BENCH_DATA_DIR" not in msg


def test_code_benchmark_and_hub_benchmark_dataset(offline_env):
    with pytest.raises(HubDataError, match=r"^cannot reach the Hugging Face hub for benchmark 'mbpp' "
                                           r"\(google-research-datasets/mbpp, subset 'full', split 'test'\)"
                                           r".*folder holding mbpp\.jsonl"):
        load_benchmark("mbpp")
    with pytest.raises(HubDataError, match=r"^cannot reach the Hugging Face hub for benchmark dataset "
                                           r"'org/evals' split 'test' .*; pass a local \.jsonl"):
        load_benchmark("org/evals")


def test_hub_model_and_tokenizer_names_fail_at_once(offline_env):
    with pytest.raises(HubModelError) as err:
        load_policy("some-org/some-model", device="cpu")
    assert isinstance(err.value, ModelLoadError)
    assert _one_line(err) == ("cannot reach the Hugging Face hub for model 'some-org/some-model' "
                              "(offline: HF_HUB_OFFLINE=1); pass a local model directory")
    with pytest.raises(HubModelError, match=r"^cannot reach the Hugging Face hub for tokenizer 'some-org/tok'"):
        load_tokenizer("some-org/tok")


def test_detected_offline_probes_once_across_loads(unreachable):
    for _ in range(2):
        with pytest.raises(HubDataError) as err:
            load_prompts("some-org/prompts", split="train")
        assert "(offline: no connection to huggingface.co:443: Network is unreachable)" in _one_line(err)
    with pytest.raises(HubModelError, match="offline: no connection to huggingface.co:443"):
        load_policy("some-org/some-model", device="cpu")
    assert unreachable == [("huggingface.co", 443)]


# ------------------------------------------------------------------------------------------- caches


def test_cached_hub_model_loads_from_the_cache_only(offline_env, tmp_path):
    """Offline, a model in the Hugging Face cache is not refused: it loads with local_files_only."""
    from rlvr_bench.models.loading import _call_hub

    snapshot = tmp_path / "hub-cache" / "models--some-org--cached" / "snapshots" / "abc123"
    snapshot.mkdir(parents=True)
    (snapshot / "config.json").write_text("{}")
    (snapshot.parents[1] / "refs").mkdir()
    (snapshot.parents[1] / "refs" / "main").write_text("abc123")
    seen = {}
    _call_hub(lambda source, **kw: seen.update(kw, source=source), "some-org/cached", "model", dtype=None)
    assert seen == {"source": "some-org/cached", "dtype": None, "local_files_only": True}


def test_cached_hub_dataset(offline_env, tmp_path):
    """A ``datasets`` cache copy passes in datasets' offline mode, else the hint says how to use it."""
    import datasets

    (tmp_path / "datasets-cache" / "some-org___cached" / "main" / "0.0.0" / "abc").mkdir(parents=True)
    kwargs = {"what": "data.source 'some-org/cached'", "hint": "point data.source at a file"}
    with pytest.raises(HubDataError, match="; a cached copy exists: set HF_HUB_OFFLINE=1 to use it, or point"):
        require_hub_dataset("some-org/cached", **kwargs)
    offline_env.setattr(datasets.config, "HF_HUB_OFFLINE", True)
    require_hub_dataset("some-org/cached", **kwargs)  # datasets reads its cache: no error


# ----------------------------------------------------------------------------- local data: no check


@pytest.fixture
def no_hub_check(monkeypatch):
    """Fail the test on any hub check (env variable, library mode or probe)."""

    def refuse() -> str:
        raise AssertionError("hub check for local data")

    monkeypatch.setattr(hub, "offline_reason", refuse)
    monkeypatch.setattr("rlvr_bench.data.sources.hub_offline", refuse)
    monkeypatch.setattr("rlvr_bench.models.loading.hub_offline", refuse)
    monkeypatch.setattr(socket, "create_connection", _no_connect)


def test_local_data_never_checks_the_hub(no_hub_check, tmp_path, monkeypatch):
    rows = tmp_path / "train.jsonl"
    rows.write_text("".join(json.dumps({"problem": f"p{i}", "answer": i}) + "\n" for i in range(3)))
    assert load_prompts(rows)["answer"] == ["0", "1", "2"]
    assert load_benchmark(rows)["answer"] == ["0", "1", "2"]
    copies = tmp_path / "copies"
    copies.mkdir()
    row = {"id": "math500/a", "problem": "1+1?", "answer": "2"}
    (copies / "math500.jsonl").write_text(json.dumps(row) + "\n")
    monkeypatch.setenv(DATA_DIR_ENV, str(copies))
    assert load_benchmark("math500")["id"] == ["math500/a"]
    folder = tmp_path / "as-folder"  # a local folder name: datasets reads it, no hub involved
    folder.mkdir()
    (folder / "part.jsonl").write_text(rows.read_text())
    assert len(load_prompts(str(folder))) == 3


def test_local_model_directory_never_checks_the_hub(no_hub_check, tiny_model_dir):
    assert load_tokenizer(tiny_model_dir).pad_token is not None
    assert load_policy(tiny_model_dir, device="cpu") is not None


# ----------------------------------------------------------------------------------------------- CLI


def test_cli_eval_of_a_hub_model_offline_is_one_error_line(offline_env, capsys, tmp_path):
    from rlvr_bench.cli import main

    bench = tmp_path / "b.jsonl"  # a local benchmark: the data is loaded (and checked) before the model
    bench.write_text('{"id": "a", "problem": "1+1=?", "answer": "2"}\n')
    assert main(["eval", "some-org/some-model", "--benchmark", str(bench), "--out", str(tmp_path / "o")]) == 2
    text = capsys.readouterr().err
    err = [line for line in text.splitlines() if line.startswith("error:")]  # datasets' progress bars aside
    assert len(err) == 1 and "Traceback" not in text and "Retrying" not in text, text
    assert err[0].startswith("error: cannot reach the Hugging Face hub for tokenizer 'some-org/some-model' "
                             "(offline: HF_HUB_OFFLINE=1); pass a local model directory")


def test_cli_eval_of_a_hub_benchmark_offline_is_one_error_line(offline_env, capsys, tiny_model_dir, tmp_path):
    from rlvr_bench.cli import main

    out = Path(tmp_path / "o")
    assert main(["eval", str(tiny_model_dir), "--benchmark", "math500", "--out", str(out), "--n", "1"]) == 2
    text = capsys.readouterr().err
    assert "Traceback" not in text
    err = [line for line in text.strip().splitlines() if line.startswith("error:")]
    assert err == [f"error: cannot reach the Hugging Face hub for benchmark 'math500' (HuggingFaceH4/MATH-500, "
                   f"split 'test') (offline: HF_HUB_OFFLINE=1); set {DATA_DIR_ENV} to a folder holding "
                   "math500.jsonl, or pass a local .jsonl/.parquet/.csv file with problem and answer columns "
                   "instead of 'math500'"]
