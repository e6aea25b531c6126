"""gankit's bundled components. Each subpackage is a plugin registered through the ``gankit``
entry-point group, exactly as a third-party plugin would be; their registration modules import no
torch, so that listing plugins stays fast."""
