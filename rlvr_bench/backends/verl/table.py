"""The mapping table as markdown (mapping.md, docs/verl.md) and as plain text (the export's console output)."""

from __future__ import annotations

from typing import Any

from rlvr_bench.backends.verl.overrides import hydra_value
from rlvr_bench.backends.verl.plan import STATUSES, ExportFacts, Row, VerlPlan, build_plan

__all__ = ["mapping_markdown", "mapping_text", "reference_markdown", "reference_rows"]


def _cell(value: Any) -> str:
    text = hydra_value(value) if isinstance(value, (bool, int, float, list, tuple)) or value is None else str(value)
    text = text.replace("|", "\\|").replace("\n", " ")
    return text if len(text) <= 60 else text[:57] + "..."


def _keys(row: Row, with_values: bool) -> str:
    if not row.verl:
        return "—"
    if with_values:
        return "<br>".join(f"`{k}={_cell(v)}`" for k, v in row.verl.items())
    return "<br>".join(f"`{k}`" for k in row.verl)


def _legend() -> str:
    return "\n".join(f"- **{name}**: {meaning}" for name, meaning in STATUSES.items()) + "\n"


def mapping_markdown(plan: VerlPlan, facts: ExportFacts, *, title: str) -> str:
    """mapping.md of an export: every recipe field, its value, the verl keys it set, status, note."""
    lines = [f"# {title}", "",
             "Every field of the recipe (algorithm values after the preset is applied) and the verl keys it "
             "set. `$EXPORT_DIR` is this directory. launch.sh adds `trainer.nnodes`, "
             "`trainer.n_gpus_per_node` and `actor_rollout_ref.rollout.tensor_model_parallel_size` from its "
             "environment.", "",
             "| recipe field | value | verl override(s) | status | note |", "|---|---|---|---|---|"]
    for row in plan.rows:
        lines.append(f"| `{row.field}` | {_cell(row.value)} | {_keys(row, True)} | {row.status} | "
                     f"{row.note.replace('|', '/')} |")
    lines += ["", "Statuses:", "", _legend()]
    return "\n".join(lines)


def mapping_text(plan: VerlPlan, *, show_unused: bool = False) -> str:
    """Aligned plain-text table for the terminal (one line per field; unused rows hidden by default)."""
    rows = [r for r in plan.rows if show_unused or r.status != "unused"]
    cells = [(r.field, _cell(r.value), ", ".join(f"{k}={_cell(v)}" for k, v in r.verl.items()) or "-", r.status)
             for r in rows]
    w0 = max(len(c[0]) for c in cells)
    w1 = min(24, max(len(c[1]) for c in cells))
    out = [f"{'recipe field':<{w0}}  {'value':<{w1}}  status   verl"]
    for field, value, keys, status in cells:
        out.append(f"{field:<{w0}}  {value[:w1]:<{w1}}  {status:<7}  {keys}")
    return "\n".join(out)


def reference_rows() -> list[tuple[str, list[str], str, str]]:
    """(field, verl keys, status, note) over every preset verl can run: the table in docs/verl.md.

    Each field lists the union of the keys it sets in any preset; status and note come from the first
    preset where the field is in use.
    """
    from rlvr_bench.algorithms import preset_names
    from rlvr_bench.backends.verl.errors import UnsupportedRecipeError
    from rlvr_bench.config import config_from_dict
    from rlvr_bench.trainers.rl import resolve_algorithm

    facts = ExportFacts(model_path="$EXPORT_DIR/model", model_note="toy copy, local dir or hub name",
                        critic_path="$EXPORT_DIR/model", train_file="$EXPORT_DIR/data/train.parquet",
                        val_files=["$EXPORT_DIR/data/val_toy.parquet"], num_train=2000, max_prompt_length=64,
                        prompt_length_note="measured", chat_template=None, experiment_name="x")
    keys: dict[str, list[str]] = {}
    best: dict[str, Row] = {}
    for name in preset_names():
        cfg = config_from_dict({"method": "rl", "model": {"name_or_path": "toy:base"}, "data": {"source": "toy"},
                                "algorithm": {"preset": name}})
        try:
            rows = build_plan(cfg, resolve_algorithm(cfg), facts).rows
        except UnsupportedRecipeError:  # a method verl lacks (passk, prorl, ...): nothing to map
            continue
        for row in rows:
            keys.setdefault(row.field, []).extend(k for k in row.verl if k not in keys[row.field])
            if row.field not in best or _weight(row) > _weight(best[row.field]):
                best[row.field] = row
    return [(f, keys[f], best[f].status, best[f].note) for f in keys]


def _weight(row: Row) -> tuple[int, int, int]:
    """Which preset's row describes a field best: in use, most keys, longest note."""
    return (row.status != "unused", len(row.verl), len(row.note))


def reference_markdown() -> str:
    """The generic mapping table (every preset verl can run) kept in docs/verl.md between the ``mapping-table`` markers."""
    lines = ["| recipe field | verl key(s) | status | note |", "|---|---|---|---|"]
    for field, keys, status, note in reference_rows():
        shown = "<br>".join(f"`{k}`" for k in keys) or "—"
        lines.append(f"| `{field}` | {shown} | {status} | {note.replace('|', '/')} |")
    return "\n".join(lines) + "\n"
