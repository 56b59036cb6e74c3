"""``rlvr-bench compare RUN_DIR... --base RUN_DIR [--k 256] [--out DIR]``: the comparison report."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from rlvr_bench.errors import UserError
from rlvr_bench.utils.dist import print0

__all__ = ["default_out_dir", "run_compare_command"]


def default_out_dir(run_dirs: list[Path], base_dir: Path) -> Path:
    """``<common parent of the runs and the base>/compare``."""
    parents = [str(p.resolve().parent) for p in [base_dir, *run_dirs]]
    return Path(os.path.commonpath(parents)) / "compare"


def run_compare_command(args: argparse.Namespace) -> int:
    """Collect the runs, write the report, print its path.

    ``args``: ``runs`` (run directories), ``base`` (the base's run directory), ``k`` (k of Delta_SE; lowered
    to the base's samples per problem when larger), ``out`` (report directory, default
    ``<common parent>/compare``). User mistakes raise ``UserError`` with one line.
    """
    from rlvr_bench.analysis.env_diff import env_differences, format_env_differences
    from rlvr_bench.analysis.report import write_report
    from rlvr_bench.analysis.runs import collect_runs

    runs = [Path(r) for r in args.runs]
    base = Path(args.base)
    for path in [base, *runs]:
        if not path.is_dir():
            raise UserError(f"run directory {path} does not exist")
    if args.k is not None and args.k < 1:
        raise UserError(f"--k must be >= 1, got {args.k}")
    data = collect_runs(runs, base)
    out = Path(args.out) if args.out else default_out_dir(runs, base)
    path = write_report(data, out, gap_k=args.k)
    for line in format_env_differences(env_differences(data)):
        print0(line)
    print0(f"report: {path}")
    return 0
