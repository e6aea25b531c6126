"""gankit.testing, the kit for plugin authors: the fixture, and conformance checks that pass on every
bundled component and catch components that break gankit's contracts."""

from __future__ import annotations

import sys
import textwrap
import types

import attrs
import gankit_builtins.losses
import pytest
import torch
from torch import nn

import gankit
from gankit import GankitError, PenaltyInputs
from gankit.plugins import load_plugins, registry
from gankit.testing import (
    ConformanceError,
    check_component,
    check_plugin,
    create_component,
    registered_plugin,
    run_cli,
)
from tests.builtins.test_data import write_cifar10, write_idx, write_pngs


def _loss_plugin(*names: str) -> types.ModuleType:
    module = types.ModuleType("kit_losses")

    @gankit.hookimpl
    def gankit_register_losses(register):
        for name in names:
            register(name, "gankit_builtins.losses.adversarial:Hinge", summary=f"{name} for the kit")

    module.gankit_register_losses = gankit_register_losses
    return module


# -- every bundled component passes --------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "name", "options"),
    [
        ("arch", "mlp", {}),
        ("arch", "dcgan", {}),
        ("loss", "bce", {}),
        ("loss", "wgan", {}),
        ("loss", "hinge", {}),
        ("loss", "lsgan", {}),
        ("reg", "gp", {}),
        ("reg", "r1", {"zero_options": {"gamma": 0}}),
        ("reg", "sn", {}),
        ("reg", "clip", {}),
        ("data", "ring8", {}),
        ("data", "grid25", {}),
        ("data", "swissroll", {}),
        ("data", "digits", {}),
        ("scheme", "unconditional", {}),
        ("tracker", "console", {}),
        ("tracker", "jsonl", {}),
    ],
)
def test_bundled_component_conforms(kind, name, options):
    report = check_component(kind, name, **options)
    assert report.passed and not any("no-op" in s for s in report.skipped if name in ("gp", "r1"))


def test_bundled_data_sets_on_disk_conform(tmp_path):
    from gankit import DataRequest

    write_idx(tmp_path, "MNIST", count=16)
    write_idx(tmp_path, "FashionMNIST", count=16)
    write_cifar10(tmp_path, per_batch=2)
    write_pngs(tmp_path / "pictures", per_class=2, size=(12, 12))
    root = DataRequest(root=str(tmp_path))
    for name in ("mnist", "fashion-mnist", "cifar10"):
        check_component("data", name, request=root)
    check_component("data", "folder", request=DataRequest(root=str(tmp_path / "pictures"), resolution=8))


def test_bundled_metrics_conform():
    check_component("metric", "modes", {"samples": 500})
    # Its classifier makes it the slowest check; the command-line part is the same as for modes.
    check_component("metric", "digit-quality", {"samples": 200}, run=False)


def test_bundled_wandb_tracker_conforms(monkeypatch, tmp_path):
    pytest.importorskip("wandb")
    monkeypatch.setenv("WANDB_MODE", "disabled")  # all of the tracker's code, no service process
    monkeypatch.setenv("WANDB_DIR", str(tmp_path))
    check_component("tracker", "wandb")


def test_options_reach_the_checked_component():
    report = check_component("reg", "gp", {"weight": 3.0, "every": 2})
    assert "a no-op with weight=0" in report.passed
    with pytest.raises(GankitError, match="'weight'"):
        check_component("reg", "gp", {"weight": -1.0})


# -- registering plugins for a test --------------------------------------------------------------


def test_fixture_registers_for_the_cli_and_resolve(gankit_plugin, tmp_path):
    record = gankit_plugin(_loss_plugin("kitloss"))
    assert record.name == "kit_losses" and record.registered == ["loss:kitloss"]
    assert registry().get("loss", "kitloss").plugin == "kit_losses"
    listed = run_cli("plugins").output
    assert any(line.startswith("kit_losses ") and "loss:kitloss" in line for line in listed.splitlines())
    run_cli("run", "--loss", "kitloss", "--data", "ring8", "--steps", "2", "--out", str(tmp_path), "-q")
    assert registry().get("loss", "bce").plugin == "builtins.losses"  # installed plugins are still there


