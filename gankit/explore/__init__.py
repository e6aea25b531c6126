"""``gankit explore``: pictures of what a generator learned about its Gaussian noise.

* interpolation between latents (slerp), as a grid and an animated GIF (:mod:`.paths`);
* SeFa (Shen & Zhou 2021): closed-form directions, the eigenvectors of ``AᵀA`` for the generator's first
  layer ``A`` acting on the noise (:mod:`.directions`);
* GANSpace (Härkönen et al. 2020): PCA of an intermediate layer's activations over many samples, the
  principal directions mapped back to the latent space by linear regression (:mod:`.directions`);
* for class-conditional models, one latent across every class, and linear class boundaries in a layer's
  activations (:mod:`.boundaries`); projecting an image into the latent space;
* for 2-D points, the learned density as a histogram with the data's modes.

Each part that does not apply to a model is skipped with a line saying why; the numbers go to
``explore.json`` (:mod:`.running`). Everything random comes from ``seed``.
"""

from gankit.explore.boundaries import class_boundaries, project
from gankit.explore.directions import check_layer, default_layer, first_layer, ganspace, sefa
from gankit.explore.paths import across_classes, density, interpolate, traverse
from gankit.explore.pictures import noise_input, render, slerp
from gankit.explore.running import PARTS, explore

__all__ = [
    "PARTS",
    "across_classes",
    "check_layer",
    "class_boundaries",
    "default_layer",
    "density",
    "explore",
    "first_layer",
    "ganspace",
    "interpolate",
    "noise_input",
    "project",
    "render",
    "sefa",
    "slerp",
    "traverse",
]
