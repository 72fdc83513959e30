"""Image -> patches, following timm's ``PatchEmbed`` (a stride-P Conv2d).

Pixels arrive as a flat row-major H x W x C list (index ``(y*W + x)*C + ch``).
Each patch is flattened in the conv weight's (C, P, P) order, channel-major:
``vec[ch*P*P + u*P + v] = img[ch, r*P+u, c*P+v]``, so ``E = Wt.reshape(D, C*P*P).T``.
(vit_jax / big_vision / lucidrains flatten (P, P, C) instead; identical for C=1.)
Like the conv, leftover rows/columns when P does not divide H or W are
dropped; ``grid_shape`` / ``Patches.grid`` report how many.
"""

from collections import namedtuple

from ._checks import positive_int

__all__ = ["GridShape", "Patches", "grid_shape", "patchify"]

GridShape = namedtuple(
    "GridShape", "rows cols used_height used_width dropped_height dropped_width"
)


class Patches(list):
    """A list of N patch vectors (grid row-major) with ``.grid`` (a GridShape)."""

    __slots__ = ("grid",)

    def __init__(self, rows, grid):
        super().__init__(rows)
        self.grid = grid


def grid_shape(height, width, patch):
    """Patch grid of an H x W image: GridShape(rows, cols, used_height,
    used_width, dropped_height, dropped_width), rows = H // P (conv floor)."""
    positive_int("height", height)
    positive_int("width", width)
    positive_int("patch", patch)
    if patch > height or patch > width:
        raise ValueError("patch must not exceed the image size (got patch=%d for %dx%d)"
                         % (patch, height, width))
    rows, cols = height // patch, width // patch
    return GridShape(rows, cols, rows * patch, cols * patch,
                     height - rows * patch, width - cols * patch)


def patchify(pixels, height, width, channels, patch):
    """Flat H*W*C pixels -> Patches of N = rows*cols vectors of length P*P*C.

    Order of patches: row-major over the grid (token k at row k // cols,
    column k % cols).  Order inside a patch: (C, P, P), see module docstring.
    """
    grid = grid_shape(height, width, patch)
    positive_int("channels", channels)
    if len(pixels) != height * width * channels:
        raise ValueError("pixels must have height*width*channels = %d values (got %d)"
                         % (height * width * channels, len(pixels)))
    pixels = list(pixels)
    P, C, W = patch, channels, width
    span = P * C
    out = []
    for r in range(grid.rows):
        for c in range(grid.cols):
            vec = []
            for ch in range(C):
                for u in range(P):
                    start = ((r * P + u) * W + c * P) * C + ch
                    vec.extend(pixels[start:start + span:C])  # P values, step C
            out.append(vec)
    return Patches(out, grid)
