import os
import subprocess
import sys

import matplotlib.image
import numpy as np
import pytest

from rlvr_bench.analysis import (
    panel_figsize,
    plot_accuracy_histograms,
    plot_coverage,
    plot_pass_at_k_curves,
    plot_perplexity,
    plot_training_progress,
)

CURVES = {
    "base": {1: [0.30, 0.32], 4: [0.55, 0.57], 16: [0.80, 0.82], 64: [0.90, 0.91]},
    "grpo": {1: [0.45, 0.48], 4: [0.60, 0.61], 16: [0.70, 0.72], 64: [0.75, 0.76]},
    "sft": {1: [0.35], 4: [0.58], 16: [0.83], 64: [0.93]},
}


def read_png(path):
    assert path.stat().st_size > 0
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    image = matplotlib.image.imread(path)
    assert image.std() > 0.01  # something was drawn
    return image


def test_panel_figsize():
    assert panel_figsize(1) == (6.0, 4.0)
    assert panel_figsize(2) == (7.0, 4.0)
    assert panel_figsize(3) == (10.5, 4.0)
    assert panel_figsize(5) == (10.5, 6.0)


def test_pass_at_k_curves(tmp_path):
    path = plot_pass_at_k_curves(CURVES, tmp_path / "sub" / "curves.png", title="toy")
    assert path == tmp_path / "sub" / "curves.png"
    assert read_png(path).shape == (400, 830, 4)  # 6 x 4 in + the legend margin (LEGEND_WIDTH 2.3 in)


def test_pass_at_k_curves_crossing_changes_the_picture(tmp_path):
    # same curves, once with a base that overtakes grpo (an X marker + legend entry) and once without
    with_cross = read_png(plot_pass_at_k_curves(CURVES, tmp_path / "a.png"))
    no_base = {"ref": CURVES["base"], "grpo": CURVES["grpo"]}
    without = read_png(plot_pass_at_k_curves(no_base, tmp_path / "b.png", base_name="base"))
    assert not np.array_equal(with_cross, without)


def test_pass_at_k_curves_rejects_empty(tmp_path):
    with pytest.raises(ValueError):
        plot_pass_at_k_curves({}, tmp_path / "x.png")
    with pytest.raises(ValueError):
        plot_pass_at_k_curves({"base": {1: []}}, tmp_path / "x.png")


def test_training_progress(tmp_path):
    progress = {
        "grpo": {
            0: {"pass@1": [0.2, 0.22], "pass@256": [0.8, 0.81]},
            50: {"pass@1": [0.3, 0.33], "pass@256": [0.75, 0.77]},
        },
        "ppo": {
            0: {"pass@1": [0.2], "pass@16": [0.6], "pass@256": [0.8]},
            50: {"pass@1": [0.28], "pass@256": [0.79]},
        },
    }
    image = read_png(plot_training_progress(progress, tmp_path / "progress.png"))
    assert image.shape == (400, 930, 4)  # panel_figsize(2) + the legend margin


def test_accuracy_histograms(tmp_path):
    rng = np.random.default_rng(0)
    rates = {"base": rng.random(50), "grpo": rng.random(50), "sft": np.r_[np.ones(10), np.zeros(10)]}
    assert read_png(plot_accuracy_histograms(rates, tmp_path / "h.png")).shape == (400, 700, 4)
    only_base = plot_accuracy_histograms({"base": rates["base"]}, tmp_path / "b.png")
    assert read_png(only_base).shape == (400, 600, 4)
    with pytest.raises(ValueError):
        plot_accuracy_histograms({"base": [1.5]}, tmp_path / "bad.png")


def test_coverage(tmp_path):
    cov = {
        "grpo": {"both": 200, "base_only": 40, "method_only": 5, "neither": 55},
        "sft": {
            "both": 180.5,
            "base_only": 60,
            "rl_only": 10,
            "neither": 49.5,
        },  # metrics' key, expected counts
    }
    assert read_png(plot_coverage(cov, tmp_path / "cov.png")).shape == (400, 600, 4)
    with pytest.raises(ValueError, match="base_only"):
        plot_coverage({"grpo": {"both": 1}}, tmp_path / "bad.png")


def test_perplexity(tmp_path):
    rng = np.random.default_rng(1)
    ppl = {"base": rng.lognormal(0.5, 0.3, 100), "grpo": rng.lognormal(0.3, 0.2, 100), "teacher": [40.0, 2.0]}
    assert read_png(plot_perplexity(ppl, tmp_path / "ppl.png", title="PPL")).shape == (400, 600, 4)
    with pytest.raises(ValueError):
        plot_perplexity({"base": []}, tmp_path / "bad.png")


def backend_after_import(env_backend):
    env = {k: v for k, v in os.environ.items() if k != "MPLBACKEND"}
    if env_backend:
        env["MPLBACKEND"] = env_backend
    # auto_select=False: report the chosen backend without letting matplotlib resolve one itself
    code = "import matplotlib, rlvr_bench.analysis.plots; print(matplotlib.get_backend(auto_select=False))"
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True, env=env)
    return out.stdout.strip().lower()


def test_import_selects_agg_only_when_no_backend_was_chosen():
    assert backend_after_import(None) == "agg"
    assert backend_after_import("svg") == "svg"


def test_numeric_string_keys_as_read_from_json_draw_the_same_picture(tmp_path):
    as_strings = {m: {str(k): v for k, v in series.items()} for m, series in CURVES.items()}
    reference = read_png(plot_pass_at_k_curves(CURVES, tmp_path / "int.png"))
    np.testing.assert_array_equal(
        read_png(plot_pass_at_k_curves(as_strings, tmp_path / "str.png")), reference
    )
