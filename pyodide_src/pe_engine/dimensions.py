"""ViT bookkeeping: grid, sequence length, shapes and parameter counts."""

from ._checks import non_negative_int, positive_int, size_pair
from .patches import grid_shape

__all__ = ["vit_dimensions", "vit_param_count", "PRESETS"]

# ViT paper Table 1 (B, L, H) and DeiT / big_vision (Ti, S); params are timm's
# exact counts with a 1000-class head at 224 px.
PRESETS = {
    "ViT-Ti/16": dict(image_size=224, patch=16, dim=192, layers=12, heads=3, mlp=768,
                      params=5717416),
    "ViT-S/16": dict(image_size=224, patch=16, dim=384, layers=12, heads=6, mlp=1536,
                     params=22050664),
    "ViT-B/16": dict(image_size=224, patch=16, dim=768, layers=12, heads=12, mlp=3072,
                     params=86567656),
    "ViT-L/16": dict(image_size=224, patch=16, dim=1024, layers=24, heads=16, mlp=4096,
                     params=304326632),
    "ViT-H/14": dict(image_size=224, patch=14, dim=1280, layers=32, heads=16, mlp=5120,
                     params=632045800),
}


def vit_dimensions(image_size, patch, dim, channels=3):
    """Shapes for an image_size (int or (H, W)) ViT input with one [CLS]:

    num_patches N, seq_len N+1, grid (rows, cols), patch_dim P*P*C,
    E_shape (P*P*C, D), E_pos_shape (N+1, D), E_params = P*P*C*D + D
    (weights plus bias, as the Conv2d), E_pos_params = (N+1)*D,
    used_size and dropped_pixels (rows, cols) left over by the conv.
    """
    h, w = size_pair("image_size", image_size)
    positive_int("patch", patch)
    positive_int("dim", dim)
    positive_int("channels", channels)
    g = grid_shape(h, w, patch)
    n = g.rows * g.cols
    patch_dim = patch * patch * channels
    return {
        "image_size": (h, w),
        "patch": patch,
        "dim": dim,
        "channels": channels,
        "grid": (g.rows, g.cols),
        "num_patches": n,
        "seq_len": n + 1,
        "patch_dim": patch_dim,
        "E_shape": (patch_dim, dim),
        "E_pos_shape": (n + 1, dim),
        "E_params": patch_dim * dim + dim,
        "E_pos_params": (n + 1) * dim,
        "used_size": (g.used_height, g.used_width),
        "dropped_pixels": (g.dropped_height, g.dropped_width),
    }


def vit_param_count(image_size, patch, dim, layers, mlp, channels=3, classes=1000):
    """Total parameters of a timm ViT with [CLS] and a linear head:
    C P^2 D + D + D + (N+1) D + L (4D^2 + 2 D mlp + 9 D + mlp) + 2D + D K + K."""
    d = vit_dimensions(image_size, patch, dim, channels)
    positive_int("layers", layers)
    positive_int("mlp", mlp)
    non_negative_int("classes", classes)
    D = dim
    return (d["E_params"] + D + d["E_pos_params"]
            + layers * (4 * D * D + 2 * D * mlp + 9 * D + mlp)
            + 2 * D + (D * classes + classes))
