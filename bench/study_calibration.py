"""Calibration of the toy study: does every phenomenon show, above seed noise, and in how many minutes?

    .venv/bin/rlvr-bench study                                   # run (or resume) the default study
    .venv/bin/python bench/study_calibration.py                  # then print the table from its results
    .venv/bin/python bench/study_calibration.py --study runs/toy-study --json out.json

Prints, from ``<study>/report.json`` and ``<study>/study.json``: per method the pass@1 mean ± std over its
training seeds, the gain over the base (absolute and in seed standard deviations), pass@k_max, the coverage
counts against the base at k_max (both / base only / method only / neither), and the measured minutes per
run; then each phenomenon check of ``rlvr_bench.study.phenomena`` (sharpen, narrow, narrow per run, expand,
significance) with PASS or MISS, and the study's wall time.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from pathlib import Path

from rlvr_bench.analysis.runs import run_label
from rlvr_bench.analysis.tables import markdown_table
from rlvr_bench.study.phenomena import calibration_rows, check_phenomena


def minutes_per_method(run_seconds: dict[str, float]) -> dict[str, float]:
    """Mean minutes per run of each method label (``grpo-s1`` -> ``grpo``, as the report labels runs)."""
    groups: dict[str, list[float]] = defaultdict(list)
    for label, seconds in run_seconds.items():
        groups[run_label(label)].append(seconds / 60.0)
    return {k: sum(v) / len(v) for k, v in groups.items()}


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--study", type=Path, default=Path("runs/toy-study"), help="study directory")
    ap.add_argument("--json", type=Path, default=None, help="also write the checks and rows here")
    args = ap.parse_args(argv)
    report_path = args.study / "report.json"
    if not report_path.exists():
        print(f"error: {report_path} not found; run `rlvr-bench study` first", file=sys.stderr)
        return 2
    report = json.loads(report_path.read_text())
    record_path = args.study / "study.json"
    record = json.loads(record_path.read_text()) if record_path.exists() else {}
    minutes = minutes_per_method(record.get("run_seconds", {}))
    rows = calibration_rows(report, minutes)
    head = ["method", "pass@1 mean ± sd", "gain", "gain / sd", "pass@k_max", "coverage b/bo/mo/n", "min/run"]
    print(markdown_table([dict(zip(head, r)) for r in rows], head), end="")
    checks = check_phenomena(report)
    print()
    for c in checks:
        print(f"{'PASS' if c.passed else 'MISS'}  {c.phenomenon:<12} {c.method:<22} {c.detail}")
    if record:
        calls = "; ".join(f"{c.get('wall_minutes')} min ({len(c.get('ran', []))} runs ran)"
                          for c in record.get("calls", []))
        print(f"\nstudy: {record.get('runs')} runs, {record.get('workers')} workers; sum of run times "
              f"{sum(record.get('run_seconds', {}).values()) / 60:.1f} min; wall time per call: {calls or 'n/a'}")
    if args.json is not None:
        args.json.write_text(json.dumps({"rows": rows, "checks": [c.__dict__ for c in checks],
                                         "study": record}, indent=1) + "\n")
    return 0 if all(c.passed for c in checks) else 1


if __name__ == "__main__":
    sys.exit(main())
