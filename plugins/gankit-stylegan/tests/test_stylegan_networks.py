"""The networks: modulated convolutions, style mixing, truncation, noise, minibatch stddev, export."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from gankit import Field
from gankit.testing import check_component

import gankit_stylegan
from gankit_stylegan import StyleGAN2Config
from gankit_stylegan.networks import Discriminator, Generator, MinibatchStd, modulated_conv2d, noise_size, num_ws

SMALL = StyleGAN2Config(channel_base=64, channel_max=16, w_dim=16)
SMALL_OPTIONS = {"channel_base": 64, "channel_max": 16, "w_dim": 16}


def small_generator(resolution=16, channels=1, z_dim=8):
    torch.manual_seed(0)
    G = Generator(z_dim, (channels, resolution, resolution), SMALL)
    with torch.no_grad():  # trained-like: noise on, mean w away from 0
        for layer in G.synthesis.convs:
            layer.noise_strength.fill_(0.3)
        G.mapping.w_avg.normal_()
    return G.eval()


def test_non_fused_modulated_conv_equals_the_fused_grouped_form():
    torch.manual_seed(0)
    x, weight, styles = torch.randn(5, 6, 8, 8), torch.randn(4, 6, 3, 3), torch.randn(5, 6)
    # networks.py's fused form: per-sample weights W * s, demodulated, as one grouped convolution.
    w = weight[None] * styles[:, None, :, None, None]
    w = w * (w.square().sum((2, 3, 4), keepdim=True) + 1e-8).rsqrt()
    fused = F.conv2d(x.reshape(1, -1, 8, 8), w.reshape(-1, 6, 3, 3), padding=1, groups=5).reshape(5, 4, 8, 8)
    torch.testing.assert_close(modulated_conv2d(x, weight, styles), fused, rtol=1e-4, atol=1e-5)
    plain = F.conv2d(
        x.reshape(1, -1, 8, 8),
        (weight[None] * styles[:, None, :, None, None]).reshape(-1, 6, 3, 3),
        padding=1,
        groups=5,
    ).reshape(5, 4, 8, 8)
    torch.testing.assert_close(modulated_conv2d(x, weight, styles, demodulate=False), plain, rtol=1e-4, atol=1e-5)


def test_layer_counts():
    assert (num_ws(4), num_ws(8), num_ws(16), num_ws(32)) == (2, 4, 6, 8)
    assert noise_size(16) == 16 + 2 * 64 + 2 * 256
    G = small_generator()
    assert G.num_ws == 6 and G.noise_size == noise_size(16)
    assert len(G.mapping.layers) == 2


def test_style_mixing_takes_later_layers_from_the_second_latent():
    G = small_generator()
    z, z2 = torch.randn(3, 8), torch.randn(3, 8)
    noise = torch.randn(3, G.noise_size)
    plain = G(z, noise)
    assert torch.equal(G(z, noise, z2, torch.full((3,), G.num_ws)), plain)  # cutoff num_ws: no mixing
    assert torch.equal(G(z, noise, z2, torch.zeros(3, dtype=torch.long)), G(z2, noise))  # cutoff 0: all from z2
    ws = G.ws(z, z2, torch.tensor([1, 3, 6]))
    w, w2 = G.mapping(z), G.mapping(z2)
    assert torch.equal(ws[0, 0], w[0]) and torch.equal(ws[0, 1], w2[0])
    assert torch.equal(ws[1, 2], w[1]) and torch.equal(ws[1, 3], w2[1])
    assert torch.equal(ws[2], w[2:3].expand(6, -1))


def test_mean_w_is_tracked_in_training_only_and_not_from_the_mixing_latent():
    G = small_generator().train()
    before = G.mapping.w_avg.clone()
    z = torch.randn(4, 8)
    G.ws(z, torch.randn(4, 8), torch.ones(4, dtype=torch.long))
    expected = G.mapping.layers(z * (z.square().mean(1, keepdim=True) + 1e-8).rsqrt()).mean(0).lerp(before, 0.995)
    torch.testing.assert_close(G.mapping.w_avg, expected)
    G.eval()
    G(torch.randn(4, 8))
    torch.testing.assert_close(G.mapping.w_avg, expected)


def test_truncation_to_zero_gives_the_mean_image():
    G = small_generator()
    ws = G.ws(torch.randn(4, 8), psi=0.0)
    images = G.images(ws, "const")
    assert torch.allclose(images, images[:1].expand_as(images))
    z = torch.randn(2, 8)
    torch.testing.assert_close(G.ws(z, psi=0.7), G.mapping.w_avg + 0.7 * (G.ws(z) - G.mapping.w_avg))


def test_per_layer_noise_changes_the_images_and_is_an_input():
    G = small_generator()
    z = torch.randn(2, 8)
    a, b = torch.randn(2, G.noise_size), torch.randn(2, G.noise_size)
    assert not torch.allclose(G(z, a), G(z, b))
    assert torch.equal(G(z, a), G(z, a))
    ws = G.ws(z)
    assert torch.equal(G.images(ws, "const"), G.images(ws, "const"))
    assert not torch.allclose(G.images(ws, "const"), G.images(ws, None))


def test_minibatch_stddev():
    x = torch.randn(8, 4, 4, 4)
    out = MinibatchStd(group_size=4)(x)
    assert out.shape == (8, 5, 4, 4)
    groups = x.reshape(4, 2, 4, 4, 4)  # sample i is in group i % 2
    expected = groups.std(0, unbiased=False).add(0).mean((1, 2, 3))
    torch.testing.assert_close(out[:, 4, 0, 0], expected.repeat(4), rtol=1e-4, atol=1e-4)
    assert MinibatchStd(group_size=32)(torch.randn(6, 4, 4, 4)).shape == (6, 5, 4, 4)  # group gcd(6, 32) = 2


def test_discriminator_scores_and_resolutions():
    for resolution, channels in ((4, 1), (8, 1), (16, 3), (32, 3)):
        D = Discriminator((channels, resolution, resolution), SMALL)
        assert D(torch.randn(5, channels, resolution, resolution)).shape == (5,)


def test_generator_exports_with_a_dynamic_batch():
    G = small_generator(resolution=8)
    batch = torch.export.Dim("batch", min=2, max=1024)
    exported = torch.export.export(
        G, (torch.randn(3, 8), torch.randn(3, G.noise_size)), dynamic_shapes=({0: batch}, {0: batch})
    )
    for n in (2, 7):
        z, noise = torch.randn(n, 8), torch.randn(n, G.noise_size)
        torch.testing.assert_close(exported.module()(z, noise), G(z, noise))


def test_requests_it_refuses():
    from gankit import DataDescription, GankitError, NetworkRequest

    from gankit_stylegan.architecture import StyleGAN2

    arch = StyleGAN2(SMALL)
    mnist = DataDescription("mnist", (1, 28, 28), "image", num_classes=10)
    with pytest.raises(GankitError, match="--resolution 32"):
        arch.build(NetworkRequest.generator(mnist, 8))
    with pytest.raises(GankitError):
        arch.build(NetworkRequest.generator(mnist, 8, label=Field((), "class", num_classes=10)))
    points = DataDescription("ring", (2,), "points")
    with pytest.raises(GankitError):
        arch.build(NetworkRequest.discriminator(points))


def test_architecture_conforms(gankit_plugin):
    gankit_plugin(gankit_stylegan)
    report = check_component("arch", "stylegan2", SMALL_OPTIONS, run_args=["--set", "pl.every=1"])
    assert any("trains through" in p for p in report.passed), report
