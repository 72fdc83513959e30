"""The numbers the article quotes, computed by the engine.

An author writes ``{= similarity("sinusoidal", 5, 4) :.2f =}`` in the markdown and the build
puts the engine's value there (build.py, "facts"), so no number in the prose is typed by
hand. Each fact is one small function of literal arguments; ``FACTS`` lists them (the README
documents each by its docstring). Numbers from a committed file (the trained model's record,
a paper's table) come from build.py's ``record(...)`` fact instead.
"""
import math

from . import components, views
from .dimensions import PRESETS, vit_dimensions
from .encodings import relative_position_index, rope_frequencies
from .resample import resample
from .similarity import cosine_similarity_map


def step(name):
    """The number of a stepper step, 1-based ("addpos" -> 5): one numbering everywhere."""
    names = [s.value for s in components.STEPS]
    if name not in names:
        raise ValueError(f"step must be one of {', '.join(names)} (got {name!r})")
    return names.index(name) + 1


def step_label(name):
    """The label of a stepper step, as its tab shows it ("addpos" -> "Add Pos")."""
    return components.STEPS[step(name) - 1].label


def similarity(strategy, a, b, image_size=64, patch=16, dim=8, seed=0):
    """Cosine similarity of the PE rows of patches ``a`` and ``b`` for a strategy, on the
    stepper's grid (image_size / patch per side)."""
    grid = image_size // patch
    table = views.pe_table(strategy, grid, grid, dim, seed)
    row = cosine_similarity_map(table, grid, grid, a, num_prefix_tokens=1)
    return row[b // grid][b % grid]


def patches(image_size, patch):
    """N, the number of patches: (image_size // patch)²."""
    return vit_dimensions(image_size, patch, 4)["num_patches"]


def tokens(image_size, patch):
    """N + 1, the sequence length with [CLS]."""
    return vit_dimensions(image_size, patch, 4)["seq_len"]


def grid_size(image_size, patch):
    """The patch grid as the prose writes it: an image_size² image in patch² patches ("16×16")."""
    side = image_size // patch
    return f"{side}×{side}"


def far_apart():
    """How many steps (in rows or columns) make two positions "far apart" in the trained-vit
    similarity measure (views.FAR; the training record uses the same)."""
    return views.FAR


def pe_params(image_size, patch, dim):
    """(N + 1)·D, the parameters of a learned positional table."""
    return vit_dimensions(image_size, patch, dim)["E_pos_params"]


def pe_share(model):
    """The learned table's share of a preset model's parameters, as a fraction."""
    p = PRESETS[model]
    return pe_params(p["image_size"], p["patch"], p["dim"]) / p["params"]


def preset(model, field):
    """A field of a model preset (ViT paper Table 1, DeiT): "dim", "patch", "layers"…"""
    return PRESETS[model][field]


def resampled(method, row, col, grid=((0.0, 1.0), (2.0, 3.0)), size=3):
    """One value of the 2×2 grid [[0, 1], [2, 3]] resampled to size × size by a method."""
    old = [[0.0]] + [[v] for r in grid for v in r]  # a one-channel table behind a zero [CLS] row
    new = resample(old, (size, size), (len(grid), len(grid[0])), num_prefix_tokens=1, method=method)
    return new[1 + row * size + col][0]


def swin_entries(window):
    """(2M − 1)², the rows of Swin's relative position table for an M × M window."""
    return (2 * window - 1) ** 2


def swin_index(window, query, key):
    """The table entry Swin's query token reads for a key token, in an M × M window."""
    return relative_position_index(window, window)[query][key]


def rope_rate(head_dim, k, base=100.0):
    """θ_k = base^(−4k/d), the k-th rotation rate of 2D axial RoPE."""
    return rope_frequencies(head_dim, base)[k]


def sinusoid_rate(i, dim):
    """ω_i = 10000^(−2i/D), the i-th frequency of the 1-D sinusoidal table."""
    return 10000.0 ** (-2 * i / dim)


def sinusoid_period(i, dim):
    """2π/ω_i, the number of positions after which sinusoid pair i repeats."""
    return 2 * math.pi / sinusoid_rate(i, dim)


def sincos_rate(k, dim):
    """ω_k = 10000^(−k/(D/4)), the k-th frequency of MAE's 2D sin-cos table (per axis)."""
    return 10000.0 ** (-k / (dim // 4))


def grid(image_size, patch):
    """The patches per side: image_size // patch."""
    return image_size // patch


def patch_row(k, image_size=64, patch=16):
    """The grid row of patch k (patches are numbered in reading order from 0)."""
    return k // grid(image_size, patch)


def patch_column(k, image_size=64, patch=16):
    """The grid column of patch k."""
    return k % grid(image_size, patch)


def random_spread(dim):
    """1/√D: the spread of the cosine similarity of two independent random D-vectors."""
    return 1 / math.sqrt(dim)


def ratio(a, b):
    """a / b (for "four times as many": ratio(patches(224, 8), patches(224, 16)))."""
    return a / b


def power(a, b):
    """a ** b."""
    return a ** b


FACTS = {fn.__name__: fn for fn in (step, step_label, similarity, patches, tokens, pe_params, pe_share, preset,
                                    resampled, swin_entries, swin_index, rope_rate, sinusoid_rate, sinusoid_period,
                                    sincos_rate, grid, grid_size, far_apart, patch_row, patch_column, random_spread,
                                    ratio, power)}
