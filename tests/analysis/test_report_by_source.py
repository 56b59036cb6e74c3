"""The report's per-source (task family) breakdown and its failure counts, on synthetic run directories.

Two fixtures: a tiny study (6 problems, 3 math + 3 code, n=4, one evaluation seed) whose numbers are worked
out by hand below, and the 30-problem study of ``test_report_synthetic`` with its first 15 problems labelled
math and the last 15 code, where GRPO loses the base's rare math problems (the base overtakes it at k_max on
math) but is at the base's level on code.
"""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib.image
import numpy as np
import pytest
from test_report_synthetic import IDS, P, build_study, recount, write_eval

from rlvr_bench.analysis import collect_runs, write_report
from rlvr_bench.analysis.breakdown import count_failures, failure_columns, source_kind
from rlvr_bench.analysis.plots import plot_pass_at_k_by_source
from rlvr_bench.utils.rundir import read_jsonl

TINY_IDS = [f"t-{i}" for i in range(6)]
TINY_SOURCES = ["toy/addsub"] * 3 + ["toy/code"] * 3
MATH, CODE = np.arange(3), np.arange(3, 6)
# per run, per-problem correct counts out of n=4 (one evaluation seed)
TINY_COUNTS = {
    "base": [4, 2, 0, 1, 0, 0],
    "grpo-s0": [4, 4, 0, 4, 0, 0],
    "grpo-s1": [3, 3, 0, 2, 0, 1],
    "sft-s0": [4, 2, 1, 1, 1, 0],
}
BASE_REASONS = ["no_answer", "no_answer", "wrong_answer", "no_code", "syntax_error", "exception:TypeError"]


def _tiny_reason(label: str, i: int) -> str:
    """The reason of a wrong sample: the base fails on format, GRPO on answers (and a timeout on problem 5)."""
    if label == "base":
        return BASE_REASONS[i]
    return "timeout" if i == 5 else "wrong_answer"


def build_tiny(root: Path) -> dict[str, Path]:
    """The tiny study; sft-s0's samples file is deleted (an imported run without samples)."""
    runs = {}
    for name, counts in TINY_COUNTS.items():
        run = root / name
        run.mkdir(parents=True)
        label = name.split("-")[0]
        write_eval(run, 5, {0: np.array(counts)}, n=4, ids=TINY_IDS, sources=TINY_SOURCES,
                   reason=lambda i, label=label: _tiny_reason(label, i))
        runs[name] = run
    (runs["sft-s0"] / "eval" / "step-5" / "toy.samples.jsonl").unlink()
    return runs


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    root = tmp_path_factory.mktemp("tiny")
    runs = build_tiny(root)
    data = collect_runs([runs[n] for n in ("grpo-s0", "grpo-s1", "sft-s0")], runs["base"])
    md = write_report(data, root / "report", n_resamples=200).read_text()
    return {"runs": runs, "data": data, "md": md, "json": json.loads((root / "report" / "report.json").read_text()),
            "out": root / "report"}


def test_sources_are_read_and_subsets_keep_runs_and_samples(tiny):
    data = tiny["data"]
    assert data.sources == TINY_SOURCES and data.source_names() == ["toy/addsub", "toy/code"]
    code = data.subset("toy/code")
    assert code.ids == TINY_IDS[3:] and code.sources == ["toy/code"] * 3
    assert code.methods["grpo"][1].correct.tolist() == [2, 0, 1]
    assert code.methods["grpo"][1].samples_per_problem == 4 and code.base.history[5][0].tolist() == [1, 0, 0]
    with pytest.raises(ValueError, match="no problem"):
        data.subset("toy/muladd")
    assert [source_kind(s) for s in ("toy/addsub", "toy/code", "humaneval", "math500")] == [
        "math", "code", "code", "math"]


