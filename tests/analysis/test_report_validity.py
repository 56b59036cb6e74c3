"""The ``validity`` report section on a hand-built study: pass@k beside CoT-pass@k, lucky shares, pass^k and
maj@k against values computed by hand; graceful without trace checks; renders on the toy study when present."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rlvr_bench.analysis import collect_runs, write_report
from rlvr_bench.analysis.report_section import ReportContext
from rlvr_bench.analysis.report_stats import core_numbers
from rlvr_bench.analysis.validity_sections import VALIDITY_SECTION, validity_findings

N = 4
IDS = ["toy-test-addsub-00000", "toy-test-addsub-00001", "toy-test-code-00000", "toy-test-code-00001"]
SOURCES = ["toy/addsub", "toy/addsub", "toy/code", "toy/code"]
DECODING = {"temperature": 1.0, "top_p": 1.0, "top_k": 0, "max_new_tokens": 32, "stop": [], "template": "toy"}
T, F, X = True, False, None  # X: no verdict (code is not checked)

# per problem: (preds, trace verdicts); "7" is the right answer everywhere
BASE = [(["7", "7", "3", "5"], [T, F, T, T]),   # c=2, cot=1
        (["7", "3", "3", "5"], [F, T, T, T]),   # c=1, cot=0
        (["7", "3", "3", "3"], [X, X, X, X]),   # c=1, cot=1 (unchecked)
        (["3", "3", "5", "5"], [X, X, X, X])]   # c=0
GRPO = [(["7", "7", "7", "7"], [T, T, T, F]),   # c=4, cot=3
        (["7", "7", "7", "3"], [T, T, T, T]),   # c=3, cot=3
        (["7", "7", "3", "3"], [X, X, X, X]),   # c=2, cot=2
        (["3", "3", "3", "3"], [X, X, X, X])]   # c=0


def write_run(run: Path, problems: list, *, cot: bool = True, step: int = 10, seed: int = 0) -> None:
    """One final-step samples file and summary line, shaped as ``evaluate`` writes them."""
    lines, correct, cot_correct = [], [], []
    tally = {"checked": 0, "valid": 0, "invalid": 0, "correct_invalid": 0}
    for pid, (preds, verdicts) in zip(IDS, problems):
        c = v = 0
        for j, (pred, verdict) in enumerate(zip(preds, verdicts)):
            ok = pred == "7"
            c += ok
            v += ok and verdict is not False
            if verdict is not None:
                tally["checked"] += 1
                tally["valid" if verdict else "invalid"] += 1
                tally["correct_invalid"] += ok and not verdict
            line = {"id": pid, "seed": seed, "sample": j, "completion": f"{pid} = {pred}", "pred": pred,
                    "correct": ok, "score": float(ok), "reason": "correct" if ok else "wrong_answer",
                    "tokens": 3, "finish_reason": "stop"}
            lines.append({**line, "cot_correct": verdict} if cot else line)
        correct.append(c)
        cot_correct.append(v)
    path = run / "eval" / f"step-{step}" / "toy.samples.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(x) + "\n" for x in lines))
    summary = {"step": step, "benchmark": "toy", "n": N, "seeds": [seed], "ks": [1, 2, 4], "num_problems": 4,
               "ids": IDS, "sources": SOURCES, "correct": {str(seed): correct}, "pass_at_k": {},
               "samples": len(lines), "tokens": 3 * len(lines), "truncated_fraction": 0.0, "decoding": DECODING,
               "template": "toy", "reward": "math", "engine": {"backend": "hf", "model": str(run)}}
    if cot:
        summary.update({"trace_checker": "toy", "cot_samples": tally, "cot_correct": {str(seed): cot_correct}})
    (run / "eval" / "summary.jsonl").write_text(json.dumps(summary) + "\n")


def build(root: Path, *, cot: bool = True) -> Path:
    write_run(root / "base", BASE, cot=cot)
    write_run(root / "grpo-s0", GRPO, cot=cot)
    return root


def numbers(root: Path, ks: list[int] | None = None) -> tuple[dict, ReportContext]:
    data = collect_runs([root / "grpo-s0"], root / "base")
    ctx = ReportContext(data=data, title="t", ks=ks, n_resamples=500)
    ctx.numbers.update(core_numbers(data, ks=ks, gap_k=None, n_resamples=200, seed=0))
    ctx.numbers.update(VALIDITY_SECTION.compute(data, ctx))
    return ctx.numbers, ctx


def test_cot_pass_lucky_share_pass_hat_and_maj_equal_hand_values(tmp_path):
    r, _ = numbers(build(tmp_path), ks=[1, 2, 4])
    v = r["validity"]
    base, grpo = v["methods"]["base"], v["methods"]["grpo"]
    assert v["cot_recorded"] and v["ks"] == [1, 2, 4] and v["maj_ks"] == [1, 4] and v["k_max"] == 4
    assert base["pass_at_k"] == pytest.approx({"1": 4 / 16, "2": (5 / 6 + 1 / 2 + 1 / 2) / 4, "4": 3 / 4})
    assert base["cot_pass_at_k"]["1"] == pytest.approx(2 / 16) and base["cot_pass_at_k"]["4"] == pytest.approx(0.5)
    assert grpo["pass_at_k"]["1"] == pytest.approx(9 / 16) and grpo["cot_pass_at_k"]["1"] == pytest.approx(8 / 16)
    assert grpo["cot_pass_at_k"]["4"] == pytest.approx(3 / 4)
    # pass^k = C(c, k) / C(n, k): base only p0 (c=2) at k=2; grpo p0 1, p1 3/6, p2 1/6
    assert base["pass_hat_k"] == pytest.approx({"1": 4 / 16, "2": (1 / 6) / 4, "4": 0.0})
    assert grpo["pass_hat_k"] == pytest.approx({"1": 9 / 16, "2": (1 + 0.5 + 1 / 6) / 4, "4": 1 / 4})
    # lucky answers: correct minus cot-correct over correct samples
    assert base["lucky"] == {"recorded": True, "correct": 4, "correct_invalid": 2, "checked": 8, "share": 0.5}
    assert grpo["lucky"]["correct_invalid"] == 1 and grpo["lucky"]["share"] == pytest.approx(1 / 9)
    # maj@4 over the one 4-subset: base wins p0 only; grpo wins p0, p1 and half of the p2 tie
    assert base["maj_at_k"]["4"] == {"value": pytest.approx(0.25), "stderr": 0.0, "exact": True}
    assert grpo["maj_at_k"]["4"]["value"] == pytest.approx(2.5 / 4)
    assert grpo["maj_at_k"]["1"]["value"] == pytest.approx(grpo["pass_at_k"]["1"])
    assert grpo["pass1_gain"] == pytest.approx(5 / 16) and grpo["cot_pass1_gain"] == pytest.approx(6 / 16)
    t = grpo["versus_base"]
    assert t["k"] == 4 and t["diff"] == pytest.approx(0.25) and t["n_problems"] == 4


def test_families_split_checked_from_unchecked(tmp_path):
    v = numbers(build(tmp_path))[0]["validity"]
    addsub, code = v["by_source"]["toy/addsub"]["methods"], v["by_source"]["toy/code"]["methods"]
    assert addsub["base"]["pass_at_k"]["1"] == pytest.approx(3 / 8)
    assert addsub["base"]["cot_pass_at_k"]["1"] == pytest.approx(1 / 8)
    assert addsub["base"]["lucky"] == {"recorded": True, "correct": 3, "correct_invalid": 2, "checked": 8, "share": pytest.approx(2 / 3)}
    assert code["base"]["cot_pass_at_k"] is None and code["base"]["lucky"]["share"] is None
    assert not code["base"]["lucky"]["recorded"] and code["base"]["lucky"]["checked"] == 0
    # grpo's checked addsub problems are all solved by valid traces but one
    assert addsub["grpo"]["lucky"]["share"] == pytest.approx(1 / 7)


def test_markdown_and_findings_state_the_numbers(tmp_path):
    r, ctx = numbers(build(tmp_path))
    text = "\n".join(VALIDITY_SECTION.markdown(r, ctx))
    assert "CoT-pass@4" in text and "`toy`" in text and "2 of 4 (50.0%)" in text and "1 of 9 (11.1%)" in text
    assert "| toy/code | base |" in text and "not checked" in text and "computed exactly" in text
    assert "| base | 0.250 | 0.000 | 0.250 | 0.250 |" in text  # pass^1, pass^4, maj@1, maj@4
    found = validity_findings(r)
    assert "**grpo** 11.1%, against the base's 50.0%" in found[0]
    assert "**grpo** +0.312 in pass@1, +0.375 in CoT-pass@1 (120% kept)" in found[1]
    assert "significantly higher for none, lower for none of the 1 RL presets" in found[2]


def test_without_trace_checks_the_section_says_so_and_keeps_pass_hat_and_maj(tmp_path):
    r, ctx = numbers(build(tmp_path, cot=False))
    v = r["validity"]
    assert not v["cot_recorded"] and v["methods"]["grpo"]["cot_pass_at_k"] is None
    assert v["methods"]["grpo"]["versus_base"] is None and v["methods"]["grpo"]["lucky"]["share"] is None
    assert v["methods"]["grpo"]["maj_at_k"]["4"]["value"] == pytest.approx(2.5 / 4)
    text = "\n".join(VALIDITY_SECTION.markdown(r, ctx))
    assert "No trace checks recorded" in text and "pass^4" in text and "maj@4" in text and "CoT-pass@1" not in text
    assert validity_findings(r) == []


def test_missing_samples_file_and_monte_carlo_votes_are_stated(tmp_path, monkeypatch):
    root = build(tmp_path)
    (root / "grpo-s0" / "eval" / "step-10" / "toy.samples.jsonl").unlink()
    r, ctx = numbers(root)
    assert r["validity"]["methods"]["grpo"]["maj_at_k"] is None
    assert "No samples file (no maj@k): grpo: grpo-s0." in "\n".join(VALIDITY_SECTION.markdown(r, ctx))
    monkeypatch.setattr("rlvr_bench.metrics.voting._MAX_EXACT_N", 2)  # force the Monte-Carlo branch
    r, ctx = numbers(root)
    est = r["validity"]["methods"]["base"]["maj_at_k"]["4"]
    assert not est["exact"] and est["value"] == pytest.approx(0.25) and est["stderr"] == 0.0
    assert "seeded Monte-Carlo" in "\n".join(VALIDITY_SECTION.markdown(r, ctx))


def test_write_report_includes_the_section(tmp_path):
    root = build(tmp_path / "study")
    data = collect_runs([root / "grpo-s0"], root / "base")
    md = write_report(data, tmp_path / "report", n_resamples=200).read_text()
    assert "## Reasoning validity, reliability and voting" in md and "Lucky answers" in md
    assert "validity" in json.loads((tmp_path / "report" / "report.json").read_text())


TOY = Path(__file__).resolve().parents[2] / "runs" / "toy-study"


@pytest.mark.skipif(not (TOY / "report.md").is_file() or not all(
    (p / "complete.json").is_file() for p in TOY.iterdir() if p.is_dir() and (p / "eval").is_dir()),
    reason="no complete toy study at runs/toy-study")
def test_renders_on_the_toy_study():
    dirs = [p for p in sorted(TOY.iterdir()) if p.is_dir() and p.name != "base" and (p / "eval").is_dir()]
    data = collect_runs(dirs, TOY / "base")
    ctx = ReportContext(data=data, title="toy", n_resamples=200)
    ctx.numbers.update(core_numbers(data, ks=None, gap_k=None, n_resamples=200, seed=0))
    ctx.numbers.update(VALIDITY_SECTION.compute(data, ctx))
    text = "\n".join(VALIDITY_SECTION.markdown(ctx.numbers, ctx))
    assert text.startswith("## Reasoning validity") and "maj@" in text
    for b in ctx.numbers["validity"]["methods"].values():
        if b["cot_pass_at_k"] is not None:
            assert all(b["cot_pass_at_k"][k] <= b["pass_at_k"][k] + 1e-12 for k in b["cot_pass_at_k"])