def test_registration_ends_with_the_block():
    before = load_plugins()
    with registered_plugin(_loss_plugin("blockloss")) as record:
        assert record.status == "ok"
        assert "blockloss" in registry().names("loss")
        with registered_plugin(_loss_plugin("innerloss"), name="inner"):  # joins the outer block
            assert {"blockloss", "innerloss"} <= set(registry().names("loss"))
        assert "innerloss" not in registry().names("loss")
    assert load_plugins() is before
    assert "blockloss" not in registry().names("loss")


def test_an_installed_plugin_is_replaced_not_doubled(gankit_plugin):
    record = gankit_plugin(gankit_builtins.losses)  # the installed module itself
    assert record.name == "builtins.losses"  # found by its entry point
    assert load_plugins().problems() == []
    gankit_plugin(_loss_plugin("onlyone"), name="builtins.losses")  # a new version under the same name
    assert registry().names("loss") == ["onlyone"]


def test_the_same_module_under_another_name_is_not_doubled(gankit_plugin):
    gankit_plugin(gankit_builtins.losses, name="my.losses")
    assert load_plugins().problems() == []
    assert registry().get("loss", "hinge").plugin == "my.losses"


def test_a_broken_plugin_fails_the_test_with_its_traceback(gankit_plugin):
    class Broken:
        @gankit.hookimpl
        def gankit_register_losses(self, register):
            raise RuntimeError("cannot register")

    with pytest.raises(ConformanceError, match="did not load: gankit_register_losses failed") as info:
        gankit_plugin(Broken())
    assert "Traceback" in str(info.value)
    record = gankit_plugin(Broken(), name="tolerated", allow_errors=True)
    assert record.status == "error"


def test_unregistered_name_points_to_the_fixture():
    with pytest.raises(ConformanceError, match="gankit_plugin"):
        check_component("loss", "nosuchloss")
    with pytest.raises(ValueError, match="unknown kind 'metrics-ish'"):
        check_component("metrics-ish", "fid")


# -- check_plugin --------------------------------------------------------------------------------


def _write_module(tmp_path, monkeypatch, name: str, source: str) -> types.ModuleType:
    (tmp_path / f"{name}.py").write_text(textwrap.dedent(source))
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, name, raising=False)
    return __import__(name)


def test_check_plugin_accepts_a_lazy_plugin(tmp_path, monkeypatch):
    module = _write_module(
        tmp_path,
        monkeypatch,
        "kit_lazy",
        """
        import attrs
        from gankit import hookimpl

        @attrs.frozen
        class Options:
            width: int = 3

        @hookimpl
        def gankit_register_losses(register):
            register("lazy", "gankit_builtins.losses.adversarial:Hinge", config=Options)
    """,
    )
    assert check_plugin(module).registered == ["loss:lazy"]


@pytest.mark.parametrize(
    ("source", "message"),
    [
        (
            "import torch\nfrom gankit import hookimpl\n\n@hookimpl\ndef gankit_register_losses(register):\n"
            "    register('eager', torch.nn.Identity)\n",
            "imports torch",
        ),
        (
            "import attrs\nfrom gankit import hookimpl\n\n@attrs.frozen\nclass Options:\n    width: int\n\n"
            "@hookimpl\ndef gankit_register_losses(register):\n    register('nodefault', 'x:y', config=Options)\n",
            "default for every field",
        ),
        (
            "from gankit import hookimpl\n\n@hookimpl\ndef gankit_register_losses(register):\n"
            "    register('typo', 'gankit_builtins.losses.adversarial:Hinj')\n",
            "does not import",
        ),
        (
            "from gankit import hookimpl\n\n@hookimpl\ndef gankit_register_loss(register):\n    pass\n",
            "did you mean 'gankit_register_losses'?",
        ),
    ],
    ids=["imports-torch", "config-without-default", "factory-typo", "misspelled-hook"],
)
def test_check_plugin_catches(tmp_path, monkeypatch, source, message):
    module = _write_module(tmp_path, monkeypatch, "kit_bad", source)
    with pytest.raises(ConformanceError, match=message):
        check_plugin(module)


