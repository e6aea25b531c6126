"""DiffAugment's transforms (gankit_biggan.augment), checked against what the reference code does."""

from __future__ import annotations

import torch

from gankit_biggan.augment import color, cutout, diff_augment, translation


def test_translation_shifts_each_image_whole_and_fills_with_zeros():
    torch.manual_seed(0)
    x = torch.rand(64, 1, 16, 16) + 1.0  # no zero inside the image
    out = translation(x)
    offsets = []
    for image, shifted in zip(x[:, 0], out[:, 0], strict=True):
        found = [(dy, dx) for dy in range(-2, 3) for dx in range(-2, 3) if torch.equal(shifted, _shift(image, dy, dx))]
        assert len(found) == 1  # one shift of at most 1/8 of the side (2 px at 16)
        offsets.append(found[0])
    assert len(set(offsets)) > 10  # each image its own


def _shift(image, dy, dx):
    padded = torch.nn.functional.pad(image, [2, 2, 2, 2])
    h, w = image.shape
    return padded[2 + dy : 2 + dy + h, 2 + dx : 2 + dx + w]


def test_cutout_zeroes_one_square_of_half_the_side_clipped_at_the_border():
    torch.manual_seed(0)
    out = cutout(torch.ones(200, 1, 16, 16))
    for mask in out[:, 0] == 0:
        rows, cols = mask.any(1).nonzero().flatten(), mask.any(0).nonzero().flatten()
        assert mask.sum() == len(rows) * len(cols)  # a rectangle
        assert 1 <= len(rows) <= 8 and 1 <= len(cols) <= 8
    assert (out[:, 0] == 0).flatten(1).sum(1).float().mean() > 40  # mostly inside: ~8x8 = 64


def test_color_moves_brightness_and_contrast_per_image():
    torch.manual_seed(0)
    x = torch.linspace(-1, 1, 256).view(1, 1, 16, 16).repeat(32, 1, 1, 1)
    out = color(x)
    means, spreads = out.mean((1, 2, 3)), out.std((1, 2, 3))
    assert means.std() > 0.1 and spreads.std() > 0.05
    assert (means - x.mean()).abs().max() <= 0.5 + 1e-6  # brightness within +-0.5


def test_gradients_reach_the_images_through_every_transform():
    x = torch.rand(4, 3, 16, 16, requires_grad=True)
    diff_augment(x, ("color", "translation", "cutout")).square().sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
