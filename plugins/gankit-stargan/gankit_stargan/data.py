"""StarGAN's data: images with their domains as an ``attributes`` field of 0/1 flags.

* ``stargan-digits``: scikit-learn's embedded digits, resized to 16 px (``--resolution``), each given
  a fixed random subset of three appearance attributes (dimmed, framed, thick) and keeping its digit
  ``label``; ``split`` train/test is the stratified 80/20 split of ``--data digits``.
* ``stargan-folder``: one sub-folder per domain (``DIR/<domain>/*.png``), StarGAN's layout for RaFD
  (torchvision's ImageFolder); each image's attributes are the one-hot vector of its folder, in the
  sorted order of the folder names.
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from gankit import DataDescription, DataRequest, Field, GankitError, TensorDataset
from gankit import digits as embedded_digits

from . import DIGIT_ATTRIBUTES

#: The embedded task's resolution (16 px: G halves it twice to a 4x4 bottleneck).
DIGITS_RESOLUTION = 16
#: Enlarging 8x8 pictures further only costs memory and time.
MAX_DIGITS_RESOLUTION = 128
#: Seed of the digits' attribute draws (fixed: the task is the same on every machine).
ATTRIBUTE_SEED = 2018

#: StarGAN's image_size (main.py --image_size 128) for folders when --resolution is not given.
FOLDER_RESOLUTION = 128
EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".webp")
#: Images one folder source decodes at most (they are held in memory as one tensor).
MAX_IMAGES = 200_000

LAYOUT = "DIR/<domain>/*.png, one sub-folder per domain, at least two"


def _load_digits(split: str) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Images (N, 1, 8, 8) in [-1, 1], digit labels and split indices into the 1,797 digits."""
    images, labels, _ = embedded_digits.load("all")
    index = embedded_digits.load(split).index  # the split of gankit's own digits data source
    x = torch.as_tensor(images, dtype=torch.float32).reshape(-1, 1, 8, 8) / 16.0 * 2 - 1
    return x, torch.as_tensor(labels, dtype=torch.long), torch.as_tensor(index, dtype=torch.long)


