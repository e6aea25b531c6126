"""What the hardware allows the seed workload: the matrix products of one seed iteration, timed alone.

The seed tutorial's iteration (batch 100) is a fixed list of matrix products: G forward, D on real and
on fake and D's backward in D's step; G forward, D forward and the backward through D into G in G's
step (the seed computes D's weight gradients there too, and none for the first layer's input). Timing
exactly those products back to back, in float32 and in bfloat16, gives the rate no loop of this model
can beat on this machine with these threads: the bound that benchmarks/throughput.py's seed section
reports each loop against. The memory traffic per step is the bytes those products read and write
plus Adam's update of both networks: a lower bound of what a step moves.
"""

from __future__ import annotations

import statistics
import time

import torch

BATCH = 100
#: (inputs, outputs) of each Linear layer of the seed's networks (throughput.seed_networks).
G_LAYERS = ((64, 256), (256, 512), (512, 1024), (1024, 784))
D_LAYERS = ((784, 512), (512, 256), (256, 1))
#: Adam reads parameter, gradient and both moments and writes parameter and moments: 7 float32 values.
ADAM_BYTES_PER_PARAMETER = 7 * 4


def _forward(layers) -> list[tuple[int, int, int]]:
    return [(BATCH, k, n) for k, n in layers]


def _backward(layers, input_grad_of_first: bool) -> list[tuple[int, int, int]]:
    """(m, k, n) of the weight gradients (out x batch @ batch x in) and input gradients (batch x out @ out x in)."""
    products = [(n, BATCH, k) for k, n in layers]
    products += [(BATCH, n, k) for i, (k, n) in enumerate(layers) if i > 0 or input_grad_of_first]
    return products


def seed_products() -> list[tuple[int, int, int]]:
    """The (m, k, n) of every matrix product of one seed iteration."""
    d_step = _forward(G_LAYERS) + 2 * _forward(D_LAYERS) + 2 * _backward(D_LAYERS, input_grad_of_first=False)
    g_step = _forward(G_LAYERS) + _forward(D_LAYERS) + _backward(D_LAYERS, True) + _backward(G_LAYERS, False)
    return d_step + g_step


def seed_flops() -> float:
    return float(sum(2 * m * k * n for m, k, n in seed_products()))


def product_seconds(dtype: torch.dtype, repeats: int = 7, inner: int = 20) -> float:
    """Seconds for one iteration's products in ``dtype``, median of ``repeats`` runs of ``inner`` iterations."""
    operands = [(torch.randn(m, k).to(dtype), torch.randn(k, n).to(dtype)) for m, k, n in seed_products()]
    outputs = [torch.empty(m, n, dtype=dtype) for m, _, n in seed_products()]

    def iteration() -> None:
        for (a, b), out in zip(operands, outputs, strict=True):
            torch.mm(a, b, out=out)

    for _ in range(3):  # warm the kernels and caches
        iteration()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(inner):
            iteration()
        times.append((time.perf_counter() - start) / inner)
    return statistics.median(times)


def parameters() -> int:
    return sum((k + 1) * n for k, n in G_LAYERS + D_LAYERS)


def traffic_bytes(itemsize: int) -> float:
    """Bytes the products read and write (operands of ``itemsize``) plus Adam's float32 update of G and D."""
    products = sum((m * k + k * n + m * n) * itemsize for m, k, n in seed_products())
    return float(products + ADAM_BYTES_PER_PARAMETER * parameters())
