"""The report's "What this run shows": plain sentences generated from the numbers of ``report.json``.

Every sentence states its numbers and calls a difference significant only when the paired test says so
(p < 0.05; Holm-adjusted for the pairwise comparisons of RL presets). Pure functions of the dict returned by
``rlvr_bench.analysis.report_stats.compute_report_numbers`` (plus optional perplexity summaries).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from rlvr_bench.analysis.breakdown import source_kind
from rlvr_bench.analysis.runs import BASE_LABEL
from rlvr_bench.analysis.tables import format_ci, format_p_value

__all__ = [
    "coverage_findings",
    "family_findings",
    "findings",
    "kind_name",
    "pairwise_findings",
    "pass_findings",
    "perplexity_findings",
    "progress_findings",
]

_KIND_NAMES = {"rl": "RL", "sft": "SFT", "rft": "RFT", "distill": "distillation", "teacher": "teacher",
               "other": "other"}


def kind_name(kind: str) -> str:
    """Human name of a method kind (``rl`` -> ``RL``)."""
    return _KIND_NAMES.get(kind, kind)


def _pts(value: float) -> str:
    return f"{100 * value:+.1f} points"


def _test_phrase(test: Mapping[str, Any]) -> str:
    ci = format_ci(test["ci_low"], test["ci_high"], signed=True)
    verdict = "significant" if test["significant"] else "within noise"
    return f"{verdict} (paired test over {test['n_problems']} problems: 95% CI {ci}, {_p_phrase(test['p_value'])})"


def _p_phrase(p_value: float) -> str:
    p = format_p_value(p_value)
    return f"p{p}" if p.startswith("<") else f"p={p}"


def _degenerate(values: Sequence[float]) -> bool:
    """``rlvr_bench.metrics.degenerate_spread`` (fewer than 2 values, or all equal up to 1e-12); the same rule
    inline while that module is not importable."""
    try:
        from rlvr_bench.metrics import degenerate_spread
    except ImportError:
        return len(values) < 2 or max(values) - min(values) <= 1e-12
    return bool(degenerate_spread(values))


def _std_text(std: float) -> str:
    return f"{std:.3f}" if std >= 0.001 else f"{std:.2g}"


def _seed_phrase(diff: float, pass1: Mapping[str, Any], runs: int) -> str:
    """How the difference compares with the seed-to-seed spread; no ratio when the spread cannot be estimated
    (one run, or seeds that agree: a ratio over a zero spread would be meaningless)."""
    std = pass1.get("std")
    per_run = [float(v) for v in pass1.get("per_run") or []]
    if runs < 2 or std is None:
        return "; a single run, so its seed-to-seed spread is unknown: arXiv 2504.07086 reports 5-15 points"
    if std == 0 or _degenerate(per_run or [float(pass1["mean"])]):
        return (f"; its {runs} seeds agree (pass@1 {pass1['mean']:.3f} each), and seeds that agree say nothing "
                "about the seed-to-seed spread: arXiv 2504.07086 reports 5-15 points")
    return f" = {abs(diff) / std:.1f} x its seed std of {_std_text(std)} over {runs} seeds"


def _pass1_sentence(label: str, block: Mapping[str, Any], base_pass1: float) -> str:
    pass1 = block["pass_at_k"]["1"]
    diff = pass1["mean"] - base_pass1
    test = block["versus_base"]
    if test["significant"]:
        direction = "rose above" if diff > 0 else "fell below"
    else:
        direction = "is not distinguishable from"
    return (f"**{label}** ({kind_name(block['kind'])}): pass@1 {pass1['mean']:.3f} {direction} the base's "
            f"{base_pass1:.3f} ({_pts(diff)}{_seed_phrase(diff, pass1, block['runs'])}); "
            f"{_test_phrase(test)}.")


def _per_run_phrase(tests: Sequence[Mapping[str, Any]]) -> str:
    """Each run alone against the base (``versus_base_per_run``), when the method has several runs."""
    if len(tests) < 2:
        return ""
    parts = [f"seed {t['seed']} {_pts(t['diff'])} ({_p_phrase(t['p_value'])})" for t in tests]
    significant = sum(bool(t["significant"]) for t in tests)
    return (f"; run by run at k={tests[0]['k']}: {', '.join(parts)}, {significant} of {len(tests)} "
            "significant alone")


def _crossing_sentence(label: str, block: Mapping[str, Any]) -> str:
    at_max = block["versus_base_at_k_max"]
    k_max = at_max["k"]
    lead = at_max["diff"]
    tail = f"at k={k_max} the difference (method minus base) is {_pts(lead)}, {_test_phrase(at_max)}"
    tail += _per_run_phrase(block.get("versus_base_per_run") or [])
    crossing = block["crossing"]
    if crossing is not None:
        where = f"the curves cross at k≈{crossing['k']:.0f} (pass@k≈{crossing['value']:.3f})"
        if not block["versus_base"]["significant"]:
            return (f"The curves of **{label}** and the base cross at k≈{crossing['k']:.0f}, but {label}'s "
                    f"lead at k=1 is within noise, so the crossing may be noise too; {tail}.")
        return f"The base overtakes **{label}** at large k: {where}; {tail}."
    first = block["lead_at_k"].get("1", 0.0)
    if first <= 0:
        return f"**{label}** is not above the base even at k=1, so there is no crossing; {tail}."
    return f"The base does not overtake **{label}** up to k={block['curve_k_max']} (no crossing); {tail}."


def _run_tally_sentence(methods: Mapping[str, Mapping[str, Any]]) -> str | None:
    """Every RL run's pass@k_max against the base's, counted, with an exact sign test over the runs.

    One run's difference at k_max can be within noise while its direction is the same in every run; the
    runs (presets x seeds) are independent trainings evaluated on the same problems."""
    from rlvr_bench.metrics.stats import sign_test

    rl = [b for b in methods.values() if b.get("kind") == "rl"]
    if not rl or BASE_LABEL not in methods:
        return None
    k = rl[0]["versus_base_at_k_max"]["k"]
    base = methods[BASE_LABEL]["pass_at_k"].get(str(k), {}).get("mean")
    values = [v for b in rl for v in b["pass_at_k"].get(str(k), {}).get("per_run", [])]
    if base is None or len(values) < 2:
        return None
    below = sum(v < base - 1e-12 for v in values)
    above = sum(v > base + 1e-12 for v in values)
    p = sign_test(below, above)
    verdict = "a consistent direction" if p < 0.05 else "no consistent direction"
    return (f"Across all {len(values)} RL runs (every preset and seed), pass@{k} ended below the base's "
            f"({base:.3f}) in {below}, above it in {above} and equal in {len(values) - below - above}: "
            f"{verdict} (exact sign test over runs, {_p_phrase(p)}), whatever each run's own test says.")


def _coverage_sentences(methods: Mapping[str, Mapping[str, Any]]) -> list[str]:
    blocks = {label: b for label, b in methods.items() if label != BASE_LABEL}
    if not blocks:
        return []
    first = next(iter(blocks.values()))["coverage"]
    unsolved, k = first["base_unsolved"], first["k"]
    if unsolved == 0:
        return [f"The base solves every problem within k={k} samples, so no method can solve a problem the base "
                "never solves."]
    new = {label: b["coverage"] for label, b in blocks.items() if b["coverage"]["method_only"] > 0}
    parts = []
    for label, cov in new.items():
        share = cov["method_only_share_of_base_unsolved"] or 0.0
        runs = blocks[label]["runs"]
        mean = f" (mean over {runs} runs)" if runs > 1 else ""
        parts.append(f"{label} solves {cov['method_only']:g} of {cov['base_unsolved']:g}{mean} ({100 * share:.0f}%)")
    none = [label for label in blocks if label not in new]
    sentences = []
    if parts:
        sentences.append(f"Problems the base never solves (at k={k}): " + "; ".join(parts) + ".")
    if none:
        sentences.append(f"No problem beyond the base's reach at k={k}: {', '.join(none)}.")
    return sentences


def _group_mean(blocks: list[Mapping[str, Any]], key: str) -> float:
    return sum(b["coverage"][key] for b in blocks) / len(blocks)


def _contrast_sentence(methods: Mapping[str, Mapping[str, Any]]) -> str | None:
    """RL presets against distillation/SFT (trained on solutions from outside the base; RFT, trained on the
    base's own correct samples, is in neither group): mean method-only problems per group."""
    rl = [b for b in methods.values() if b["kind"] == "rl"]
    other = [b for b in methods.values() if b["kind"] in ("sft", "distill")]
    if not rl or not other:
        return None
    rl_new, other_new = _group_mean(rl, "method_only"), _group_mean(other, "method_only")
    names = ", ".join(b["label"] for b in other)
    head = (f"RL presets solve on average {rl_new:.1f} problems the base never solves; distillation/SFT "
            f"({names}) solve {other_new:.1f}")
    if rl_new < other_new:
        return (head + ": here RL mostly re-weights what the base can already sample, while training on "
                "solutions from outside the base extends its coverage (the pattern of arXiv 2504.13837).")
    if rl_new > other_new:
        return head + ": here RL reaches more problems beyond the base than distillation/SFT."
    return head + ": the two reach the same number of problems beyond the base."


def _pairwise_sentence(pairwise: list[Mapping[str, Any]]) -> str | None:
    if not pairwise:
        return None
    significant = [r for r in pairwise if r["significant"]]
    if not significant:
        return (f"Among RL presets, none of the {len(pairwise)} pairwise pass@1 differences is significant "
                "after Holm adjustment: on this benchmark and these seeds the presets are not distinguishable.")
    parts = []
    for r in significant:
        hi, lo = (r["a"], r["b"]) if r["diff"] > 0 else (r["b"], r["a"])
        parts.append(f"{hi} > {lo} ({_pts(abs(r['diff']))}, Holm-adjusted p={format_p_value(r['p_holm'])})")
    return (f"Among RL presets, {len(significant)} of {len(pairwise)} pairwise pass@1 differences are "
            "significant after Holm adjustment: " + "; ".join(parts) + ".")


def _progress_sentence(numbers: Mapping[str, Any]) -> str | None:
    """Methods whose pass@1 rose significantly above the base while their pass@k_max fell during training."""
    key = f"pass@{numbers['settings']['k_max']}"
    narrowed = []
    for label, steps in numbers["progress"].items():
        test = numbers["methods"][label].get("versus_base")
        if label == BASE_LABEL or len(steps) < 2 or not (test and test["significant"] and test["diff"] > 0):
            continue
        first, last = steps[min(steps, key=int)], steps[max(steps, key=int)]
        if key not in first or key not in last:
            continue
        mean = {name: sum(v) / len(v) for name, v in first.items()}
        end = {name: sum(v) / len(v) for name, v in last.items()}
        if end["pass@1"] > mean["pass@1"] and end[key] < mean[key]:
            narrowed.append(f"{label} ({key} {mean[key]:.3f} -> {end[key]:.3f})")
    if not narrowed:
        return None
    return ("During training, pass@1 rose (significantly, see above) while " + key + " fell for "
            + ", ".join(narrowed) + " (seed means from step 0 to the final step): the narrowing of the "
            "reasoning boundary described in arXiv 2504.13837.")


def _perplexity_sentence(ppl: Mapping[str, Mapping[str, float]] | None) -> str | None:
    if not ppl or BASE_LABEL not in ppl:
        return None
    own = ppl[BASE_LABEL]["median"]
    parts = []
    for source, stats in ppl.items():
        if source == BASE_LABEL:
            continue
        where = "inside" if stats["median"] <= own else "outside"
        parts.append(f"{source} {stats['median']:.2f} ({where})")
    if not parts:
        return None
    return (f"Median perplexity under the base model: the base's own responses {own:.2f}; " + ", ".join(parts)
            + " — inside means at or below the base's own median, i.e. within its high-likelihood region.")


def _best_trained(methods: Mapping[str, Mapping[str, Any]]) -> tuple[str, str] | None:
    """(label, group name) of the RL method with the highest pass@1, else of any trained method (not the
    base, not the teacher); None when there is none."""
    for group, kinds in (("RL method", ("rl",)), ("trained method", ("sft", "rft", "distill", "other"))):
        labels = [label for label, b in methods.items() if label != BASE_LABEL and b["kind"] in kinds]
        if labels:
            return max(labels, key=lambda label: methods[label]["pass_at_k"]["1"]["mean"]), group
    return None


def _where(verdicts: Mapping[str, bool], sources: list[str]) -> str:
    """"all", "some" or "none" of ``sources`` with a true verdict."""
    hits = sum(verdicts[s] for s in sources)
    return "all" if hits == len(sources) else "none" if hits == 0 else "some"


_FAMILY_VERDICT = {
    ("all", "all"): "on code as it is on math",
    ("all", "none"): "on math but not on code",
    ("none", "all"): "on code but not on math",
    ("none", "none"): "on neither math nor code",
}


def _family_sentence(numbers: Mapping[str, Any]) -> str | None:
    """Math against code: is the base significantly above the best RL method at k_max on each family?"""
    by_source = numbers.get("by_source")
    best = _best_trained(numbers["methods"])
    if not by_source or best is None:
        return None
    kinds = {source: source_kind(source) for source in by_source}
    groups = {kind: [s for s in by_source if kinds[s] == kind] for kind in ("math", "code")}
    if not groups["math"] or not groups["code"]:
        return None
    label, group = best
    k = numbers["settings"]["k_max"]
    parts, base_above = [], {}
    for source, part in by_source.items():
        base, block = part["methods"][BASE_LABEL], part["methods"][label]
        test = block["versus_base_at_k_max"]
        base_above[source] = bool(test["significant"] and test["diff"] < 0)
        verdict = ("significant" if test["significant"] else "within noise") + f", {_p_phrase(test['p_value'])}"
        parts.append(f"{source} ({kinds[source]}): pass@1 base {base['pass_at_k']['1']['mean']:.3f} vs "
                     f"{block['pass_at_k']['1']['mean']:.3f}, pass@{k} base {base['pass_at_k'][str(k)]['mean']:.3f} "
                     f"vs {block['pass_at_k'][str(k)]['mean']:.3f} ({_pts(test['diff'])}, {verdict})")
    where = (_where(base_above, groups["math"]), _where(base_above, groups["code"]))
    if where in _FAMILY_VERDICT:
        tail = f"the base is significantly above {label} at k={k} {_FAMILY_VERDICT[where]}"
    else:
        above = [s for s, v in base_above.items() if v]
        tail = (f"the base is significantly above {label} at k={k} on {', '.join(above) or 'no family'} only"
                if above else f"the base is not significantly above {label} at k={k} on any family")
    return (f"Math against code, for the {group} with the best pass@1 (**{label}**) against the base: "
            + "; ".join(parts) + f". So {tail}.")


def pass_findings(numbers: Mapping[str, Any]) -> list[str]:
    """pass@1 of every method against the base, the crossings, and the RL runs' direction at k_max."""
    methods = numbers["methods"]
    base_pass1 = methods[BASE_LABEL]["pass_at_k"]["1"]["mean"]
    others = {label: b for label, b in methods.items() if label != BASE_LABEL}
    out = [_pass1_sentence(label, b, base_pass1) for label, b in others.items()]
    out += [_crossing_sentence(label, b) for label, b in others.items()]
    tally = _run_tally_sentence(methods)
    return out + [tally] if tally else out


def coverage_findings(numbers: Mapping[str, Any]) -> list[str]:
    """Problems beyond the base's reach, and RL against distillation/SFT on them."""
    methods = numbers["methods"]
    contrast = _contrast_sentence({label: b for label, b in methods.items() if label != BASE_LABEL})
    return _coverage_sentences(methods) + ([contrast] if contrast else [])


def pairwise_findings(numbers: Mapping[str, Any]) -> list[str]:
    """RL presets against each other."""
    return [s for s in (_pairwise_sentence(numbers["pairwise"]),) if s]


def progress_findings(numbers: Mapping[str, Any]) -> list[str]:
    """Methods whose pass@1 rose while pass@k_max fell during training."""
    return [s for s in (_progress_sentence(numbers),) if s]


def family_findings(numbers: Mapping[str, Any]) -> list[str]:
    """Math against code (when the study has both task families)."""
    return [s for s in (_family_sentence(numbers),) if s]


def perplexity_findings(perplexity: Mapping[str, Mapping[str, float]] | None) -> list[str]:
    """Where each source's responses lie under the base model."""
    return [s for s in (_perplexity_sentence(perplexity),) if s]


def findings(numbers: Mapping[str, Any], perplexity: Mapping[str, Mapping[str, float]] | None = None) -> list[str]:
    """Plain sentences for "What this run shows", in order: pass@1 per method, crossings, the RL runs'
    direction at k_max (a sign test over runs), coverage,
    RL against distillation/SFT, RL presets against each other, training progress, math against code
    (when the study has both task families), perplexity. (The report gathers the same groups from its
    sections, ``rlvr_bench.analysis.report_sections``.)"""
    return (pass_findings(numbers) + coverage_findings(numbers) + pairwise_findings(numbers)
            + progress_findings(numbers) + family_findings(numbers) + perplexity_findings(perplexity))