def _thick(x: torch.Tensor) -> torch.Tensor:
    k = 2 * max(1, x.shape[-1] // 16) + 1
    return F.max_pool2d(x, k, stride=1, padding=k // 2)


def _dimmed(x: torch.Tensor) -> torch.Tensor:
    """Strokes at half their brightness: [-1, 1] to [-1, 0], the background stays black."""
    return (x - 1) / 2


def _framed(x: torch.Tensor) -> torch.Tensor:
    """A white frame one pixel wide per 16 px along the edges (over whatever stroke was there)."""
    width = max(1, x.shape[-1] // 16)
    framed = torch.ones_like(x)
    framed[..., width:-width, width:-width] = x[..., width:-width, width:-width]
    return framed


#: Each attribute's transform, in the order they are applied (the frame after dimming: it stays white).
TRANSFORMS = {
    "thick": _thick,
    "dimmed": _dimmed,
    "framed": _framed,
}


#: The transforms that a judge can undo to read the digit, and their inverses. Pixels brighter than a
#: dimmed stroke can be (the frame) stay white.
INVERSES = {
    "dimmed": lambda x: (2 * x + 1).clamp(max=1),
}
INVERTIBLE = tuple(INVERSES)


def undo_attributes(x: torch.Tensor, flags: torch.Tensor, names: tuple[str, ...] = DIGIT_ATTRIBUTES) -> torch.Tensor:
    """Images with the invertible transforms of ``flags`` undone, in reverse order; thick strokes and
    frames stay (a dilation, and a frame drawn over strokes, cannot be undone exactly)."""
    for name in reversed(TRANSFORMS):
        if name in names and name in INVERSES:
            on = flags[:, names.index(name), None, None, None] > 0
            x = torch.where(on, INVERSES[name](x), x)
    return x


def apply_attributes(x: torch.Tensor, flags: torch.Tensor, names: tuple[str, ...] = DIGIT_ATTRIBUTES) -> torch.Tensor:
    """Digits (N, 1, S, S) in [-1, 1] with 0/1 ``flags`` (N, k) in ``names`` order applied, in the order of
    :data:`TRANSFORMS`."""
    for name, transform in TRANSFORMS.items():
        if name in names:
            on = flags[:, names.index(name), None, None, None] > 0
            x = torch.where(on, transform(x), x)
    return x


def plain_digits(split: str, size: int = DIGITS_RESOLUTION) -> tuple[torch.Tensor, torch.Tensor]:
    """The digits of ``split`` at ``size`` px in [-1, 1], before any attribute, and their labels."""
    x, labels, index = _load_digits(split)
    x, labels = x[index], labels[index]
    if size != 8:
        x = F.interpolate(x, size=(size, size), mode="bilinear", antialias=size < 8).clamp(-1, 1)
    return x, labels


def digit_domains(config, request: DataRequest | None = None) -> TensorDataset:
    size = (request.resolution if request is not None else None) or DIGITS_RESOLUTION
    if size > MAX_DIGITS_RESOLUTION:
        raise GankitError(
            f"--resolution {size} is too large for the 8x8 digits of stargan-digits; use at most {MAX_DIGITS_RESOLUTION}"
        )
    _, all_labels, index = _load_digits(config.split)
    # Every digit's attributes, drawn once for all 1,797 so that both splits agree with "all".
    flags = torch.bernoulli(
        torch.full((len(all_labels), len(DIGIT_ATTRIBUTES)), 0.5),
        generator=torch.Generator().manual_seed(ATTRIBUTE_SEED),
    )[index]
    x, labels = plain_digits(config.split, size)
    x = apply_attributes(x, flags)
    fields = {
        "x": Field((1, size, size), "image", value_range=(0.0, 1.0)),
        "attributes": Field((len(DIGIT_ATTRIBUTES),), "attributes", names=DIGIT_ATTRIBUTES),
        "label": Field((), "class", num_classes=10),
    }
    description = DataDescription.of("stargan-digits", fields, main="x")
    return TensorDataset(description, fields={"x": x, "attributes": flags, "label": labels})


def domain_folder(config, request: DataRequest) -> TensorDataset:
    from PIL import Image, UnidentifiedImageError
    from torchvision.transforms.functional import center_crop, pil_to_tensor, resize

    if not request or not request.root:
        raise GankitError(f"--data stargan-folder needs --data-root DIR, laid out as {LAYOUT}")
    root = Path(request.root)
    if not root.is_dir():
        raise GankitError(f"--data-root {str(root)!r} is not a folder; expected {LAYOUT}")
    loose = sorted(p.name for p in root.iterdir() if p.is_file() and p.suffix.lower() in EXTENSIONS)
    if loose:
        raise GankitError(
            f"{str(root / loose[0])!r} lies directly in --data-root; expected {LAYOUT} (move it into its domain's folder)"
        )
    domains = sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if len(domains) < 2:
        found = f"only the folder {domains[0]!r}" if domains else "no sub-folders"
        raise GankitError(f"--data-root {str(root)!r} has {found}; expected {LAYOUT}")
    files: list[tuple[Path, int]] = []
    for i, domain in enumerate(domains):
        found = sorted(p for p in (root / domain).iterdir() if p.suffix.lower() in EXTENSIONS and p.is_file())
        if not found:
            raise GankitError(
                f"domain folder {str(root / domain)!r} holds no images ({', '.join(EXTENSIONS)}); expected {LAYOUT}"
            )
        files += [(p, i) for p in found]
        if len(files) > MAX_IMAGES:
            raise GankitError(f"--data-root {str(root)!r} holds more than {MAX_IMAGES:,} images; use fewer")
    resolution = request.resolution or FOLDER_RESOLUTION
    mode = "RGB" if config.channels == 3 else "L"
    images = []
    for path, _ in files:
        try:
            with Image.open(path) as img:
                tensor = pil_to_tensor(img.convert(mode))
        except (UnidentifiedImageError, OSError, Image.DecompressionBombError) as exc:
            raise GankitError(f"cannot read image {str(path)!r}: {exc}") from None
        side = min(tensor.shape[-2:]) if config.crop is None else config.crop
        tensor = resize(center_crop(tensor, [side, side]), [resolution, resolution], antialias=True)
        images.append(tensor)
    x = torch.stack(images).float().div(127.5).sub(1.0)
    flags = torch.eye(len(domains))[torch.tensor([i for _, i in files])]
    try:
        attributes = Field((len(domains),), "attributes", names=domains)
    except ValueError:  # folder names that --set cannot take apart (a space, '+', ','): flags only
        attributes = Field((len(domains),), "attributes")
    fields = {"x": Field(tuple(x.shape[1:]), "image", value_range=(0.0, 1.0)), "attributes": attributes}
    # The domain order in the name too: the run's title says which flag is which.
    description = DataDescription.of(f"stargan-folder:{','.join(domains)}", fields, main="x")
    return TensorDataset(description, fields={"x": x, "attributes": flags})
