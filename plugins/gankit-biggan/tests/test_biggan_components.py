"""gankit-biggan's components: conformance through gankit's testing kit, the pinned defaults, and the
pieces of the recipe (hierarchical latents, conditional BN, projection, spectral norm, orthogonal
penalty, truncation) checked directly."""

from __future__ import annotations

import attrs
import pytest
import torch
from gankit import DataDescription, GankitError, NetworkRequest, UnsupportedRequest
from gankit.testing import check_component, check_plugin, create_component, generator_penalty_inputs

import gankit_biggan
from gankit_biggan.networks import Generator, chunk_sizes, halvings
from gankit_biggan.ortho import off_diagonal_penalty
from gankit_biggan.scheme import BigGANScheme, truncate

#: Small widths keep the conformance runs fast; the layout is the same at any width.
SMALL = {"g_channels": 4, "d_channels": 4, "shared_dim": 8}
DIGITS16 = DataDescription("digits", (1, 16, 16), "image", value_range=(0.0, 1.0), num_classes=10)
CIFAR = DataDescription("cifar10", (3, 32, 32), "image", value_range=(0.0, 1.0), num_classes=10)


def _nets(data=DIGITS16, z_dim=80, **options):
    arch = create_component("arch", "biggan", {**SMALL, **options})
    label = {"label": data.fields["label"]}
    G = arch.build(NetworkRequest.generator(data, z_dim, **label))
    D = arch.build(NetworkRequest.discriminator(data, **label))
    return G, D


def test_plugin_loads_cleanly_without_importing_torch():
    record = check_plugin(gankit_biggan)
    assert {"architecture:biggan", "regularizer:ortho", "scheme:biggan"} <= set(record.registered)


def test_defaults_follow_studiogan_cifar10_biggan(gankit_plugin):
    """StudioGAN src/configs/CIFAR10/BigGAN.yaml and src/config.py, as the issue lists them."""
    gankit_plugin(gankit_biggan)
    arch = gankit_biggan.BigGANConfig()
    assert (arch.g_channels, arch.d_channels, arch.shared_dim) == (96, 96, 128)
    assert arch.attention and arch.spectral_norm and arch.init == "ortho"
    assert gankit_biggan.OrthoConfig().weight == 1e-4
    from gankit.plugins import registry
    from gankit.resolve import resolve

    run = resolve(registry(), {"arch": "biggan"})
    cfg = run.config
    assert (cfg.loss, cfg.scheme, cfg.regs) == ("hinge", "biggan", ("ortho",))
    assert (cfg.z_dim, cfg.batch_size, cfg.lr_g, cfg.lr_d, cfg.betas, cfg.n_critic) == (
        80,
        64,
        2e-4,
        2e-4,
        (0.5, 0.999),
        5,
    )
    # StudioGAN BigGAN.yaml: g_ema_decay 0.9999, g_ema_start 1000 (G steps; gankit's iterations, one G step each).
    assert (cfg.ema, cfg.ema_start, cfg.ema_rampup) == (0.9999, 1000, None)
    # The architecture and the scheme share the name: each has its own config (the scheme none).
    assert attrs.asdict(run.config_for(run.architecture)) == attrs.asdict(gankit_biggan.BigGANConfig())
    assert run.config_for(run.scheme) is None
    # Explicit flags win over the suggestions; `biggan.` and `arch.` options reach the architecture.
    flags = {"arch": "biggan", "n_critic": 2, "ema": 0.99}
    given = resolve(registry(), flags, ["ema_start=5", "biggan.g_channels=8", "arch.init=default"])
    assert (given.config.n_critic, given.config.ema, given.config.ema_start) == (2, 0.99, 5)
    options = given.config_for(given.architecture)
    assert (options.g_channels, options.init) == (8, "default")
    with pytest.raises(GankitError, match="ema_start"):  # the EMA is a run setting now, not an option
        resolve(registry(), {"arch": "biggan"}, ["scheme.ema_start=5"])


def test_architecture_conforms(gankit_plugin):
    gankit_plugin(gankit_biggan)
    report = check_component("arch", "biggan", SMALL)
    assert any("label" in p for p in report.passed)  # the class-conditional pair was built and checked
    assert any("points" in s for s in report.skipped)  # 2-D points refused with UnsupportedRequest


def test_ortho_regularizer_conforms(gankit_plugin):
    gankit_plugin(gankit_biggan)
    check_component("reg", "ortho")


def test_scheme_conforms(gankit_plugin):
    gankit_plugin(gankit_biggan)
    # With --ema 0.9 (gankit's EMA of G, which sampling uses) and tiny MLPs; exact resume, per-class sampling.
    report = check_component("scheme", "biggan")
    assert any("--label" in p for p in report.passed)