# -- components that break the contracts ---------------------------------------------------------


class VectorLoss(gankit.Loss):
    def __init__(self, config=None):
        pass

    def discriminator_loss(self, real_scores, fake_scores):
        return nn.functional.softplus(-real_scores) + nn.functional.softplus(fake_scores)  # no mean

    def generator_loss(self, fake_scores):
        return nn.functional.softplus(-fake_scores).mean()


class NaiveLoss(VectorLoss):
    def discriminator_loss(self, real_scores, fake_scores):
        d_real, d_fake = torch.sigmoid(real_scores), torch.sigmoid(fake_scores)
        return -(torch.log(d_real) + torch.log(1 - d_fake)).mean()  # log(0) for confident scores


class Unbounded(gankit.Architecture):
    def __init__(self, config=None):
        pass

    def generator(self, data, z_dim):
        return nn.Sequential(nn.Linear(z_dim, data.numel), nn.Unflatten(1, data.shape))  # no tanh

    def discriminator(self, data):
        return nn.Sequential(nn.Flatten(), nn.Linear(data.numel, 1), nn.Flatten(0))


class ColumnScores(Unbounded):
    def generator(self, data, z_dim):
        return nn.Sequential(nn.Linear(z_dim, data.numel), nn.Tanh(), nn.Unflatten(1, data.shape))

    def discriminator(self, data):
        return nn.Sequential(nn.Flatten(), nn.Linear(data.numel, 1))  # (N, 1), not (N,)


class PointsOnlyRefusingAll(Unbounded):
    def generator(self, data, z_dim):
        raise GankitError(f"no {data.name}")


@attrs.frozen
class WeightConfig:
    weight: float = 1.0


class IgnoresWeight(gankit.Regularizer):
    def __init__(self, config):
        self.config = config

    def discriminator_penalty(self, inputs: PenaltyInputs):
        return inputs.discriminator(inputs.real).pow(2).mean()  # forgets the weight


class WrongShape(gankit.Dataset):
    def __init__(self, config=None, request=None):
        self.description = gankit.DataDescription("wrong", (2,), "points")

    def sample(self, n, generator):
        return torch.rand(n, 3, generator=generator) * 2 - 1


class OwnRandomness(WrongShape):
    def sample(self, n, generator):
        return torch.rand(n, 2) * 2 - 1  # not from `generator`: resumed runs would differ


class OutOfRange(WrongShape):
    def sample(self, n, generator):
        return torch.randn(n, 2, generator=generator) * 5


class Forgetful(gankit.Scheme):
    """Keeps a step counter outside the checkpoint, so a resumed run trains differently."""

    optimizers = {"discriminator": ("discriminator",), "generator": ("generator",)}

    def __init__(self, config=None):
        self.calls = 0

    def build(self, arch, data, z_dim):
        return {"generator": arch.generator(data, z_dim), "discriminator": arch.discriminator(data)}

    def step(self, t):
        self.calls += 1
        G, D = t.nets["generator"], t.nets["discriminator"]
        real = t.next_batch().x
        d_loss = t.loss.discriminator_loss(D(real), D(G(t.noise()).detach()))
        t.optimize("discriminator", d_loss)
        with t.frozen(D):
            g_loss = self.calls * t.loss.generator_loss(D(G(t.noise())))
        t.optimize("generator", g_loss)
        return {"d_loss": d_loss.detach(), "g_loss": g_loss.detach()}


