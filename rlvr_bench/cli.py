"""``rlvr-bench`` command line: study, train, eval, sensitivity, compare, recipes, env, verl.

User mistakes (a recipe typo, a missing file, a bad flag value) print one ``error:`` line and exit 2.
Heavy modules are imported inside each command, so ``rlvr-bench recipes`` and ``--help`` are fast.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rlvr_bench.errors import UserError

__all__ = ["main"]


def _int_list(text: str) -> list[int]:
    try:
        return [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from None


def __getattr__(name: str) -> Any:
    """``recipes_dir`` moved to ``rlvr_bench.recipes``; still importable from here for older callers."""
    if name == "recipes_dir":
        from rlvr_bench.recipes import recipes_dir

        return recipes_dir
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _cmd_env(args: argparse.Namespace) -> int:
    from rlvr_bench.utils.envinfo import environment_record

    print(json.dumps(environment_record(), indent=2, default=str))
    return 0


def _cmd_recipes(args: argparse.Namespace) -> int:
    from rlvr_bench.recipes import recipes_dir, validate_all

    root = Path(args.dir) if args.dir else recipes_dir()
    if not root.is_dir():
        raise UserError(f"--dir {root} is not a directory")
    rows, errors = validate_all(root)
    width = max((len(name) for name, _ in rows), default=10)
    for name, desc in rows:
        print(f"{name:<{width}}  {desc}")
    for err in errors:
        print(f"error: {err}", file=sys.stderr)
    print(f"{len(rows)} recipes valid, {len(errors)} broken", file=sys.stderr)
    return 1 if errors else 0


def _cmd_train(args: argparse.Namespace) -> int:
    from rlvr_bench.recipes import load_recipe
    from rlvr_bench.runner import run_prepare, run_recipe

    cfg = load_recipe(args.recipe, args.overrides)
    if args.prepare_only:
        done = run_prepare(cfg)
        print(f"prepared: {cfg.model.name_or_path}" if done else f"nothing to prepare for method {cfg.method!r}")
        return 0
    run_dir = run_recipe(cfg)
    print(f"run directory: {run_dir}")
    return 0


def _cmd_eval(args: argparse.Namespace) -> int:
    from rlvr_bench.evaluation.cli import run_eval_command

    return run_eval_command(args)


def _cmd_compare(args: argparse.Namespace) -> int:
    from rlvr_bench.analysis.compare import run_compare_command

    return run_compare_command(args)


def _cmd_sensitivity(args: argparse.Namespace) -> int:
    from rlvr_bench.evaluation.sensitivity import run_sensitivity_command

    return run_sensitivity_command(args)


def _cmd_study(args: argparse.Namespace) -> int:
    from rlvr_bench.study import run_study_command

    return run_study_command(args)


def _cmd_verl(args: argparse.Namespace) -> int:
    from rlvr_bench.backends.verl.cli import run_verl_command

    return run_verl_command(args)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="rlvr-bench", description=__doc__.splitlines()[0])
    parser.add_argument("--log-level", default="INFO", help="logging level (default INFO)")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("study", help="train every method from one base and write the comparison report")
    p.add_argument("recipe", nargs="?", default=None, help="study recipe: a path, or a shipped one by name (study/toy.yaml); default: the "
                   "offline toy study")
    p.add_argument("overrides", nargs="*", help="key=value overrides")
    p.add_argument("--dry-run", action="store_true", help="print the plan (every recipe loaded and validated), train "
                   "nothing")
    p.set_defaults(func=_cmd_study)

    p = sub.add_parser("train", help="one run from a recipe (also under `accelerate launch`)")
    p.add_argument("recipe", help="recipe YAML: a path, or a shipped recipe by name (toy/grpo.yaml)")
    p.add_argument("overrides", nargs="*", help="section.key=value overrides")
    p.add_argument("--prepare-only", action="store_true", help="make the models the run starts from (the toy "
                   "base's build) and stop: nothing is trained, evaluated or written to the run directory")
    p.set_defaults(func=_cmd_train)

    p = sub.add_parser("eval", help="pass@k evaluation of a model on a benchmark",
                       description="pass@k of a model. Given a run's checkpoint (checkpoints/step-N, full or LoRA), "
                       "every setting below defaults to what that run's own evaluation used (its template, "
                       "decoding, stop rule, benchmarks, n, ks, seeds, batch size); a flag overrides it. Other "
                       "models get the defaults shown.")
    p.add_argument("model", help="model directory, run checkpoint, hub name, or toy:base / toy:teacher")
    p.add_argument("--benchmark", action="append", default=None,
                   help="short name or local file, repeatable (default: the run's evaluation.benchmarks; required "
                   "for other models)")
    p.add_argument("--n", type=int, default=None, help="samples per problem per seed (default: the run's, else 64)")
    p.add_argument("--ks", type=_int_list, default=None,
                   help="comma-separated k values (default: the run's, else powers of 2 <= n)")
    p.add_argument("--seeds", type=_int_list, default=None, help="comma-separated sampling seeds (default: the "
                   "run's, else 0)")
    p.add_argument("--temperature", type=float, default=None, help="(default: the run's, else 1.0)")
    p.add_argument("--top-p", type=float, default=None, help="(default: the run's, else 1.0)")
    p.add_argument("--top-k", type=int, default=None, help="0 = off (default: the run's, else 0)")
    p.add_argument("--max-new-tokens", type=int, default=None, help="(default: the run's, else 48)")
    p.add_argument("--stop", action="append", default=None,
                   help="extra stop string, repeatable; a special token such as '<|im_end|>' is matched as its id "
                   "(default: the run's; the stop rule, end-of-text ids plus the template's turn-end token, "
                   "always applies)")
    p.add_argument("--template", default=None,
                   help="prompt template (default: the run's; else code benchmarks' own, toy for toy models, plain)")
    p.add_argument("--batch-size", type=int, default=None,
                   help="sequences per forward batch; it also fixes the per-unit sampling seeds (default: the "
                   "run's rollout.batch_size, else 1024, 64 for code benchmarks)")
    p.add_argument("--max-prompt-tokens", type=int, default=None,
                   help="longer prompts are not sampled and score 0 (default: the run's data.max_prompt_tokens, "
                   "else the model's context minus --max-new-tokens)")
    p.add_argument("--limit", type=int, default=None, help="evaluate at most this many problems (default: all)")
    p.add_argument("--step", type=int, default=0, help="checkpoint step recorded in the run directory (default: 0)")
    p.add_argument("--out", default=None, help="run directory to write eval/ into (default runs/eval/<model>)")
    p.set_defaults(func=_cmd_eval)

    p = sub.add_parser("sensitivity", help="pass@1 of models under a grid of evaluation settings, and whether "
                       "their ranking changes (arXiv 2504.07086)")
    p.add_argument("models", nargs="+", help="models, as for `eval` (run checkpoints keep their own settings "
                   "outside the grid)")
    p.add_argument("--benchmark", required=True, help="short name or local file")
    p.add_argument("--grid", nargs="+", default=None, metavar="KEY=V1,V2",
                   help="keys temperature, top_p, top_k, max_new_tokens, template (default: temperature=0.6,1.0 "
                   "top_p=0.95,1.0)")
    p.add_argument("--seeds", type=_int_list, default=None, help="comma-separated sampling seeds (default 0,1,2)")
    p.add_argument("--n", type=int, default=None, help="samples per problem per seed (default 16)")
    p.add_argument("--limit", type=int, default=None, help="evaluate at most this many problems (default: all)")
    p.add_argument("--batch-size", type=int, default=None, help="sequences per forward batch (default: as eval)")
    p.add_argument("--out", default=None, help="output directory (default runs/sensitivity/<benchmark>)")
    p.set_defaults(func=_cmd_sensitivity)

    p = sub.add_parser("compare", help="comparison report for run directories")
    p.add_argument("runs", nargs="+", help="run directories")
    p.add_argument("--base", required=True, help="run directory of the base model's evaluation")
    p.add_argument("--k", type=int, default=256, help="k of the sampling-efficiency gap")
    p.add_argument("--out", default=None, help="report directory")
    p.set_defaults(func=_cmd_compare)

    p = sub.add_parser("recipes", help="list and validate every shipped recipe")
    p.add_argument("--dir", default=None, help="recipes directory (default: the shipped one)")
    p.set_defaults(func=_cmd_recipes)

    p = sub.add_parser("env", help="print the environment record written next to every result")
    p.set_defaults(func=_cmd_env)

    p = sub.add_parser("verl", help="export / launch / import runs through verl (cluster scale)")
    p.add_argument("action", choices=["export", "launch", "import"])
    p.add_argument("target", help="recipe (export), export dir (launch) or checkpoint dir (import)")
    p.add_argument("overrides", nargs="*", help="key=value overrides (export)")
    p.add_argument("--out", default=None, help="output directory")
    p.set_defaults(func=_cmd_verl)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    from rlvr_bench.utils.dist import configure_cli_logging

    configure_cli_logging(args.log_level.upper())
    try:
        return int(args.func(args) or 0)
    except (UserError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # last resort: read-only, full, no permission, over quota - in one line
        from rlvr_bench.utils.fsio import WRITE_ERRNOS, output_error

        if exc.errno not in WRITE_ERRNOS:
            raise
        named = exc.filename is not None
        text = output_error(exc.filename, exc) if named else f"cannot write output: {exc.strerror}"
        print(f"error: {text}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
