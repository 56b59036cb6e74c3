"""Compare runs: plots and tables (pure functions from numbers to PNG / markdown), reading run directories,
the comparison report and the perplexity analysis (torch imported only when perplexities are computed)."""

from rlvr_bench.analysis.breakdown import count_failures
from rlvr_bench.analysis.perplexity import (
    perplexity_for_study,
    perplexity_from_runs,
    response_perplexities,
)
from rlvr_bench.analysis.plots import (
    panel_figsize,
    plot_accuracy_histograms,
    plot_coverage,
    plot_pass_at_k_by_source,
    plot_pass_at_k_curves,
    plot_perplexity,
    plot_training_progress,
)
from rlvr_bench.analysis.report import write_report
from rlvr_bench.analysis.report_stats import compute_report_numbers
from rlvr_bench.analysis.runs import RunData, StudyData, collect_runs
from rlvr_bench.analysis.tables import (
    format_ci,
    format_mean_std,
    format_p_value,
    format_signed,
    format_value,
    markdown_table,
    method_summary_rows,
)

__all__ = [
    "RunData",
    "StudyData",
    "collect_runs",
    "compute_report_numbers",
    "count_failures",
    "format_ci",
    "format_mean_std",
    "format_p_value",
    "format_signed",
    "format_value",
    "markdown_table",
    "method_summary_rows",
    "panel_figsize",
    "plot_accuracy_histograms",
    "plot_coverage",
    "plot_pass_at_k_by_source",
    "plot_pass_at_k_curves",
    "plot_perplexity",
    "plot_training_progress",
    "perplexity_for_study",
    "perplexity_from_runs",
    "response_perplexities",
    "write_report",
]