class NotANumber(gankit.Metric):
    def __init__(self, config=None):
        pass

    def evaluate(self, context):
        return {"score": float("nan")}


class Unseeded(NotANumber):
    def evaluate(self, context):
        return {"score": float(torch.rand(()))}  # not from context.generate's seeded noise


class UnsavableProtocol(NotANumber):
    def evaluate(self, context):
        return {"score": float(context.generate(8).mean())}

    def protocol(self):
        return {"threshold": object()}


class UnsavableState(gankit.Tracker):
    def __init__(self, config, context):
        pass

    def state(self):
        return {"when": object()}


class FailsOnImages(UnsavableState):
    def state(self):
        return {}

    def log_images(self, step, name, path):
        raise OSError("disk full")


@pytest.mark.parametrize(
    ("kind", "factory", "config", "message"),
    [
        ("loss", VectorLoss, None, r"discriminator_loss on ordinary scores has shape \(16,\), expected \(\)"),
        ("loss", NaiveLoss, None, r"discriminator_loss on extreme \(\|score\| = 30\) scores is not finite"),
        ("arch", Unbounded, None, r"G's output on .* spans .* not \[-1, 1\]"),
        ("arch", ColumnScores, None, r"D's scores of real data on points \(2,\) has shape \(4, 1\), expected \(4,\)"),
        ("arch", PointsOnlyRefusingAll, None, "it accepts none of"),
        ("reg", IgnoresWeight, WeightConfig(), r"with \{'weight': 0\} the penalty is"),
        ("data", WrongShape, None, r"has shape \(64, 3\), expected \(64, 2\)"),
        ("data", OwnRandomness, None, "draws differ for equal generators"),
        ("data", OutOfRange, None, r"spans .* not \[-1, 1\]"),
        ("scheme", Forgetful, None, "2 steps \\+ resume to 4 differ from 4 steps: networks/"),
        ("tracker", UnsavableState, None, "state\\(\\) is not JSON-able"),
        ("tracker", FailsOnImages, None, "log_images raised OSError: disk full"),
        ("metric", NotANumber, None, "returned score = nan, not a finite number"),
        ("metric", Unseeded, None, "two evaluations differ"),
        ("metric", UnsavableProtocol, None, "protocol\\(\\) is not JSON-able"),
    ],
    ids=lambda v: v.__name__ if isinstance(v, type) else None,
)
def test_checks_catch(kind, factory, config, message):
    with pytest.raises(ConformanceError, match=message):
        check_component(kind, factory, config)


def test_a_bare_factory_passes_and_leaves_nothing_behind():
    class Fine(VectorLoss):
        def discriminator_loss(self, real_scores, fake_scores):
            return super().discriminator_loss(real_scores, fake_scores).mean()

    report = check_component("loss", Fine)
    assert "trains through `gankit run --loss gankit.testing:checked-loss`" in report.passed
    assert "checked-loss" not in registry().names("loss")


def test_create_component_builds_with_options():
    assert create_component("loss", "bce", {"variant": "minimax"}).minimax
    dataset = create_component("data", "ring8", {"std": 0.3})
    assert dataset.std == 0.3


# -- a data source, a tracker and a metric registered through their hooks -----------------------------------


class Circle(gankit.Dataset):
    def __init__(self, config=None, request=None):
        self.description = gankit.DataDescription("circle", (2,), "points", value_range=(-1.0, 1.0))

    def sample(self, n, generator):
        angle = torch.rand(n, generator=generator) * 6.283
        return 0.9 * torch.stack([angle.cos(), angle.sin()], 1)


class Silent(gankit.Tracker):
    def __init__(self, config, context):
        self.folder = context.run_folder


class DataTrackerAndMetric:
    @gankit.hookimpl
    def gankit_register_data_sources(self, register):
        register("circle", Circle, summary="points on the unit circle")

    @gankit.hookimpl
    def gankit_register_trackers(self, register):
        register("silent", Silent, summary="logs nothing")

    @gankit.hookimpl
    def gankit_register_metrics(self, register):
        register("spread", Spread, summary="standard deviation of the samples")


