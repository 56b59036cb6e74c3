"""Benchmarks by short name: the mapping table, answer post-processing, local copies, offline errors."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from rlvr_bench.data.benchmarks import (
    BENCHMARKS,
    DATA_DIR_ENV,
    benchmark_names,
    get_benchmark,
    gsm8k_final_answer,
    last_boxed_content,
    load_benchmark,
    strip_dollars,
)
from rlvr_bench.data.loading import DataError, load_prompts

SHARED = Path("/work/shared/data/benchmarks")
SHARED_FILES = {"math500": "math500.jsonl", "aime24": "aime24.jsonl", "aime25": "aime25.jsonl",
                "amc23": "amc23.jsonl", "gsm8k": "gsm8k_test.jsonl", "minerva": "minerva_math.jsonl",
                "olympiadbench": "olympiadbench.jsonl"}


def test_short_names_map_to_the_study_datasets():
    assert benchmark_names() == sorted(
        ["math500", "aime24", "aime25", "amc23", "gsm8k", "minerva", "olympiadbench", "toy",
         "humaneval", "mbpp", "livecodebench", "livecodebench_v5", "humaneval_plus", "mbpp_plus",
         "toy/visual", "geometry3k", "mathvista", "mathvision"]
    )
    # their specs are tested in tests/code and tests/data/test_visual_data.py
    code = {"humaneval", "mbpp", "livecodebench", "livecodebench_v5", "humaneval_plus", "mbpp_plus",
            "toy/visual", "geometry3k", "mathvista", "mathvision"}
    table = {n: (s.hub_id, s.subset, s.split, s.problem_column, s.answer_column) for n, s in BENCHMARKS.items()
             if n not in code}
    assert table == {
        "math500": ("HuggingFaceH4/MATH-500", None, "test", "problem", "answer"),
        "aime24": ("HuggingFaceH4/aime_2024", None, "train", "problem", "answer"),
        "aime25": ("yentinglin/aime_2025", None, "train", "problem", "answer"),
        "amc23": ("knoveleng/AMC-23", None, "train", "problem", "answer"),
        "gsm8k": ("openai/gsm8k", "main", "test", "question", "answer"),
        "minerva": ("knoveleng/Minerva-Math", None, "train", "problem", "solution"),
        "olympiadbench": ("knoveleng/OlympiadBench", None, "train", "question", "answer"),
        "toy": (None, None, "test", "problem", "answer"),
    }
    assert {n: s.local_file for n, s in BENCHMARKS.items() if s.local_file and n not in code} == SHARED_FILES


def test_unknown_name_lists_valid_names():
    with pytest.raises(DataError) as info:
        load_benchmark("math5000")
    msg = str(info.value)
    assert msg.startswith("unknown benchmark 'math5000': not a short name (valid: aime24, aime25, amc23,")
    assert msg.endswith("and not an existing file")
    with pytest.raises(DataError, match="valid: aime24"):
        get_benchmark("nope")
    with pytest.raises(DataError, match="unknown benchmark option"):
        load_benchmark("toy", answer_col="x")


def test_gsm8k_answer_postprocessing():
    solution = "Natalia sold 48/2 = <<48/2=24>>24 clips in May.\nTotal 1,234 clips.\n#### 1,234"
    assert gsm8k_final_answer(solution) == "1234"
    assert gsm8k_final_answer("#### -5 ") == "-5"
    assert gsm8k_final_answer("18") == "18"  # already extracted: unchanged


def test_boxed_and_dollar_postprocessing():
    assert last_boxed_content(r"so \boxed{1} then \boxed{\frac{1}{2}} done") == r"\frac{1}{2}"
    assert last_boxed_content(r"\boxed{\left( 3, \frac{\pi}{2} \right)}") == r"\left( 3, \frac{\pi}{2} \right)"
    assert last_boxed_content(r"\fbox{7}") == "7"
    assert last_boxed_content(r"\boxed 5$") == "5"
    assert last_boxed_content("no box") is None
    assert last_boxed_content(r"\boxed{unclosed") is None
    assert strip_dollars(" $x^2$ ") == "x^2"


def test_hub_format_files_get_the_benchmark_mapping(tmp_path):
    """Files in each dataset's hub format load with the short name's mapping (no network)."""
    gsm = tmp_path / "gsm8k-test.parquet"
    pd.DataFrame({"question": ["How many?", "And now?"],
                  "answer": ["2 + 2 = <<2+2=4>>4\n#### 4", "Sum 1,000\n#### 1,000"]}).to_parquet(gsm)
    ds = load_benchmark("gsm8k", source=gsm)
    assert ds["answer"] == ["4", "1000"]
    assert ds["id"] == ["gsm8k/0", "gsm8k/1"]
    assert ds["data_source"] == ["gsm8k", "gsm8k"]
    assert ds["solution"][1].endswith("#### 1,000")  # the worked solution is kept

    minerva = tmp_path / "minerva.parquet"
    pd.DataFrame({"problem": ["Find d."], "solution": [r"Thus $d=\boxed{1.6}$ cm."], "type": ["Astro"],
                  "idx": [0]}).to_parquet(minerva)
    row = load_benchmark("minerva", source=minerva)[0]
    assert (row["id"], row["answer"]) == ("minerva/0", "1.6")

    olymp = tmp_path / "olymp.jsonl"
    olymp.write_text(json.dumps({"id": 1606, "question": "How many moves?", "answer": "$2$",
                                 "final_answer": ["$2$"], "solution": ["..."]}) + "\n")
    row = load_benchmark("olympiadbench", source=olymp)[0]
    assert (row["id"], row["problem"], row["answer"]) == ("olympiadbench/1606", "How many moves?", "2")

    amc = tmp_path / "amc.jsonl"
    amc.write_text(json.dumps({"id": 0, "problem": "Meet where?", "answer": 27.0, "url": "u"}) + "\n")
    row = load_benchmark("amc23", source=amc)[0]
    assert (row["id"], row["answer"]) == ("amc23/0", "27")


def test_offline_hub_names_the_benchmark_and_the_fix(monkeypatch):
    import datasets
    import huggingface_hub.constants as hub_constants

    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(hub_constants, "HF_HUB_OFFLINE", True)
    monkeypatch.delenv(DATA_DIR_ENV, raising=False)
    with pytest.raises(DataError) as info:
        load_benchmark("math500")
    msg = str(info.value)
    assert msg.startswith("cannot reach the Hugging Face hub for benchmark 'math500' (HuggingFaceH4/MATH-500, "
                          "split 'test')")
    assert f"set {DATA_DIR_ENV} to a folder holding math500.jsonl" in msg
    assert "\n" not in msg
    # a benchmark short name as a training source keeps the requested split: gsm8k train, from the hub
    with pytest.raises(DataError, match=r"openai/gsm8k, subset 'main', split 'train'"):
        load_prompts("gsm8k", split="train")


def test_toy_benchmark_is_the_toy_test_split():
    pytest.importorskip("rlvr_bench.data.toy")
    ds = load_benchmark("toy", limit=4)
    assert len(ds) == 4
    assert all(i.startswith("toy-test-") for i in ds["id"])


def _shared(name: str) -> Path:
    path = SHARED / SHARED_FILES[name]
    if not path.is_file():
        pytest.skip(f"normalised benchmark copy {path} not present")
    return path


@pytest.mark.parametrize("name", sorted(SHARED_FILES))
def test_shared_normalised_copies_load_as_local_files(name):
    path = _shared(name)
    lines = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    ds = load_benchmark(str(path))
    assert len(ds) == len(lines)
    assert ds["id"] == [r["id"] for r in lines]
    assert ds["answer"] == [str(r["answer"]) for r in lines]
    assert ds["problem"][0] == lines[0]["problem"]


def test_short_names_use_a_local_folder_of_copies(monkeypatch):
    _shared("gsm8k")
    monkeypatch.setenv(DATA_DIR_ENV, str(SHARED))
    ds = load_benchmark("gsm8k", limit=50)
    assert len(ds) == 50 and set(ds["data_source"]) == {"gsm8k"}
    assert all("," not in a and "####" not in a for a in ds["answer"])
    assert ds["id"][0] == "gsm8k_test/0"
    aime = load_benchmark("aime24", local_dir=SHARED)
    assert len(aime) == 30 and aime["answer"][0] == "204"
