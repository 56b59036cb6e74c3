"""The boundary sections (issue #19) on a synthetic study with hand-computed numbers, on studies that lack
controls, a reference, seeds or RL runs, and on the real default study when it is on disk.

The synthetic study repeats one block of 6 problems 8 times (48 problems, n = 4 samples per problem, one
evaluation seed), so pass@4 of a run is the share of problems with a correct sample and every expectation
below is a count. Per block (correct counts out of 4):

    base            0 1 1 4 0 2      solves problems 1, 2, 3, 5
    grpo  (s0, s1)  0 0 4 4 0 4      sharper: loses problem 1 (the reference, 2000 tokens per run)
    gspo  (s0)      1 1 1 4 0 2      solves problem 0 as well (2100 tokens per run)
    gspo  (s1)      2 1 1 4 0 2
    control_random  0 1 1 4 0 2      the base again (reward `random`, 2 seeds)
    prorl (s0)      1 1 1 4 0 2      one seed, 8 steps, 4000 tokens (2x the reference)
    sft   (s0)      0 1 1 4 1 0      solves problem 4, loses problem 5 (500 tokens)
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import yaml
from test_report_synthetic import write_eval

from rlvr_bench.analysis import collect_runs, write_report
from rlvr_bench.analysis.boundary import (
    boundary_numbers,
    find_reference,
    is_control,
    reward_name,
)
from rlvr_bench.analysis.boundary_curves import curve_k, training_curve_numbers
from rlvr_bench.analysis.boundary_findings import boundary_findings, curve_findings
from rlvr_bench.analysis.boundary_sections import BOUNDARY_SECTION
from rlvr_bench.analysis.report_section import ReportContext, check_sections
from rlvr_bench.analysis.report_sections import SECTIONS
from rlvr_bench.utils.rundir import read_jsonl

R = 8
P = 6 * R
IDS = [f"toy-test-{i:05d}" for i in range(P)]
BLOCKS = {
    "base": [0, 1, 1, 4, 0, 2],
    "grpo": [0, 0, 4, 4, 0, 4],
    "gspo-s0": [1, 1, 1, 4, 0, 2],
    "gspo-s1": [2, 1, 1, 4, 0, 2],
    "control": [0, 1, 1, 4, 0, 2],
    "sft": [0, 1, 1, 4, 1, 0],
}
N_RESAMPLES = 2000


def tile(block: list[int]) -> np.ndarray:
    return np.tile(np.asarray(block), R)


def make_run(root: Path, name: str, evals: dict[int, tuple[list[int], int]], *, method: str, seed: int,
             reward: str = "auto", preset: str | None = None, tokens: float | None = None,
             metrics: list[dict] | None = None) -> Path:
    """One run directory: an evaluation per step (block, n), config.yaml, metrics.jsonl, complete.json."""
    run = root / name
    run.mkdir(parents=True)
    for step, (block, n) in sorted(evals.items()):
        write_eval(run, step, {0: tile(block)}, n=n, ids=IDS)
    config = {"method": method, "seed": seed, "output_dir": str(run), "reward": {"name": reward}}
    if preset is not None:
        config["algorithm"] = {"preset": preset}
    (run / "config.yaml").write_text(yaml.safe_dump(config))
    (run / "metrics.jsonl").write_text("".join(json.dumps(row) + "\n" for row in metrics or []))
    compute = {} if tokens is None else {"compute/gen_tokens": tokens / 2, "compute/backward_tokens": tokens / 2}
    (run / "complete.json").write_text(json.dumps({"steps": max(evals), **compute}))
    return run


def entropy_rows(values: list[float], key: str = "actor/entropy") -> list[dict]:
    return [{"step": i + 1, key: v} for i, v in enumerate(values)]


def build(root: Path, *, only: tuple[str, ...] | None = None) -> list[Path]:
    """The runs of the module docstring (``only``: the run names to build besides the base)."""
    make_run(root, "base", {600: (BLOCKS["base"], 4)}, method="toy_base", seed=0)
    specs = {
        "grpo-s0": dict(evals={2: ([0, 0, 2, 2, 0, 2], 2), 4: (BLOCKS["grpo"], 4)}, preset="grpo", tokens=2000,
                        metrics=entropy_rows([0.5, 0.4, 0.3, 0.2])),
        "grpo-s1": dict(evals={2: ([0, 0, 2, 2, 0, 2], 2), 4: (BLOCKS["grpo"], 4)}, preset="grpo", tokens=2000,
                        metrics=entropy_rows([0.7, 0.6, 0.5, 0.4])),
        "gspo-s0": dict(evals={4: (BLOCKS["gspo-s0"], 4)}, preset="gspo", tokens=2100),
        "gspo-s1": dict(evals={4: (BLOCKS["gspo-s1"], 4)}, preset="gspo", tokens=2100),
        "control_random-s0": dict(evals={4: (BLOCKS["control"], 4)}, preset="grpo", reward="random", tokens=2000),
        "control_random-s1": dict(evals={4: (BLOCKS["control"], 4)}, preset="grpo", reward="random", tokens=2000),
        "prorl-s0": dict(evals={2: ([0, 1, 1, 2, 0, 1], 2), 4: ([1, 1, 1, 2, 0, 2], 2), 8: (BLOCKS["gspo-s0"], 4)},
                         preset="prorl", tokens=4000,
                         metrics=[{"step": s, "actor/entropy": e, "compute/gen_tokens": t / 2,
                                   "compute/backward_tokens": t / 2}
                                  for s, e, t in ((2, 0.5, 1000), (4, 0.5, 2000), (6, 0.5, 3000), (8, 0.6, 4000))]),
        "sft-s0": dict(evals={10: (BLOCKS["sft"], 4)}, tokens=500, metrics=entropy_rows([0.9, 0.8], "train/entropy")),
    }
    runs = []
    for name, spec in specs.items():
        if only is not None and name not in only:
            continue
        method = "sft" if name.startswith("sft") else "rl"
        runs.append(make_run(root, name, method=method, seed=int(name[-1]), **spec))
    return runs


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    root = tmp_path_factory.mktemp("boundary")
    data = collect_runs(build(root), root / "base")
    numbers = boundary_numbers(data, 4, n_resamples=N_RESAMPLES)
    metrics = {label: [list(read_jsonl(r.path / "metrics.jsonl")) for r in runs] for label, runs in data.methods.items()}
    curves = training_curve_numbers(data, metrics, k_max=4, reference="grpo", n_resamples=N_RESAMPLES)
    return {"root": root, "data": data, "b": numbers, "c": curves}


def test_kinds_reference_and_controls(study):
    b = study["b"]
    assert {label: row["kind"] for label, row in b["methods"].items()} == {
        "control_random": "control", "grpo": "rl", "gspo": "rl", "prorl": "rl", "sft": "sft"}
    assert b["reference"] == {"label": "grpo", "source": "default", "note": None}  # not the control, also preset grpo
    assert b["controls"] == ["control_random"] and b["control_rewards"] == ["format_only", "incorrect", "majority_vote", "random"]
    assert b["best_control"] == {"pass_at_1": "control_random", "pass_at_k": "control_random"}
    assert find_reference(study["data"], "gspo")["label"] == "gspo"
    missing = find_reference(study["data"], "nope")
    assert missing["label"] is None and "'nope'" in missing["note"]


def test_a_run_is_a_control_when_every_reward_it_trained_on_is_one(study):
    run = study["data"].methods["grpo"][0]
    for reward, control in (({"name": "random"}, True), ({"name": "auto"}, False),
                            ({"name": "auto", "weights": {"random": 1.0, "format_only": 0.5}}, True),
                            ({"name": "random", "weights": {"math": 1.0, "random": 0.1}}, False),
                            ({"name": "auto", "weights": {"math": 0.0, "incorrect": 1.0}}, True)):
        assert is_control(replace(run, config={**run.config, "reward": reward})) is control, reward
    assert reward_name(replace(run, config={"reward": {"name": "x", "weights": {"math": 1, "format": 0.1}}})) == \
        "math+format"
    assert not is_control(replace(run, config={})) and reward_name(replace(run, config={})) is None


def test_pass_gains_against_the_base_and_the_reference(study):
    b = study["b"]
    rows = b["methods"]
    assert b["base"]["pass_at_1"] == pytest.approx(8 / 24) and b["base"]["pass_at_k"] == pytest.approx(4 / 6)
    grpo, gspo, control, sft = (rows[m] for m in ("grpo", "gspo", "control_random", "sft"))
    assert grpo["pass_at_1"]["per_run"] == pytest.approx([0.5, 0.5])
    assert gspo["pass_at_1"]["per_run"] == pytest.approx([9 / 24, 10 / 24])
    assert grpo["pass_at_k"]["versus_base"]["diff"] == pytest.approx(-1 / 6)
    assert gspo["pass_at_k"]["versus_base"]["diff"] == pytest.approx(1 / 6)
    assert sft["pass_at_k"]["versus_base"]["diff"] == pytest.approx(0.0)
    assert control["pass_at_k"]["versus_base"]["p_value"] == 1.0  # identical to the base on every problem
    # 8 problems lost (grpo) / gained (gspo), all in the same direction: significant
    assert grpo["verdict"] == {"pass_at_1": "up", "pass_at_k": "down"}  # the reference: no verdict against itself
    assert gspo["verdict"] == {
        "pass_at_1": "up", "pass_at_k": "up", "pass_at_k_versus_reference": "up"}
    assert sft["verdict"]["pass_at_k"] == "flat" and control["verdict"]["pass_at_1"] == "flat"
    # minus the reference's pass@4 (0.5): +2/6 for gspo, +1/6 for the control
    assert grpo["pass_at_k"]["versus_reference"] is None
    assert gspo["pass_at_k"]["versus_reference"]["diff"] == pytest.approx(2 / 6)
    assert control["pass_at_k"]["versus_reference"]["diff"] == pytest.approx(1 / 6)
    assert all("p_holm" in row["pass_at_k"]["versus_base"] for row in rows.values())


def test_sign_tests_over_runs(study):
    rows = study["b"]["methods"]
    assert rows["grpo"]["pass_at_k"]["sign_versus_base"] == {"below": 2, "above": 0, "ties": 0, "p_value": 0.5}
    assert rows["gspo"]["pass_at_k"]["sign_versus_base"] == {"below": 0, "above": 2, "ties": 0, "p_value": 0.5}
    assert rows["control_random"]["pass_at_k"]["sign_versus_base"] == {"below": 0, "above": 0, "ties": 2,
                                                                       "p_value": 1.0}
    # one seed: the sign test cannot say anything
    assert rows["sft"]["pass_at_k"]["sign_versus_base"] == {"below": 0, "above": 0, "ties": 1, "p_value": 1.0}
    assert rows["prorl"]["pass_at_k"]["versus_reference"]["sign"] == {"below": 0, "above": 1, "ties": 0,
                                                                      "p_value": 1.0}
    assert rows["gspo"]["pass_at_k"]["versus_reference"]["sign"]["above"] == 2


def test_new_and_lost_problems(study):
    rows = study["b"]["methods"]
    ids = lambda i: [IDS[6 * b + i] for b in range(R)]  # noqa: E731
    grpo, gspo, sft = rows["grpo"]["solved"], rows["gspo"]["solved"], rows["sft"]["solved"]
    assert (grpo["new"], grpo["lost"], grpo["lost_per_run"]) == (0, 8, [8, 8])
    assert grpo["lost_in_every_run"] == ids(1) and grpo["new_in_every_run"] == []
    assert (gspo["new"], gspo["lost"], gspo["new_in_every_run"]) == (8, 0, ids(0))
    assert (sft["new"], sft["lost"]) == (8, 8) and sft["new_in_every_run"] == ids(4) and sft["lost_in_every_run"] == ids(5)


def test_compute_and_equal_compute(study):
    rows = study["b"]["methods"]
    assert rows["grpo"]["compute"]["tokens"] == 2000 and rows["grpo"]["compute"]["tokens_versus_reference"] == 1.0
    assert rows["gspo"]["compute"]["tokens_versus_reference"] == pytest.approx(1.05)
    assert rows["gspo"]["compute"]["equal_compute"] is True
    assert (rows["prorl"]["compute"]["tokens_versus_reference"], rows["prorl"]["compute"]["equal_compute"]) == (2.0, False)
    assert rows["sft"]["compute"]["equal_compute"] is False


def test_distance_from_the_best_control(study):
    rows = study["b"]["methods"]
    assert rows["control_random"]["versus_best_control"] is None
    grpo = rows["grpo"]["versus_best_control"]
    # the control is the base again, so the distance from it equals the gain over the base
    assert grpo["pass_at_1"]["diff"] == pytest.approx(rows["grpo"]["pass_at_1"]["versus_base"]["diff"])
    assert grpo["pass_at_k"]["diff"] == pytest.approx(-1 / 6)
    assert rows["gspo"]["versus_best_control"]["pass_at_k"]["diff"] == pytest.approx(1 / 6)


def test_plain_words_findings(study):
    sentences = boundary_findings({"boundary": study["b"], "num_problems": P})
    text = "\n".join(sentences)
    first = sentences[0]
    assert first.startswith("Boundary at k=4 against the base (pass@4 0.667; paired tests over 48 problems")
    assert "widen pass@k (significantly above the base): gspo (+16.7 points at k=4" in first
    assert "prorl (+16.7 points at k=4; pass@1 +4.2 points, 2.00x grpo's tokens)" in first
    assert "only raise pass@1 (pass@k significantly below the base): grpo (-16.7 points at k=4; pass@1 +16.7" in first
    assert "keep pass@k within noise of the base without raising pass@1: sft (+0.0 points at k=4" in first
    assert "control_random" not in first  # the controls have their own sentence
    assert ("At equal compute (tokens within 1.25x of grpo's; 2 methods), pass@4 is significantly above the base's "
            "for 1 (gspo); within noise of it for 0 (none); only pass@1 rises (pass@4 significantly below the "
            "base's) for 1 (grpo); not at equal compute: prorl (2.00x), sft (0.25x).") in sentences
    assert "Against the reference grpo (pass@4 0.500): pass@4 significantly above it for gspo (+33.3 points" in text
    assert "Controls against the base: control_random pass@1 +0.0 points (p=1.000), pass@4 +0.0 points (p=1.000)." in text
    assert "Not significantly above the best control in pass@1: sft." in text


def test_training_curves_use_the_k_every_checkpoint_supports(study):
    c = study["c"]
    assert curve_k(study["data"]) == 2 and c["k"] == 2 and c["samples_per_problem"] == [2, 4]
    base2 = (0 + 0.5 + 0.5 + 1 + 0 + 5 / 6) / 6  # pass@2 of the base block from n = 4
    assert c["base_pass_at_k"] == pytest.approx(base2)
    grpo = c["pass_at_k"]["grpo"]
    assert grpo["common_steps"] == [0, 2, 4]
    assert grpo["steps"]["0"]["mean"] == pytest.approx(base2) and grpo["steps"]["2"]["per_run"] == [0.5, 0.5]
    assert grpo["steps"]["4"]["mean"] == pytest.approx(0.5)
    assert (grpo["last_interval"]["from"], grpo["last_interval"]["to"], grpo["last_interval"]["diff"]) == (2, 4, 0.0)
    prorl = c["pass_at_k"]["prorl"]
    assert [prorl["steps"][s]["mean"] for s in ("2", "4", "8")] == pytest.approx([4 / 6, 5 / 6, (1.5 + 1 + 5 / 6) / 6])
    # 2x the reference's tokens: read at its last checkpoint within 1.25 x 2000 tokens (step 4: 2000)
    eq = prorl["equal_budget"]
    assert (eq["budget"], eq["step"], eq["tokens"]) == (2000, 4, 2000) and eq["pass_at_k"] == pytest.approx(5 / 6)
    assert eq["versus_base"]["diff"] == pytest.approx(5 / 6 - base2)
    assert c["pass_at_k"]["gspo"]["equal_budget"] is None and c["pass_at_k"]["sft"]["last_interval"] is None


def test_entropy_over_training(study):
    e = study["c"]["entropy"]
    assert e["grpo"]["key"] == "actor/entropy" and e["grpo"]["runs"] == 2
    assert e["grpo"]["steps"] == pytest.approx({"1": 0.6, "2": 0.5, "3": 0.4, "4": 0.3})
    assert e["grpo"]["change"] == pytest.approx(-0.3)
    assert e["sft"]["key"] == "train/entropy" and e["gspo"] is None
    text = "\n".join(curve_findings({"training_curves": study["c"]}))
    assert "fell from the first to the last logged step for 1 of 2 RL methods; lowest at the end: grpo (0.600 -> 0.300)" in text
    assert "Trained longer than grpo (4 steps), pass@2: prorl: 0.472 (step 0) -> 0.667 (step 2)" in text
    assert "prorl at step 4 (1.00x): pass@2 0.833" in text


def test_the_sections_render_in_the_report(study, tmp_path):
    md = write_report(study["data"], tmp_path, ks=[1, 4], n_resamples=N_RESAMPLES).read_text()
    report = json.loads((tmp_path / "report.json").read_text())
    check_sections(SECTIONS, report)
    for name in ("boundary.png", "entropy.png", "pass_over_training.png"):
        assert (tmp_path / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and f"]({name})" in md
    assert "## Boundary: pass@1 gain and pass@k at large k" in md and "### Distance from the best control" in md
    row = next(line for line in md.splitlines() if line.startswith("| grpo | RL | 2 | 0.500 ± 0.000 | +0.167"))
    assert "| reference |" in row and "| 2 / 0 (p=0.500) |" in row and row.endswith("| 0 | 8 | 2,000 | 1.00 |")
    assert "## Training curves: entropy and pass@k over training" in md
    assert "pass@2 at every evaluated checkpoint, k=2 being the largest k every checkpoint supports (below the " \
           "report's k=4" in md
    assert report["boundary"]["methods"]["gspo"]["pass_at_k"]["versus_base"]["diff"] == pytest.approx(1 / 6)
    assert any(s.startswith("At equal compute") for s in report["findings"])


def test_a_requested_reference_comes_from_the_context(study):
    ctx = ReportContext(data=study["data"], title="t", n_resamples=200)
    ctx.numbers["settings"] = {"k_max": 4}
    ctx.reference = "gspo"  # report.reference, as the study passes it
    b = BOUNDARY_SECTION.compute(study["data"], ctx)["boundary"]
    assert b["reference"] == {"label": "gspo", "source": "report.reference", "note": None}
    assert b["methods"]["grpo"]["pass_at_k"]["versus_reference"]["diff"] == pytest.approx(-2 / 6)
    ctx.reference = "missing"
    b = BOUNDARY_SECTION.compute(study["data"], ctx)["boundary"]
    assert b["reference"]["label"] is None and all(r["pass_at_k"]["versus_reference"] is None
                                                   for r in b["methods"].values())
    assert "No reference run (the reference 'missing' (report.reference) is not among the runs)" in \
        "\n".join(boundary_findings({"boundary": b, "num_problems": P}))


def test_a_study_without_rl_controls_or_reference_says_less(tmp_path):
    runs = build(tmp_path, only=("sft-s0",))
    data = collect_runs(runs, tmp_path / "base")
    md = write_report(data, tmp_path / "out", n_resamples=200).read_text()
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    b = report["boundary"]
    assert b["reference"]["label"] is None and b["controls"] == [] and b["best_control"] is None
    assert "Reference: none (no run of the grpo preset with a verifiable reward)" in md
    assert "No control run: the distance from a control is not measured." in md
    findings = report["findings"]
    assert any(s.startswith("Equal compute is not judged: no reference run") for s in findings)
    assert not any(s.startswith("No control run (") for s in findings)  # no RL: controls are not missed
    assert not any("Policy entropy" in s for s in findings)  # train/entropy only
    assert report["training_curves"]["pass_at_k"]["sft"]["common_steps"] == [0, 10]
    assert "| sft | SFT | 1 |" in md


def test_a_study_with_rl_but_no_controls_says_so(tmp_path):
    runs = build(tmp_path, only=("grpo-s0", "gspo-s0"))
    data = collect_runs(runs, tmp_path / "base")
    b = boundary_numbers(data, 4, n_resamples=200)
    assert b["reference"]["label"] == "grpo" and b["methods"]["gspo"]["versus_best_control"] is None
    text = "\n".join(boundary_findings({"boundary": b, "num_problems": P}))
    assert "No control run (reward format_only, incorrect, majority_vote, random)" in text


TOY_STUDY = Path(__file__).resolve().parents[2] / "runs" / "toy-study"


@pytest.mark.skipif(not (TOY_STUDY / "base" / "eval" / "summary.jsonl").exists(), reason="runs/toy-study not built")
def test_the_sections_on_the_default_study(tmp_path):
    runs = [p for p in sorted(TOY_STUDY.iterdir())
            if p.is_dir() and p.name != "base" and (p / "eval" / "summary.jsonl").exists()]
    data = collect_runs(runs, TOY_STUDY / "base")
    md = write_report(data, tmp_path, ks=[1, 4, 16, 64], gap_k=64, n_resamples=300).read_text()
    report = json.loads((tmp_path / "report.json").read_text())
    check_sections(SECTIONS, report)
    b, c = report["boundary"], report["training_curves"]
    assert b["reference"]["label"] == "grpo" and "teacher" not in b["methods"]
    for label, row in b["methods"].items():  # the same tests as the pass@k and coverage sections
        block = report["methods"][label]
        assert row["pass_at_k"]["versus_base"]["diff"] == pytest.approx(block["versus_base_at_k_max"]["diff"])
        assert row["pass_at_1"]["versus_base"]["diff"] == pytest.approx(block["versus_base"]["diff"])
        assert row["solved"]["new"] == pytest.approx(block["coverage"]["method_only"])
    assert c["k"] <= b["k"] and all(e is not None for e in c["entropy"].values())
    assert "## Boundary" in md and "## Training curves" in md and "(tmp" not in md
