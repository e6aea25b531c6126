"""Unpaired two-domain data: an embedded digits task, and CycleGAN's trainA/trainB/testA/testB folders.

Both yield fields ``a`` and ``b`` in two streams that gankit shuffles (and resumes) independently: a
batch's a's and b's are unrelated images, as in the authors' UnalignedDataset (``--serial_batches``
off draws B at random).
"""

from __future__ import annotations

from pathlib import Path

import torch
from gankit import DataDescription, DataRequest, Field, GankitError, TensorDataset
from gankit import digits as embedded_digits

#: The embedded task's side without --resolution: big enough for two stride-2 layers in G and D.
DIGITS_RESOLUTION = 16
#: Enlarging 8x8 pictures further only costs memory and time.
MAX_DIGITS_RESOLUTION = 64
#: The folder source's side without --resolution (the authors train at 256 on a GPU; this is CPU-sized).
FOLDER_RESOLUTION = 64
#: The folders CycleGAN's UnalignedDataset reads: DIR/<split>A and DIR/<split>B.
LAYOUT = "DIR/trainA, DIR/trainB, DIR/testA, DIR/testB (CycleGAN's layout)"
EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff")
#: Images per domain folder at most: held as one float tensor.
MAX_IMAGES = 200_000


def _description(name: str, image: Field, classes: bool = False) -> DataDescription:
    fields = {"a": image}
    if classes:
        fields["label_a"] = Field((), "class", num_classes=10)
    fields["b"] = image
    if classes:
        fields["label_b"] = Field((), "class", num_classes=10)
    streams = (("a", "label_a"), ("b", "label_b")) if classes else (("a",), ("b",))
    return DataDescription.of(name, fields, main="b", streams=streams)


# -- the embedded task ---------------------------------------------------------------------------------


def _digits(split: str) -> tuple[torch.Tensor, torch.Tensor]:
    """The builtin `digits` split (stratified 80/20, random_state 0) as (N, 1, 8, 8) in [-1, 1] and labels."""
    images, labels, _ = embedded_digits.load(split)
    x = torch.as_tensor(images, dtype=torch.float32).reshape(-1, 1, 8, 8) / 16.0 * 2 - 1
    return x, torch.as_tensor(labels, dtype=torch.long)


def halves(labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Indices of two disjoint halves, each holding every class in equal shares: within each class,
    the samples alternate between the halves in their (already shuffled) order."""
    rank = torch.zeros_like(labels)
    for c in labels.unique():
        where = (labels == c).nonzero().squeeze(1)
        rank[where] = torch.arange(len(where))
    first = rank % 2 == 0
    return first.nonzero().squeeze(1), (~first).nonzero().squeeze(1)


def resized(x: torch.Tensor, size: int) -> torch.Tensor:
    """Bilinear resize of images in [-1, 1] (antialiased when shrinking)."""
    if x.shape[-1] == size and x.shape[-2] == size:
        return x
    out = torch.nn.functional.interpolate(x, size=(size, size), mode="bilinear", antialias=size < x.shape[-1])
    return out.clamp(-1, 1)


def thicken(x: torch.Tensor) -> torch.Tensor:
    """Strokes one pixel wider on every side: a 3x3 grey dilation (white strokes on black)."""
    return torch.nn.functional.max_pool2d(x, 3, stride=1, padding=1)


def digits_task(config, request: DataRequest | None = None) -> TensorDataset:
    size = (request.resolution if request is not None else None) or DIGITS_RESOLUTION
    if not 8 <= size <= MAX_DIGITS_RESOLUTION:
        raise GankitError(
            f"--resolution {size} does not suit the 8x8 digits of cyclegan-digits; use 8 to {MAX_DIGITS_RESOLUTION}"
        )
    x, labels = _digits(config.split)
    x = resized(x, size)
    first, second = halves(labels)
    a, b = x[first], x[second]
    if config.task == "stroke":
        b = thicken(b)
    else:  # a quarter turn, counter-clockwise
        b = b.rot90(1, (-2, -1))
    image = Field((1, size, size), "image", value_range=(0.0, 1.0))
    description = _description(f"cyclegan-digits-{config.task}", image, classes=True)
    fields = {"a": a.contiguous(), "label_a": labels[first], "b": b.contiguous(), "label_b": labels[second]}
    return TensorDataset(description, fields=fields)


# -- CycleGAN's folders ----------------------------------------------------------------------------------


def _images(folder: Path, root: Path, resolution: int, mode: str) -> torch.Tensor:
    from PIL import Image, UnidentifiedImageError

    files = sorted(p for p in folder.rglob("*") if p.suffix.lower() in EXTENSIONS and p.is_file())
    if not files:
        raise GankitError(
            f"{str(folder)!r} holds no images ({', '.join(EXTENSIONS)}); --data-root {str(root)!r} needs {LAYOUT}"
        )
    if len(files) > MAX_IMAGES:
        raise GankitError(f"{str(folder)!r} holds {len(files)} images; at most {MAX_IMAGES:,} per domain")
    out = torch.empty(len(files), 1 if mode == "L" else 3, resolution, resolution)
    for i, path in enumerate(files):
        try:
            with Image.open(path) as img:
                picture = img.convert(mode)
                side = min(picture.size)
                left, top = (picture.width - side) // 2, (picture.height - side) // 2
                picture = picture.crop((left, top, left + side, top + side))
                picture = picture.resize((resolution, resolution), Image.Resampling.BICUBIC)
                pixels = torch.frombuffer(bytearray(picture.tobytes()), dtype=torch.uint8)
        except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as exc:
            raise GankitError(f"cannot read image {str(path)!r}: {' '.join(str(exc).split())}") from None
        out[i] = pixels.reshape(resolution, resolution, -1).permute(2, 0, 1).float()
    return out.div_(127.5).sub_(1.0)


def folder(config, request: DataRequest) -> TensorDataset:
    """Every image under DIR/<split>A (domain a) and DIR/<split>B (domain b), center-cropped to a square and
    resized once to ``--resolution``."""
    if not request.root:
        raise GankitError(f"--data cyclegan-folder needs --data-root DIR holding {LAYOUT}")
    root = Path(request.root).expanduser()
    if not root.is_dir():
        raise GankitError(f"--data-root {str(root)!r} is not a folder; cyclegan-folder expects {LAYOUT}")
    resolution = request.resolution or FOLDER_RESOLUTION
    if resolution < 8 or resolution % 4:
        raise GankitError(f"--resolution {resolution} does not suit CycleGAN's networks; use a multiple of 4, >= 8")
    domains = {}
    for domain in ("A", "B"):
        sub = root / f"{config.split}{domain}"
        if not sub.is_dir():
            raise GankitError(f"--data-root {str(root)!r} has no folder {sub.name}/; cyclegan-folder expects {LAYOUT}")
        domains[domain] = _images(sub, root, resolution, "L" if config.channels == 1 else "RGB")
    image = Field((config.channels, resolution, resolution), "image", value_range=(0.0, 1.0))
    description = _description(f"cyclegan-folder-{root.name}", image)
    return TensorDataset(description, fields={"a": domains["A"], "b": domains["B"]})
