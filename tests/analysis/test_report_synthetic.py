"""The comparison report on a synthetic study whose samples files and summaries agree with each other.

The builders here write run directories in the format of ``rlvr_bench.evaluation.evaluate`` (samples lines
and a summary line from ``summarize_counts``) for a study with a known story: GRPO sharpens the base
(higher pass@1, lower coverage, so the base overtakes it at large k), PPO is the base again (within noise),
SFT solves three problems the base never solves, the teacher is strong everywhere.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from rlvr_bench.analysis import collect_runs, write_report
from rlvr_bench.errors import UserError
from rlvr_bench.evaluation.evaluate import summarize_counts
from rlvr_bench.metrics import pass_at_k
from rlvr_bench.utils.rundir import read_jsonl

N = 8
EVAL_SEEDS = (0, 1)
P = 30
IDS = [f"toy-test-{i:05d}" for i in range(P)]
DECODING = {"temperature": 1.0, "top_p": 1.0, "top_k": 0, "max_new_tokens": 32, "stop": [], "template": "toy"}

# per-problem success probabilities: 5 never solved, 8 rare, 10 medium, 7 easy
P_BASE = np.array([0.0] * 5 + list(np.linspace(0.06, 0.2, 8)) + list(np.linspace(0.35, 0.7, 10)) + [0.9] * 7)
P_GRPO = np.where(np.arange(P) < 13, 0.0, 0.97)
P_SFT = np.where(np.arange(P) < 3, 0.3, P_BASE)
P_TEACHER = np.where(np.arange(P) < 2, 0.5, 0.95)


def draw(probs: np.ndarray, seed: int) -> dict[int, np.ndarray]:
    """Per evaluation seed, per-problem correct counts out of N."""
    rng = np.random.default_rng(seed)
    return {s: rng.binomial(N, probs) for s in EVAL_SEEDS}


def write_eval(run: Path, step: int, counts: dict[int, np.ndarray], *, order: list[int] | None = None,
               benchmark: str = "toy", n: int = N, ids: list[str] = IDS, sources: list[str] | None = None,
               reason: Callable[[int], str] | None = None) -> None:
    """Samples file and summary line of one (step, benchmark), as ``evaluate`` writes them.

    ``sources`` (parallel to ``ids``) adds the summary's ``sources`` key; ``reason`` gives the ``reason`` of
    a wrong sample from its problem's index (default ``"wrong"``)."""
    order = list(range(len(ids))) if order is None else order
    rng = np.random.default_rng(step)
    lines = []
    for seed, c in counts.items():
        for i in order:
            flags = np.zeros(n, dtype=bool)
            flags[rng.choice(n, size=int(c[i]), replace=False)] = True
            for j, ok in enumerate(flags):
                completion = f"{ids[i][-2:]}+{j}={7 if ok else 3}"
                lines.append({"id": ids[i], "seed": seed, "sample": j, "completion": completion,
                              "pred": "7" if ok else "3", "correct": bool(ok), "score": float(ok),
                              "reason": "correct" if ok else (reason(i) if reason else "wrong"),
                              "tokens": len(completion),
                              "finish_reason": "stop"})
    path = run / "eval" / f"step-{step}" / f"{benchmark}.samples.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    correct = {s: [int(c[i]) for i in order] for s, c in counts.items()}
    ks = [1, 2, 4, 8][: [1, 2, 4, 8].index(n) + 1] if n in (1, 2, 4, 8) else [1, n]
    stats = summarize_counts(correct, n, ks)
    summary = {"step": step, "benchmark": benchmark, "n": n, "seeds": list(counts), "ks": ks,
               "num_problems": len(ids), "ids": [ids[i] for i in order],
               **({"sources": [sources[i] for i in order]} if sources is not None else {}),
               "correct": {str(s): c for s, c in correct.items()},
               "pass_at_k": {str(k): v for k, v in stats["pass_at_k"].items()},
               "pass_at_k_std": {str(k): v for k, v in stats["pass_at_k_std"].items()},
               "pass_at_k_per_seed": stats["per_seed"], "mean_at_n": stats["pass_at_k"][1],
               "truncated_fraction": 0.0, "tokens": sum(line["tokens"] for line in lines),
               "seconds_this_call": 0.1, "samples": len(lines), "decoding": DECODING, "template": "toy",
               "reward": "math", "engine": {"backend": "hf", "batch_size": 64, "model": str(run)}}
    with open(run / "eval" / "summary.jsonl", "a") as fh:
        fh.write(json.dumps(summary) + "\n")


