"""The report's sections: every section is rendered and owns its report.json keys; a new section is one entry."""

from __future__ import annotations

import json

import pytest
from test_report_synthetic import build_study

from rlvr_bench.analysis import collect_runs, write_report
from rlvr_bench.analysis.report_section import ReportSection, check_sections
from rlvr_bench.analysis.report_sections import FINDINGS_ORDER, SECTIONS


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    runs = build_study(tmp_path_factory.mktemp("sections"), teacher=True)
    return collect_runs([runs[n] for n in runs if n != "base"], runs["base"])


def test_sections_are_complete_and_report_json_holds_every_key(data, tmp_path):
    check_sections(SECTIONS)
    assert set(FINDINGS_ORDER) <= {s.name for s in SECTIONS}
    write_report(data, tmp_path, ks=[1, 4], n_resamples=200)
    report = json.loads((tmp_path / "report.json").read_text())
    owned = [key for s in SECTIONS for key in s.keys]
    assert set(report) == {*owned, "figures"} and not any(k.startswith("_") for k in report)


def test_a_new_section_is_one_entry(data, tmp_path):
    def compute(d, ctx):
        return {"run_count": sum(len(r) for r in d.methods.values()), "_scratch": "not in report.json"}

    extra = ReportSection("run_count", lambda r, ctx: ["## Run count", "", f"{r['run_count']} runs", ""], compute,
                          keys=("run_count",), findings=lambda r, ctx: [f"{r['run_count']} runs were compared."])
    md = write_report(data, tmp_path, ks=[1, 4], n_resamples=200, sections=[*SECTIONS, extra]).read_text()
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["run_count"] == 6 and "_scratch" not in report
    assert md.endswith("## Run count\n\n6 runs\n")
    assert report["findings"][-1] == "6 runs were compared." and "- 6 runs were compared." in md


def test_section_mistakes_are_caught(data, tmp_path):
    with pytest.raises(ValueError, match="share a name"):
        check_sections([*SECTIONS, SECTIONS[-1]])
    with pytest.raises(ValueError, match="owned by sections"):
        check_sections([*SECTIONS, ReportSection("x", lambda r, ctx: [], keys=("notes",))])
    missing = ReportSection("x", lambda r, ctx: [], keys=("x",))
    with pytest.raises(ValueError, match="missing the numbers of x.x"):
        write_report(data, tmp_path, n_resamples=200, sections=[*SECTIONS, missing])
    foreign = ReportSection("y", lambda r, ctx: [], lambda d, ctx: {"z": 1})
    with pytest.raises(ValueError, match="does not own"):
        write_report(data, tmp_path, n_resamples=200, sections=[*SECTIONS, foreign])
