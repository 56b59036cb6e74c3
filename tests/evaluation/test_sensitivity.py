"""rlvr-bench sensitivity: grid parsing, Kendall's tau, the report, and a resumable grid end to end."""

from __future__ import annotations

import importlib
import json
import math
from pathlib import Path

import pytest

from rlvr_bench.errors import UserError
from rlvr_bench.evaluation import sensitivity as sens
from rlvr_bench.evaluation.sensitivity_report import (
    build_sensitivity,
    flipped_pairs,
    kendall_tau,
    render_markdown,
)

# ---------------------------------------------------------------- grid parsing


def test_parse_grid_types_order_and_duplicates():
    grid = sens.parse_grid(["top-p=0.95,1", "temperature=0.6,1.0,0.6", "max_new_tokens=32,48", "template=toy,plain"])
    assert grid == {"top_p": [0.95, 1.0], "temperature": [0.6, 1.0], "max_new_tokens": [32, 48],
                    "template": ["toy", "plain"]}
    assert isinstance(grid["max_new_tokens"][0], int) and isinstance(grid["top_p"][1], float)
    settings = sens.grid_settings(grid)
    assert len(settings) == 16 and settings[0] == {"top_p": 0.95, "temperature": 0.6, "max_new_tokens": 32,
                                                   "template": "toy"}
    assert sens.grid_settings({}) == [{}]


def test_setting_names_are_stable():
    a = sens.setting_slug({"top_p": 1, "temperature": 0.6})
    grid = sens.normalize_grid({"top_p": ["1"], "temperature": [0.6]})
    b = sens.setting_slug(sens.grid_settings(grid)[0])
    assert a == b == "temperature-0.6__top_p-1.0"
    assert sens.setting_label({"max_new_tokens": 32, "temperature": 1.0}) == "temperature=1.0 max_new_tokens=32"
    assert sens.setting_slug({}) == "defaults"
    assert sens.model_label("runs/x/grpo-s0/checkpoints/step-20") == "grpo-s0/step-20"
    assert sens.model_label("toy:base") == "toy:base"


@pytest.mark.parametrize("items, needle", [
    (["temperature"], "expected KEY=V1,V2"),
    (["temperature="], "empty value"),
    (["temperature=0.6,,1"], "empty value"),
    (["temp=0.6"], "unknown key"),
    (["temperature=hot"], "expected a number"),
    (["max_new_tokens=32.5"], "expected an integer"),
    (["top_p=0"], "top_p must be in (0, 1]"),
    (["temperature=-1"], "temperature must be >= 0"),
    (["max_new_tokens=0"], "max_new_tokens must be >= 1"),
    (["template=nope"], "unknown template"),
    (["temperature=1", "temperature=0.5"], "given twice"),
])
def test_bad_grid_is_a_one_line_error(items, needle):
    with pytest.raises(UserError) as err:
        sens.parse_grid(items)
    assert needle in str(err.value) and "\n" not in str(err.value)


def test_normalize_grid_checks_python_values():
    assert sens.normalize_grid({"temperature": 0.7}) == {"temperature": [0.7]}
    with pytest.raises(UserError, match="expected a number"):
        sens.normalize_grid({"temperature": [True]})
    with pytest.raises(UserError, match="no values"):
        sens.normalize_grid({"temperature": []})


def test_cli_bad_grid_exits_2_with_one_line(tmp_path, capsys):
    from rlvr_bench.cli import main

    rc = main(["sensitivity", "toy:base", "--benchmark", "toy", "--grid", "temp=1", "--out", str(tmp_path)])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and err[0].startswith("error: --grid 'temp'")


# ---------------------------------------------------------------- statistics


def test_kendall_tau_hand_values():
    assert kendall_tau([1, 2, 3], [10, 20, 30]) == pytest.approx(1.0)
    assert kendall_tau([1, 2, 3], [3, 2, 1]) == pytest.approx(-1.0)
    assert kendall_tau([1, 2, 3], [1, 3, 2]) == pytest.approx(1 / 3)  # C=2, D=1
    # ties (tau-b): x ties pair (1,2): C=2, D=0, n0=3 -> 2 / sqrt((3-1)(3-0))
    assert kendall_tau([1, 2, 2], [1, 2, 3]) == pytest.approx(2 / math.sqrt(6))
    # ties in both: x=[1,1,2,3], y=[1,2,2,3]: C=4 ((0,2),(0,3),(1,3),(2,3)), D=0, n0=6, tx=1, ty=1 -> 4/5
    assert kendall_tau([1, 1, 2, 3], [1, 2, 2, 3]) == pytest.approx(0.8)
    assert kendall_tau([0.5, 0.2], [0.1, 0.3]) == pytest.approx(-1.0)
    assert math.isnan(kendall_tau([1, 1], [1, 2]))  # one list all tied
    assert math.isnan(kendall_tau([1], [1]))
    with pytest.raises(ValueError):
        kendall_tau([1, 2], [1])