def test_per_source_numbers_equal_hand_computed_values(tiny):
    by_source = tiny["json"]["by_source"]
    assert list(by_source) == ["toy/addsub", "toy/code"]
    math_part, code_part = by_source["toy/addsub"], by_source["toy/code"]
    assert (math_part["num_problems"], math_part["k_max"], math_part["gap_k"]) == (3, 4, 4)
    base_m, grpo_m = math_part["methods"]["base"], math_part["methods"]["grpo"]
    assert base_m["pass_at_k"]["1"]["mean"] == pytest.approx(6 / 12)
    assert base_m["pass_at_k"]["4"]["mean"] == pytest.approx(2 / 3)
    assert base_m["gap"]["value"] == pytest.approx(100 * (2 / 3 - 1 / 2))
    assert grpo_m["pass_at_k"]["1"]["per_run"] == pytest.approx([8 / 12, 6 / 12])
    assert grpo_m["pass_at_k"]["1"]["mean"] == pytest.approx(7 / 12)
    assert grpo_m["pass_at_k"]["1"]["std"] == pytest.approx(np.std([8 / 12, 6 / 12], ddof=1))
    assert grpo_m["pass_at_k"]["4"]["per_run"] == pytest.approx([2 / 3, 2 / 3])
    assert grpo_m["gap"]["value"] == pytest.approx(100 * (2 / 3 - 7 / 12))  # base pass@4 - grpo pass@1
    assert {k: grpo_m["coverage"][k] for k in ("both", "base_only", "method_only", "neither")} == {
        "both": 2, "base_only": 0, "method_only": 0, "neither": 1}
    base_c, grpo_c = code_part["methods"]["base"], code_part["methods"]["grpo"]
    assert base_c["pass_at_k"]["1"]["mean"] == pytest.approx(1 / 12)
    assert base_c["pass_at_k"]["4"]["mean"] == pytest.approx(1 / 3)
    assert grpo_c["pass_at_k"]["1"]["per_run"] == pytest.approx([4 / 12, 3 / 12])
    assert grpo_c["pass_at_k"]["4"]["per_run"] == pytest.approx([1 / 3, 2 / 3])
    assert grpo_c["gap"]["value"] == pytest.approx(100 * (1 / 3 - 7 / 24))
    assert {k: grpo_c["coverage"][k] for k in ("both", "base_only", "method_only", "neither")} == {
        "both": 1, "base_only": 0, "method_only": 0.5, "neither": 1.5}
    assert [c["method_only"] for c in grpo_c["coverage"]["per_run"]] == [0, 1]
    for block in (grpo_m, grpo_c):  # per-run records stay in the main table only
        assert "compute" not in block and "paths" not in block


