"""Conformance checks of losses: finite scalars and gradients for ordinary, extreme and per-patch scores,
and a short run. Import them from :mod:`gankit.testing`."""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gankit.components import Loss
from gankit.testing._kit import (
    Report,
    _Check,
    _fork_rng,
    _grads_finite,
    _Runs,
    _subject,
)

if TYPE_CHECKING:
    import torch


def check_loss(name_or_factory: Any, config: Any = None, *, run: bool = True, run_args: Sequence[str] = ()) -> Report:
    """Both losses are finite scalars with finite gradients, for ordinary, extreme and per-patch scores;
    a loss with ``needs_real_scores`` gets (and uses) ``real_scores`` in ``generator_loss``."""
    import torch

    with _subject("loss", name_or_factory, config) as subject, _fork_rng():
        c = _Check(subject)
        loss = c.create(Loss, subject.config)
        needs_real = loss.needs_real_scores
        c.expect(isinstance(needs_real, bool), f"needs_real_scores is {needs_real!r}, not a bool")

        def generator_loss(fake: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
            if needs_real:
                return loss.generator_loss(fake, real)
            try:
                return loss.generator_loss(fake)
            except Exception as exc:  # noqa: BLE001 - named in the failure
                c.fail(
                    f"generator_loss(fake_scores) raised {type(exc).__name__}: {exc}; a loss that needs the real "
                    "samples' scores sets needs_real_scores = True"
                )
                raise

        for label, make in (
            ("ordinary", lambda: torch.randn(16)),
            ("extreme (|score| = 30)", lambda: torch.tensor([-30.0, 30.0] * 8)),
            ("per-patch (16, 3, 3)", lambda: torch.randn(16, 3, 3)),
        ):
            real, fake = make().requires_grad_(True), make().flip(0).requires_grad_(True)
            d_loss = loss.discriminator_loss(real, fake)
            c.tensor(d_loss, f"discriminator_loss on {label} scores", ())
            c.expect(d_loss.requires_grad, f"discriminator_loss on {label} scores has no gradient")
            d_loss.backward()
            c.expect(_grads_finite([real, fake]), f"discriminator_loss gradients on {label} scores are not finite")
            fake_g, real_g = make().requires_grad_(True), make().flip(0).requires_grad_(True)
            g_loss = generator_loss(fake_g, real_g)
            c.tensor(g_loss, f"generator_loss on {label} scores", ())
            c.expect(g_loss.requires_grad, f"generator_loss on {label} scores has no gradient")
            g_loss.backward()
            c.expect(_grads_finite([fake_g, real_g]), f"generator_loss gradients on {label} scores are not finite")
            if label == "ordinary":
                c.expect(
                    bool(real.grad.abs().sum() + fake.grad.abs().sum() > 0), "discriminator_loss ignores the scores"
                )
                c.expect(bool(fake_g.grad.abs().sum() > 0), "generator_loss ignores the scores")
                if needs_real:
                    other = generator_loss(fake_g.detach(), torch.randn(16) * 3 + 1)
                    c.expect(
                        not torch.equal(other.detach(), g_loss.detach()),
                        "generator_loss ignores real_scores, yet needs_real_scores is set (each G step pays for "
                        "a forward pass of D on real samples)",
                    )
        c.passed("finite scalar losses with finite gradients, for ordinary, extreme and per-patch scores")
        if needs_real:
            c.passed("generator_loss takes and uses real_scores (needs_real_scores)")
        if run:
            with tempfile.TemporaryDirectory() as tmp:
                _Runs(subject, Path(tmp), run_args).run("loss", "--loss", subject.flag_value, "--data", "ring8")
            c.passed(f"trains through `gankit run --loss {subject.flag_value}`")
        return c.report
