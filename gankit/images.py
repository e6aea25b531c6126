"""Sample pictures: image grids, and scatter plots for 2-D points (drawn with PIL: no plotting library)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import torch

from gankit.data import DataDescription, Field


def save_samples(
    samples: torch.Tensor,
    data: DataDescription,
    path: Path,
    real: torch.Tensor | None = None,
    columns: int | None = None,
    inputs: torch.Tensor | None = None,
    targets: torch.Tensor | None = None,
    caption: str | None = None,
    row_labels: Sequence[str] = (),
) -> None:
    """Save samples given in ``[-1, 1]``: a grid for images (``columns`` wide, square by default), a
    scatter over the real data for points, on axes in the data's units and titled ``caption`` (the
    training step). A translator's ``inputs`` images stand left of each output, and the ``targets`` it
    should match (paired data) right of it. ``row_labels``, one per row of the grid (the classes of a
    grid with a class per row), are written left of the rows."""
    from PIL import Image

    samples = samples.detach().float().cpu()
    if data.modality == "image":
        from torchvision.utils import make_grid

        nrow = columns or int(math.ceil(math.sqrt(len(samples))))
        if inputs is not None and inputs.dim() == 4 and inputs.shape[-2:] == samples.shape[-2:]:
            shown = [inputs, samples] + (
                [targets] if targets is not None and targets.shape[-2:] == samples.shape[-2:] else []
            )
            shown = [t.detach().float().cpu()[: len(samples)] for t in shown]
            channels = max(t.shape[1] for t in shown)
            groups = torch.stack([t.expand(-1, channels, -1, -1) for t in shown], 1)
            samples = groups.flatten(0, 1)
            nrow = len(shown) * (columns or int(math.ceil(math.sqrt(len(groups)))))
        grid = make_grid(
            samples.clamp(-1, 1),
            nrow=nrow,
            normalize=True,
            value_range=(-1, 1),
            pad_value=1.0,
            padding=_GRID_PADDING,
        )
        picture = grid.mul(255).round().to(torch.uint8)
        # Small images (8x8 digits) are enlarged with whole pixels, so a grid is viewable as it is.
        factor = max(1, 384 // max(picture.shape[1:]))
        if factor > 1:
            picture = picture.repeat_interleave(factor, 1).repeat_interleave(factor, 2)
        rows = -(-len(samples) // nrow)
        if row_labels and len(row_labels) == rows:
            picture = _label_rows(picture, row_labels, samples.shape[-2] * factor, _GRID_PADDING * factor)
    else:
        picture = scatter(
            samples.reshape(len(samples), -1)[:, :2],
            None if real is None else real.float().cpu().reshape(len(real), -1)[:, :2],
            value_range=data.value_range,
            caption=caption,
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(picture.permute(1, 2, 0).contiguous().numpy()).save(path)


#: Pixels between a grid's images (torchvision's default).
_GRID_PADDING = 2
#: Row labels longer than this are cut, so a long folder name does not push the grid off the page.
_LABEL_CHARS = 24


def _label_rows(picture: torch.Tensor, labels: Sequence[str], height: int, padding: int) -> torch.Tensor:
    """``picture`` (a grid of rows ``height`` high, ``padding`` apart) with ``labels`` in a margin to
    its left, each beside the middle of its row."""
    import numpy as np
    from PIL import Image, ImageDraw

    font = _font(max(8, min(12, height + padding)))  # no taller than a row: tiny images make thin rows
    texts = [t if len(t) <= _LABEL_CHARS else t[: _LABEL_CHARS - 3] + "..." for t in map(str, labels)]
    measure = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    margin = 8 + max(round(measure.textlength(t, font=font)) for t in texts)
    _, tall, wide = picture.shape
    canvas = np.full((tall, margin + wide, 3), 255, dtype=np.uint8)
    canvas[:, margin:] = picture.permute(1, 2, 0).numpy()
    image = Image.fromarray(canvas)
    draw = ImageDraw.Draw(image)
    for i, text in enumerate(texts):
        middle = padding + i * (height + padding) + height // 2
        draw.text((margin - 4, middle), text, fill=(60, 60, 60), font=font, anchor="rm")
    return torch.from_numpy(np.asarray(image).copy()).permute(2, 0, 1).contiguous()


def scatter(
    points: torch.Tensor,
    background: torch.Tensor | None = None,
    size: int = 384,
    value_range: tuple[float, float] = (-1.0, 1.0),
    caption: str | None = None,
) -> torch.Tensor:
    """A (3, size, size) uint8 picture of points in ``[-1, 1]^2``: real data in grey, samples in blue,
    in a frame with ticks labelled in the data's units (``value_range`` says what -1 and +1 are), and
    ``caption`` above it."""
    import numpy as np
    from PIL import Image, ImageDraw

    left, top, right, bottom = _SCATTER_MARGINS
    side = max(8, min(size - left - right, size - top - bottom))
    canvas = np.full((size, size, 3), 255, dtype=np.uint8)

    def plot(pts: torch.Tensor, color: tuple[int, int, int]) -> None:
        pix = ((pts.clamp(-1, 1) + 1) / 2 * (side - 3)).round().long().numpy() + 1
        cols, rows = left + pix[:, 0], top + (side - 1) - pix[:, 1]
        for dr in (-1, 0, 1):
            for dc in (-1, 0, 1):
                canvas[(rows + dr).clip(0, size - 1), (cols + dc).clip(0, size - 1)] = color

    if background is not None:
        plot(background, (190, 190, 190))
    plot(points, (31, 90, 200))
    image = Image.fromarray(canvas)
    draw = ImageDraw.Draw(image)
    font = _font(11)
    ink = (90, 90, 90)
    draw.rectangle((left - 1, top - 1, left + side, top + side), outline=ink)
    low, high = (float(v) for v in value_range)
    for i in range(_SCATTER_TICKS):
        fraction = i / (_SCATTER_TICKS - 1)
        label = f"{low + (high - low) * fraction:.3g}"
        x, y = left + round(fraction * (side - 1)), top + side - 1 - round(fraction * (side - 1))
        draw.line((x, top + side, x, top + side + 3), fill=ink)  # x-axis tick, label below
        draw.text((x, top + side + 4), label, fill=ink, font=font, anchor="ma")
        draw.line((left - 4, y, left - 1, y), fill=ink)  # y-axis tick, label to the left
        draw.text((left - 6, y), label, fill=ink, font=font, anchor="rm")
    if caption:
        draw.text((left + side // 2, top // 2), caption, fill=(0, 0, 0), font=_font(12), anchor="mm")
    return torch.from_numpy(np.asarray(image).copy()).permute(2, 0, 1).contiguous()


#: Space around a scatter's plot area (left, top, right, bottom) for tick labels and the caption.
_SCATTER_MARGINS = (36, 20, 10, 20)
#: Ticks along each axis, evenly spaced from the low end of the value range to the high end.
_SCATTER_TICKS = 5


def _font(size: int):
    from PIL import ImageFont

    try:
        return ImageFont.load_default(size)
    except TypeError:  # Pillow before 10.1: one bitmap size
        return ImageFont.load_default()


#: Files read from a folder given to ``--input``, at most.
MAX_INPUT_FILES = 10_000
_IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp")


def read_images(path: str | Path, field: Field) -> torch.Tensor:
    """Images for a translator's input from a PNG (or JPEG), a folder of them, or a .npy in data units
    (``(N, C, H, W)``, ``(C, H, W)``, or ``(N, H, W)`` for one channel); scaled to ``[-1, 1]`` and
    resized to the field's shape."""
    import numpy as np

    from gankit.errors import GankitError

    path = Path(path)
    channels, height, width = field.shape
    try:
        is_dir, is_file = path.is_dir(), path.is_file()
    except OSError as exc:  # a name too long for the file system
        raise GankitError(f"--input {str(path)[:200]!r} cannot be read: {exc.strerror or exc}") from None
    if is_dir:
        files = sorted(p for p in path.iterdir() if p.suffix.lower() in _IMAGE_SUFFIXES and p.is_file())
        if not files:
            raise GankitError(f"--input folder {str(path)!r} holds no images ({', '.join(_IMAGE_SUFFIXES)})")
        if len(files) > MAX_INPUT_FILES:
            raise GankitError(f"--input folder {str(path)!r} holds {len(files)} images; at most {MAX_INPUT_FILES}")
    elif is_file:
        files = [path]
    else:
        raise GankitError(f"--input {str(path)!r} is neither a file nor a folder")
    if files == [path] and path.suffix.lower() == ".npy":
        try:
            array = np.load(path, allow_pickle=False)
        except (OSError, ValueError) as exc:
            raise GankitError(f"--input {str(path)!r} is not a readable .npy array: {exc}") from None
        x = torch.as_tensor(np.asarray(array, dtype=np.float32))
        if x.dim() == 3 and channels == 1 and x.shape[0] != 1:
            x = x.unsqueeze(1)
        if x.dim() == 3:
            x = x.unsqueeze(0)
        if x.dim() != 4 or x.shape[1] != channels:
            raise GankitError(
                f"--input {str(path)!r} holds an array of shape {tuple(array.shape)}; expected (N, {channels}, H, W)"
            )
        lo, hi = field.value_range
        x = (x - lo) / (hi - lo) * 2 - 1
    else:
        from PIL import Image, UnidentifiedImageError

        mode = "L" if channels == 1 else "RGB"
        pictures = []
        for file in files:
            if file.suffix.lower() not in _IMAGE_SUFFIXES:
                raise GankitError(f"--input {str(file)!r} is not an image; give a .png, a folder of them, or a .npy")
            try:
                with Image.open(file) as image:
                    array = np.asarray(image.convert(mode), dtype=np.float32) / 255.0
            except (OSError, UnidentifiedImageError, Image.DecompressionBombError) as exc:
                raise GankitError(f"--input {str(file)!r} is not a readable image: {exc}") from None
            picture = torch.as_tensor(array)
            picture = picture.unsqueeze(0) if picture.dim() == 2 else picture.permute(2, 0, 1)
            pictures.append(_resized(picture, height, width) * 2 - 1)
        return torch.stack(pictures)
    return _resized(x, height, width).clamp(-1, 1)


def _resized(x: torch.Tensor, height: int, width: int) -> torch.Tensor:
    if tuple(x.shape[-2:]) == (height, width):
        return x
    batched = x if x.dim() == 4 else x.unsqueeze(0)
    out = torch.nn.functional.interpolate(batched, size=(height, width), mode="bilinear", antialias=True)
    return out if x.dim() == 4 else out[0]