def test_by_source_section_renders_the_hand_computed_cells(tiny):
    md, out = tiny["md"], tiny["out"]
    assert "## By task family (math and code side by side)" in md
    assert "### toy/addsub (math, 3 problems)" in md and "### toy/code (code, 3 problems)" in md
    assert "| method | pass@1 | pass@4 | ΔSE@4 (pts) | Δpass@4 vs base | p | significant | both | base only " in md
    code_section = md.split("### toy/code")[1]
    math_row = next(line for line in md.split("### toy/addsub")[1].splitlines() if line.startswith("| grpo |"))
    code_row = next(line for line in code_section.splitlines() if line.startswith("| grpo |"))
    assert math_row.startswith("| grpo | 0.583 ± 0.118 | 0.667 ± 0.000 | 8.3 | +0.000 |")
    assert math_row.endswith("| 2 | 0 | 0 | 1 |")
    assert code_row.startswith("| grpo | 0.292 ± 0.059 | 0.500 ± 0.236 | 4.2 | +0.167 |")
    assert code_row.endswith("| 1 | 0 | 0.5 | 1.5 |")
    assert "![pass@k by task family](curves_by_source.png)" in md
    assert (out / "curves_by_source.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert md.index("## Coverage and compute") < md.index("## By task family") < md.index("## Failures by kind")


def test_failure_counts_equal_hand_computed_values(tiny):
    failures = tiny["json"]["failures"]
    assert failures["sources"] == ["all", "toy/addsub", "toy/code"]
    base = failures["methods"]["base"]["by_source"]
    assert base["all"] == {"samples": 24, "correct": 7, "reasons": {
        "no_answer": 2, "wrong_answer": 4, "no_code": 3, "syntax_error": 4, "exception:TypeError": 4}}
    assert base["toy/addsub"] == {"samples": 12, "correct": 6, "reasons": {"no_answer": 2, "wrong_answer": 4}}
    assert base["toy/code"] == {"samples": 12, "correct": 1, "reasons": {
        "no_code": 3, "syntax_error": 4, "exception:TypeError": 4}}
    grpo = failures["methods"]["grpo"]
    assert (grpo["runs"], grpo["runs_read"], grpo["missing"], grpo["incomplete"]) == (2, 2, [], [])
    assert grpo["by_source"]["all"] == {"samples": 48, "correct": 21, "reasons": {"wrong_answer": 20, "timeout": 7}}
    assert grpo["by_source"]["toy/addsub"] == {"samples": 24, "correct": 14, "reasons": {"wrong_answer": 10}}
    assert grpo["by_source"]["toy/code"] == {"samples": 24, "correct": 7, "reasons": {"wrong_answer": 10, "timeout": 7}}
    sft = failures["methods"]["sft"]
    assert (sft["runs_read"], sft["by_source"]) == (0, {})
    assert sft["missing"] == ["sft-s0 (eval/step-5/toy.samples.jsonl)"]


def test_failures_table_shows_shares_of_all_samples_and_the_skipped_run(tiny):
    md = tiny["md"]
    section = md.split("## Failures by kind")[1].split("\n## ")[0]
    assert "Share of **all** final-step samples" in section and "`exception` any exception" in section
    header = next(line for line in section.splitlines() if line.startswith("| family |"))
    assert header == ("| family | method | runs read | samples | correct | no_answer | no_code | syntax_error | "
                      "wrong_answer | exception | timeout |")
    rows = [line for line in section.splitlines() if line.startswith("| all |") or line.startswith("| toy/")]
    assert "| all | base | 1 of 1 | 24 | 0.292 | 0.083 | 0.125 | 0.167 | 0.167 | 0.167 | 0.000 |" in rows
    assert "| toy/code | grpo | 2 of 2 | 24 | 0.292 | 0.000 | 0.000 | 0.000 | 0.417 | 0.000 | 0.292 |" in rows
    assert "| all | sft | 0 of 1 (no samples file) | 0 |  |  |  |  |  |  |  |" in rows
    assert len(rows) == 3 * 3  # (all + 2 sources) x (base, grpo, sft)
    for row in rows[:2]:  # a row sums to 1
        shares = [float(c) for c in row.strip("|").split("|")[4:]]
        assert sum(shares) == pytest.approx(1.0, abs=0.003)
    assert "No samples file (skipped): sft: sft-s0 (eval/step-5/toy.samples.jsonl)." in section
    assert failure_columns(["wrong_answer", "exception:ValueError", "zzz", "no_code", "exception:KeyError"]) == [
        "no_code", "wrong_answer", "exception", "zzz"]


def test_failure_counts_stream_partial_files_and_flag_short_ones(tmp_path):
    runs = build_tiny(tmp_path)
    path = runs["grpo-s1"] / "eval" / "step-5" / "toy.samples.jsonl"
    lines = path.read_text().splitlines(keepends=True)
    path.write_text("".join(lines[:10]) + lines[10][:15])  # a killed writer: 10 lines and a partial one
    data = collect_runs([runs["grpo-s0"], runs["grpo-s1"]], runs["base"])
    grpo = count_failures(data)["methods"]["grpo"]
    assert grpo["by_source"]["all"]["samples"] == 24 + 10
    assert grpo["incomplete"] == ["grpo-s1 (10 of 24 samples)"]


@pytest.fixture(scope="module")
def family_study(tmp_path_factory):
    root = tmp_path_factory.mktemp("families")
    sources = ["toy/addsub"] * 15 + ["toy/code"] * 15
    reasons = {"base": lambda i: "no_answer" if i < 15 else "no_code",
               "grpo": lambda i: "wrong_answer" if i < 15 else ("wrong_answer" if i % 2 else "syntax_error")}
    runs = build_study(root, sources=sources, reasons=reasons)
    data = collect_runs([runs[n] for n in runs if n != "base"], runs["base"])
    md = write_report(data, root / "report", ks=[1, 4, 16], gap_k=256).read_text()
    return {"runs": runs, "sources": sources, "md": md,
            "json": json.loads((root / "report" / "report.json").read_text())}


def test_per_source_numbers_equal_a_recount_from_the_samples_files(family_study):
    numbers, runs = family_study["json"], family_study["runs"]
    mask = {s: np.array([x == s for x in family_study["sources"]]) for s in ("toy/addsub", "toy/code")}
    base = recount(runs["base"])
    for source, keep in mask.items():
        part = numbers["by_source"][source]
        assert part["num_problems"] == 15 and part["k_max"] == 16
        base_solved = base["correct"][keep] > 0
        base_pass16 = np.mean(base_solved)  # k = n = 16: solved at all
        for label, names in {"grpo": ["grpo-s0", "grpo-s1"], "ppo": ["ppo-s0", "ppo-s1"], "sft": ["sft-s0"]}.items():
            counts = [recount(runs[name])["correct"][keep] for name in names]
            block = part["methods"][label]
            per_run = [c.mean() / 16 for c in counts]
            assert block["pass_at_k"]["1"]["per_run"] == pytest.approx(per_run)
            assert block["pass_at_k"]["16"]["per_run"] == pytest.approx([np.mean(c > 0) for c in counts])
            assert block["gap"]["value"] == pytest.approx(100 * (base_pass16 - np.mean(per_run)))
            for i, c in enumerate(counts):
                solved = c > 0
                assert block["coverage"]["per_run"][i]["method_only"] == int(np.sum(solved & ~base_solved))
                assert block["coverage"]["per_run"][i]["both"] == int(np.sum(solved & base_solved))
    # the sources of the ppo-s1 run written in shuffled order are aligned through the base's ids
    assert sum(p["num_problems"] for p in numbers["by_source"].values()) == P


def test_failure_counts_equal_a_recount_from_the_samples_files(family_study):
    runs, failures = family_study["runs"], family_study["json"]["failures"]
    source_of = dict(zip(IDS, family_study["sources"]))
    for label, names in {"base": ["base"], "grpo": ["grpo-s0", "grpo-s1"], "sft": ["sft-s0"]}.items():
        expected: dict[str, dict[str, int]] = {}
        for name in names:
            for line in read_jsonl(runs[name] / "eval" / "step-10" / "toy.samples.jsonl"):
                for family in ("all", source_of[line["id"]]):
                    if not line["correct"]:
                        expected.setdefault(family, {}).setdefault(line["reason"], 0)
                        expected[family][line["reason"]] += 1
        got = failures["methods"][label]["by_source"]
        assert {family: got[family]["reasons"] for family in expected} == expected
    assert set(failures["methods"]["base"]["by_source"]["toy/code"]["reasons"]) == {"no_code"}
    assert set(failures["methods"]["grpo"]["by_source"]["toy/addsub"]["reasons"]) == {"wrong_answer"}


def test_math_against_code_finding_is_stated_from_the_numbers(family_study):
    numbers, md = family_study["json"], family_study["md"]
    math_test = numbers["by_source"]["toy/addsub"]["methods"]["grpo"]["versus_base_at_k_max"]
    code_test = numbers["by_source"]["toy/code"]["methods"]["grpo"]["versus_base_at_k_max"]
    assert math_test["significant"] and math_test["diff"] < 0  # grpo never solves the base's rare problems
    assert not (code_test["significant"] and code_test["diff"] < 0)
    sentence = next(s for s in numbers["findings"] if s.startswith("Math against code"))
    assert "the RL method with the best pass@1 (**grpo**)" in sentence
    base_16 = numbers["by_source"]["toy/addsub"]["methods"]["base"]["pass_at_k"]["16"]["mean"]
    assert "toy/addsub (math): pass@1 base" in sentence and f"pass@16 base {base_16:.3f} vs" in sentence
    assert sentence.endswith("So the base is significantly above grpo at k=16 on math but not on code.")
    assert f"- {sentence}" in md


def test_old_summaries_without_sources_give_the_old_report(tmp_path):
    runs = build_study(tmp_path)
    data = collect_runs([runs["grpo-s0"], runs["sft-s0"]], runs["base"])
    assert data.sources is None and data.source_names() == []
    md = write_report(data, tmp_path / "out", n_resamples=200).read_text()
    numbers = json.loads((tmp_path / "out" / "report.json").read_text())
    assert numbers["by_source"] is None and not (tmp_path / "out" / "curves_by_source.png").exists()
    assert "## By task family" not in md and "Math against code" not in md
    assert numbers["failures"]["sources"] == ["all"]
    assert numbers["failures"]["methods"]["grpo"]["by_source"]["all"]["reasons"].keys() == {"wrong"}
    header = next(line for line in md.split("## Failures by kind")[1].splitlines() if line.startswith("| method"))
    assert header == "| method | runs read | samples | correct | wrong |"


def test_a_single_source_gives_no_breakdown(tmp_path):
    runs = build_study(tmp_path, sources=["toy/addsub"] * P)
    data = collect_runs([runs["sft-s0"]], runs["base"])
    md = write_report(data, tmp_path / "out", n_resamples=200).read_text()
    assert data.source_names() == ["toy/addsub"] and "## By task family" not in md
    assert json.loads((tmp_path / "out" / "report.json").read_text())["by_source"] is None


def test_plot_pass_at_k_by_source(tmp_path):
    curves = {"toy/addsub": {"base": {1: [0.3], 4: [0.6], 16: [0.9]}, "grpo": {1: [0.5, 0.55], 4: [0.6, 0.62],
                                                                               16: [0.65, 0.66]}},
              "toy/code": {"base": {1: [0.1], 4: [0.3], 16: [0.5]}, "grpo": {1: [0.3, 0.2], 4: [0.5, 0.45],
                                                                            16: [0.6, 0.55]}}}
    path = plot_pass_at_k_by_source(curves, tmp_path / "by_source.png", title="toy")
    assert matplotlib.image.imread(path).shape == (400, 930, 4)  # panel_figsize(2) + legend margin, 100 dpi
    with pytest.raises(ValueError):
        plot_pass_at_k_by_source({}, tmp_path / "x.png")


def _numbers(diffs: dict[str, tuple[float, bool]]) -> dict:
    """Minimal report numbers: grpo against the base at k_max=16 on each source, (diff, significant)."""
    def block(kind: str, pass1: float, test: dict | None) -> dict:
        out = {"kind": kind, "pass_at_k": {"1": {"mean": pass1}, "16": {"mean": 0.5}}}
        return out if test is None else {**out, "versus_base_at_k_max": test}

    by_source = {source: {"methods": {
        "base": block("base", 0.2, None),
        "grpo": block("rl", 0.4, {"diff": diff, "significant": sig, "p_value": 0.01 if sig else 0.4})}}
        for source, (diff, sig) in diffs.items()}
    methods = {"base": block("base", 0.2, None), "grpo": block("rl", 0.4, None), "sft": block("sft", 0.9, None)}
    return {"settings": {"k_max": 16}, "methods": methods, "by_source": by_source}


@pytest.mark.parametrize(("diffs", "tail"), [
    ({"toy/addsub": (-0.2, True), "toy/code": (-0.3, True)}, "at k=16 on code as it is on math."),
    ({"toy/addsub": (0.0, False), "toy/code": (-0.3, True)}, "at k=16 on code but not on math."),
    ({"toy/addsub": (-0.2, True), "toy/muladd": (0.1, False), "toy/code": (0.0, False)},
     "at k=16 on toy/addsub only."),
])
def test_math_against_code_sentence_branches(diffs, tail):
    from rlvr_bench.analysis.findings import _family_sentence

    sentence = _family_sentence(_numbers(diffs))
    assert sentence.endswith(tail) and "(**grpo**)" in sentence  # the best RL method, not the better sft
    assert "p=0.400" in sentence or "p=0.010" in sentence
    assert _family_sentence(_numbers({"toy/addsub": (-0.2, True), "toy/muladd": (-0.2, True)})) is None
