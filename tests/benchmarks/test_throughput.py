"""The benchmark scripts run and write what they promise (their numbers are for quiet machines, not CI)."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "benchmarks"))

import throughput  # noqa: E402


def test_plain_loop_is_the_identical_algorithm():
    """The tax baseline computes what gankit's step computes: same start, same batches, same weights after."""
    import torch

    torch.manual_seed(0)
    trainer = throughput.build_trainer("mlp", "hinge", "sn", 16)
    plain = throughput.PlainLoop(trainer, "hinge", "sn")
    for net in (plain.G, plain.D):
        net.train()
    # Same data order and noise: replay gankit's batches and noise into the plain loop.
    from gankit.engine.batches import BatchStream

    stream = BatchStream(trainer.dataset, 16, trainer.device, trainer.run.config.seed)
    plain.next_real = lambda: stream.next().x
    torch.manual_seed(1)
    trainer.train_step()
    torch.manual_seed(1)
    plain.step()
    for a, b in zip(trainer.model.nets["generator"].parameters(), plain.G.parameters()):
        torch.testing.assert_close(a, b)
    for a, b in zip(trainer.model.nets["discriminator"].parameters(), plain.D.parameters()):
        torch.testing.assert_close(a, b)


@pytest.mark.parametrize("reg", [None, "r1"])
def test_plain_conditional_loop_is_the_identical_algorithm(reg):
    """The conditional tax row's baseline: the same G(z, y), projection D(x, y), labels and updates."""
    import torch

    torch.manual_seed(0)
    trainer = throughput.build_trainer("mlp", "bce", reg, 16, scheme="conditional")
    plain = throughput.PlainConditionalLoop(trainer, "bce", reg)
    assert type(plain.D).__name__ == "ProjectionDiscriminator" and type(plain.G).__name__ == "EmbeddedGenerator"
    from gankit.engine.batches import BatchStream

    stream = BatchStream(trainer.dataset, 16, trainer.device, trainer.run.config.seed)
    plain.next_real = lambda: tuple(stream.next())
    for _ in range(2):
        torch.manual_seed(1)
        trainer.train_step()
        torch.manual_seed(1)
        plain.step()
    for name, net in (("generator", plain.G), ("discriminator", plain.D)):
        for a, b in zip(trainer.model.nets[name].parameters(), net.parameters(), strict=True):
            torch.testing.assert_close(a, b)
    for a, b in zip(trainer.model.ema["generator"].shadow.parameters(), plain.G_ema.parameters(), strict=True):
        torch.testing.assert_close(a, b)


def test_quick_run_writes_the_docs_section(tmp_path):
    docs = tmp_path / "benchmarks.md"
    docs.write_text("# B\n\n<!-- throughput:start -->\nold\n<!-- throughput:end -->\n\n<!-- quality:start -->\nkeep\n")
    env = dict(os.environ, OMP_NUM_THREADS="1")
    result = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "throughput.py"), "--only", "tax,startup", "--quick",
         "--write-docs", "--docs", str(docs)],
        capture_output=True, text=True, env=env, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    text = docs.read_text()
    assert "old" not in text and "keep" in text
    assert "### Framework tax" in text and "| mlp | bce | none |" in text
    assert "| conditional | mlp | bce | r1 |" in text
    assert "`gankit --help`" in text and "machine:" in result.stdout


@pytest.mark.parametrize(
    ("fp32", "plain", "verdicts"),
    [
        (95.0, 180.0, ("float32: 1.90× the seed's loop, target 1.8×: met", "3.60×, target 3.5×: met")),
        (70.0, 130.0, ("float32: 1.40× the seed's loop, target 1.8×: NOT MET", "2.60×, target 3.5×: NOT MET")),
    ],
)
def test_seed_section_states_the_targets_and_the_bounds(monkeypatch, tmp_path, fp32, plain, verdicts):
    """The seed section's loops and the products' timings stubbed: the table, the fractions of the bounds and
    the verdict lines follow from them."""
    monkeypatch.setattr(throughput, "write_mnist_idx", lambda root, count: root)
    monkeypatch.setattr(throughput, "seed_loop", lambda root, steps: 50.0)
    monkeypatch.setattr(throughput, "resident_loop", lambda root, steps: 60.0)
    rates = {(): fp32, ("--amp", "on"): plain, ("--amp", "on", "--set", "scheme.reuse_fakes=true"): 200.0}
    monkeypatch.setattr(throughput, "gankit_run", lambda root, steps, *flags: rates[flags])
    seconds = {torch.float32: 1 / 100, torch.bfloat16: 1 / 250}  # bounds of 100 and 250 steps/s

    def product_seconds(dtype, repeats=7, products=None):
        # gankit's own products: 9 ms in float32 and 3 ms in bfloat16; with Adam's 1 ms, floors of 100 and 250.
        return seconds[dtype] if products is None else {torch.float32: 0.009, torch.bfloat16: 0.003}[dtype]

    monkeypatch.setattr(throughput.seed_bounds, "product_seconds", product_seconds)
    monkeypatch.setattr(throughput.seed_bounds, "adam_seconds", lambda repeats=7: 0.001)
    text = throughput.section_seed(argparse.Namespace(quick=True), tmp_path)
    assert (
        f"| `gankit run --amp on` (bfloat16 autocast) | {plain:.1f} | {plain / 50:.2f} | {plain / 250:.0%} of 250 |"
        in text
    )
    assert f"| `gankit run` (float32) | {fp32:.1f} | {fp32 / 50:.2f} | {fp32 / 100:.0%} of 100 |" in text
    assert "| 50.0 | 1.00 | 50% of 100 |" in text  # the seed's own loop against the float32 bound
    for verdict in verdicts:
        assert verdict in text
    assert "1.97 GFLOP" in text and "110.1 MB in float32" in text
    floor = "the floor of gankit's step (its 29 products and Adam's update, each timed alone): 100 steps/s in float32"
    assert f"{floor} (2.00× the seed's loop), 250 in bfloat16 (5.00×)" in text
    assert f"`gankit run` reaches {fp32 / 100:.0%} and {plain / 250:.0%} of them" in text


