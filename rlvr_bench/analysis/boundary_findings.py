"""The boundary study's plain-words findings: sentences for "What this run shows", generated from the numbers of
``report.json`` ``boundary`` and ``training_curves`` alone (no conclusion is written in advance).

Every verdict is the paired test over problems at p < 0.05 (``boundary.direction``): "keeps" means pass@k_max
is not significantly below the base's; "only raises pass@1" means pass@1 significantly above the base's and
pass@k_max significantly below it. Compute is judged by "tokens" against the reference's
(``boundary.EQUAL_COMPUTE_RATIO``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from rlvr_bench.analysis.tables import format_p_value
from rlvr_bench.metrics import sign_test

__all__ = ["boundary_findings", "curve_findings"]

Numbers = Mapping[str, Any]
_NOT_METHODS = ("control",)
_RL_KINDS = ("rl", "control")


def _pts(value: float) -> str:
    return f"{100 * value:+.1f} points"


def _p(p_value: float) -> str:
    p = format_p_value(p_value)
    return f"p{p}" if p.startswith("<") else f"p={p}"


def _ratio_note(row: Numbers, ref: str | None) -> str:
    """", 2.1x grpo's tokens" when the method is not at equal compute with the reference; else ""."""
    compute = row.get("compute") or {}
    if ref is None or row["label"] == ref or compute.get("equal_compute") is not False:
        return ""
    return f", {compute['tokens_versus_reference']:.2f}x {ref}'s tokens"


def _describe(row: Numbers, k: int, ref: str | None) -> str:
    return (f"{row['label']} ({_pts(row['pass_at_k']['versus_base']['diff'])} at k={k}; pass@1 "
            f"{_pts(row['pass_at_1']['versus_base']['diff'])}{_ratio_note(row, ref)})")


_CATEGORIES = (
    ("widen pass@k (significantly above the base)", lambda k, one: k == "up"),
    ("keep pass@k within noise of the base and raise pass@1", lambda k, one: k == "flat" and one == "up"),
    ("keep pass@k within noise of the base without raising pass@1", lambda k, one: k == "flat" and one != "up"),
    ("only raise pass@1 (pass@k significantly below the base)", lambda k, one: k == "down" and one == "up"),
    ("lower pass@k without raising pass@1", lambda k, one: k == "down" and one != "up"),
)


def _categorise(rows: Sequence[Numbers]) -> list[tuple[str, list[Numbers]]]:
    """(category, rows) for every non-empty category of ``_CATEGORIES``, in that order."""
    out = []
    for name, test in _CATEGORIES:
        members = [r for r in rows if test(r["verdict"]["pass_at_k"], r["verdict"]["pass_at_1"])]
        if members:
            out.append((name, members))
    return out


def _methods(b: Numbers) -> list[Numbers]:
    return [row for row in b["methods"].values() if row["kind"] not in _NOT_METHODS]


def _classification_sentence(b: Numbers, n_problems: int) -> str | None:
    """Every method by what it does to pass@k_max and pass@1 against the base."""
    rows = _methods(b)
    if not rows:
        return None
    k, ref = b["k"], b["reference"]["label"]
    parts = [f"{name}: " + ", ".join(_describe(r, k, ref) for r in members) for name, members in _categorise(rows)]
    return (f"Boundary at k={k} against the base (pass@{k} {b['base']['pass_at_k']:.3f}; paired tests over "
            f"{n_problems} problems, p < 0.05): " + "; ".join(parts) + ".")


def _runs_clause(rows: Sequence[Numbers], k: int) -> str:
    """", whose N runs ended below the base's pass@k in B and above it in A (sign test ...)", for 2+ runs."""
    below = sum(r["pass_at_k"]["sign_versus_base"]["below"] for r in rows)
    above = sum(r["pass_at_k"]["sign_versus_base"]["above"] for r in rows)
    runs = sum(r["runs"] for r in rows)
    if runs < 2:
        return ""
    return (f", whose {runs} runs ended below the base's pass@{k} in {below} and above it in {above} "
            f"(exact sign test over these runs, {_p(sign_test(below, above))})")


def _equal_compute_sentence(b: Numbers) -> str | None:
    """The issue's question, at equal compute with the reference: who keeps pass@k_max, who only raises pass@1."""
    rows, ref, k = _methods(b), b["reference"]["label"], b["k"]
    if not rows:
        return None
    if ref is None or not (b["methods"][ref].get("compute") or {}).get("tokens"):
        why = "no reference run" if ref is None else f"the reference {ref} recorded no compute"
        return f"Equal compute is not judged: {why}, so the verdicts above are at each method's own budget."
    equal = [r for r in rows if (r.get("compute") or {}).get("equal_compute")]

    def having(k_verdict: str, one: str | None = None) -> list[Numbers]:
        return [r for r in equal if r["verdict"]["pass_at_k"] == k_verdict
                and (one is None or r["verdict"]["pass_at_1"] == one)]

    def names(group: list[Numbers]) -> str:
        return f"{len(group)} ({', '.join(r['label'] for r in group) or 'none'})"

    flat = having("flat")
    text = (f"At equal compute (tokens within {b['equal_compute_ratio']:g}x of {ref}'s; {len(equal)} methods), "
            f"pass@{k} is significantly above the base's for {names(having('up'))}; within noise of it for "
            f"{names(flat)}{_runs_clause(flat, k)}; only pass@1 rises (pass@{k} significantly below the base's) "
            f"for {names(having('down', 'up'))}")
    worse = [r for r in having("down") if r["verdict"]["pass_at_1"] != "up"]
    if worse:
        text += f"; pass@{k} falls without a rise in pass@1 for {names(worse)}"
    others = [f"{r['label']} ({r['compute']['tokens_versus_reference']:.2f}x)" for r in rows
              if (r.get("compute") or {}).get("equal_compute") is False]
    unknown = [r["label"] for r in rows if (r.get("compute") or {}).get("equal_compute") is None]
    if others:
        text += f"; not at equal compute: {', '.join(others)}"
    if unknown:
        text += f"; compute not recorded: {', '.join(unknown)}"
    return text + "."


