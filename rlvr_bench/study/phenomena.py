"""The phenomena a study should show, checked on its ``report.json`` (pure: numbers in, verdicts out).

The toy study is a miniature of arXiv 2504.13837 and of the distillation contrast it draws; these checks
state each phenomenon as a number against a threshold (``docs/study.md``, "What the toy study shows"):

* **sharpen**: an RL preset raises pass@1 over the base by at least ``min_gain`` and by at least
  ``min_sigmas`` standard deviations over its training seeds;
* **narrow**: the base's pass@k_max is above the method's (the curves cross);
* **narrow per run**: each training run of the method, alone, ends below the base at the largest k both
  were sampled for, with a paired test over problems at p < ``alpha`` (report ``versus_base_per_run``);
* **expand**: a method solves at k_max at least ``min_expand_share`` of the problems the base never solves;
* **significance**: every method has a paired test against the base, and RL presets pairwise intervals.

``bench/study_calibration.py`` prints the table; ``tests/study/test_study_phenomena.py`` asserts the checks
on the cached results of the default study.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = [
    "EXPAND_METHODS",
    "NARROW_METHODS",
    "SHARPEN_METHODS",
    "Check",
    "calibration_rows",
    "check_phenomena",
]

#: RL presets that must sharpen (issue targets); PPO and ReMax are reported, not required.
SHARPEN_METHODS = ("grpo", "dr_grpo", "rloo", "reinforce_pp", "reinforce_pp_baseline", "dapo")
NARROW_METHODS = ("grpo",)
EXPAND_METHODS = ("sft", "distill_seq")


@dataclass(frozen=True)
class Check:
    """One phenomenon on one method: did it hold, and the numbers that say so."""

    phenomenon: str
    method: str
    passed: bool
    detail: str


def _pass1(block: Mapping[str, Any]) -> tuple[float, float]:
    stat = block["pass_at_k"]["1"]
    return float(stat["mean"]), float(stat.get("std") or 0.0)


def _kmax_value(block: Mapping[str, Any]) -> tuple[int, float]:
    k = int(block["curve_k_max"]) if "curve_k_max" in block else max(int(k) for k in block["curve"])
    return k, float(block["curve"][str(k)]["mean"])


def sharpen_check(label: str, block: Mapping[str, Any], base: Mapping[str, Any], *, min_gain: float = 0.10,
                  min_sigmas: float = 3.0) -> Check:
    """pass@1 gain over the base >= ``min_gain`` and >= ``min_sigmas`` seed standard deviations.

    With a single training seed the spread is unknown and the check fails (say so rather than pass).
    """
    mean, std = _pass1(block)
    gain = mean - _pass1(base)[0]
    runs = int(block.get("runs", 1))
    sigmas = gain / std if std > 0 else float("inf")
    ok = runs >= 2 and gain >= min_gain and gain >= min_sigmas * std
    detail = f"pass@1 {mean:.3f} ± {std:.3f} ({runs} seeds) vs base {_pass1(base)[0]:.3f}: gain {gain:+.3f}"
    detail += f" = {sigmas:.1f} sd" if std > 0 else " (sd 0)"
    return Check("sharpen", label, ok, detail)


def narrow_check(label: str, block: Mapping[str, Any], base: Mapping[str, Any]) -> Check:
    """The base's pass@k_max is above the method's (and where the curves cross)."""
    k, value = _kmax_value(block)
    base_value = float(base["curve"][str(k)]["mean"])
    cross = block.get("crossing")
    where = f"curves cross at k≈{cross['k']:.0f}" if cross else "no crossing"
    return Check("narrow", label, base_value > value,
                 f"pass@{k} base {base_value:.3f} vs {value:.3f}; {where}")


def narrow_per_run_check(label: str, block: Mapping[str, Any], *, alpha: float = 0.05) -> Check:
    """Every run's per-problem pass@k is below the base's with a paired test p < ``alpha``."""
    tests = block.get("versus_base_per_run") or []
    if not tests:
        return Check("narrow/run", label, False, "no per-run tests in the report (made before they existed)")
    ok = all(t["diff"] < 0 and t["p_value"] < alpha for t in tests)
    parts = [f"s{t['seed']}: {t['diff']:+.3f} p={t['p_value']:.3f}" for t in tests]
    return Check("narrow/run", label, ok, f"pass@{tests[0]['k']} minus base per run: " + ", ".join(parts))


def expand_check(label: str, block: Mapping[str, Any], *, min_share: float = 0.10) -> Check:
    """At k_max the method solves >= ``min_share`` of the problems the base never solves."""
    cov = block["coverage"]
    share = cov.get("method_only_share_of_base_unsolved")
    ok = share is not None and share >= min_share
    shown = "n/a" if share is None else f"{share:.1%}"
    return Check("expand", label, ok, f"solves {cov['method_only']:.1f} of {cov['base_unsolved']:.1f} "
                 f"base-unsolved problems at k={cov['k']} ({shown})")


def significance_check(report: Mapping[str, Any]) -> Check:
    """Every method has a paired test against the base, every RL pair a confidence interval."""
    methods = {k: v for k, v in report["methods"].items() if k != "base"}
    missing = [k for k, v in methods.items() if "versus_base" not in v or v["versus_base"].get("p_value") is None]
    rl = [k for k, v in methods.items() if v.get("kind") == "rl"]
    pairs = {(r["a"], r["b"]) for r in report.get("pairwise", []) if "ci_low" in r and "ci_high" in r}
    need = len(rl) * (len(rl) - 1) // 2
    ok = not missing and len(pairs) >= need
    return Check("significance", "all", ok, f"{len(methods) - len(missing)} of {len(methods)} methods tested "
                 f"against the base; {len(pairs)} of {need} RL pairs with an interval")


def check_phenomena(report: Mapping[str, Any], *, sharpen: Sequence[str] = SHARPEN_METHODS,
                    narrow: Sequence[str] = NARROW_METHODS, expand: Sequence[str] = EXPAND_METHODS,
                    min_gain: float = 0.10, min_sigmas: float = 3.0, min_expand_share: float = 0.10) -> list[Check]:
    """Every check on a study's ``report.json`` (a method absent from the report fails its check)."""
    methods = report["methods"]
    base = methods["base"]
    out: list[Check] = []

    def absent(phenomenon: str, label: str) -> Check:
        return Check(phenomenon, label, False, "not in the report (run missing or incomplete)")

    for label in sharpen:
        out.append(sharpen_check(label, methods[label], base, min_gain=min_gain, min_sigmas=min_sigmas)
                   if label in methods else absent("sharpen", label))
    for label in narrow:
        out.append(narrow_check(label, methods[label], base) if label in methods else absent("narrow", label))
        out.append(narrow_per_run_check(label, methods[label]) if label in methods
                   else absent("narrow/run", label))
    for label in expand:
        out.append(expand_check(label, methods[label], min_share=min_expand_share)
                   if label in methods else absent("expand", label))
    out.append(significance_check(report))
    return out


def calibration_rows(report: Mapping[str, Any], minutes: Mapping[str, float] | None = None) -> list[list[str]]:
    """Rows of the calibration table: method, pass@1 mean ± std, gain in seed sd, pass@k_max, coverage, min."""
    methods = report["methods"]
    base_p1 = _pass1(methods["base"])[0]
    rows = []
    for label, block in methods.items():
        mean, std = _pass1(block)
        k, kmax = _kmax_value(block)
        gain = mean - base_p1
        sd = "" if label == "base" else (f"{gain / std:+.1f}" if std > 0 else "n/a (sd 0)")
        cov = block.get("coverage")
        cov_text = "" if not cov else (f"{cov['both']:.0f}/{cov['base_only']:.0f}/{cov['method_only']:.1f}/"
                                       f"{cov['neither']:.1f}")
        mins = "" if not minutes or label not in minutes else f"{minutes[label]:.1f}"
        rows.append([label, f"{mean:.3f} ± {std:.3f}", f"{gain:+.3f}" if label != "base" else "", sd,
                     f"{kmax:.3f} (k={k})", cov_text, mins])
    return rows
