"""Images of visual rows: reading them from any column format, their stable ids, the image-column checks.

A visual row is an ordinary prompt row plus ``image`` (a ``PIL.Image`` in RGB; the ``datasets`` column feature is
``datasets.Image()``) and ``image_id`` (the dataset's own id for real data, else :func:`image_sha_id`: the first 16
hex digits of the sha256 of the image's PNG bytes). Samples files record ``image_id``, never pixels.

An image column may hold PIL images, ``datasets.Image`` values (decoded to PIL, or ``{"bytes", "path"}`` dicts
when not decoded), file paths (relative paths are taken from the data file's folder), raw PNG/JPEG bytes, or a
list of one of these (the EasyR1 / Geometry3K ``images`` column: the first image is used; rows with several
images are refused). :func:`add_image_columns` turns any of them into the canonical ``image``/``image_id`` and removes
the dataset's own image tags (``<image>``, ``<image1>``: EasyR1, MathVision) from the problem text
(:func:`clean_problem`): the image goes before the text in the one vision-language prompt path
(``rlvr_bench.data.templates``).
"""

from __future__ import annotations

import hashlib
import io
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rlvr_bench.data.sources import DataError

if TYPE_CHECKING:  # pragma: no cover - typing only
    from datasets import Dataset
    from PIL.Image import Image

__all__ = [
    "IMAGE_COLUMNS",
    "ImageColumnError",
    "add_image_columns",
    "clean_problem",
    "find_image_column",
    "has_images",
    "image_sha_id",
    "png_bytes",
    "require_images",
    "to_rgb_image",
]

IMAGE_COLUMNS = ("image", "images")
"""Column names read as a row's image when no other column is named (in this order)."""


class ImageColumnError(DataError):
    """A vision-language recipe's data has no usable image column, or a row's image cannot be read (one line)."""


def clean_problem(text: str) -> str:
    """Problem text without image tags (``<image>``, ``<image1>``): the image is placed by the prompt template."""
    return re.sub(r"\s*<image\d*>\s*", " ", text).strip()


def to_rgb_image(value: Any, *, base_dir: str | Path | None = None) -> Image:
    """One image as an RGB ``PIL.Image``.

    Args:
        value: a PIL image, ``{"bytes": ..., "path": ...}`` (``datasets.Image`` undecoded), encoded bytes, a
            file path, or a one-element list of any of these.
        base_dir: folder that relative paths are read from (the data file's folder).

    Raises:
        ImageColumnError: no image, several images, an unreadable file or undecodable bytes.
    """
    from PIL import Image as PILImage

    if isinstance(value, (list, tuple)):
        if len(value) != 1:
            raise ImageColumnError(f"a row holds {len(value)} images; visual rows take exactly one image")
        value = value[0]
    if isinstance(value, PILImage.Image):
        return value if value.mode == "RGB" else value.convert("RGB")
    if isinstance(value, dict):
        data, path = value.get("bytes"), value.get("path")
        value = data if data else path
    if isinstance(value, (bytes, bytearray)):
        try:
            return PILImage.open(io.BytesIO(value)).convert("RGB")
        except (OSError, ValueError) as err:
            raise ImageColumnError(f"cannot decode image bytes: {err}") from None
    if isinstance(value, (str, Path)) and str(value):
        path = Path(value).expanduser()
        if not path.is_absolute() and base_dir is not None:
            path = Path(base_dir) / path
        try:
            with PILImage.open(path) as img:
                return img.convert("RGB")
        except (OSError, ValueError) as err:
            raise ImageColumnError(f"cannot read image file '{path}': {err}") from None
    raise ImageColumnError(f"a row has no image (got {type(value).__name__})")


def png_bytes(image: Image) -> bytes:
    """The image encoded as PNG (deterministic for the same pixels and mode)."""
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    return buf.getvalue()


def image_sha_id(image: Image) -> str:
    """A content id: the first 16 hex digits of the sha256 of the image's PNG bytes."""
    return hashlib.sha256(png_bytes(image)).hexdigest()[:16]


def find_image_column(columns: Iterable[str], image_column: str | None = None) -> str | None:
    """The column holding images: ``image_column`` when given, else the first of :data:`IMAGE_COLUMNS` present."""
    columns = list(columns)
    if image_column is not None:
        return image_column if image_column in columns else None
    return next((c for c in IMAGE_COLUMNS if c in columns), None)


def add_image_columns(ds: Dataset, column: str, *, name: str, id_column: str | None = None,
                      base_dir: str | Path | None = None) -> Dataset:
    """``ds`` with the canonical ``image`` (``datasets.Image()``, decoded RGB) and ``image_id`` columns.

    Args:
        column: the column holding the images (any format :func:`to_rgb_image` reads); removed unless it is ``image``.
        name: the dataset, for error messages.
        id_column: a column whose value is each image's id (real datasets' own ids); None = :func:`image_sha_id`.
        base_dir: folder of relative image paths.

    Raises:
        ImageColumnError: the column is missing or a row's image cannot be read (the message names the row).
    """
    from datasets import Features, Value
    from datasets import Image as ImageFeature

    if column not in ds.column_names:
        raise ImageColumnError(f"dataset {name!r} has no image column {column!r} "
                               f"(columns: {', '.join(ds.column_names)})")

    def build(row: dict[str, Any], index: int) -> dict[str, Any]:
        try:
            image = to_rgb_image(row[column], base_dir=base_dir)
        except ImageColumnError as err:
            raise ValueError(f"row {index} (id {row.get('id', index)}): {err}") from None
        image_id = str(row[id_column]) if id_column is not None else image_sha_id(image)
        out = {"image": image, "image_id": image_id}
        if isinstance(row.get("problem"), str):
            out["problem"] = clean_problem(row["problem"])
        return out

    features = Features({k: v for k, v in ds.features.items() if k not in (column, "image", "image_id")})
    features.update({"image": ImageFeature(), "image_id": Value("string")})
    try:
        out = ds.map(build, with_indices=True, features=features,
                     remove_columns=[c for c in (column, "image", "image_id") if c in ds.column_names])
    except ValueError as err:
        raise ImageColumnError(f"dataset {name!r}: {str(err).splitlines()[0]}") from None
    return out.cast_column("image", ImageFeature(mode="RGB"))


def has_images(rows: Any) -> bool:
    """True when ``rows`` (a ``datasets.Dataset``, a list of dicts or a list of images) carry images."""
    if hasattr(rows, "column_names"):
        return "image" in rows.column_names
    rows = list(rows) if not isinstance(rows, Sequence) else rows
    if not rows:
        return False
    first = rows[0]
    return first.get("image") is not None if isinstance(first, dict) else first is not None


def require_images(rows: Any, name: str, *, why: str = "a vision-language model") -> None:
    """Raise :class:`ImageColumnError` unless ``rows`` carry an ``image`` per row.

    Args:
        rows: a ``datasets.Dataset`` or a list of row dicts.
        name: the data source, named in the message.
        why: what needs the images (the message says so).
    """
    if hasattr(rows, "column_names"):
        if "image" not in rows.column_names:
            raise ImageColumnError(
                f"dataset {name!r} has no image column (columns: {', '.join(rows.column_names)}); {why} trains and "
                f"evaluates on rows with images: give the data an 'image' or 'images' column, or use a visual source "
                f"(toy/visual, geometry3k)")
        return
    missing = [str(r.get("id", i)) for i, r in enumerate(rows) if r.get("image") is None]
    if missing:
        raise ImageColumnError(f"dataset {name!r}: {len(missing)} of {len(rows)} rows have no image "
                               f"(first: {missing[0]}); {why} needs an image per row")
