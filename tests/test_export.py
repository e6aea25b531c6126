"""``gankit export``: the model folder, loading it back, and the ONNX / torch.export graphs."""

from __future__ import annotations

import importlib.util
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

import gankit as gk
from gankit import export
from tests.conftest import FAMILY_DISTRIBUTIONS, one_error_line

TINY = ("--steps", "3", "--batch-size", "8", "-q")
MLP = ("--set", "arch.g_hidden=8", "--set", "arch.d_hidden=8")
DCGAN = ("--arch", "dcgan", "--set", "arch.g_channels=8", "--set", "arch.d_channels=8", "--set", "arch.embed_dim=4")
ONNX = importlib.util.find_spec("onnxruntime") is not None and importlib.util.find_spec("onnxscript") is not None
needs_onnx = pytest.mark.skipif(
    not ONNX, reason="onnxruntime and onnxscript are not installed (pip install 'gankit[export]')"
)


def _train(gankit_cli, tmp_path: Path, name: str, *args: str) -> Path:
    result = gankit_cli("run", *TINY, "--name", name, *args)
    assert result.exit_code == 0, result.output
    return tmp_path / "runs" / name


def _export(gankit_cli, *args: str):
    result = gankit_cli("export", *args)
    assert result.exit_code == 0, result.output
    return result


def test_model_folder_samples_equal_the_run(gankit, tmp_path):
    # EMA and spectral norm on both networks: the folder holds the EMA generator with the norm folded in.
    run = _train(
        gankit, tmp_path, "u", *MLP, "--ema", "0.9", "--reg", "sn", "--set", "sn.networks=generator,discriminator"
    )
    _export(gankit, str(run), "-o", "model")
    folder = tmp_path / "model"
    assert sorted(p.name for p in folder.iterdir()) == ["README.md", "config.json", "model.safetensors", "samples.png"]
    result = gankit("sample", str(run), "-n", "12", "--seed", "5", "-o", "run.npy")
    assert result.exit_code == 0, result.output
    model = gk.load(str(folder))
    ours = model.description.to_data_units(model.sample(12, seed=5)).numpy()
    assert np.abs(ours - np.load(tmp_path / "run.npy")).max() <= 1e-6
    # gankit sample takes the folder too
    result = gankit("sample", str(folder), "-n", "12", "--seed", "5", "-o", "folder.npy")
    assert result.exit_code == 0, result.output
    assert np.abs(np.load(tmp_path / "folder.npy") - np.load(tmp_path / "run.npy")).max() <= 1e-6
    assert model.generator is model.nets["generator"] and not model.ema
    # Self-contained: the run folder is not needed any more.
    shutil.rmtree(run)
    again = gk.load(str(folder)).sample(12, seed=5)
    assert np.abs(model.description.to_data_units(again).numpy() - ours).max() == 0
    assert not any("parametrizations" in name for name, _ in model.generator.named_parameters())


def test_model_folder_contents(gankit, tmp_path):
    run = _train(gankit, tmp_path, "u", *MLP, "--ema", "0.9")
    (run / "eval.json").write_text(json.dumps({"digit-quality": {"fd": 1.25}}))
    _export(gankit, str(run), "-o", "model")
    folder = tmp_path / "model"
    config = json.loads((folder / "config.json").read_text())
    assert config["format"] == export.MODEL_FORMAT
    assert config["gankit_version"] == gk.__version__
    assert config["inputs"] == {"z": {"type": "Noise", "shape": [64]}}
    assert config["networks"] == ["generator"]  # no discriminator
    assert config["plugins"]["mlp"] == {"kind": "architecture", "plugin": "builtins.architectures"}
    assert config["data_description"]["name"] == "digits"
    assert config["step"] == 3 and config["value_range"] == [-1.0, 1.0]
    from safetensors import safe_open

    with safe_open(str(folder / "model.safetensors"), "pt") as f:
        assert all(key.startswith("generator/") for key in f.keys())
    card = (folder / "README.md").read_text()
    assert "fd" in card and "gankit.load" in card and "| mlp | architecture |" in card
    assert "![64 samples, seed 0](samples.png)" in card


def test_export_refuses_a_non_empty_folder_unless_forced(gankit, tmp_path):
    run = _train(gankit, tmp_path, "u", *MLP)
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "keep.txt").write_text("mine")
    line = one_error_line(gankit("export", str(run), "-o", "taken"))
    assert "'taken' is not empty" in line and "--force" in line
    assert (tmp_path / "taken" / "keep.txt").read_text() == "mine"
    _export(gankit, str(run), "-o", "taken", "--force")
    assert not (tmp_path / "taken" / "keep.txt").exists()
    assert (tmp_path / "taken" / "config.json").is_file()


