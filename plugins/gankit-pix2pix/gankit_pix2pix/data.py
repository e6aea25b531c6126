"""Paired data for pix2pix: an embedded digits task and pix2pix's aligned folders (A | B side by side)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from gankit import DataDescription, DataRequest, Field, GankitError, TensorDataset
from gankit import digits as embedded_digits

#: The digits are 8x8; the task enlarges them once, at load (16 px unless ``--resolution`` says otherwise).
DIGITS_RESOLUTION = 16
DIGITS_SIZES = (8, 128)
#: Image side of pix2pix-folder without ``--resolution``: pix2pix's --crop_size 256.
FOLDER_RESOLUTION = 256
MAX_FOLDER_RESOLUTION = 1024
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff")
MAX_FILES = 100_000
#: The decoded pairs of a folder are held in memory as float32; refuse more than this many bytes.
MAX_BYTES = 8 << 30
_GRAY_MODES = ("1", "L", "LA", "I", "I;16", "F")
LAYOUT = "DIR/train/ and DIR/test/ (and DIR/val/) holding images with A on the left and B on the right"


def _pair_description(name: str, channels: int, size: int, label: bool = False) -> DataDescription:
    image = Field((channels, size, size), "image", value_range=(0.0, 1.0))
    fields = {"source": image, "target": image}
    if label:
        fields["label"] = Field((), "class", num_classes=10)
    return DataDescription.of(name, fields, main="target")


# -- digits ----------------------------------------------------------------------------------------


def edges(digits: torch.Tensor) -> torch.Tensor:
    """The outline around the strokes of digits in [0, 1]: pixels next to the (>= 0.5) digit but off it,
    one pixel wide, like the edge maps of edges2shoes. In {0, 1}."""
    ink = (digits >= 0.5).float()
    return F.max_pool2d(ink, 3, stride=1, padding=1) - ink


def masked(digits: torch.Tensor, seed: int = 0) -> torch.Tensor:
    """Digits in [0, 1] with a square of half their side erased, at a place drawn per digit (seeded)."""
    n, _, size, _ = digits.shape
    side = size // 2
    corners = torch.randint(0, size - side + 1, (n, 2), generator=torch.Generator().manual_seed(seed))
    out = digits.clone()
    for i, (row, col) in enumerate(corners.tolist()):
        out[i, :, row : row + side, col : col + side] = 0.0
    return out


def digits_task(config, request: DataRequest | None = None) -> TensorDataset:
    """scikit-learn's 1,797 digits, enlarged to ``--resolution`` (16 px by default), as (degraded digit,
    digit) pairs with the digit's class; ``split`` picks the train (80%) or test (20%) part."""
    size = (request.resolution if request is not None else None) or DIGITS_RESOLUTION
    lo, hi = DIGITS_SIZES
    if not lo <= size <= hi:
        raise GankitError(f"--resolution {size} does not suit the 8x8 digits of pix2pix-digits; use {lo} to {hi}")
    images, labels, _ = embedded_digits.load("all")
    x = torch.as_tensor(images, dtype=torch.float32).reshape(-1, 1, 8, 8) / 16.0
    if size != 8:
        x = F.interpolate(x, size=(size, size), mode="bilinear", antialias=size < 8).clamp(0, 1)
    # Degraded before splitting, so a digit's source is the same in every split and at every call.
    source = edges(x) if config.degrade == "edges" else masked(x)
    # gankit's fixed 80/20 split of the digits, so the held-out digits are those of the builtin `digits`.
    keep = torch.as_tensor(embedded_digits.load(config.split).index)
    description = _pair_description(f"pix2pix-digits-{config.degrade}", 1, size, label=True)
    fields = {
        "source": source[keep] * 2 - 1,
        "target": x[keep] * 2 - 1,
        "label": torch.as_tensor(labels, dtype=torch.long)[keep],
    }
    return TensorDataset(description, fields=fields)


# -- aligned folders -------------------------------------------------------------------------------