class Spread(gankit.Metric):
    def __init__(self, config=None):
        pass

    def evaluate(self, context):
        return {"std": float(context.generate(64).std())}


def test_data_source_tracker_and_metric_hooks(gankit_plugin):
    record = gankit_plugin(DataTrackerAndMetric(), name="both")
    assert record.registered == ["data:circle", "tracker:silent", "metric:spread"]
    assert check_component("data", "circle").passed
    assert check_component("tracker", "both:silent").passed
    assert check_component("metric", "spread", data=["circle", "digits"]).passed


# -- the v2 contracts: requests, conditions, real scores, penalties, fields, state ---------------------------


def test_bundled_v2_components_conform():
    report = check_component("arch", "mlp", run=False)
    assert (
        "generator(z: noise 8, label: class) -> x on gray8-classes: declared outputs, shapes and ranges; "
        "uses every input" in report.passed
    )
    assert any(line.startswith("gradients reach G through D (4 pairs)") for line in report.passed)
    dcgan = check_component("arch", "dcgan", run=False)
    assert any("refused" in s and "points" in s for s in dcgan.skipped)  # no convolutions for points
    assert "generator_loss takes and uses real_scores (needs_real_scores)" in check_component("loss", "ragan").passed
    sn = check_component("reg", "sn", {"networks": ["discriminator", "generator"]})
    assert "wraps G keeping its output shape" in sn.passed
    conditional = check_component("scheme", "conditional")
    assert "`gankit sample --label K` generates per class" in conditional.passed
    assert any("on digits" in line for line in conditional.passed)  # ring8 has no labels


@pytest.mark.filterwarnings("ignore:scheme 'twin' .* Scheme.sample:DeprecationWarning")
def test_old_api_plugin_conforms(gankit_plugin, monkeypatch):
    from tests.conftest import TEST_PLUGIN

    monkeypatch.syspath_prepend(str(TEST_PLUGIN))
    monkeypatch.delitem(sys.modules, "gankit_testplugin", raising=False)
    import gankit_testplugin

    gankit_plugin(gankit_testplugin, name="testplugin")
    tiny = check_component("arch", "tiny")
    assert any("label: class" in s and "refused" in s for s in tiny.skipped)  # gankit 0.1: unconditional only
    twin = check_component("scheme", "twin")
    assert "network requests: a gankit 0.1 scheme (build() instead of networks())" in twin.skipped


class _ConditionalNets(gankit.Architecture):
    """G(z, label) with a class embedding; D(x, label) that ignores the label."""

    def __init__(self, config=None):
        pass

    def build(self, request):
        data, inputs = request.data, request.inputs
        label = data.class_field()
        if request.role == "generator":
            k = data.fields[label].num_classes if label in inputs else 0
            return _EmbedG(request.z_dim, data, k)
        return _LabelBlindD(data)


class _EmbedG(nn.Module):
    def __init__(self, z_dim, data, num_classes):
        super().__init__()
        self.embed = nn.Embedding(num_classes, 4) if num_classes else None
        width = z_dim + (4 if num_classes else 0)
        self.net = nn.Sequential(nn.Linear(width, data.numel), nn.Tanh(), nn.Unflatten(1, data.shape))

    def forward(self, z, label=None):
        return self.net(z if self.embed is None else torch.cat([z, self.embed(label)], 1))


class _LabelBlindD(nn.Module):
    def __init__(self, data):
        super().__init__()
        self.net = nn.Sequential(nn.Flatten(), nn.Linear(data.numel, 1), nn.Flatten(0))

    def forward(self, x, label=None):
        return self.net(x)  # the label does not reach the scores