def test_flipped_pairs():
    models = ["a", "b", "c"]
    assert flipped_pairs(models, [0.5, 0.4, 0.1], [0.3, 0.6, 0.1]) == [("a", "b")]
    assert flipped_pairs(models, [0.5, 0.5, 0.1], [0.3, 0.6, 0.1]) == []  # a tie is no flip


def _row(model: str, setting: str, per_seed_correct: list[list[int]], n: int = 4) -> dict:
    ids = [f"p{i}" for i in range(len(per_seed_correct[0]))]
    summary = {"ids": ids, "n": n, "correct": {str(s): c for s, c in enumerate(per_seed_correct)},
               "decoding": {}, "template": "toy"}
    return {"model": model, "label": model, "setting": {}, "setting_label": setting, "run_dir": "x",
            "summary": summary}


def test_report_statistics_and_flips():
    rows = [_row("A", "s1", [[4, 4], [4, 2]]), _row("B", "s1", [[0, 0], [0, 2]]),
            _row("A", "s2", [[0, 0], [0, 0]]), _row("B", "s2", [[4, 4], [4, 4]])]
    report = build_sensitivity(rows, benchmark="toy", n=4, seeds=[0, 1], limit=None, grid={})
    cells = {(c["model"], c["setting"]): c for c in report["cells"]}
    assert cells[("A", "s1")]["per_seed"] == [1.0, 0.75]
    assert cells[("A", "s1")]["mean"] == pytest.approx(0.875)
    assert cells[("A", "s1")]["std"] == pytest.approx(math.sqrt(2 * 0.125**2))  # ddof=1
    assert report["spread"]["A"]["range"] == pytest.approx(0.875)
    (pair,) = report["ranking"]["pairs"]
    assert pair["kendall_tau"] == pytest.approx(-1.0) and report["ranking"]["changes"] is True
    assert pair["flips"][0]["ahead_in_a"] == "A" and pair["flips"][0]["within_seed_noise"] is False
    md = render_markdown(report)
    assert "A > B becomes B > A" in md and "0.875 ± 0.177" in md and "**yes**" in md


def test_one_model_ranking_is_undefined():
    report = build_sensitivity([_row("A", "s1", [[1, 2]]), _row("A", "s2", [[3, 2]])], benchmark="toy",
                               n=4, seeds=[0], limit=None, grid={})
    assert report["ranking"]["defined"] is False
    assert report["cells"][0]["std"] is None  # one seed: undefined, not 0
    md = render_markdown(report)
    assert "Ranking: undefined (one model" in md and "(one seed)" in md


def test_models_are_compared_on_shared_problems():
    a, b = _row("A", "s", [[4, 0, 4]]), _row("B", "s", [[2, 2]])
    report = build_sensitivity([a, b], benchmark="toy", n=4, seeds=[0], limit=None, grid={})
    cells = {c["model"]: c for c in report["cells"]}
    assert cells["A"]["num_problems"] == 2 and cells["A"]["mean"] == pytest.approx(0.5)


# ---------------------------------------------------------------- end to end on tiny models

GRID = {"temperature": [0.6, 1.0], "max_new_tokens": [4, 8]}


@pytest.fixture(scope="module")
def second_model_dir(tmp_path_factory):
    from rlvr_bench.models.toy import build_toy_model, build_toy_tokenizer, save_toy

    path = tmp_path_factory.mktemp("tiny_model_b")
    tok = build_toy_tokenizer()
    save_toy(build_toy_model(seed=1, tokenizer=tok), tok, path)
    return path


def _run(models, out, **kw):
    return sens.run_sensitivity([str(m) for m in models], benchmark="toy", grid=GRID, seeds=[0, 1], n=2, limit=3,
                                out=out, batch_size=4, progress=None, **kw)


def _samples(out: Path) -> dict[Path, float]:
    return {p: p.stat().st_mtime_ns for p in sorted(out.glob("evals/**/*.samples.jsonl"))}



