"""Visual rows from files: image columns in every format, stable image ids, the image-column errors, and the real
visual benchmarks (Geometry3K, MathVista, MathVision) read from small local files in their hub formats."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

from rlvr_bench.data.benchmarks import BENCHMARKS, load_benchmark
from rlvr_bench.data.images import (
    ImageColumnError,
    clean_problem,
    image_sha_id,
    png_bytes,
    require_images,
    to_rgb_image,
)
from rlvr_bench.data.loading import DataError, HubDataError, load_prompts
from rlvr_bench.data.templates import get_template
from rlvr_bench.data.visual_benchmarks import VISUAL_BENCHMARKS, benchmark_setup, is_free_form


def picture(seed: int, size: tuple[int, int] = (20, 16)):
    from PIL import Image

    pixels = np.random.default_rng(seed).integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
    return Image.fromarray(pixels, "RGB")


def write_parquet(path: Path, rows: list[dict]) -> Path:
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.Table.from_pylist(rows), path)
    return path


def as_hub_image(img) -> dict:
    """``datasets.Image`` storage: PNG bytes and no path."""
    return {"bytes": png_bytes(img), "path": None}


def test_image_id_is_the_png_sha256_prefix():
    img = picture(0)
    assert image_sha_id(img) == hashlib.sha256(png_bytes(img)).hexdigest()[:16]
    assert image_sha_id(picture(0)) == image_sha_id(img) != image_sha_id(picture(1))


def test_every_image_format_reads_to_the_same_rgb_pixels(tmp_path):
    img = picture(3)
    img.save(tmp_path / "a.png")
    grey = img.convert("L")
    for value in (img, [img], as_hub_image(img), png_bytes(img), str(tmp_path / "a.png"), "a.png"):
        out = to_rgb_image(value, base_dir=tmp_path)
        assert out.mode == "RGB" and np.array_equal(np.asarray(out), np.asarray(img))
    assert to_rgb_image(grey).mode == "RGB"
    with pytest.raises(ImageColumnError, match="2 images"):
        to_rgb_image([img, img])
    with pytest.raises(ImageColumnError, match="cannot read image file"):
        to_rgb_image("missing.png", base_dir=tmp_path)


def test_image_tags_are_removed_from_problem_text():
    assert clean_problem("<image>Find x. Round to the nearest tenth.") == "Find x. Round to the nearest tenth."
    assert clean_problem("Look at <image1> and answer.") == "Look at and answer."


def test_local_jsonl_with_image_paths(tmp_path):
    rows = []
    for i in range(3):
        picture(i).save(tmp_path / f"img{i}.png")
        rows.append({"id": f"q{i}", "problem": f"<image>What is {i}+1?", "answer": i + 1, "image": f"img{i}.png"})
    (tmp_path / "vis.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    ds = load_prompts(tmp_path / "vis.jsonl")
    assert ds.column_names[:5] == ["id", "problem", "answer", "data_source", "image"]
    assert ds.features["image"].__class__.__name__ == "Image"
    assert ds[1]["problem"] == "What is 1+1?" and ds[1]["answer"] == "2"
    assert ds[1]["image_id"] == image_sha_id(picture(1))
    assert np.array_equal(np.asarray(ds[2]["image"]), np.asarray(picture(2)))


def test_missing_image_file_and_missing_named_column_are_one_line_errors(tmp_path):
    (tmp_path / "bad.jsonl").write_text(json.dumps({"id": "q0", "problem": "p", "answer": "1", "image": "no.png"}))
    with pytest.raises(ImageColumnError) as err:
        load_prompts(tmp_path / "bad.jsonl")
    assert "row 0 (id q0)" in str(err.value) and "\n" not in str(err.value)
    from rlvr_bench.data.reading import read_prompts

    (tmp_path / "text.jsonl").write_text(json.dumps({"id": "q0", "problem": "p", "answer": "1"}) + "\n")
    with pytest.raises(ImageColumnError, match="has no image column 'figure'"):
        read_prompts(tmp_path / "text.jsonl", image_column="figure")


def test_vision_recipe_on_text_data_names_the_missing_image_column(tmp_path):
    (tmp_path / "text.jsonl").write_text(json.dumps({"id": "q0", "problem": "p", "answer": "1"}) + "\n")
    ds = load_prompts(tmp_path / "text.jsonl")
    with pytest.raises(ImageColumnError) as err:
        require_images(ds, str(tmp_path / "text.jsonl"))
    msg = str(err.value)
    assert "has no image column (columns: id, problem, answer, data_source)" in msg and "\n" not in msg
    with pytest.raises(ImageColumnError, match="1 of 2 rows have no image"):
        require_images([{"id": "a", "image": picture(0)}, {"id": "b"}], "rows")


def test_vision_messages_put_the_image_first():
    tpl = get_template("qwen_boxed")
    msgs = tpl.messages("Find x.", image=True)
    assert msgs[0] == {"role": "system", "content": "You are a helpful assistant."}
    assert msgs[1]["content"][0] == {"type": "image"}
    assert msgs[1]["content"][1]["text"].startswith("Find x.\nPlease reason step by step")
    assert get_template("r1v_boxed").messages("Find x.")[-1]["content"].endswith("MUST BE put in \\boxed{}.")


def test_geometry3k_local_file_in_the_easyr1_format(tmp_path):
    rows = [{"images": [as_hub_image(picture(i, (40, 30)))], "problem": f"<image>Find x. Line {i}.",
             "answer": str(i + 2)} for i in range(4)]
    path = write_parquet(tmp_path / "geometry3k_train.parquet", rows)
    ds = load_benchmark("geometry3k", source=path, split="train", limit=3)
    assert len(ds) == 3 and ds["id"] == ["geometry3k/0", "geometry3k/1", "geometry3k/2"]
    assert ds["image_id"] == ds["id"] and ds[1]["problem"] == "Find x. Line 1." and ds[1]["answer"] == "3"
    assert ds[1]["image"].size == (40, 30) and ds[1]["data_source"] == "geometry3k"
    assert benchmark_setup(ds) == {"benchmark": "geometry3k", "filter": "none", "kept": 4, "of": 4}
    as_data = load_prompts(path)  # the same file as plain training data: images found, tags removed
    assert as_data[0]["problem"] == "Find x. Line 0." and as_data[0]["image_id"] == image_sha_id(picture(0, (40, 30)))


def test_mathvista_keeps_free_form_questions_unless_told(tmp_path):
    rows = [{"pid": str(i), "query": f"Hint: answer.\nQuestion: What is {i}?", "answer": str(i),
             "question_type": "free_form" if i % 2 else "multi_choice", "image": f"images/{i}.jpg",
             "decoded_image": as_hub_image(picture(i))} for i in range(6)]
    path = write_parquet(tmp_path / "mathvista.parquet", rows)
    ds = load_benchmark("mathvista", source=path)
    assert ds["id"] == ["mathvista/1", "mathvista/3", "mathvista/5"] and ds["answer"] == ["1", "3", "5"]
    assert np.array_equal(np.asarray(ds[0]["image"]), np.asarray(picture(1)))
    assert benchmark_setup(ds) == {"benchmark": "mathvista", "filter": "free_form", "kept": 3, "of": 6}
    assert len(load_benchmark("mathvista", source=path, filter="none")) == 6
    assert load_benchmark("mathvista", source=path, limit=2)["id"] == ["mathvista/1", "mathvista/3"]
    with pytest.raises(DataError, match="unknown filter 'mc'"):
        load_benchmark("mathvista", source=path, filter="mc")
    with pytest.raises(DataError, match="option 'filter' is for the visual benchmarks"):
        load_benchmark("gsm8k", filter="none")


def test_mathvision_free_form_means_no_options(tmp_path):
    rows = [{"id": str(i), "question": f"<image1>How many? {i}", "options": [] if i < 2 else ["A", "B"],
             "answer": str(i), "image": f"images/{i}.jpg", "decoded_image": as_hub_image(picture(i))}
            for i in range(5)]
    ds = load_benchmark("mathvision", source=write_parquet(tmp_path / "mathvision.parquet", rows))
    assert ds["id"] == ["mathvision/0", "mathvision/1"] and ds[0]["problem"] == "How many? 0"
    assert is_free_form({"question_type": "free_form"}) and not is_free_form({"options": ["A"]})


def test_visual_benchmarks_are_registered_and_offline_is_one_line(monkeypatch):
    from rlvr_bench.utils import hub

    assert set(VISUAL_BENCHMARKS) <= set(BENCHMARKS)
    assert BENCHMARKS["mathvista"].split == BENCHMARKS["mathvision"].split == "testmini"
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.delenv("RLVR_BENCH_DATA_DIR", raising=False)
    hub.reset_hub_detection()
    try:
        for name in VISUAL_BENCHMARKS:
            with pytest.raises(HubDataError) as err:
                load_benchmark(name)
            assert f"benchmark {name!r}" in str(err.value) and "\n" not in str(err.value)
        with pytest.raises(HubDataError, match="split 'train'"):
            load_prompts("geometry3k", split="train")
    finally:
        hub.reset_hub_detection()
