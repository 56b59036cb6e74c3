"""CLI: recipes validation, env record, one-line errors, light import."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from rlvr_bench.cli import main
from rlvr_bench.recipes import recipes_dir, resolve_recipe, validate_all

ROOT = Path(__file__).resolve().parents[1]


def test_every_shipped_recipe_validates():
    rows, errors = validate_all(recipes_dir())
    assert not errors, errors
    names = {name for name, _ in rows}
    for preset in ("grpo", "dr_grpo", "dapo", "rloo", "reinforce_pp", "reinforce_pp_baseline", "remax", "ppo"):
        assert f"{preset}.yaml" in names and f"toy/{preset}.yaml" in names
    assert all(desc for _, desc in rows), "every recipe has a one-line description"


def test_every_recipe_header_gives_a_launch_command():
    for path in recipes_dir().rglob("*.yaml"):
        head = path.read_text().splitlines()[:6]
        assert any("rlvr-bench" in line or "accelerate launch" in line for line in head if line.startswith("#")), path


def test_recipes_command_fails_on_a_broken_recipe(tmp_path, capsys):
    (tmp_path / "ok.yaml").write_text("method: rl\ndescription: fine\nmodel: {name_or_path: x}\n"
                                      "data: {source: toy, template: toy}\nevaluation: {enabled: false}\n")
    (tmp_path / "bad.yaml").write_text("method: rl\nmodel: {name_or_path: x}\ndata: {source: toy}\nrollout: {nn: 3}\n")
    assert main(["recipes", "--dir", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "bad.yaml: unknown key 'rollout.nn' (did you mean 'rollout.n'?)" in err
    assert "1 recipes valid, 1 broken" in err


def test_registry_names_are_checked(tmp_path, capsys):
    bad = {
        "data.source=mth500": "'data.source' = 'mth500' is not a known dataset",
        "data.template=chatml2": "'data.template' = 'chatml2' is not a known template",
        "reward.name=maht": "reward 'maht' is not registered",
    }
    for override, expected in bad.items():
        assert main(["train", str(recipes_dir() / "toy/grpo.yaml"), override]) == 2
        err = capsys.readouterr().err.strip()
        assert err.startswith("error: ") and expected in err and "\n" not in err, err
    main(["train", str(recipes_dir() / "toy/grpo.yaml"), "data.source=mth500"])
    assert "did you mean 'math500'?" in capsys.readouterr().err


def test_shipped_recipes_are_package_data():
    assert recipes_dir() == Path(__file__).resolve().parents[1] / "rlvr_bench" / "recipe_files"
    link = ROOT / "recipes"  # the checkout's documented paths (recipes/toy/grpo.yaml) still work
    assert link.is_symlink() and link.resolve() == recipes_dir().resolve()


def test_a_shipped_recipe_is_found_by_its_name(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert resolve_recipe("toy/grpo.yaml") == recipes_dir() / "toy/grpo.yaml"
    assert resolve_recipe("study/toy.yaml") == recipes_dir() / "study/toy.yaml"
    (tmp_path / "toy").mkdir()
    (tmp_path / "toy" / "grpo.yaml").write_text("method: rl\n")  # a file in the working directory wins
    assert resolve_recipe("toy/grpo.yaml") == Path("toy/grpo.yaml")


def test_a_missing_recipe_is_one_line(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["train", "toy/grpoo.yaml"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: recipe 'toy/grpoo.yaml' not found") and "\n" not in err, err
    assert main(["study", "study/nope.yaml"]) == 2
    assert "recipe 'study/nope.yaml' not found" in capsys.readouterr().err
    assert main(["recipes", "--dir", str(tmp_path / "absent")]) == 2
    assert "is not a directory" in capsys.readouterr().err


def test_train_checks_a_shipped_recipe_by_name(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["train", "toy/grpo.yaml", "reward.name=maht"]) == 2  # found, loaded, then the typo
    assert "reward 'maht' is not registered" in capsys.readouterr().err


def test_cli_is_the_top_layer():
    """Nothing in the package imports the CLI (the full contract: lint-imports, docs/architecture.md)."""
    offenders = [str(p.relative_to(ROOT)) for p in (ROOT / "rlvr_bench").rglob("*.py")
                 if p.name != "cli.py" or p.parent.name != "rlvr_bench"
                 if "rlvr_bench.cli import" in p.read_text() or "import rlvr_bench.cli" in p.read_text()]
    assert not offenders, offenders


def test_env_prints_the_record(capsys):
    assert main(["env"]) == 0
    record = json.loads(capsys.readouterr().out)
    for key in ("python", "platform", "hardware", "packages", "git"):
        assert key in record
    assert record["packages"]["torch"] and record["packages"]["transformers"]
    assert record["hardware"]["cpu_count"] >= 1


def test_import_is_light():
    code = ("import sys, rlvr_bench, rlvr_bench.config, rlvr_bench.metrics, rlvr_bench.rewards; "
            "heavy = [m for m in ('torch', 'vllm', 'verl', 'deepspeed', 'wandb', 'transformers') if m in sys.modules]; "
            "print(heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert out.stdout.strip() == "[]"


def test_console_script_help():
    exe = Path(sys.executable).with_name("rlvr-bench")
    out = subprocess.run([str(exe), "--help"], capture_output=True, text=True, check=True)
    for cmd in ("study", "train", "eval", "compare", "recipes", "env"):
        assert cmd in out.stdout


def test_eval_help_shows_every_default(capsys):
    with pytest.raises(SystemExit):
        main(["eval", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    for text in ("else 64", "else 1.0", "else 48", "else 0)", "--stop", "else 1024", "the run's"):
        assert text in out, text