def test_an_error_leaves_no_half_folder(gankit, tmp_path, monkeypatch):
    run = _train(gankit, tmp_path, "u", *MLP)

    def fail(*args, **kwargs):
        raise gk.GankitError("cannot export this model: a test says no")

    monkeypatch.setattr(export.graphs, "write_graph", fail)
    line = one_error_line(gankit("export", str(run), "-o", "model", "--format", "pt2"))
    assert "a test says no" in line
    assert sorted(p.name for p in tmp_path.iterdir()) == ["runs"]


def test_unknown_format_is_one_line(gankit, tmp_path):
    run = _train(gankit, tmp_path, "u", *MLP)
    line = one_error_line(gankit("export", str(run), "-o", "model", "--format", "tflite"))
    assert "'tflite'" in line and "onnx" in line and "pt2" in line
    assert not (tmp_path / "model").exists()


def test_a_model_that_cannot_export_says_why(gankit, tmp_path, monkeypatch):
    run = _train(gankit, tmp_path, "u", *MLP)

    class DataDependent(torch.nn.Module):
        def forward(self, z):
            return z if bool(z.sum() > 0) else -z  # control flow on values: no graph for it

    monkeypatch.setattr(export.graphs, "graph_module", lambda model, nets: DataDependent())
    line = one_error_line(gankit("export", str(run), "-o", "model", "--format", "pt2"))
    assert "cannot export" in line and "torch.export failed" in line
    assert not (tmp_path / "model").exists()


CASES = {
    "mlp": MLP,
    "mlp-conditional": (*MLP, "--scheme", "conditional"),
    "dcgan": DCGAN,
    "dcgan-conditional": (
        *DCGAN,
        "--scheme",
        "conditional",
        "--reg",
        "sn",
        "--set",
        "sn.networks=generator,discriminator",
    ),
}


def _graph_inputs(model, count: int, seed: int) -> tuple[list[str], tuple[torch.Tensor, ...]]:
    names = export.tensor_inputs(model)
    values = export.example_inputs(model, count, seed)  # a translator's images: seeded noise
    return names, tuple(values[n] for n in names)


def _eager(model, names, args) -> np.ndarray:
    return model.generate(dict(zip(names, args))).numpy()


@pytest.mark.parametrize("case", list(CASES))
def test_pt2_equals_the_eager_generator(gankit, tmp_path, case):
    run = _train(gankit, tmp_path, case, *CASES[case], "--ema", "0.9")
    result = _export(gankit, str(run), "-o", "model", "--format", "pt2")
    assert "pt2: max abs difference" in result.output
    model = gk.load(str(tmp_path / "model"))
    program = torch.export.load(str(tmp_path / "model" / "generator.pt2")).module()
    for count in (1, 7, 64):
        names, args = _graph_inputs(model, count, seed=count)
        with torch.no_grad():
            got = program(*args).numpy()
        assert got.shape[0] == count
        assert np.abs(got - _eager(model, names, args)).max() <= 1e-4


@needs_onnx
@pytest.mark.parametrize("case", list(CASES))
def test_onnx_equals_the_eager_generator(gankit, tmp_path, case):
    import onnxruntime as ort

    run = _train(gankit, tmp_path, case, *CASES[case], "--ema", "0.9")
    result = _export(gankit, str(run), "-o", "model", "--format", "onnx")
    assert "onnx: max abs difference" in result.output
    model = gk.load(str(tmp_path / "model"))
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    session = ort.InferenceSession(
        str(tmp_path / "model" / "generator.onnx"), options, providers=["CPUExecutionProvider"]
    )
    assert [i.name for i in session.get_inputs()] == export.tensor_inputs(model)
    for count in (1, 7, 64):
        names, args = _graph_inputs(model, count, seed=count)
        (got,) = session.run(None, {n: a.numpy() for n, a in zip(names, args)})
        assert got.shape[0] == count
        assert np.abs(got - _eager(model, names, args)).max() <= 1e-4


@needs_onnx
def test_onnx_int8_reports_its_size(gankit, tmp_path):
    run = _train(gankit, tmp_path, "dc", *DCGAN)
    result = _export(gankit, str(run), "-o", "model", "--format", "onnx-int8")
    assert "onnx-int8:" in result.output and "of the float32 file" in result.output
    folder = tmp_path / "model"
    assert (folder / "generator.int8.onnx").is_file() and (folder / "generator.onnx").is_file()
    assert json.loads((folder / "config.json").read_text())["exported"] == {
        "onnx": "generator.onnx",
        "onnx-int8": "generator.int8.onnx",
    }


