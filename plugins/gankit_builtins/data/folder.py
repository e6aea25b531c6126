"""Every image under a folder (recursively), center-cropped and resized once to ``--resolution``."""

from __future__ import annotations

from pathlib import Path

import torch

from gankit import DataDescription, DataRequest, GankitError, TensorDataset

EXTENSIONS = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff"}
DEFAULT_RESOLUTION = 64


def folder(config, request: DataRequest) -> TensorDataset:
    from PIL import Image, UnidentifiedImageError
    from torchvision.transforms.functional import center_crop, pil_to_tensor, resize

    if not request.root:
        raise GankitError("--data folder needs --data-root DIR, the folder that holds the images")
    root = Path(request.root)
    if not root.is_dir():
        raise GankitError(f"--data-root {str(root)!r} is not a folder")
    files = sorted(p for p in root.rglob("*") if p.suffix.lower() in EXTENSIONS and p.is_file())
    if not files:
        raise GankitError(f"no images under {str(root)!r} (looked for {', '.join(sorted(EXTENSIONS))})")
    resolution = request.resolution or DEFAULT_RESOLUTION
    mode = "RGB" if config.channels == 3 else "L"
    # Class labels from sub-folder names, when the images are sorted into sub-folders.
    class_names = sorted({p.parent.relative_to(root).as_posix() for p in files})
    images, labels = [], []
    for path in files:
        try:
            with Image.open(path) as img:
                tensor = pil_to_tensor(img.convert(mode))
        except (UnidentifiedImageError, OSError) as exc:
            raise GankitError(f"cannot read image {str(path)!r}: {exc}") from None
        side = min(tensor.shape[-2:])
        tensor = resize(center_crop(tensor, [side, side]), [resolution, resolution], antialias=True)
        images.append(tensor)
        labels.append(class_names.index(path.parent.relative_to(root).as_posix()))
    x = torch.stack(images).float().div(127.5).sub(1.0)
    num_classes = len(class_names) if len(class_names) > 1 else None
    description = DataDescription(
        f"folder:{root.name}", tuple(x.shape[1:]), "image", value_range=(0.0, 1.0), num_classes=num_classes
    )
    return TensorDataset(description, x, torch.as_tensor(labels) if num_classes else None)