def test_layout_at_32px_is_studiogans():
    """32 px: z 80 in four chunks of 20 (StudioGAN's chunk_size), three up blocks from 4x4 with 4*ch
    channels, attention at 16x16; D at 2*ch channels; shared embedding 128 + 20 into every block's CBN."""
    arch = create_component("arch", "biggan", {"g_channels": 8, "d_channels": 8})
    G = arch.build(NetworkRequest.generator(CIFAR, 80, label=CIFAR.fields["label"]))
    D = arch.build(NetworkRequest.discriminator(CIFAR, label=CIFAR.fields["label"]))
    assert G.chunks == [20, 20, 20, 20] and G.bottom == 4 and len(G.blocks) == 3
    assert G.attention_after == 1  # after the 2nd block: 16x16
    assert G.blocks[0].bn1.gain.in_features == 128 + 20
    assert G.shared.weight.shape == (10, 128)
    assert [b.down for b in D.blocks] == [True, True, False, False]  # StudioGAN d_down at 32 px
    assert D.blocks[0].conv1.out_channels == 16 and D.attention is not None
    assert G(torch.randn(2, 80), torch.tensor([0, 1])).shape == (2, 3, 32, 32)
    assert D(torch.rand(2, 3, 32, 32) * 2 - 1, torch.tensor([0, 1])).shape == (2,)
    assert halvings(16) == (2, 4) and halvings(28) == (2, 7) and halvings(8) == (1, 4)
    assert chunk_sizes(80, 3) == [27, 27, 26]


def test_spectral_norm_is_inside_except_the_shared_embedding():
    G, D = _nets()
    sn = [name for name, m in G.named_modules() if hasattr(m, "parametrizations")]
    assert "shared" not in sn and "linear" in sn and "blocks.0.bn1.gain" in sn and "to_image" in sn
    assert "embed" in [name for name, m in D.named_modules() if hasattr(m, "parametrizations")]
    G, D = _nets(spectral_norm=False)
    assert not any(hasattr(m, "parametrizations") for m in [*G.modules(), *D.modules()])


def test_hierarchical_latents_reach_every_block():
    """Each z chunk after the first changes the output only through its own block's batch norms."""
    G, _ = _nets()
    G.eval()
    z, y = torch.randn(3, 80), torch.tensor([1, 2, 3])
    with torch.no_grad():
        base = G(z, y)
        start = 0
        for size in G.chunks:
            changed = z.clone()
            changed[:, start : start + size] += 1.0
            assert not torch.allclose(G(changed, y), base)
            start += size
        assert not torch.allclose(G(z, (y + 1) % 10), base)  # the class, through the shared embedding


def test_refuses_what_it_cannot_build():
    arch = create_component("arch", "biggan", SMALL)
    odd = DataDescription("odd", (1, 15, 15), "image", value_range=(0.0, 1.0))
    with pytest.raises(UnsupportedRequest, match="px"):
        arch.build(NetworkRequest.discriminator(odd))
    with pytest.raises(UnsupportedRequest, match="z-dim"):
        arch.build(NetworkRequest.generator(CIFAR, 3))


def test_ortho_penalty_gradient_is_the_reference_codes():
    """d(penalty)/dW = 2 (W W^T * (1 - I)) W: BigGAN-PyTorch's utils.ortho and StudioGAN's orthogonalize_model."""
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(5, 4), torch.nn.Conv2d(2, 3, 3), torch.nn.Embedding(10, 6))
    off_diagonal_penalty(net).backward()
    for p in (net[0].weight, net[1].weight):
        w = p.detach().reshape(p.shape[0], -1)
        expected = 2 * ((w @ w.t()) * (1 - torch.eye(w.shape[0]))) @ w
        torch.testing.assert_close(p.grad.reshape(p.shape[0], -1), expected)
    assert net[2].weight.grad is None and net[0].bias.grad is None  # embeddings and biases are not penalized
    q = torch.nn.Linear(4, 4, bias=False)
    with torch.no_grad():
        q.weight.copy_(torch.linalg.qr(torch.randn(4, 4))[0])
    assert float(off_diagonal_penalty(q).detach()) < 1e-10  # orthogonal rows: no penalty


def test_ortho_penalty_of_biggan_g_skips_the_shared_embedding():
    G, _ = _nets()
    reg = create_component("reg", "ortho")
    penalty = reg.generator_penalty(
        generator_penalty_inputs(G, {"z": torch.randn(2, 80), "label": torch.tensor([0, 1])})
    )
    penalty.backward()
    assert G.shared.weight.grad is None
    assert G.blocks[0].conv1.parametrizations.weight.original.grad is not None
    assert float(penalty.detach()) == pytest.approx(1e-4 * float(off_diagonal_penalty(G).detach()))


def test_truncation():
    z = torch.randn(10_000, 8, generator=torch.Generator().manual_seed(0))
    assert truncate(z, 1.0) is z  # 1 is off: the training prior
    t = truncate(z, 0.5)
    assert float(t.abs().max()) <= 1.0 + 1e-6  # psi * [-2, 2]
    assert torch.equal(truncate(z[:10], 0.5), t[:10])  # per sample, independent of the batch
    # psi * truncnorm(-2, 2): its standard deviation is 0.880 * psi.
    assert float(t.std()) == pytest.approx(0.5 * 0.8796, abs=0.01)
    assert torch.all(t[:, 0].argsort() == z[:, 0].argsort())  # monotonic in z
    for bad in (0.0, -1.0, 1.5):
        with pytest.raises(GankitError, match="truncation"):
            truncate(z, bad)


