"""Every image under a folder (recursively), center-cropped and resized once to ``--resolution``."""

from __future__ import annotations

from pathlib import Path

import torch

from gankit import DataDescription, DataRequest, Field, GankitError, TensorDataset
from gankit.limits import check_data_size
from gankit.safe_files import shown

EXTENSIONS = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff"}
DEFAULT_RESOLUTION = 64


def folder(config, request: DataRequest) -> TensorDataset:
    from PIL import Image, UnidentifiedImageError
    from torchvision.transforms.functional import center_crop, pil_to_tensor, resize

    if not request.root:
        raise GankitError("--data folder needs --data-root DIR, the folder that holds the images")
    root = Path(request.root)
    try:
        is_dir = root.is_dir()
    except OSError as exc:  # a name too long for the file system
        raise GankitError(f"--data-root {shown(root)} cannot be used: {exc.strerror or exc}") from None
    if not is_dir:
        raise GankitError(f"--data-root {shown(root)} is not a folder")
    files = sorted(p for p in root.rglob("*") if p.suffix.lower() in EXTENSIONS and p.is_file())
    if not files:
        raise GankitError(f"no images under {str(root)!r} (looked for {', '.join(sorted(EXTENSIONS))})")
    resolution = request.resolution or DEFAULT_RESOLUTION
    check_data_size(len(files), config.channels, resolution, f"folder:{root.name}")
    mode = "RGB" if config.channels == 3 else "L"
    # Class labels from sub-folder names, when the images are sorted into sub-folders.
    class_names = sorted({p.parent.relative_to(root).as_posix() for p in files})
    images, labels = [], []
    for path in files:
        try:
            with Image.open(path) as img:
                tensor = pil_to_tensor(img.convert(mode))
        except (UnidentifiedImageError, OSError, Image.DecompressionBombError) as exc:
            # A header may claim 100000 x 100000 pixels: PIL refuses to decode it (a decompression bomb).
            raise GankitError(f"cannot read image {shown(path)}: {' '.join(str(exc).split())}") from None
        side = min(tensor.shape[-2:])
        tensor = resize(center_crop(tensor, [side, side]), [resolution, resolution], antialias=True)
        images.append(tensor)
        labels.append(class_names.index(path.parent.relative_to(root).as_posix()))
    x = torch.stack(images).float().div(127.5).sub(1.0)
    fields = {"x": Field(tuple(x.shape[1:]), "image", value_range=(0.0, 1.0))}
    if len(class_names) > 1:
        try:  # the sub-folders name the classes (--label cats), unless they are numbers or differ only in case
            fields["label"] = Field((), "class", num_classes=len(class_names), names=class_names)
        except ValueError:
            fields["label"] = Field((), "class", num_classes=len(class_names))
    description = DataDescription.of(f"folder:{root.name}", fields, main="x")
    return TensorDataset(description, x, torch.as_tensor(labels) if "label" in fields else None)