@pytest.mark.parametrize("fmt", ["pt2", pytest.param("onnx", marks=needs_onnx)])
def test_a_plugin_family_exports(gankit, tmp_path, monkeypatch, fmt):
    """pix2pix (plugins/gankit-pix2pix): a translator, whose graph takes the input images."""
    if importlib.util.find_spec("gankit_pix2pix") is None:
        pytest.skip("the gankit-pix2pix family is not installed (make setup installs it)")
    others = [name for name in FAMILY_DISTRIBUTIONS if name != "gankit-pix2pix"]
    monkeypatch.setenv("GANKIT_DISABLE_PLUGINS", ",".join(others))
    family = ("--scheme", "pix2pix", "--arch", "pix2pix", "--data", "pix2pix-digits")
    run = _train(gankit, tmp_path, "p2p", *family, "--set", "arch.ngf=4", "--set", "arch.ndf=4")
    _export(gankit, str(run), "-o", "model", "--format", fmt)
    from PIL import Image

    with Image.open(tmp_path / "model" / "samples.png") as picture:  # 8 a row: source | translation | target
        assert picture.width / picture.height == (24 * 18 + 2) / (8 * 18 + 2)  # 16 px images, 2 px apart
    model = gk.load(str(tmp_path / "model"))
    names = export.tensor_inputs(model)
    assert len(names) == 1 and model.inputs[names[0]].__class__.__name__ == "FromData"
    if fmt == "pt2":
        program = torch.export.load(str(tmp_path / "model" / "generator.pt2")).module()
    else:
        import onnxruntime as ort

        session = ort.InferenceSession(str(tmp_path / "model" / "generator.onnx"), providers=["CPUExecutionProvider"])
    for count in (1, 7, 64):
        names, args = _graph_inputs(model, count, seed=count)
        if fmt == "pt2":
            with torch.no_grad():
                got = program(*args).numpy()
        else:
            (got,) = session.run(None, {n: a.numpy() for n, a in zip(names, args)})
        assert np.abs(got - _eager(model, names, args)).max() <= 1e-4


class _Declared(torch.nn.Module):
    def __init__(self, generator, sign: float):
        super().__init__()
        self.generator = generator
        self.sign = sign

    def forward(self, z):
        return self.sign * self.generator(z)


@pytest.mark.parametrize("sign", [1.0, -1.0])
def test_a_scheme_can_declare_its_generation_graph(gankit, tmp_path, monkeypatch, sign):
    from gankit_builtins.schemes.unconditional import Unconditional

    run = _train(gankit, tmp_path, "u", *MLP)
    used = []

    def generation_graph(self, nets, options):
        used.append(sorted(nets))
        return _Declared(nets["generator"], sign)

    monkeypatch.setattr(Unconditional, "generation_graph", generation_graph, raising=False)
    if sign == 1.0:
        _export(gankit, str(run), "-o", "model", "--format", "pt2")
        assert used == [["generator"]]
        assert (tmp_path / "model" / "generator.pt2").is_file()
    else:  # a declared graph is checked against the scheme's generate
        line = one_error_line(gankit("export", str(run), "-o", "model", "--format", "pt2"))
        assert "differs from the scheme's generate" in line
        assert not (tmp_path / "model").exists()


def test_loading_a_model_folder_needs_no_network_and_no_onnx(gankit, tmp_path):
    import subprocess
    import sys

    run = _train(gankit, tmp_path, "u", *MLP, "--ema", "0.9")
    _export(gankit, str(run), "-o", "model")
    shutil.rmtree(run)
    script = (
        "import socket, sys\n"
        "def refuse(*args, **kwargs):\n"
        "    raise OSError('no network in this test')\n"
        "socket.socket.connect = socket.socket.connect_ex = socket.create_connection = refuse\n"
        "import gankit, numpy as np\n"
        "x = gankit.load('model').sample(5, seed=2)\n"
        "np.save('x.npy', x.numpy())\n"
        "print(sorted(m for m in ('onnx', 'onnxruntime', 'onnxscript') if m in sys.modules))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
    here = gk.load(str(tmp_path / "model")).sample(5, seed=2).numpy()
    assert np.array_equal(np.load(tmp_path / "x.npy"), here)