def test_seed_products_are_the_seed_iterations():
    import seed_bounds

    products = seed_bounds.seed_products()
    # D's step: G forward (4), D on real and fake (2 x 3), their backward (2 x (3 weight + 2 input gradients));
    # G's step: G forward (4), D forward (3), D backward (3 + 3), G backward (4 weight + 3 input gradients).
    assert len(products) == 4 + 6 + 10 + 4 + 3 + 6 + 7
    assert (100, 64, 256) in products and (784, 100, 1024) in products  # G's last layer, weight gradient
    assert seed_bounds.parameters() == sum(p.numel() for net in throughput.seed_networks() for p in net.parameters())


def test_gankit_products_are_its_steps():
    """gankit's step on the seed's networks: D's step is G forward (4), D on real and fake as one batch of 200
    (3) and D's backward (3 weight + 2 input gradients); G's step is G forward (4), D forward (3), D's input
    gradients only (3: D is frozen) and G's backward (4 weight + 3 input gradients)."""
    import seed_bounds

    products = seed_bounds.gankit_products()
    assert len(products) == 4 + 3 + 5 + 4 + 3 + 3 + 7 == 29
    assert (200, 784, 512) in products and (512, 200, 784) in products  # D's first layer on the stacked batch
    assert (784, 100, 1024) in products and (1, 100, 256) not in products  # G's last weight gradient; no D's
    assert seed_bounds.flops(products) < seed_bounds.seed_flops()


def test_unknown_section_is_one_line():
    result = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "throughput.py"), "--only", "speed"], capture_output=True, text=True
    )
    assert result.returncode == 2
    assert (
        "unknown section 'speed'; choose from: seed, tax, startup, growth, compile, contention, convpath"
        in result.stderr
    )