def _reference_sentence(b: Numbers) -> str | None:
    """pass@k_max of every method minus the reference's."""
    ref, k = b["reference"]["label"], b["k"]
    if ref is None:
        return f"No reference run ({b['reference']['note']}): pass@{k} is compared with the base only."
    tests = {label: row["pass_at_k"]["versus_reference"] for label, row in b["methods"].items() if label != ref}
    if not tests:
        return None

    def show(label: str) -> str:
        control = "control, " if b["methods"][label]["kind"] == "control" else ""
        return f"{label} ({control}{_pts(tests[label]['diff'])}, {_p(tests[label]['p_value'])})"

    above = [show(label) for label, t in tests.items() if t["significant"] and t["diff"] > 0]
    below = [show(label) for label, t in tests.items() if t["significant"] and t["diff"] < 0]
    level = len(tests) - len(above) - len(below)
    return (f"Against the reference {ref} (pass@{k} {b['methods'][ref]['pass_at_k']['mean']:.3f}): pass@{k} "
            f"significantly above it for {', '.join(above) or 'no method'}; significantly below it for "
            f"{', '.join(below) or 'no method'}; within noise for {level}.")


def _control_sentences(b: Numbers) -> list[str]:
    """What the controls reach, and each method's distance from the best control."""
    k, controls = b["k"], b["controls"]
    has_rl = any(row["kind"] == "rl" for row in b["methods"].values())
    if not controls:
        return ([f"No control run (reward {', '.join(b['control_rewards'])}): the RL gains are not set against a "
                 "reward that does not measure correctness."] if has_rl else [])
    rows = b["methods"]
    own = "; ".join(f"{c} pass@1 {_pts(rows[c]['pass_at_1']['versus_base']['diff'])} "
                    f"({_p(rows[c]['pass_at_1']['versus_base']['p_value'])}), pass@{k} "
                    f"{_pts(rows[c]['pass_at_k']['versus_base']['diff'])} "
                    f"({_p(rows[c]['pass_at_k']['versus_base']['p_value'])})" for c in controls)
    out = [f"Controls against the base: {own}."]
    methods = [row for row in _methods(b) if row["versus_best_control"]]
    if methods:
        best = b["best_control"]
        dist = ", ".join(f"{r['label']} {_pts(r['versus_best_control']['pass_at_1']['diff'])} / "
                         f"{_pts(r['versus_best_control']['pass_at_k']['diff'])}" for r in methods)
        not_above = [r["label"] for r in methods
                     if not (r["versus_best_control"]["pass_at_1"]["significant"]
                             and r["versus_best_control"]["pass_at_1"]["diff"] > 0)]
        out.append(f"Distance from the best control (pass@1 minus {best['pass_at_1']}'s / pass@{k} minus "
                   f"{best['pass_at_k']}'s): {dist}. Not significantly above the best control in pass@1: "
                   f"{', '.join(not_above) or 'none'}.")
    return out


def boundary_findings(numbers: Numbers) -> list[str]:
    """The boundary section's sentences: the classification, equal compute, the reference, the controls."""
    b = numbers["boundary"]
    sentences = [_classification_sentence(b, numbers["num_problems"]), _equal_compute_sentence(b),
                 _reference_sentence(b) if _methods(b) or b["controls"] else None]
    return [s for s in sentences if s] + _control_sentences(b)


