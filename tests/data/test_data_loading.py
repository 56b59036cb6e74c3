"""load_prompts: local files, canonical columns, one-line errors, the offline hub, the toy source."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from rlvr_bench.data.loading import DataError, load_prompts, normalize_answer


def _write_jsonl(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


ROWS = [
    {"question": "1+1?", "gold": 2, "topic": "add"},
    {"question": "Half of 5?", "gold": 2.5, "topic": "div"},
    {"question": "27.0 as int?", "gold": 27.0, "topic": "cast"},
    {"question": "Write one half.", "gold": " 1/2 ", "topic": "frac"},
]


def test_jsonl_gets_canonical_columns_and_string_answers(tmp_path):
    path = _write_jsonl(tmp_path / "mix.jsonl", ROWS)
    ds = load_prompts(path, problem_column="question", answer_column="gold")
    assert ds.column_names[:4] == ["id", "problem", "answer", "data_source"]
    assert set(ds.column_names) >= {"question", "topic"}  # other columns are kept
    assert ds["id"] == ["mix/0", "mix/1", "mix/2", "mix/3"]
    assert ds["answer"] == ["2", "2.5", "27", "1/2"]
    assert ds.features["answer"].dtype == "string"
    assert ds["problem"] == [r["question"] for r in ROWS]
    assert set(ds["data_source"]) == {"mix"}


def test_csv_and_parquet_with_id_and_solution_columns(tmp_path):
    frame = pd.DataFrame({"uid": ["a", "b", "c"], "problem": ["p1", "p2", "p3"], "answer": [10, 20, 30],
                          "trace": ["t1", None, "t3"], "data_source": ["src"] * 3})
    frame.to_csv(tmp_path / "set.csv", index=False)
    frame.to_parquet(tmp_path / "set.parquet")
    for name in ("set.csv", "set.parquet"):
        ds = load_prompts(tmp_path / name, id_column="uid", solution_column="trace")
        assert ds["id"] == ["a", "b", "c"]
        assert ds["answer"] == ["10", "20", "30"]
        assert ds["solution"] == ["t1", "", "t3"]
        assert ds["data_source"] == ["src"] * 3  # an existing data_source column is kept


def test_missing_column_message_is_exact(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    _write_jsonl(tmp_path / "x.jsonl", [{"id": 1, "question": "q", "gold": "1"}])
    with pytest.raises(DataError) as info:
        load_prompts("x.jsonl", problem_column="question")
    assert str(info.value) == (
        "dataset 'x.jsonl' has no column 'answer' (columns: id, question, gold); set data.answer_column"
    )
    with pytest.raises(DataError, match=r"no column 'ref' .*set data.solution_column$"):
        load_prompts("x.jsonl", problem_column="question", answer_column="gold", solution_column="ref")


def test_missing_and_empty_files(tmp_path):
    with pytest.raises(DataError, match=r"^data file '.*nope\.jsonl' does not exist$"):
        load_prompts(tmp_path / "nope.jsonl")
    (tmp_path / "empty.jsonl").write_text("")
    with pytest.raises(DataError, match=r"is empty$"):
        load_prompts(tmp_path / "empty.jsonl")
    (tmp_path / "header.csv").write_text("problem,answer\n")
    with pytest.raises(DataError, match=r"^data file '.*header\.csv' is empty \(no rows\)$"):
        load_prompts(tmp_path / "header.csv")
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(DataError, match="unsupported suffix '.txt'"):
        load_prompts(tmp_path / "notes.txt")


def test_bad_rows_fail_in_one_line(tmp_path):
    path = _write_jsonl(tmp_path / "bad.jsonl", [{"problem": "a", "answer": "1"}, {"problem": "b", "answer": None}])
    with pytest.raises(DataError) as info:
        load_prompts(path)
    assert "row 1 (id bad/1): answer is missing (null) in column 'answer'" in str(info.value)
    assert "\n" not in str(info.value)
    dup = _write_jsonl(tmp_path / "dup.jsonl", [{"id": 7, "problem": "a", "answer": 1}, {"id": 7, "problem": "b",
                                                                                          "answer": 2}])
    with pytest.raises(DataError, match="duplicate id '7'"):
        load_prompts(dup)


def test_limit_and_seed_keep_ids_stable(tmp_path):
    path = _write_jsonl(tmp_path / "n.jsonl", [{"problem": f"p{i}", "answer": i} for i in range(20)])
    assert load_prompts(path, limit=3)["id"] == ["n/0", "n/1", "n/2"]
    shuffled = load_prompts(path, seed=1, limit=5)
    assert shuffled["id"] == load_prompts(path, seed=1, limit=5)["id"]
    assert shuffled["id"] != ["n/0", "n/1", "n/2", "n/3", "n/4"]
    for row in shuffled:  # generated ids name the original row, whatever the order
        assert row["id"] == f"n/{row['answer']}" and row["problem"] == f"p{row['answer']}"
    with pytest.raises(DataError, match="limit must be a positive"):
        load_prompts(path, limit=0)


def test_unreachable_hub_dataset_is_one_line(monkeypatch):
    import datasets
    import huggingface_hub.constants as hub_constants

    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(hub_constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(DataError) as info:
        load_prompts("some-org/some-prompts:main", split="train")
    msg = str(info.value)
    assert msg.startswith("cannot reach the Hugging Face hub for data.source 'some-org/some-prompts:main' "
                          "split 'train' (offline: ")
    assert "\n" not in msg


def test_toy_source_has_canonical_columns():
    pytest.importorskip("rlvr_bench.data.toy")
    ds = load_prompts("toy", split="test", limit=5)
    assert len(ds) == 5
    assert ds.column_names[:3] == ["id", "problem", "answer"]
    assert all(isinstance(a, str) and a for a in ds["answer"])
    assert all(s.startswith("toy") for s in ds["data_source"])


@pytest.mark.parametrize(
    ("value", "expected"),
    [(3, "3"), (3.0, "3"), (-0.5, "-0.5"), (" x ", "x"), (["7"], "7"), ([1, 2.0], "1, 2"), (True, "True")],
)
def test_normalize_answer(value, expected):
    assert normalize_answer(value) == expected


def test_normalize_answer_rejects_null():
    with pytest.raises(ValueError):
        normalize_answer(None)
