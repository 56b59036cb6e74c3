"""The study's report: the completed runs of a study, compared with ``rlvr_bench.analysis``."""

from __future__ import annotations

from pathlib import Path

from rlvr_bench.study.recipe import StudyConfig
from rlvr_bench.utils.dist import get_logger
from rlvr_bench.utils.rundir import RunDir

__all__ = ["write_study_report"]

log = get_logger(__name__)


def _problems(benchmark: str, base_dir: Path) -> dict[str, str]:
    """id -> problem text of the benchmark the runs were evaluated on (for the perplexity prompts)."""
    if benchmark == "toy":
        import yaml

        from rlvr_bench.config import config_from_dict
        from rlvr_bench.data.toy import toy_dataset

        raw = yaml.safe_load((base_dir / "config.yaml").read_text())
        raw["logging"] = {**(raw.get("logging") or {}), "trackers": []}  # only toy.tasks is read here
        cfg = config_from_dict(raw)
        ds = toy_dataset("test", task=cfg.toy.tasks)
    else:
        from rlvr_bench.data.benchmarks import load_benchmark

        ds = load_benchmark(benchmark)
    return dict(zip(ds["id"], ds["problem"]))


def write_study_report(cfg: StudyConfig, out: Path) -> Path:
    """Collect every complete run of the study and write ``<out>/report.md`` (with plots and report.json)."""
    from rlvr_bench.analysis import collect_runs, write_report

    out = Path(out)
    base = out / "base"
    runs = [p for p in sorted(out.iterdir()) if p.is_dir() and p.name != "base" and RunDir(p).is_complete()
            and RunDir(p).summary_path.exists()]
    data = collect_runs(runs, base, benchmark=cfg.report.benchmark)
    ppl = None
    if cfg.report.perplexity:
        from rlvr_bench.analysis import perplexity_for_study

        ppl = perplexity_for_study(data, _problems(data.benchmark, base), max_responses=cfg.report.perplexity_samples)
    path = write_report(data, out, ks=cfg.report.ks, gap_k=cfg.report.gap_k, perplexity=ppl,
                        reference=cfg.report.reference,
                        title=f"{cfg.name}: {cfg.description}" if cfg.description else cfg.name)
    if cfg.sensitivity.enabled:  # the grid's summary and link (rlvr_bench.study.sensitivity)
        from rlvr_bench.study.sensitivity import sensitivity_section

        lines = sensitivity_section(out)
        if lines:
            path = Path(path)
            path.write_text(path.read_text().rstrip("\n") + "\n" + "\n".join(lines) + "\n")
    return path
