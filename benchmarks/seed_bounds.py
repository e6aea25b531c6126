"""What the hardware allows the seed workload: the matrix products of one seed iteration, timed alone.

The seed tutorial's iteration (batch 100) is a fixed list of matrix products: G forward, D on real and
on fake and D's backward in D's step; G forward, D forward and the backward through D into G in G's
step (the seed computes D's weight gradients there too, and none for the first layer's input). Timing
exactly those products back to back, in float32 and in bfloat16, gives the rate no loop of this model
can beat on this machine with these threads: the bound that benchmarks/throughput.py's seed section
reports each loop against. The memory traffic per step is the bytes those products read and write
plus Adam's update of both networks: a lower bound of what a step moves.

gankit's own step does fewer products than the seed's (D scores real and fake as one batch of 200, G's
forward in D's step keeps no graph, D computes no weight gradients in G's step). Its products and Adam's
update of both networks, each timed alone with hot caches, give the floor of that algorithm: the rate no
eager implementation of it reaches on this machine, since everything else in a step (activations,
losses, bias gradients, the autograd engine) only adds to it.
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


def gankit_products() -> list[tuple[int, int, int]]:
    """The (m, k, n) of every matrix product of gankit's unconditional step on the seed's networks."""
    stacked = [(2 * m, k, n) for m, k, n in _forward(D_LAYERS)]  # real and fake as one batch of 200
    d_backward = [(n, 2 * BATCH, k) for k, n in D_LAYERS] + [(2 * BATCH, n, k) for k, n in D_LAYERS[1:]]
    d_step = _forward(G_LAYERS) + stacked + d_backward
    d_input_gradients = [(BATCH, n, k) for k, n in D_LAYERS]  # D frozen: no weight gradients
    g_step = _forward(G_LAYERS) + _forward(D_LAYERS) + d_input_gradients + _backward(G_LAYERS, False)
    return d_step + g_step


def flops(products: list[tuple[int, int, int]]) -> float:
    return float(sum(2 * m * k * n for m, k, n in products))


def seed_flops() -> float:
    return flops(seed_products())


def _median_seconds(iteration, repeats: int, inner: int) -> float:
    for _ in range(3):  # warm the kernels and caches
        iteration()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(inner):
            iteration()
        times.append((time.perf_counter() - start) / inner)
    return statistics.median(times)


def product_seconds(
    dtype: torch.dtype, repeats: int = 7, inner: int = 20, products: list[tuple[int, int, int]] | None = None
) -> float:
    """Seconds for one iteration's products in ``dtype`` (the seed's unless ``products`` is given), median of
    ``repeats`` runs of ``inner`` iterations."""
    products = seed_products() if products is None else products
    operands = [(torch.randn(m, k).to(dtype), torch.randn(k, n).to(dtype)) for m, k, n in products]
    outputs = [torch.empty(m, n, dtype=dtype) for m, _, n in products]

    def iteration() -> None:
        for (a, b), out in zip(operands, outputs, strict=True):
            torch.mm(a, b, out=out)

    return _median_seconds(iteration, repeats, inner)


def adam_seconds(repeats: int = 7, inner: int = 20) -> float:
    """Seconds for one iteration's optimizer work: fused Adam's update of G and of D (float32 parameters,
    gradients and moments, as under autocast too), median of ``repeats`` runs of ``inner`` iterations."""

    def optimizer(layers) -> torch.optim.Optimizer:
        tensors = [torch.zeros(n, k) for k, n in layers] + [torch.zeros(n) for _, n in layers]
        for tensor in tensors:
            tensor.grad = torch.randn_like(tensor)
        return torch.optim.Adam(tensors, lr=2e-4, betas=(0.5, 0.999), fused=True)

    g_optimizer, d_optimizer = optimizer(G_LAYERS), optimizer(D_LAYERS)

    def iteration() -> None:
        d_optimizer.step()
        g_optimizer.step()

    return _median_seconds(iteration, repeats, inner)


def parameters() -> int:
    return sum((k + 1) * n for k, n in G_LAYERS + D_LAYERS)


def traffic_bytes(itemsize: int) -> float:
    """Bytes the products read and write (operands of ``itemsize``) plus Adam's float32 update of G and D."""
    products = sum((m * k + k * n + m * n) * itemsize for m, k, n in seed_products())
    return float(products + ADAM_BYTES_PER_PARAMETER * parameters())