@pytest.mark.skipif(sys.platform != "linux", reason="bash script")
def test_gpu_script_runs_its_cpu_smoke(tmp_path):
    assert subprocess.run(["bash", "-n", str(ROOT / "benchmarks" / "gpu.sh")]).returncode == 0
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHON=sys.executable, CUDA_VISIBLE_DEVICES="")
    env.pop("GANKIT_DISABLE_PLUGINS")  # the families' rows need the packages in plugins/ (make setup)
    result = subprocess.run(
        ["bash", str(ROOT / "benchmarks" / "gpu.sh"), "--smoke", "--only", "dcgan,seed,families"],
        capture_output=True, text=True, env=env, timeout=600,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert "### DCGAN 16 px, batch 8" in out and "| AMP + channels_last |" in out
    assert "### Seed workload" in out and "| gankit, AMP, reuse_fakes |" in out and "AMP ÷ fp32:" in out
    # Every family in plugins/ trains a step or two, BigGAN and StyleGAN2 on CIFAR-10-format files.
    assert "### Families in plugins/" in out
    for family in ("BigGAN, CIFAR-10 32 px", "StyleGAN2, CIFAR-10 32 px", "pix2pix", "CycleGAN", "StarGAN"):
        assert f"| {family}" in out and "unavailable" not in out


# -- contention and the DCGAN conv path (benchmarks/contention.py) --------------------------------------

import contention  # noqa: E402


def fake_runs(rates: dict[tuple[str, int], float]):
    """A stand-in for contention.run_together: each `gankit run` "ran" at the rate its thread setting and
    company give, logged as the jsonl tracker would, and printed a banner."""
    calls = []

    def run_together(commands, env):
        calls.append((commands, env))
        banners = []
        for command in commands:
            value = dict(zip(command, command[1:]))
            folder = Path(value["--out"]) / value["--name"]
            folder.mkdir(parents=True)
            rate = rates[(value["--threads"], len(commands))]
            lines = [json.dumps({"step": i, "steps_per_s": rate * (0.5 if i == 0 else 1)}) for i in range(5)]
            (folder / "metrics.jsonl").write_text("\n".join(lines) + "\n")
            banners.append(f"gankit: mlp / bce\n  threads:   {value['--threads']} (stub)\n")
        return banners

    return run_together, calls


def test_contention_section_states_both_ratios(monkeypatch, tmp_path):
    rates = {("auto", 1): 100.0, ("2", 1): 98.0, ("auto", 2): 47.0, ("2", 2): 2.0}
    run_together, calls = fake_runs(rates)
    monkeypatch.setattr(contention, "run_together", run_together)
    monkeypatch.setattr(contention, "torch_default_threads", lambda: 2)
    monkeypatch.setattr(throughput, "write_mnist_idx", lambda root, count: root.mkdir(parents=True) or root)
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    text = contention.section_contention(argparse.Namespace(quick=True), tmp_path)
    assert "| seed workload (MNIST MLPs, batch 100) | 98.0 | 100.0 | 1.02 | 2.0 | 2% | 47.0 | 47% |" in text
    assert "pair ÷ solo 0.47 (target ≥ 0.45, met; PyTorch's default: 0.02)" in text
    assert "alone, auto ÷ default 1.02 (target ≥ 0.97, met)" in text
    # Pairs start together; OMP_NUM_THREADS is not passed on (gankit would honour it and choose nothing).
    assert {len(commands) for commands, _ in calls} == {1, 2}
    assert all("OMP_NUM_THREADS" not in env for _, env in calls)
    # A run that loses to PyTorch's default alone, or keeps too little in a pair, is reported as such.
    rates |= {("auto", 1): 90.0, ("auto", 2): 30.0}
    text = contention.section_contention(argparse.Namespace(quick=True), tmp_path / "again")
    assert "pair ÷ solo 0.33 (target ≥ 0.45, NOT met" in text and "(target ≥ 0.97, NOT met)" in text


def test_contention_runs_a_real_pair(tmp_path):
    """Two real tiny `gankit run` started together: both finish, their rates and thread choices are read."""
    tiny = ("--batch-size", "8", "--z-dim", "4", "--set", "arch.g_hidden=16", "--set", "arch.d_hidden=16")
    commands = [contention.gankit_command(tiny, 8, "auto", str(tmp_path), f"r{i}") for i in range(2)]
    env = {k: v for k, v in os.environ.items() if k != "OMP_NUM_THREADS"}
    banners = contention.run_together(commands, env)
    assert all(contention.chosen_threads(b).startswith("1 (small model") for b in banners)
    assert all(contention.rate_of(tmp_path / f"r{i}") > 0 for i in range(2))


def test_plain_conv_loop_is_the_identical_algorithm(tmp_path):
    """The conv-path baseline trains DCGAN as gankit does: same batches and noise, same weights after."""
    import torch
    from gpu import write_images

    write_images(tmp_path / "images", 16, 16)
    torch.manual_seed(0)
    trainer = contention.conv_trainer(tmp_path / "images", 16, 8, "off", False)
    plain = contention.PlainConvLoop(trainer, "bce", bf16=False, channels_last=False)
    from gankit.engine.batches import BatchStream

    stream = BatchStream(trainer.dataset, 8, trainer.device, trainer.run.config.seed)
    plain.next_real = lambda: stream.next().x
    for _ in range(2):
        torch.manual_seed(1)
        trainer.train_step()
        torch.manual_seed(1)
        plain.step()
    for name, net in (("generator", plain.G), ("discriminator", plain.D)):
        for a, b in zip(trainer.model.nets[name].parameters(), net.parameters(), strict=True):
            torch.testing.assert_close(a, b)


def test_convpath_quick_run(tmp_path):
    import torch

    threads = torch.get_num_threads()
    text = contention.section_convpath(argparse.Namespace(quick=True), tmp_path)
    assert torch.get_num_threads() == threads  # the trainers' thread policy does not leak out
    for setup in ("float32", "channels-last", "bf16 autocast"):
        assert f"| 16×16 | {setup} |" in text


def test_gpu_contention_case_runs_on_stubs(monkeypatch, tmp_path, capsys):
    import gpu

    rates = {("auto", 1): 100.0, ("4", 1): 100.0, ("auto", 2): 60.0, ("4", 2): 3.0}
    run_together, calls = fake_runs(rates)
    monkeypatch.setattr(contention, "run_together", run_together)
    monkeypatch.setattr(contention, "torch_default_threads", lambda: 4)
    gpu.sharing("cpu", "CPU (smoke run: toy sizes)", True, tmp_path)
    out = capsys.readouterr().out
    assert "| pair auto | 60.0 | 0.60 | auto (stub) |" in out and "pair ÷ alone (auto): 0.60" in out
    assert all(command[command.index("--device") + 1] == "cpu" for commands, _ in calls for command in commands)