def write_records(run: Path, *, method: str | None, seed: int | None, compute: dict | None,
                  complete: bool) -> None:
    """config.yaml, env.json, metrics.jsonl and complete.json as the trainers write them."""
    if method is not None:
        (run / "config.yaml").write_text(f"method: {method}\nseed: {seed}\noutput_dir: {run}\n"
                                         "model:\n  name_or_path: toy:base\n")
    env = {"python": "3.11.7", "hardware": {"cpu": "AMD EPYC", "cpu_count": 2, "gpu": None, "gpu_count": 0},
           "packages": {"torch": "2.13.0+cpu", "transformers": "5.24.0", "trl": "1.16.0"},
           "git": {"revision": "ed4271d5bf7c4051803118b450c2d87da7143c2d", "dirty": False}}
    (run / "env.json").write_text(json.dumps(env))
    if compute is not None:
        rows = [{"step": s, "reward/mean": 0.5, **{f"compute/{k}": v * s / 10 for k, v in compute.items()}}
                for s in (5, 10)]
        rows.append({"step": 10, "eval/toy/pass@1": 0.5})  # an eval row without compute columns
        (run / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    if complete:
        info = {"steps": 10, **({f"compute/{k}": v for k, v in compute.items()} if compute else {})}
        (run / "complete.json").write_text(json.dumps(info))


RL_COMPUTE = {"samples": 640, "gen_tokens": 9000, "forward_tokens": 20000, "backward_tokens": 15000,
              "teacher_samples": 0, "teacher_tokens": 0, "wall_seconds": 120.0}


def build_study(root: Path, *, teacher: bool = False, sources: list[str] | None = None,
                reasons: dict[str, Callable[[int], str]] | None = None) -> dict[str, Path]:
    """base, grpo-s0/s1, ppo-s0/s1, sft-s0 (and teacher) under ``root``; returns name -> run dir.

    ``sources``: per problem (IDS order), written into every summary; ``reasons``: method label -> the
    ``reason`` of a wrong sample by problem index."""
    runs: dict[str, Path] = {}

    def make(name: str, probs: np.ndarray, seed: int, **kw) -> Path:
        run = root / name
        run.mkdir(parents=True)
        steps = kw.pop("steps", {10: probs})
        reason = (reasons or {}).get(name.split("-")[0])
        for step, p in steps.items():
            write_eval(run, step, draw(p, seed * 100 + step), order=kw.get("order"), sources=sources,
                       reason=reason)
        write_records(run, method=kw.get("method"), seed=kw.get("train_seed"), compute=kw.get("compute"),
                      complete=kw.get("complete", True))
        if kw.get("method") == "rl":
            (run / "algorithm.json").write_text(json.dumps({"preset": name.split("-")[0]}))
        runs[name] = run
        return run

    make("base", P_BASE, 1, method="toy_base", train_seed=0)
    for s in (0, 1):
        make(f"grpo-s{s}", P_GRPO, 10 + s, method="rl", train_seed=s, compute=RL_COMPUTE,
             steps={0: P_BASE, 5: (P_BASE + P_GRPO) / 2, 10: P_GRPO})
        order = list(np.random.default_rng(5).permutation(P)) if s == 1 else None
        make(f"ppo-s{s}", P_BASE, 20 + s, method="rl", train_seed=s, compute=RL_COMPUTE, complete=False,
             order=order)
    make("sft-s0", P_SFT, 30, method="sft", train_seed=0,
         compute={**RL_COMPUTE, "samples": 0, "gen_tokens": 0})
    if teacher:
        make("teacher", P_TEACHER, 40)
    return runs


def recount(run: Path, step: int = 10, benchmark: str = "toy") -> dict[str, np.ndarray | int]:
    """Per-problem correct counts (evaluation seeds pooled) and samples per problem from the samples file."""
    counts = dict.fromkeys(IDS, 0)
    totals = dict.fromkeys(IDS, 0)
    for line in read_jsonl(run / "eval" / f"step-{step}" / f"{benchmark}.samples.jsonl"):
        counts[line["id"]] += int(line["correct"])
        totals[line["id"]] += 1
    assert len(set(totals.values())) == 1
    return {"correct": np.array([counts[i] for i in IDS]), "n": totals[IDS[0]]}


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    root = tmp_path_factory.mktemp("study")
    runs = build_study(root, teacher=True)
    dirs = [runs[name] for name in runs if name != "base"]
    data = collect_runs(dirs, runs["base"])
    report = write_report(data, root / "report", ks=[1, 4, 16], gap_k=256)
    numbers = json.loads((root / "report" / "report.json").read_text())
    return {"runs": runs, "data": data, "md": report.read_text(), "json": numbers, "out": root / "report"}


def test_runs_are_grouped_by_label_with_kind_seed_and_final_step(study):
    data = study["data"]
    assert list(data.methods) == ["grpo", "ppo", "sft", "teacher"]
    assert [r.seed for r in data.methods["grpo"]] == [0, 1]
    assert [r.kind for r in (data.methods["grpo"][0], data.methods["sft"][0], data.methods["teacher"][0])] == [
        "rl", "sft", "teacher"]
    assert data.base.kind == "base" and data.teacher is data.methods["teacher"]
    assert [r.step for r in data.methods["grpo"]] == [10, 10] and sorted(data.methods["grpo"][0].history) == [0, 5, 10]
    assert data.base.samples_per_problem == N * len(EVAL_SEEDS) == 16
    assert data.methods["grpo"][0].compute["samples"] == 640  # complete.json
    assert data.methods["ppo"][0].compute["wall_seconds"] == 120.0  # last metrics row with compute columns
    assert data.methods["teacher"][0].compute == {}


def test_problems_are_aligned_by_id_when_a_run_wrote_them_in_another_order(study):
    run = study["data"].methods["ppo"][1]
    assert run.summary["ids"] != IDS  # written shuffled
    np.testing.assert_array_equal(run.correct, recount(run.path)["correct"])


def test_report_json_equals_a_recount_from_the_samples_files(study):
    numbers, runs = study["json"], study["runs"]
    base = recount(runs["base"])
    assert numbers["methods"]["base"]["pass_at_k"]["1"]["mean"] == pytest.approx(base["correct"].mean() / base["n"])
    for label, names in {"grpo": ["grpo-s0", "grpo-s1"], "ppo": ["ppo-s0", "ppo-s1"], "sft": ["sft-s0"],
                         "teacher": ["teacher"]}.items():
        counts = [recount(runs[name]) for name in names]
        block = numbers["methods"][label]
        per_run = [c["correct"].mean() / c["n"] for c in counts]
        assert block["pass_at_k"]["1"]["per_run"] == pytest.approx(per_run)
        assert block["pass_at_k"]["1"]["mean"] == pytest.approx(np.mean(per_run))
        solved_base = base["correct"] > 0
        for i, c in enumerate(counts):
            solved = c["correct"] > 0
            expected = {"both": int(np.sum(solved & solved_base)), "base_only": int(np.sum(~solved & solved_base)),
                        "method_only": int(np.sum(solved & ~solved_base)), "neither": int(np.sum(~solved & ~solved_base))}
            assert {k: block["coverage"]["per_run"][i][k] for k in expected} == expected
        assert block["coverage"]["method_only"] == pytest.approx(
            np.mean([np.sum((c["correct"] > 0) & ~solved_base) for c in counts]))
        # Delta_SE with the requested 256 lowered to the base's 16 samples per problem
        assert numbers["settings"]["gap_k"] == 16
        assert block["gap"]["value"] == pytest.approx(100 * (np.mean(base["correct"] > 0) - np.mean(per_run)))


def test_story_of_the_synthetic_study_is_told_with_the_right_significance(study):
    md, numbers = study["md"], study["json"]
    grpo, ppo, sft = (numbers["methods"][m] for m in ("grpo", "ppo", "sft"))
    assert grpo["versus_base"]["significant"] and grpo["versus_base"]["diff"] > 0.05
    assert "**grpo** (RL): pass@1" in md and "rose above the base's" in md
    assert not ppo["versus_base"]["significant"]
    assert "**ppo** (RL): pass@1" in md and f"{ppo['pass_at_k']['1']['mean']:.3f} is not distinguishable" in md
    ppo_sentence = next(s for s in numbers["findings"] if s.startswith("**ppo** (RL)"))
    assert "within noise" in ppo_sentence and "significant" not in ppo_sentence.replace("within noise", "")
    # the base overtakes GRPO at large k; not PPO
    assert grpo["crossing"] is not None and 1 < grpo["crossing"]["k"] < 16
    assert f"The base overtakes **grpo** at large k: the curves cross at k≈{grpo['crossing']['k']:.0f}" in md
    assert "The base overtakes **ppo**" not in md
    ppo_cross = next(s for s in numbers["findings"] if "**ppo** and the base cross" in s or "overtake **ppo**" in s)
    assert "may be noise" in ppo_cross or "does not overtake" in ppo_cross
    assert grpo["versus_base_at_k_max"]["diff"] < 0 and grpo["versus_base_at_k_max"]["significant"]
    # each run alone, at the largest k it and the base share: the same test on that run's counts
    assert len(grpo["versus_base_per_run"]) == grpo["runs"]
    for test, path, seed in zip(grpo["versus_base_per_run"], grpo["paths"], grpo["seeds"]):
        assert (test["path"], test["seed"], test["k"]) == (path, seed, 16) and test["diff"] < 0
    base, first = recount(study["runs"]["base"]), recount(study["runs"]["grpo-s0"])
    expected = np.mean(pass_at_k(first["n"], first["correct"], 16) - pass_at_k(base["n"], base["correct"], 16))
    assert grpo["versus_base_per_run"][0]["diff"] == pytest.approx(expected)
    first_test = grpo["versus_base_per_run"][0]
    assert f"run by run at k=16: seed 0 {100 * first_test['diff']:+.1f} points" in md
    # SFT solves problems the base never solves; GRPO does not
    assert sft["coverage"]["method_only"] == 3 and grpo["coverage"]["method_only"] == 0
    assert "Problems the base never solves (at k=16): sft solves 3 of 5 (60%)" in md and "No problem beyond the base's reach at k=16: grpo" in md
    assert "RL presets solve on average 0.0 problems the base never solves; distillation/SFT (sft) solve 3.0" in md
    # GRPO vs PPO differ; Holm-adjusted and called significant
    (pair,) = numbers["pairwise"]
    assert (pair["a"], pair["b"]) == ("grpo", "ppo") and pair["significant"] and pair["p_holm"] >= pair["p_value"]
    assert "grpo > ppo" in md
    # training progress: pass@1 up, pass@16 down for GRPO
    assert "pass@1 rose (significantly, see above) while pass@16 fell for grpo (pass@16" in md
    assert "fell for grpo (pass@16 0.767 -> 0.567) (" in md or ", ppo" not in md.split("fell for grpo")[1][:40]


def test_report_files_tables_and_records(study):
    out, md, numbers = study["out"], study["md"], study["json"]
    for name in ("pass_at_k.png", "training_progress.png", "accuracy_histograms.png", "coverage.png"):
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", name
        assert f"]({name})" in md
    assert not (out / "perplexity.png").exists()
    for heading in ("## What this run shows", "## pass@k", "## Coverage and compute",
                    "## Differences between RL presets", "## Training progress", "## Setup", "## Notes"):
        assert heading in md
    assert numbers["settings"]["ks"] == [1, 4, 16] and "| pass@1 | pass@4 | pass@16 | ΔSE@16 (pts) |" in md
    grpo = numbers["methods"]["grpo"]
    row = next(line for line in md.splitlines() if line.startswith("| grpo |"))
    p1 = grpo["pass_at_k"]["1"]
    assert f"{p1['mean']:.3f} ± {p1['std']:.3f}" in row and "| significant |" in row
    cov_row = next(line for line in md.splitlines() if line.startswith("| grpo | 16 |"))
    cov = grpo["coverage"]
    cells = [f"{v:.0f}" if float(v).is_integer() else f"{v:.1f}" for v in (cov["both"], cov["base_only"])]
    assert cov_row.startswith(f"| grpo | 16 | {cells[0]} | {cells[1]} | 0 | ")
    assert cov_row.endswith("| 640 | 9000 | 15000 | 0 | 0 | 2.0 |")  # compute: mean per run
    teacher_row = next(line for line in md.splitlines() if line.startswith("| teacher | 16 |"))
    assert teacher_row.count("n/a") == 6  # no compute recorded
    assert "temperature=1.0" in md and "template `toy`" in md and "seeds [0, 1]" in md
    assert "torch 2.13.0+cpu" in md and "git ed4271d5bf7c" in md and "cpu AMD EPYC" in md
    assert "Delta_SE uses k=16: 256 was asked for" in md
    assert "No complete.json" in md and "ppo-s0, ppo-s1" in md
    assert numbers["progress"]["grpo"]["0"]["pass@1"] == pytest.approx(
        [recount(study["runs"][f"grpo-s{s}"], 0)["correct"].mean() / 16 for s in (0, 1)])


def test_perplexity_section_when_perplexities_are_given(study, tmp_path):
    ppl = {"base": [2.0, 2.2, 2.4], "grpo": [1.5, 1.7, 1.6], "teacher": [3.5, 4.0, 3.8]}
    path = write_report(study["data"], tmp_path, perplexity=ppl, n_resamples=200)
    md = path.read_text()
    numbers = json.loads((tmp_path / "report.json").read_text())
    assert (tmp_path / "perplexity.png").exists() and "## Perplexity under the base model" in md
    assert numbers["perplexity"]["grpo"]["median"] == pytest.approx(1.6)
    assert "grpo 1.60 (inside)" in md and "teacher 3.80 (outside)" in md


def test_single_seed_default_ks_and_a_method_below_the_base(tmp_path):
    runs = build_study(tmp_path)
    worse = tmp_path / "remax-s0"
    worse.mkdir()
    write_eval(worse, 3, draw(P_BASE * 0.3, 77))
    data = collect_runs([runs["sft-s0"], worse], runs["base"])
    write_report(data, tmp_path / "out", n_resamples=500)
    numbers = json.loads((tmp_path / "out" / "report.json").read_text())
    assert numbers["settings"]["ks"] == [1, 4, 16] and numbers["settings"]["k_max"] == 16
    remax = numbers["methods"]["remax"]
    assert remax["kind"] == "rl" and remax["pass_at_k"]["1"]["std"] is None and remax["compute"] is None
    sentence = next(s for s in numbers["findings"] if s.startswith("**remax**"))
    assert "fell below the base's" in sentence and "a single run, so its seed-to-seed spread is unknown" in sentence
    assert any(s.startswith("**remax** is not above the base even at k=1") for s in numbers["findings"])
    assert numbers["pairwise"] == []  # a single RL preset


def test_user_errors_name_the_run_in_one_line(tmp_path):
    runs = build_study(tmp_path)
    other = tmp_path / "dapo-s0"
    other.mkdir()
    write_eval(other, 2, draw(P_BASE[:20], 3), ids=IDS[:20])
    with pytest.raises(UserError, match=r"dapo-s0 \(step 2\) evaluated 20 problems, not the base's 30") as err:
        collect_runs([other], runs["base"])
    assert "\n" not in str(err.value)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(UserError, match="has no evaluation summary"):
        collect_runs([empty], runs["base"])
    with pytest.raises(UserError, match="does not exist"):
        collect_runs([tmp_path / "missing"], runs["base"])
    with pytest.raises(UserError, match="no evaluation on benchmark 'math500'"):
        collect_runs([runs["sft-s0"]], runs["base"], benchmark="math500")
    with pytest.raises(UserError, match="no runs to compare"):
        collect_runs([runs["base"]], runs["base"])


def test_explicit_labels_and_an_imported_run_without_records(tmp_path):
    runs = build_study(tmp_path)
    imported = tmp_path / "verl-export"
    imported.mkdir()
    write_eval(imported, 200, draw(P_GRPO, 9))  # only eval/summary.jsonl and samples, as `rlvr-bench eval` writes
    data = collect_runs([runs["grpo-s0"], imported], runs["base"], labels=["grpo", "grpo-verl"])
    assert list(data.methods) == ["grpo", "grpo-verl"]
    run = data.methods["grpo-verl"][0]
    assert (run.kind, run.seed, run.step, run.compute, run.config, run.complete) == ("other", None, 200, {}, {}, False)
    write_report(data, tmp_path / "out", n_resamples=200)
    numbers = json.loads((tmp_path / "out" / "report.json").read_text())
    assert numbers["methods"]["grpo-verl"]["compute"] is None


def test_the_rl_runs_direction_at_k_max_is_counted_with_a_sign_test(study):
    from rlvr_bench.metrics import sign_test

    numbers = study["json"]
    base = numbers["methods"]["base"]["pass_at_k"]["16"]["mean"]
    runs = [v for m in ("grpo", "ppo") for v in numbers["methods"][m]["pass_at_k"]["16"]["per_run"]]
    below, above = sum(v < base for v in runs), sum(v > base for v in runs)
    assert len(runs) == 4 and below >= 2  # both GRPO runs end below the base at k=16 (by construction)
    sentence = next(s for s in numbers["findings"] if "sign test over runs" in s)
    assert sentence.startswith(f"Across all 4 RL runs (every preset and seed), pass@16 ended below the base's "
                               f"({base:.3f}) in {below}, above it in {above}")
    assert f"p={sign_test(below, above):.3f}" in sentence and "no consistent direction" in sentence  # 4 runs