def test_sampling_uses_standing_statistics_not_the_running_ones():
    """The running statistics in G's batch norms belong to the weights G had along the way (gankit's EMA
    averages them with the weights): sampling must not use them but the network's own (BigGAN's standing
    statistics), and leave the network as it is."""
    torch.manual_seed(0)
    G, _ = _nets()
    scheme = BigGANScheme()
    scheme.generation_inputs(DIGITS16, 80)
    z, label = torch.randn(16, 80), torch.arange(16) % 10
    norms = [m for m in G.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    with torch.no_grad():
        G.train()
        G(torch.randn(64, 80), torch.randint(0, 10, (64,)))  # settle spectral norm's vectors
        # What batch statistics of a large mixed batch give (the standing statistics' target).
        batch = G(torch.cat([z, torch.randn(2048, 80)]), torch.cat([label, torch.randint(0, 10, (2048,))]))[:16]
        G.eval()
        outputs = []
        for stale in (0.0, 3.0):  # statistics that belong to other weights
            for m in norms:
                m.running_mean.fill_(stale)
                m.running_var.fill_(1.0 + stale)
            outputs.append(scheme.generate({"generator": G}, {"z": z, "label": label}))
            assert all(float(m.running_mean.mean()) == stale for m in norms)  # G itself untouched
    assert torch.equal(outputs[0], outputs[1])
    # Close to batch statistics (up to the sampling of the statistics); the stale ones are far off.
    close, stale = (outputs[0] - batch).abs().mean(), (G(z, label) - batch).abs().mean()
    assert close < 0.02 and stale > 10 * close
    # Computed once per state of the weights: a changed weight gets new statistics.
    before = scheme.standing(G)
    assert scheme.standing(G) is before
    with torch.no_grad():
        G.linear.bias.add_(1.0)  # the first layer's output moves: every later statistic with it
    after = scheme.standing(G)
    assert after is not before
    first_mean = [
        next(m.running_mean for m in n.modules() if isinstance(m, torch.nn.BatchNorm2d)) for n in (before, after)
    ]
    assert not torch.equal(*first_mean)
    G.train()
    assert scheme.standing(G) is G  # batch statistics in training mode


def test_unconditional_generator_takes_noise_chunks_alone():
    arch = create_component("arch", "biggan", SMALL)
    gray = DataDescription("gray16", (1, 16, 16), "image", value_range=(0.0, 1.0))
    G = arch.build(NetworkRequest.generator(gray, 9))
    assert isinstance(G, Generator) and G.shared is None and G.blocks[0].bn1.gain.in_features == 3
    assert G(torch.randn(2, 9)).shape == (2, 1, 16, 16)


def _class_and_noise_effect(init: str) -> tuple[float, float]:
    """How far G's samples spread across the 10 classes at one z, and across 10 z's at one class."""
    torch.manual_seed(0)
    G, _ = _nets(g_channels=8, d_channels=16, shared_dim=32, attention=False, init=init)
    with torch.no_grad():
        for _ in range(10):  # settle spectral norm's power iteration and the BN statistics
            G(torch.randn(64, 80), torch.randint(0, 10, (64,)))
        G.eval()
        by_class = G(torch.randn(1, 80).repeat(10, 1), torch.arange(10)).std(0).mean()
        by_noise = G(torch.randn(10, 80), torch.zeros(10, dtype=torch.long)).std(0).mean()
    return float(by_class), float(by_noise)


def test_class_signal_at_initialization():
    """Why the CPU preset takes PyTorch's initialization: BigGAN's orthogonal one gives the shared class
    embedding rows of norm 1 against noise chunks of norm ~5, so an untrained G barely depends on the
    class; N(0, 1) rows make the class move G about as much as the noise does."""
    ortho_class, ortho_noise = _class_and_noise_effect("ortho")
    default_class, default_noise = _class_and_noise_effect("default")
    assert ortho_class < 0.5 * ortho_noise
    assert default_class > 0.7 * default_noise


def test_diffaugment_transforms_what_d_sees_in_training_only():
    torch.manual_seed(0)
    _, D = _nets(augment="color,translation,cutout")
    x, y = torch.rand(8, 1, 16, 16) * 2 - 1, torch.arange(8)
    D.train()
    assert not torch.equal(D(x, y), D(x, y))  # a fresh draw of the transforms per call
    D.eval()
    _, plain = _nets()
    plain.load_state_dict(D.state_dict())
    plain.eval()
    torch.testing.assert_close(D(x, y), plain(x, y))  # eval mode: the image as it is


def test_diffaugment_option_names_its_choices():
    assert create_component("arch", "biggan", {"augment": ["cutout", "translation"]}).config.augment == (
        "cutout",
        "translation",
    )
    with pytest.raises((GankitError, ValueError), match="'flip'.*color, translation, cutout"):
        create_component("arch", "biggan", {"augment": "translation,flip"})
