"""Architecture ``stylegan2``: builds the generator and discriminator of :mod:`gankit_stylegan.networks`."""

from __future__ import annotations

from gankit import Architecture, GankitError, NetworkRequest, UnsupportedRequest

from gankit_stylegan import is_power_of_two


def image_shape(field, what: str) -> tuple[int, int, int]:
    """(C, H, W) of a square image field of 4, 8, 16, ... pixels; a one-line error otherwise."""
    if field.kind != "image" or len(field.shape) != 3:
        raise UnsupportedRequest(f"it works on images only, not on {field.kind} {field.shape} ({what})")
    c, h, w = field.shape
    if h != w or not is_power_of_two(h):
        hint = "16" if h < 16 else "32"
        raise UnsupportedRequest(
            f"it needs square images of 4, 8, 16, 32... pixels, not {h}x{w} ({what}); resize with --resolution {hint}"
        )
    return c, h, w


class StyleGAN2(Architecture):
    def __init__(self, config):
        self.config = config

    def build(self, request: NetworkRequest):
        from gankit_stylegan.networks import Discriminator, Generator

        fields = list(request.inputs.values())
        kinds = [f.kind for f in fields]
        if request.role == "generator" and kinds == ["noise"] and len(request.outputs) == 1:
            (out,) = request.outputs.values()
            return Generator(fields[0].shape[0], image_shape(out, request.describe()), self.config)
        outputs = [f.kind for f in request.outputs.values()]
        if request.role == "discriminator" and kinds == ["image"] and outputs[:1] == ["scores"]:
            if len(request.outputs) != 1:
                raise UnsupportedRequest(f"its discriminator returns scores only, not {request.describe()}")
            try:
                return Discriminator(image_shape(fields[0], request.describe()), self.config)
            except ValueError as exc:
                raise GankitError(f"stylegan2: {exc}") from None
        raise UnsupportedRequest(
            f"it builds an unconditional generator G(z) and discriminator D(x) on images, not {request.describe()}"
        )
