"""What a scheme's generator takes when it generates: its **generation inputs**.

A scheme declares them (:meth:`gankit.Scheme.generation_inputs`); whoever generates fills them:
the training loop for its sample grids, ``gankit sample`` and ``gankit eval`` from the user's flags
(``--label 7``, ``--input digit.png``, ``--set truncation=0.7``), exporters and explorers. So a
scheme never parses flags, and sampling is reproducible: noise comes from the sampler's seed, drawn
the same whatever the batch size.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import attrs

if TYPE_CHECKING:
    from gankit.data import Field


@attrs.frozen
class Noise:
    """Gaussian noise of ``shape`` per sample (``(z_dim,)``)."""

    shape: tuple[int, ...] = attrs.field(converter=tuple)


@attrs.frozen
class Label:
    """A class label per sample (an integer tensor). Filled with ``--label K``, or with the class's name
    when ``names`` are given (``--label cat``); left unset, the samples go through the classes in equal
    blocks, so a picture shows one row per class."""

    num_classes: int
    names: tuple[str, ...] = attrs.field(default=(), converter=tuple)

    @classmethod
    def of(cls, field: Field) -> Label:
        """The label of a data set's ``class`` field: its classes and their names."""
        return cls(field.num_classes or 0, names=field.names)


@attrs.frozen
class Attributes:
    """A vector of 0/1 flags per sample (StarGAN's target domains). Filled with ``--set NAME=1,0,1``, or
    with the flags' ``names`` joined by ``+`` when given (``--set NAME=dimmed+thick``; the data's
    :attr:`gankit.Field.names`); left unset, the samples go through each single flag in turn."""

    count: int
    names: tuple[str, ...] = attrs.field(default=(), converter=tuple)

    @classmethod
    def of(cls, field: Field) -> Attributes:
        """The flags of a data set's ``attributes`` field: their count and names."""
        return cls(field.shape[0], names=field.names)


@attrs.frozen
class FromData:
    """A sample of the data field ``field`` (a translator's input image). Filled with ``--input PATH``
    (a PNG, a folder of PNGs, or a .npy); left unset, the data set's first samples of that field."""

    field: str
    #: The data field the output should match, when the data is paired (pix2pix's ``target``): the
    #: training pictures show input | output | target.
    target: str | None = None


@attrs.frozen
class Option:
    """A plain value handed to :meth:`gankit.Scheme.generate` as it is (a truncation psi): ``--set NAME=V``."""

    default: Any
    help: str = ""


Input = Noise | Label | Attributes | FromData | Option
