"""The bundled architectures shaped to every kind of data they claim to take."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from gankit import Architecture, DataDescription, GankitError
from gankit.plugins import registry

torch.set_num_threads(1)
Z = 8


def _arch(name: str, **options) -> Architecture:
    spec = registry().get("architecture", name)
    arch = spec.create(spec.make_config(options))
    assert isinstance(arch, Architecture)
    return arch


def _data(shape: tuple[int, ...], name: str = "test") -> DataDescription:
    return DataDescription(name, shape, "points" if len(shape) == 1 else "image")


def _check(arch: Architecture, data: DataDescription, n: int = 3) -> None:
    torch.manual_seed(0)
    g, d = arch.generator(data, Z), arch.discriminator(data)
    assert isinstance(g, nn.Module) and isinstance(d, nn.Module)
    g.eval()  # batch norm with a tiny batch
    with torch.no_grad():
        fake = g(torch.randn(n, Z))
        assert fake.shape == (n, *data.shape)
        assert fake.min() >= -1 and fake.max() <= 1
        scores = d(fake)
        assert scores.shape == (n,)
        assert torch.isfinite(scores).all()
        assert d(torch.rand(n, *data.shape) * 2 - 1).shape == (n,)


@pytest.mark.parametrize("shape", [(2,), (1, 8, 8), (1, 28, 28), (3, 32, 32)])
def test_mlp_shapes(shape):
    _check(_arch("mlp", g_hidden=(16, 32), d_hidden=(32, 16)), _data(shape))


def test_mlp_default_widths_and_options():
    arch = _arch("mlp")
    data = _data((2,))
    g = arch.generator(data, Z)
    widths = [m.out_features for m in g.modules() if isinstance(m, nn.Linear)]
    assert widths == [256, 512, 1024, 2]
    d = _arch("mlp", d_hidden=(7,), negative_slope=0.1).discriminator(data)
    assert [m.out_features for m in d.modules() if isinstance(m, nn.Linear)] == [7, 1]
    assert [m.negative_slope for m in d.modules() if isinstance(m, nn.LeakyReLU)] == [0.1]


@pytest.mark.parametrize("bad", [(), (0,), (4, -1)])
def test_mlp_rejects_bad_widths(bad):
    spec = registry().get("architecture", "mlp")
    with pytest.raises(GankitError, match="'mlp'"):
        spec.make_config({"g_hidden": bad})


@pytest.mark.parametrize("size", [8, 28, 32, 64])
@pytest.mark.parametrize("channels", [1, 3])
def test_dcgan_shapes(size, channels):
    _check(_arch("dcgan", g_channels=4, d_channels=4), _data((channels, size, size)), n=2)


def test_dcgan_batch_norm_discriminator():
    arch = _arch("dcgan", g_channels=4, d_channels=4, d_norm="batch")
    d = arch.discriminator(_data((1, 16, 16)))
    assert any(isinstance(m, nn.BatchNorm2d) for m in d.modules())
    assert d(torch.randn(4, 1, 16, 16)).shape == (4,)
    assert not any(
        isinstance(m, nn.BatchNorm2d) for m in _arch("dcgan", d_channels=4).discriminator(_data((1, 16, 16))).modules()
    )


def test_dcgan_generator_trains_in_train_mode():
    arch = _arch("dcgan", g_channels=4, d_channels=4)
    data = _data((1, 8, 8))
    g, d = arch.generator(data, Z), arch.discriminator(data)
    d(g(torch.randn(4, Z))).mean().backward()
    assert all(p.grad is not None for p in g.parameters())


def test_dcgan_on_points_names_the_data_and_suggests_mlp():
    arch = _arch("dcgan")
    for build in (lambda d: arch.generator(d, Z), arch.discriminator):
        with pytest.raises(GankitError) as info:
            build(_data((2,), name="grid25"))
        message = str(info.value)
        assert "'grid25'" in message and "--arch mlp" in message


@pytest.mark.parametrize("shape", [(1, 12, 12), (3, 12, 12)])
def test_dcgan_on_12_px_images_suggests_resolution(shape):
    arch = _arch("dcgan")
    with pytest.raises(GankitError) as info:
        arch.generator(_data(shape, name="tiny"), Z)
    message = str(info.value)
    assert "'tiny'" in message and "12 px" in message
    assert "--resolution" in message and "--arch mlp" in message


def test_dcgan_on_non_square_images():
    with pytest.raises(GankitError, match="square"):
        _arch("dcgan").discriminator(_data((1, 8, 16), name="wide"))


def test_run_dcgan_on_toy_data_is_one_error_line(gankit, tmp_path):
    result = gankit("run", "--arch", "dcgan", "--data", "grid25", "--steps", "2")
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    assert lines[0].startswith("Error: ")
    assert "'grid25'" in lines[0] and "--arch mlp" in lines[0]
    assert "Traceback" not in result.output
    assert not (tmp_path / "runs").exists()