def _folder_error(root: Path, problem: str) -> GankitError:
    return GankitError(f"--data-root {str(root)!r} {problem}; pix2pix-folder expects {LAYOUT}")


def _image_files(root: Path, split: str) -> list[Path]:
    if not root.is_dir():
        raise _folder_error(root, "is not a folder")
    folder = root / split
    if not folder.is_dir():
        raise _folder_error(root, f"has no {split}/ folder")
    files = []
    for path in sorted(folder.rglob("*")):
        if path.suffix.lower() in IMAGE_SUFFIXES and path.is_file():
            files.append(path)
            if len(files) > MAX_FILES:
                raise _folder_error(root, f"holds more than {MAX_FILES} images in {split}/")
    if not files:
        raise _folder_error(root, f"has no images in {split}/ ({', '.join(IMAGE_SUFFIXES)})")
    return files


def _halves(path: Path, mode: str, size: int) -> tuple[np.ndarray, np.ndarray]:
    """The left and right halves of one aligned picture, each resized to ``size`` x ``size`` (bicubic, as
    pix2pix's transforms.Resize), as (C, H, W) floats in [0, 1]."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as picture:
            width, height = picture.size
            if width < 2:
                raise GankitError(
                    f"image {str(path)!r} is {width}x{height} px: pix2pix-folder needs A and B side by side "
                    "(A on the left, B on the right)"
                )
            picture = picture.convert(mode)
            half = width // 2
            parts = [
                picture.crop(box).resize((size, size), Image.Resampling.BICUBIC)
                for box in ((0, 0, half, height), (half, 0, 2 * half, height))
            ]
    except (OSError, UnidentifiedImageError, Image.DecompressionBombError) as exc:
        raise GankitError(f"cannot read image {str(path)!r}: {exc}") from None
    arrays = []
    for part in parts:
        array = np.asarray(part, dtype=np.float32) / 255.0
        arrays.append(array[None] if array.ndim == 2 else array.transpose(2, 0, 1))
    return arrays[0], arrays[1]


def _is_gray(path: Path) -> bool:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as picture:  # reads the header only
            return picture.mode in _GRAY_MODES
    except (OSError, UnidentifiedImageError, Image.DecompressionBombError) as exc:
        raise GankitError(f"cannot read image {str(path)!r}: {exc}") from None


def aligned_folder(config, request: DataRequest) -> TensorDataset:
    """pix2pix's aligned data set (data/aligned_dataset.py): each image holds A on its left half and B on its
    right half; both halves are resized to ``--resolution`` (256 px by default, --crop_size 256). The random
    resize-and-crop and flips of the original are not applied: the pairs are decoded once."""
    if not request.root:
        raise GankitError(f"--data pix2pix-folder needs --data-root DIR: {LAYOUT}")
    root = Path(request.root)
    files = _image_files(root, config.split)
    size = request.resolution or FOLDER_RESOLUTION
    if size > MAX_FOLDER_RESOLUTION:
        raise GankitError(f"--resolution {size} is too large for pix2pix-folder; use at most {MAX_FOLDER_RESOLUTION}")
    channels = config.channels or (1 if all(_is_gray(p) for p in files) else 3)
    if len(files) * 2 * channels * size * size * 4 > MAX_BYTES:
        raise GankitError(
            f"{len(files)} pairs of {size}x{size} px from {str(root / config.split)!r} need more than "
            f"{MAX_BYTES >> 30} GiB; use a smaller --resolution"
        )
    a = np.empty((len(files), channels, size, size), np.float32)
    b = np.empty_like(a)
    for i, path in enumerate(files):
        a[i], b[i] = _halves(path, "L" if channels == 1 else "RGB", size)
    if config.direction == "BtoA":
        a, b = b, a
    description = _pair_description(f"pix2pix-folder:{root.name}/{config.split}", channels, size)
    fields = {"source": torch.from_numpy(a) * 2 - 1, "target": torch.from_numpy(b) * 2 - 1}
    return TensorDataset(description, fields=fields)
