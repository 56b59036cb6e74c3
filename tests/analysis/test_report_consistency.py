"""The report agrees with ``method_summary_rows`` and reads what ``evaluate()`` really writes."""

from __future__ import annotations

import json

import numpy as np
import pytest
from test_report_synthetic import build_study, recount

from rlvr_bench.analysis import collect_runs, method_summary_rows, write_report
from rlvr_bench.evaluation import evaluate
from rlvr_bench.rollout import Decoding
from rlvr_bench.utils.rundir import read_jsonl


def _table_row(md: str, label: str, header_start: str) -> dict[str, str]:
    """Cells of ``label``'s row in the first markdown table whose header starts with ``header_start``."""
    lines = md.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(header_start))
    header = [c.strip() for c in lines[start].strip("|").split("|")]
    for line in lines[start + 2:]:
        if not line.startswith("|"):
            break
        cells = [c.strip() for c in line.strip("|").split("|")]
        if cells[0] == label:
            return dict(zip(header, cells))
    raise AssertionError(f"no row {label!r}")


def test_pass_gap_and_test_cells_equal_method_summary_rows(tmp_path):
    runs = build_study(tmp_path)
    data = collect_runs([runs[n] for n in ("grpo-s0", "grpo-s1", "ppo-s0", "ppo-s1", "sft-s0")], runs["base"])
    md = write_report(data, tmp_path / "out", ks=[4, 16], gap_k=16).read_text()
    correct = {"base": [data.base.correct], **{m: [r.correct for r in rs] for m, rs in data.methods.items()}}
    rows = {row["method"]: row for row in method_summary_rows(correct, 16, ks=(4, 16), gap_k=16)}
    for label in ("base", "grpo", "ppo", "sft"):
        mine = _table_row(md, label, "| method | kind |")
        theirs = rows[label]
        for key in ("pass@1", "pass@4", "pass@16", "ΔSE@16 (pts)", "Δpass@1 vs base", "95% CI", "p", "significant"):
            assert mine.get(key, "") == theirs[key], (label, key)
    # coverage: equal for a single run; for several runs the report averages over runs, the helper pools them
    sft = _table_row(md, "sft", "| method | k |")
    assert [sft[k] for k in ("both", "base only", "method only", "neither")] == [
        rows["sft"][k] for k in ("both", "base only", "method only", "neither")]


def test_report_reads_the_files_evaluate_writes(tiny_model, tmp_path):
    from rlvr_bench.data.toy import toy_dataset

    model, tok = tiny_model
    full = toy_dataset("test")
    families = full["data_source"]
    # two problems of each family (math: addsub, muladd; code), so the summaries carry three sources
    rows = [i for source in ("toy/addsub", "toy/muladd", "toy/code")
            for i in [j for j, s in enumerate(families) if s == source][:2]]
    ds = full.select(rows)
    ds.info.dataset_name = "toy"
    for name, step in (("base", 0), ("grpo-s0", 0), ("grpo-s0", 3)):
        evaluate(model, ds, tokenizer=tok, n=2, ks=[1, 2], seeds=[0, 1], run_dir=tmp_path / name, step=step,
                 batch_size=8, decoding=Decoding(max_new_tokens=8, template="toy"))
    data = collect_runs([tmp_path / "grpo-s0"], tmp_path / "base")
    assert data.ids == list(ds["id"]) and data.methods["grpo"][0].step == 3
    md = write_report(data, tmp_path / "out", n_resamples=200).read_text()
    numbers = json.loads((tmp_path / "out" / "report.json").read_text())
    for label, run in (("base", tmp_path / "base"), ("grpo", tmp_path / "grpo-s0")):
        lines = list(read_jsonl(run / "eval" / "step-0" / "toy.samples.jsonl")) if label == "base" else list(
            read_jsonl(run / "eval" / "step-3" / "toy.samples.jsonl"))
        assert len(lines) == 6 * 2 * 2
        assert numbers["methods"][label]["pass_at_k"]["1"]["mean"] == pytest.approx(
            np.mean([line["correct"] for line in lines]))
    assert numbers["settings"]["k_max"] == 4 and numbers["settings"]["gap_k"] == 4
    assert "- evaluation: n=2 samples per problem per seed, seeds [0, 1], template `toy`, reward `auto`" in md
    assert "max_new_tokens=8" in md
    assert "- environment: no env.json recorded" in md
    assert set(numbers["progress"]["grpo"]) == {"0", "3"}
    # the per-source breakdown and the failure counts come from the same files
    assert data.sources == list(ds["data_source"]) and list(numbers["by_source"]) == [
        "toy/addsub", "toy/muladd", "toy/code"]
    assert "## By task family (math and code side by side)" in md and "## Failures by kind" in md
    base_lines = list(read_jsonl(tmp_path / "base" / "eval" / "step-0" / "toy.samples.jsonl"))
    source_of = dict(zip(ds["id"], ds["data_source"]))
    for source, part in numbers["by_source"].items():
        mine = [line for line in base_lines if source_of[line["id"]] == source]
        assert part["methods"]["base"]["pass_at_k"]["1"]["mean"] == pytest.approx(
            np.mean([line["correct"] for line in mine]))
        counts = numbers["failures"]["methods"]["base"]["by_source"][source]
        assert counts["samples"] == len(mine) == 2 * 2 * 2
        assert sum(counts["reasons"].values()) == sum(not line["correct"] for line in mine)


def test_recount_helper_reads_the_final_step_not_an_earlier_one(tmp_path):
    runs = build_study(tmp_path)
    early, final = recount(runs["grpo-s0"], 0), recount(runs["grpo-s0"], 10)
    assert not np.array_equal(early["correct"], final["correct"])
    data = collect_runs([runs["grpo-s0"]], runs["base"])
    np.testing.assert_array_equal(data.methods["grpo"][0].correct, final["correct"])
