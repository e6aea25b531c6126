"""The U-Net and the PatchGAN: conformance through gankit.testing for the requests the scheme makes, and
their shapes against pix2pix's own networks (unet_256 and netD 'basic' at 256 px)."""

from __future__ import annotations

import pytest
import torch
from gankit import DataDescription, Field, GankitError, NetworkRequest
from gankit.testing import check_architecture, create_component

import gankit_pix2pix
from gankit_pix2pix.networks import PatchGAN, UNet, dropout_levels, patch_grid, patch_layers, unet_levels

SMALL = {"ngf": 8, "ndf": 8}


def _pair(channels: int, size: int) -> DataDescription:
    image = Field((channels, size, size), "image", value_range=(0.0, 1.0))
    return DataDescription.of(f"pairs{channels}x{size}", {"source": image, "target": image}, main="target")


def _requests(data: DataDescription, scores: tuple[int, ...] = ()) -> list[NetworkRequest]:
    source, target = data.fields["source"], data.fields["target"]
    return [
        NetworkRequest("translator", data, {"source": source}, {"target": target}),
        NetworkRequest(
            "discriminator", data, {"target": target, "source": source}, {"scores": Field(scores, "scores")}
        ),
    ]


def test_architecture_conforms_for_translators_and_patch_discriminators(gankit_plugin):
    gankit_plugin(gankit_pix2pix)
    requests = [
        *_requests(_pair(1, 16)),
        *_requests(_pair(3, 32)),
        *_requests(_pair(1, 16), scores=(1, 6, 6)),  # an explicit patch grid it can make
        *_requests(_pair(1, 12)),  # not a power of two: refused
        NetworkRequest.generator(_pair(1, 16), 8),  # noise to images is not its job: refused
    ]
    report = check_architecture("pix2pix", SMALL, requests=requests, patch_scores=True)
    assert any("gradients reach G through D (5 pairs)" in p for p in report.passed), report.passed  # 16 px: 2x2
    assert sum("refused" in s for s in report.skipped) == 3, report.skipped


@pytest.mark.parametrize(("size", "levels", "patches"), [(8, 3, 2), (16, 4, 6), (32, 5, 14), (64, 6, 30)])
def test_sizes_follow_the_resolution(gankit_plugin, size, levels, patches):
    gankit_plugin(gankit_pix2pix)
    arch = create_component("arch", "pix2pix", SMALL)
    G, D = (arch.build(r) for r in _requests(_pair(1, size)))
    assert len(G.down) == len(G.up) == levels == unet_levels(size, size)  # down to a 1x1 bottleneck
    x = torch.rand(2, 1, size, size) * 2 - 1
    bottleneck = x
    for down in G.down:
        bottleneck = down(bottleneck)
    assert bottleneck.shape[-2:] == (1, 1)
    assert G(x).shape == x.shape and G(x).abs().max() <= 1
    assert D(x, x).shape == (2, 1, patches, patches)
    assert sum(isinstance(m, torch.nn.Dropout) for m in G.modules()) == 1  # a shallow U-Net keeps one


def test_at_256_px_the_networks_are_pix2pixs_own():
    """unet_256 and netD 'basic' for RGB pairs: 8 levels, dropout in the 3 decoder blocks next to the
    innermost one, 70x70 patches on a 30x30 grid; the parameter counts the original prints
    ([Network G] 54.414 M, [Network D] 2.769 M)."""
    assert unet_levels(256, 256) == 8 and list(dropout_levels(8)) == [4, 5, 6]
    assert patch_layers(256, 256, 0) == 3 and patch_grid(256, 3) == 30
    G = UNet(3, 3, 8, 64, "batch", dropout=True)
    D = PatchGAN(6, 64, 3, "batch")
    assert round(sum(p.numel() for p in G.parameters()) / 1e6, 3) == 54.414
    assert round(sum(p.numel() for p in D.parameters()) / 1e6, 3) == 2.769
    assert sum(isinstance(m, torch.nn.Dropout) for m in G.modules()) == 3
    assert sum(isinstance(m, torch.nn.Dropout) for m in UNet(3, 3, 8, 8, "batch", dropout=False).modules()) == 0


def test_weights_start_as_in_pix2pix(gankit_plugin):
    gankit_plugin(gankit_pix2pix)
    torch.manual_seed(0)
    G = create_component("arch", "pix2pix").build(_requests(_pair(1, 32))[0])
    convs = [m for m in G.modules() if isinstance(m, (torch.nn.Conv2d, torch.nn.ConvTranspose2d))]
    weights = torch.cat([m.weight.flatten() for m in convs])
    assert abs(weights.std().item() - 0.02) < 1e-3 and abs(weights.mean().item()) < 1e-3
    norms = [m for m in G.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    assert norms and all(abs(m.weight.mean().item() - 1) < 0.05 and not m.bias.any() for m in norms)


@pytest.mark.parametrize("norm", ["instance", "none"])
def test_other_norms_build_and_run(gankit_plugin, norm):
    gankit_plugin(gankit_pix2pix)
    G, D = (create_component("arch", "pix2pix", SMALL | {"norm": norm}).build(r) for r in _requests(_pair(1, 16)))
    x = torch.rand(1, 1, 16, 16) * 2 - 1  # one image: instance norm, as pix2pix's batch of one
    assert G(x).shape == x.shape and D(G(x), x).shape == (1, 1, 6, 6)
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in [*G.modules(), *D.modules()])


def test_patch_sizes_it_cannot_make_are_refused(gankit_plugin):
    gankit_plugin(gankit_pix2pix)
    arch = create_component("arch", "pix2pix", SMALL)
    data = _pair(1, 16)
    with pytest.raises(GankitError, match=r"patch scores .* \(1, 6, 6\)"):
        arch.build(_requests(data, scores=(1, 5, 5))[1])
    assert create_component("arch", "pix2pix", SMALL | {"d_layers": 2}).build(_requests(data)[1])(
        torch.zeros(1, 1, 16, 16), torch.zeros(1, 1, 16, 16)
    ).shape == (1, 1, 2, 2)
    with pytest.raises(GankitError, match="patch scores"):
        create_component("arch", "pix2pix", SMALL | {"d_layers": 3}).build(_requests(data)[1])
    mixed = NetworkRequest(
        "discriminator",
        data,
        {"target": data.fields["target"], "source": Field((1, 32, 32), "image")},
        {"scores": Field((), "scores")},
    )
    with pytest.raises(GankitError, match="share one size"):
        arch.build(mixed)