def _pairs_data():
    from gankit import DataDescription, Field

    image = Field((1, 8, 8), "image", value_range=(0.0, 1.0))
    return DataDescription.of("pairs", {"source": image, "target": image}, main="target")


class _Translator(gankit.Architecture):
    """pix2pix-like: T(source) -> target, and a patch D(source, target) -> (N, 1, 4, 4)."""

    def __init__(self, config=None):
        pass

    def build(self, request):
        if request.role == "translator":
            return nn.Sequential(nn.Conv2d(1, 1, 3, padding=1), nn.Tanh())
        return _PatchD()


class _PatchD(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(2, 1, 4, 2, 1)

    def forward(self, source, target):
        return self.conv(torch.cat([source, target], 1))


def _translation_requests():
    from gankit import Field, NetworkRequest

    data = _pairs_data()
    source, target = data.fields["source"], data.fields["target"]
    translator = NetworkRequest("translator", data, {"source": source}, {"target": target})
    judge = NetworkRequest("discriminator", data, dict(data.fields), {"scores": Field((), "scores")})
    return [translator, judge]


def test_architecture_check_takes_the_callers_requests():
    requests = _translation_requests()
    report = check_component("arch", _Translator, requests=requests, patch_scores=True, run=False)
    assert "gradients reach G through D (1 pairs)" in report.passed
    message = r"scores of real data on pairs .* has shape \(4, 1, 4, 4\), expected \(4,\)"
    with pytest.raises(ConformanceError, match=message):
        check_component("arch", _Translator, requests=requests, run=False)


class _ScoresOnly(_ConditionalNets):
    def build(self, request):
        return _LabelBlindD(request.data)  # AC-GAN's D must also return class logits


@pytest.mark.parametrize(
    ("factory", "options", "message"),
    [
        (_ConditionalNets, {}, r"D on gray8-classes \(1, 8, 8\) given label ignores its input 'label' \(class\)"),
        (_ScoresOnly, {"requests": "acgan"}, r"returned Tensor, not a tuple of its 2 outputs \['scores', 'label'\]"),
    ],
    ids=["label-blind-D", "missing-output"],
)
def test_architecture_check_catches(factory, options, message):
    if options.get("requests") == "acgan":
        from gankit import DataDescription, Field, NetworkRequest

        data = DataDescription("gray8", (1, 8, 8), "image", num_classes=10)
        outputs = {"scores": Field((), "scores"), "label": Field((), "class", num_classes=10)}
        options = {"requests": [NetworkRequest("discriminator", data, {"x": data.fields["x"]}, outputs)]}
    with pytest.raises(ConformanceError, match=message):
        check_component("arch", factory, run=False, **options)


class ForgetsNeedsReal(VectorLoss):
    """A relativistic G loss that does not declare needs_real_scores."""

    def discriminator_loss(self, real_scores, fake_scores):
        return nn.functional.softplus(fake_scores - real_scores.mean()).mean()

    def generator_loss(self, fake_scores, real_scores=None):
        if real_scores is None:
            raise ValueError("needs the real scores")
        return nn.functional.softplus(real_scores.mean() - fake_scores).mean()


class NeedlessRealScores(ForgetsNeedsReal):
    needs_real_scores = True

    def generator_loss(self, fake_scores, real_scores=None):
        return nn.functional.softplus(-fake_scores).mean()


@attrs.frozen
class PenaltyConfig:
    weight: float = 1.0


class NoConditions(gankit.Regularizer):
    """Calls D without its conditions: fine for D(x), a TypeError for D(x, label)."""

    def __init__(self, config):
        self.weight = config.weight

    def discriminator_penalty(self, inputs):
        return self.weight * inputs.discriminator(inputs.real).pow(2).mean()


class PathLength(gankit.Regularizer):
    """A path-length-like generator penalty around a running mean kept in state()."""

    targets = ("generator",)

    def __init__(self, config):
        self.weight = config.weight
        self.mean = torch.zeros(())

    def generator_penalty(self, inputs):
        values = list(inputs.inputs.values())
        z = values[0].detach().requires_grad_(True)
        with inputs.autocast():
            x = inputs.generator(z, *values[1:])
        grad = inputs.input_gradients(x * inputs.normal(*x.shape), z)
        lengths = grad.flatten(1).norm(dim=1)
        self.mean = self.mean.to(lengths.device) * 0.9 + 0.1 * lengths.detach().mean()
        return self.weight * (lengths - self.mean).pow(2).mean()

    def state(self):
        return {"mean": self.mean}

    def load_state(self, state):
        self.mean = state["mean"].clone()


class ForgetsItsMean(PathLength):
    def load_state(self, state):
        pass  # a resumed run starts from a zero mean


class HiddenCounter(PathLength):
    def __init__(self, config):
        super().__init__(config)
        self.calls = 0

    def generator_penalty(self, inputs):
        self.calls += 1  # not in state(): a resumed run penalizes differently
        return super().generator_penalty(inputs) * self.calls


class UndeclaredGenerator(PathLength):
    targets = ("discriminator",)


@pytest.mark.parametrize(
    ("kind", "factory", "config", "message"),
    [
        ("loss", ForgetsNeedsReal, None, "raised ValueError: needs the real scores; .* sets needs_real_scores = True"),
        ("loss", NeedlessRealScores, None, "generator_loss ignores real_scores, yet needs_real_scores is set"),
        (
            "reg",
            NoConditions,
            PenaltyConfig(),
            r"under a class-conditional D \(PenaltyInputs.conditions\) raised "
            "TypeError: .* inputs.scores",
        ),
        ("reg", ForgetsItsMean, PenaltyConfig(), r"load_state\(state\(\)\) does not restore its state: state/mean"),
        ("reg", HiddenCounter, PenaltyConfig(), r"given load_state\(state\(\)\) penalizes differently"),
        (
            "reg",
            UndeclaredGenerator,
            PenaltyConfig(),
            r"penalizes generators, but its targets \('discriminator',\) "
            "lack 'generator'",
        ),
    ],
    ids=lambda v: v.__name__ if isinstance(v, type) else None,
)
def test_v2_checks_catch(kind, factory, config, message):
    with pytest.raises(ConformanceError, match=message):
        check_component(kind, factory, config, run=False)


def test_a_generator_regularizer_with_state_passes_and_survives_a_resume():
    report = check_component("reg", PathLength, PenaltyConfig())
    assert "a finite scalar generator penalty, for G(z) and a class-conditional G(z, label)" in report.passed
    assert "state() round-trips through load_state (1 tensors)" in report.passed
    assert "its state() survives a checkpoint: 2 steps + resume to 4 equal 4 steps" in report.passed
    assert "a no-op with weight=0" in report.passed


# -- data with any fields ------------------------------------------------------------------------


def _fields_dataset(labels=None, attributes=None, target_count=16):
    from gankit import DataDescription, Field, TensorDataset

    image = Field((1, 4, 4), "image")
    fields = {
        "source": image,
        "target": image,
        "label": Field((), "class", num_classes=3),
        "flags": Field((2,), "attributes"),
    }
    description = DataDescription.of("fields", fields, main="target")
    generator = torch.Generator().manual_seed(0)
    tensors = {
        "source": torch.rand(16, 1, 4, 4, generator=generator) * 2 - 1,
        "target": torch.rand(target_count, 1, 4, 4, generator=generator) * 2 - 1,
        "label": torch.randint(3, (16,), generator=generator) if labels is None else labels,
        "flags": torch.randint(0, 2, (16, 2), generator=generator).float() if attributes is None else attributes,
    }
    if target_count != 16:  # TensorDataset refuses this; a hand-made data set may not
        dataset = gankit.Dataset()
        dataset.description, dataset.tensors = description, tensors
        return dataset
    return TensorDataset(description, fields=tensors)


def fields_data(config=None, request=None):
    return _fields_dataset()


def bad_labels(config=None, request=None):
    return _fields_dataset(labels=torch.arange(16) % 5)


def bad_flags(config=None, request=None):
    return _fields_dataset(attributes=torch.rand(16, 2))


def ragged_stream(config=None, request=None):
    return _fields_dataset(target_count=12)


class LabelledCircle(Circle):
    def __init__(self, config=None, request=None):
        self.description = gankit.DataDescription("circle", (2,), "points", num_classes=2)  # sample() has no labels


def test_data_with_several_fields_conforms():
    report = check_component("data", fields_data)
    assert (
        "fields ['source', 'target', 'label', 'flags'] of the described shapes and kinds; streams of [16] samples"
        in report.passed
    )
    assert any(line.startswith("trains class-conditionally") for line in report.passed)


@pytest.mark.parametrize(
    ("factory", "message"),
    [
        (bad_labels, r"labels exceed num_classes \(3\): they span \[0, 4\]"),
        (bad_flags, "field 'flags' are not 0/1 flags"),
        (ragged_stream, r"fields of one stream differ in length: \{'source': 16, 'target': 12"),
        (LabelledCircle, r"returned one tensor, but the data has fields \['label'\] too; return a dict"),
    ],
    ids=lambda v: getattr(v, "__name__", None),
)
def test_data_check_catches(factory, message):
    with pytest.raises(ConformanceError, match=message):
        check_component("data", factory, run=False)


# -- schemes: the data they take, everything a resume restores, sampling with their inputs ----------------


class Unrestored(gankit.Scheme):
    """Counts its steps in state(), but load_state forgets it: the networks still resume exactly."""

    optimizers = {"discriminator": ("discriminator",), "generator": ("generator",)}

    def __init__(self, config=None):
        self.seen = torch.zeros(())

    def networks(self, data, z_dim):
        from gankit import NetworkRequest

        return {"generator": NetworkRequest.generator(data, z_dim), "discriminator": NetworkRequest.discriminator(data)}

    def step(self, t):
        self.seen += 1
        G, D = t.nets["generator"], t.nets["discriminator"]
        d_loss = t.loss.discriminator_loss(D(t.next_batch().x), D(G(t.noise()).detach()))
        t.optimize("discriminator", d_loss)
        with t.frozen(D):
            g_loss = t.loss.generator_loss(D(G(t.noise())))
        t.optimize("generator", g_loss)
        return {"d_loss": d_loss.detach(), "g_loss": g_loss.detach()}

    def state(self):
        return {"seen": self.seen.clone()}

    def load_state(self, state):
        pass


class UnknownOptimized(Unrestored):
    optimizers = {"discriminator": ("discriminator",), "generator": ("generator", "mapping")}


def _label_blind_conditional():
    from gankit_builtins.schemes.conditional import Conditional

    class LabelBlind(Conditional):
        def generate(self, nets, inputs):
            return nets["generator"](inputs["z"], torch.zeros_like(inputs["label"]))  # every sample of class 0

    return LabelBlind


@pytest.mark.parametrize(
    ("factory", "options", "message"),
    [
        (Unrestored, {}, r"2 steps \+ resume to 4 differ from 4 steps: scheme/seen"),
        (UnknownOptimized, {"run": False}, r"optimizer 'generator' trains \['mapping'\], which networks\(\) does not"),
        ("conditional", {"data": "ring8", "run": False}, r"takes none of the data sets \['ring8'\]: .*class labels"),
        (_label_blind_conditional(), {}, r"`gankit sample --label 0` and `--label 1` generate the same samples"),
    ],
    ids=["state-not-restored", "unknown-network", "data-without-labels", "generate-ignores-label"],
)
def test_scheme_check_catches(factory, options, message):
    with pytest.raises(ConformanceError, match=message):
        check_component("scheme", factory, **options)