def test_grid_end_to_end_rerun_samples_nothing(tiny_model_dir, second_model_dir, tmp_path, count_evaluate):
    out = _run([tiny_model_dir, second_model_dir], tmp_path / "sens")
    assert len(count_evaluate) == 8
    for name in ("sensitivity.md", "sensitivity.json", "sensitivity.png"):
        assert (out / name).stat().st_size > 0
    report = json.loads((out / "sensitivity.json").read_text())
    assert len(report["settings"]) == 4 and len(report["cells"]) == 8 and len(report["ranking"]["pairs"]) == 6
    assert {c["num_problems"] for c in report["cells"]} == {3}
    dirs = sorted(p.name for p in (out / "evals" / "toy").iterdir())
    assert len(dirs) == 2
    slugs = sorted(p.name for p in (out / "evals" / "toy" / dirs[0]).iterdir())
    assert slugs == ["temperature-0.6__max_new_tokens-4", "temperature-0.6__max_new_tokens-8",
                     "temperature-1.0__max_new_tokens-4", "temperature-1.0__max_new_tokens-8"]
    cell = next(c for c in report["cells"] if c["setting"] == "temperature=0.6 max_new_tokens=4")
    assert cell["decoding"]["temperature"] == 0.6 and cell["decoding"]["max_new_tokens"] == 4
    before = _samples(out)
    assert len(before) == 8
    count_evaluate.clear()
    _run([tiny_model_dir, second_model_dir], out)
    assert count_evaluate == [] and _samples(out) == before
    assert json.loads((out / "sensitivity.json").read_text())["cells"] == report["cells"]


def test_killed_run_completes_on_rerun(tiny_model_dir, tmp_path, count_evaluate, monkeypatch):
    ev = importlib.import_module("rlvr_bench.evaluation.evaluate")
    full = _run([tiny_model_dir], tmp_path / "full")
    real = ev.evaluate  # the counting wrapper
    calls = {"n": 0}

    def dies_on_third(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt  # killed while evaluating the third setting
        return real(*args, **kwargs)

    monkeypatch.setattr(ev, "evaluate", dies_on_third)
    with pytest.raises(KeyboardInterrupt):
        _run([tiny_model_dir], tmp_path / "killed")
    assert not (tmp_path / "killed" / "sensitivity.json").exists()
    monkeypatch.setattr(ev, "evaluate", real)
    count_evaluate.clear()
    out = _run([tiny_model_dir], tmp_path / "killed")
    assert len(count_evaluate) == 2  # only the two settings never finished
    a = json.loads((full / "sensitivity.json").read_text())
    b = json.loads((out / "sensitivity.json").read_text())
    strip = [{k: v for k, v in c.items() if k != "run_dir"} for c in a["cells"]]
    assert [{k: v for k, v in c.items() if k != "run_dir"} for c in b["cells"]] == strip
    assert "Ranking: undefined (one model" in (out / "sensitivity.md").read_text()


def test_half_written_setting_resumes(tiny_model_dir, tmp_path, count_evaluate):
    out = _run([tiny_model_dir], tmp_path / "s")
    report = json.loads((out / "sensitivity.json").read_text())
    run_dir = Path(report["cells"][1]["run_dir"])
    samples = next(run_dir.glob("eval/**/*.samples.jsonl"))
    lines = samples.read_text().splitlines(keepends=True)
    samples.write_text("".join(lines[: len(lines) // 2]) + lines[-1][:10])  # killed mid-write
    (run_dir / sens.REQUEST_FILE).unlink()
    (run_dir / "eval" / "summary.jsonl").unlink()
    count_evaluate.clear()
    _run([tiny_model_dir], out)
    assert [Path(p) for p in count_evaluate] == [run_dir]
    assert json.loads((out / "sensitivity.json").read_text())["cells"] == report["cells"]
    assert samples.read_text().splitlines() == [line.rstrip("\n") for line in lines]


def test_changed_request_is_evaluated_again(tiny_model_dir, tmp_path, count_evaluate):
    out = _run([tiny_model_dir], tmp_path / "s")
    count_evaluate.clear()
    sens.run_sensitivity([str(tiny_model_dir)], benchmark="toy", grid=GRID, seeds=[0], n=2, limit=3, out=out,
                         batch_size=4, progress=None)
    assert len(count_evaluate) == 4  # another seed list is another request (samples reused where complete)


def test_repeated_model_is_an_error(tmp_path):
    with pytest.raises(UserError, match="given twice"):
        sens.run_sensitivity(["toy:base", "toy:base"], benchmark="toy", out=tmp_path, progress=None)