def _curve_sentence(c: Numbers) -> str | None:
    """pass@k from step 0 to the end, and over the last evaluated interval, for every trained method."""
    k, curves = c["k"], c["pass_at_k"]
    overall = {label: cur["overall"] for label, cur in curves.items() if cur["overall"]}
    if not overall:
        return None

    def ends(label: str) -> str:
        steps = curves[label]["steps"]
        t = overall[label]
        return f"{label} ({steps[str(t['from'])]['mean']:.3f} -> {steps[str(t['to'])]['mean']:.3f})"

    fell = [ends(lbl) for lbl, t in overall.items() if t["significant"] and t["diff"] < 0]
    rose = [ends(lbl) for lbl, t in overall.items() if t["significant"] and t["diff"] > 0]
    flat = [lbl for lbl, t in overall.items() if not t["significant"]]
    sizes = ", ".join(str(n) for n in c["samples_per_problem"])
    text = (f"pass@{k} over training (k={k}: the largest k every checkpoint was evaluated with; samples per "
            f"problem at the checkpoints: {sizes}), from step 0 to the last evaluated step: fell significantly for "
            f"{', '.join(fell) or 'no method'}; rose for {', '.join(rose) or 'no method'}; within noise for "
            f"{', '.join(flat) or 'no method'}.")
    last = {label: cur["last_interval"] for label, cur in curves.items() if cur["last_interval"]}
    if last:
        still = [f"{lbl} (steps {t['from']} -> {t['to']}: {_pts(t['diff'])}, {_p(t['p_value'])})"
                 for lbl, t in last.items() if t["significant"] and t["diff"] < 0]
        text += (f" Over the last evaluated interval, pass@{k} still fell significantly for "
                 f"{', '.join(still) or 'none'} of the {len(last)} methods with an intermediate checkpoint.")
    return text


def _longest_sentence(c: Numbers) -> str | None:
    """The RL methods (controls included) trained for more steps than the reference: their pass@k trajectory
    (steps of SFT and distillation count other things)."""
    ref, curves, k = c["reference"], c["pass_at_k"], c["k"]
    if ref is None or ref not in curves or not curves[ref]["common_steps"]:
        return None
    ref_last = curves[ref]["common_steps"][-1]
    longer = [label for label, cur in curves.items() if cur["kind"] in _RL_KINDS and cur["common_steps"]
              and cur["common_steps"][-1] > ref_last]
    if not longer:
        return None
    parts = []
    for label in longer:
        steps = curves[label]["steps"]
        path = " -> ".join(f"{steps[str(s)]['mean']:.3f} (step {s})" for s in curves[label]["common_steps"])
        parts.append(f"{label}: {path}")
    return f"Trained longer than {ref} ({ref_last} steps), pass@{k}: " + "; ".join(parts) + "."


def _budget_sentence(c: Numbers) -> str | None:
    """Methods above the reference's budget, read at their last checkpoint within it."""
    k, ref = c["k"], c["reference"]
    parts = []
    for label, cur in c["pass_at_k"].items():
        eq = cur.get("equal_budget")
        if not eq:
            continue
        if eq["step"] is None:
            parts.append(f"{label} has no evaluated checkpoint within that budget")
            continue
        t = eq["versus_base"]
        verdict = "significant" if t["significant"] else "within noise"
        parts.append(f"{label} at step {eq['step']} ({eq['tokens'] / eq['budget']:.2f}x): pass@{k} "
                     f"{eq['pass_at_k']:.3f}, {_pts(t['diff'])} against the base ({verdict}, {_p(t['p_value'])})")
    if not parts:
        return None
    ratio = c["equal_compute_ratio"]
    return (f"Read at {ref}'s budget (their last checkpoint within {ratio:g}x of its tokens), the methods that "
            f"used more than {ratio:g}x: " + "; ".join(parts) + ".")


def _entropy_sentence(c: Numbers) -> str | None:
    """Entropy from the first to the last logged step of the methods that log the policy's own entropy."""
    rl = {label: e for label, e in c["entropy"].items() if e and e["key"] == "actor/entropy"}
    if not rl:
        return None
    fell = [label for label, e in rl.items() if e["change"] < 0]

    def show(label: str) -> str:
        e = rl[label]
        return f"{label} ({e['first']['value']:.3f} -> {e['last']['value']:.3f})"

    low, high = min(rl, key=lambda x: rl[x]["last"]["value"]), max(rl, key=lambda x: rl[x]["last"]["value"])
    return (f"Policy entropy (actor/entropy, on the policy's own samples, mean over seeds) fell from the first to "
            f"the last logged step for {len(fell)} of {len(rl)} RL methods; lowest at the end: {show(low)}; "
            f"highest: {show(high)}.")


def curve_findings(numbers: Numbers) -> list[str]:
    """The training-curves section's sentences: pass@k over training, longer training, equal budget, entropy."""
    c = numbers["training_curves"]
    sentences = (_curve_sentence(c), _longest_sentence(c), _budget_sentence(c), _entropy_sentence(c))
    return [s for s in sentences if s]
