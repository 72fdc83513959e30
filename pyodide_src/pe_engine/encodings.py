"""Positional encodings.  Every table is a list of rows (prefix rows first),
each a list of ``dim`` floats.

Deterministic tables use math.sin/cos, which may differ in the last ulp
between libms (glibc vs Pyodide's musl); seeded tables (learned*) use the
pure-arithmetic samplers in ``_random`` and are bit-identical everywhere.
"""

from collections import namedtuple
from math import cos, sin

from ._checks import positive_int
from ._random import make_rng, trunc_normals
from .linalg import dot

__all__ = [
    "sinusoidal_1d",
    "sincos_2d",
    "learned",
    "learned_2d",
    "rope_frequencies",
    "rope_2d_axial",
    "rope_scores",
    "relative_position_index",
    "relative_position_bias",
    "RelativePositionBias",
]


def sinusoidal_1d(num_positions, dim, base=10000.0):
    """Vaswani et al. 1-D sinusoidal PE, num_positions x dim, interleaved:
    PE[p, 2i] = sin(p w_i), PE[p, 2i+1] = cos(p w_i), w_i = base^(-2i/dim).

    Convention: pytorch/examples word_language_model ``PositionalEncoding``
    (not tensor2tensor/fairseq's [sin | cos] with D/2-1).  Positions start at
    0 and row p is position p; with a [CLS] token, row 0 is [CLS].
    """
    positive_int("num_positions", num_positions)
    positive_int("dim", dim)
    if dim % 2:
        raise ValueError("dim must be even for 1D sinusoidal PE (got %d)" % dim)
    _check_base(base)
    freqs = [base ** (-(2 * i) / dim) for i in range(dim // 2)]
    out = []
    for p in range(num_positions):
        angles = [p * w for w in freqs]
        row = [0.0] * dim
        row[0::2] = map(sin, angles)
        row[1::2] = map(cos, angles)
        out.append(row)
    return out


def _sincos_half(positions, omega):
    # MAE get_1d_sincos_pos_embed_from_grid: [sin(pos w) | cos(pos w)]
    out = []
    for p in positions:
        angles = [p * w for w in omega]
        out.append(list(map(sin, angles)) + list(map(cos, angles)))
    return out


def sincos_2d(grid_h, grid_w, dim, cls_token=False, base=10000.0):
    """2-D sin-cos PE, ((1 if cls_token) + grid_h*grid_w) x dim.

    Exactly MAE ``get_2d_sincos_pos_embed`` (float64): w_k = 1/base^(k/(D/4)),
    row k of the grid = [sin(c w), cos(c w), sin(r w), cos(r w)] with the
    column block first (MAE's meshgrid 'xy' quirk), c = k % grid_w,
    r = k // grid_w.  The optional [CLS] row is all zeros.
    """
    positive_int("grid_h", grid_h)
    positive_int("grid_w", grid_w)
    positive_int("dim", dim)
    if dim % 4:
        raise ValueError("dim must be a multiple of 4 for 2D sin-cos (got %d)" % dim)
    _check_base(base)
    fq = dim // 4
    omega = [1.0 / base ** (k / fq) for k in range(fq)]
    col_half = _sincos_half(range(grid_w), omega)
    row_half = _sincos_half(range(grid_h), omega)
    out = [[0.0] * dim] if cls_token else []
    for r in range(grid_h):
        rh = row_half[r]
        out.extend(ch + rh for ch in col_half)
    return out


def learned(num_positions, dim, seed=0, std=0.02):
    """Learned absolute PE at initialisation, num_positions x dim.

    timm ``VisionTransformer``: trunc_normal_(std=.02) cut at +-2 absolute
    (effectively untruncated).  Seeded: values row-major from
    random.Random(seed); num_positions includes any prefix rows.
    """
    positive_int("num_positions", num_positions)
    positive_int("dim", dim)
    flat = trunc_normals(make_rng(seed), num_positions * dim, std)
    return [flat[i:i + dim] for i in range(0, num_positions * dim, dim)]


def learned_2d(grid_h, grid_w, dim, seed=0, std=0.02, cls_token=False):
    """ViT paper's factorised 2-D learned PE, ((1 if cls_token) + N) x dim.

    A grid_w x D/2 column (X) table and a grid_h x D/2 row (Y) table; token
    (r, c) = concat(X[c], Y[r]), X first as the paper states.  Draw order:
    X table, Y table, then the [CLS] row (so the tables do not depend on
    cls_token).  Init trunc normal std .02 as ``learned``.
    """
    positive_int("grid_h", grid_h)
    positive_int("grid_w", grid_w)
    positive_int("dim", dim)
    if dim % 2:
        raise ValueError("dim must be even for 2D learned PE (got %d)" % dim)
    half = dim // 2
    rng = make_rng(seed)
    flat = trunc_normals(rng, (grid_w + grid_h) * half, std)
    xs = [flat[i * half:(i + 1) * half] for i in range(grid_w)]
    ys = [flat[(grid_w + i) * half:(grid_w + i + 1) * half] for i in range(grid_h)]
    out = [trunc_normals(rng, dim, std)] if cls_token else []
    for r in range(grid_h):
        out.extend(x + ys[r] for x in xs)
    return out


def _check_base(base):
    if isinstance(base, bool) or not isinstance(base, (int, float)) or not base > 0:
        raise ValueError("base must be a positive number (got %r)" % (base,))


# --- 2-D RoPE -------------------------------------------------------------

_ROPE_DEFAULT_BASE = {"rope-vit": 100.0, "eva": 10000.0}


def rope_frequencies(head_dim, base=100.0):
    """theta_k = base^(-4k/head_dim), k < head_dim/4 (rope-vit compute_axial_cis)."""
    positive_int("head_dim", head_dim)
    if head_dim % 4:
        raise ValueError("head_dim must be a multiple of 4 for 2D RoPE (got %d)" % head_dim)
    _check_base(base)
    return [base ** (-(4 * k) / head_dim) for k in range(head_dim // 4)]


def _rope_phases(grid_h, grid_w, head_dim, base, convention):
    if convention not in _ROPE_DEFAULT_BASE:
        raise ValueError("convention must be 'rope-vit' or 'eva' (got %r)" % (convention,))
    positive_int("grid_h", grid_h)
    positive_int("grid_w", grid_w)
    if base is None:
        base = _ROPE_DEFAULT_BASE[convention]
    theta = rope_frequencies(head_dim, base)
    phases = []
    for k in range(grid_h * grid_w):
        y, x = divmod(k, grid_w)
        first, second = (x, y) if convention == "rope-vit" else (y, x)
        phases.append([first * t for t in theta] + [second * t for t in theta])
    return phases


def _rotate(vec, phase):
    out = list(vec)
    for j, ph in enumerate(phase):
        a, b = vec[2 * j], vec[2 * j + 1]
        c, s = cos(ph), sin(ph)
        out[2 * j] = a * c - b * s
        out[2 * j + 1] = a * s + b * c
    return out


def rope_2d_axial(vector, grid_h, grid_w, base=None, convention="rope-vit"):
    """The same head vector (length d, d % 4 == 0) rotated at every token:
    grid_h*grid_w x d, tokens row-major, no prefix (RoPE leaves [CLS] alone).

    Default convention "rope-vit" (naver-ai/rope-vit Axial, base 100): pairs
    (0,1),(2,3),...; pairs k < d/4 rotate by x*theta_k (x = column), pairs
    d/4.. by y*theta_k (y = row), theta_k = base^(-4k/d).  "eva" is EVA-02 /
    timm RotaryEmbeddingCat ('ij'): row first, base 10000.  base=None picks
    the convention's base.
    """
    d = len(vector)
    phases = _rope_phases(grid_h, grid_w, d, base, convention)
    return [_rotate(vector, ph) for ph in phases]


def rope_scores(q, k, grid_h, grid_w, base=None, convention="rope-vit"):
    """N x N matrix S[i][j] = rot_i(q) . rot_j(k) with q at token i and k at
    token j (unscaled).  Depends only on the offset between i and j: shift
    invariance, so every diagonal of a 1-row grid is constant."""
    if len(q) != len(k):
        raise ValueError("k must have the same length as q (%d, got %d)" % (len(q), len(k)))
    qs = rope_2d_axial(q, grid_h, grid_w, base, convention)
    ks = rope_2d_axial(k, grid_h, grid_w, base, convention)
    return [[dot(a, b) for b in ks] for a in qs]


# --- Swin relative position bias -------------------------------------------

RelativePositionBias = namedtuple("RelativePositionBias", "table index bias")


def relative_position_index(window_h, window_w):
    """Swin WindowAttention index, N x N ints with N = window_h*window_w:
    idx[i][j] = (dh + Mh-1)*(2Mw-1) + (dw + Mw-1), d = coord_i - coord_j,
    coords (h, w) row-major.  Values lie in [0, (2Mh-1)(2Mw-1))."""
    positive_int("window_h", window_h)
    positive_int("window_w", window_w)
    coords = [divmod(t, window_w) for t in range(window_h * window_w)]
    span = 2 * window_w - 1
    return [[(hi - hj + window_h - 1) * span + (wi - wj + window_w - 1)
             for hj, wj in coords] for hi, wi in coords]


def relative_position_bias(window_h, window_w, heads=1, seed=0, std=0.02):
    """Seeded Swin bias: RelativePositionBias(table, index, bias) where table
    is (2Mh-1)(2Mw-1) x heads (trunc normal std .02, row-major draws), index
    is relative_position_index, and bias[h] is the N x N matrix
    table[index[i][j]][h] added to head h's attention logits."""
    positive_int("heads", heads)
    index = relative_position_index(window_h, window_w)
    size = (2 * window_h - 1) * (2 * window_w - 1)
    flat = trunc_normals(make_rng(seed), size * heads, std)
    table = [flat[i * heads:(i + 1) * heads] for i in range(size)]
    bias = [[[table[t][h] for t in row] for row in index] for h in range(heads)]
    return RelativePositionBias(table, index, bias)
