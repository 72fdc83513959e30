"""Resample an absolute PE table to a new patch grid.

Prefix rows (CLS/dist/register tokens) pass through unchanged; the grid part
is reshaped to rows x cols of D-vectors and interpolated separably (rows
axis, then columns axis) with per-axis 1-D weight lists computed once.
Computed in float64 (the PyTorch references cast to float32, so they agree
to ~1e-6).

Methods:
  "timm"  timm ``resample_abs_pos_embed`` default: F.interpolate bicubic,
          antialias=True (PIL-style aa filter, a=-0.5), align_corners=False.
  "deit"  DeiT main.py / MAE ``interpolate_pos_embed``: bicubic a=-0.75,
          align_corners=False, no antialias, edge-replicated taps.
  "jax"   vit_jax / big_vision: scipy.ndimage.zoom(order=1), i.e. bilinear
          with aligned corners, src = i*(in-1)/(out-1).
timm returns its input unchanged when the size is unchanged; every method
here is the exact identity at equal size, so we simply return a copy.
"""

import math

from ._checks import matrix_shape, non_negative_int, size_pair

__all__ = ["resample", "axis_weights", "METHODS", "METHOD_NAMES"]

METHODS = ("timm", "deit", "jax")
METHOD_NAMES = {"timm": "timm", "deit": "DeiT", "jax": "JAX"}  # how a figure or a table names them


def _cubic(x, a):
    # Keys cubic convolution kernel, as in aten UpSampleKernel.cpp
    x = abs(x)
    if x <= 1.0:
        return ((a + 2.0) * x - (a + 3.0)) * x * x + 1.0
    if x < 2.0:
        return ((a * x - 5.0 * a) * x + 8.0 * a) * x - 4.0 * a
    return 0.0


def _weights_bicubic(n_in, n_out, a=-0.75):
    # aten upsample_bicubic2d, align_corners=False: x = s(i+1/2)-1/2, taps
    # i0-1..i0+2 clamped to the edge (their weights accumulate).
    s = n_in / n_out
    rows = []
    for i in range(n_out):
        x = s * (i + 0.5) - 0.5
        i0 = math.floor(x)
        t = x - i0
        ws = (_cubic(t + 1.0, a), _cubic(t, a), _cubic(1.0 - t, a), _cubic(2.0 - t, a))
        taps = {}
        for j, w in enumerate(ws):
            src = min(max(i0 - 1 + j, 0), n_in - 1)
            taps[src] = taps.get(src, 0.0) + w
        rows.append([(j, w) for j, w in sorted(taps.items()) if w != 0.0])
    return rows


def _weights_bicubic_aa(n_in, n_out, a=-0.5):
    # aten _compute_indices_weights_aa (PIL-compatible): support widens by
    # the scale when downsampling; out-of-range taps are dropped, weights
    # renormalised to sum 1.
    s = n_in / n_out
    sigma = max(s, 1.0)
    support = 2.0 * sigma
    rows = []
    for i in range(n_out):
        center = s * (i + 0.5)
        lo = max(int(center - support + 0.5), 0)
        hi = min(int(center + support + 0.5), n_in)
        ws = [_cubic((j - center + 0.5) / sigma, a) for j in range(lo, hi)]
        total = math.fsum(ws)
        rows.append([(lo + k, w / total) for k, w in enumerate(ws) if w != 0.0])
    return rows


def _weights_bilinear_aligned(n_in, n_out):
    # scipy.ndimage.zoom(order=1): corners aligned; a 1-pixel output samples 0.
    rows = []
    for i in range(n_out):
        x = i * (n_in - 1) / (n_out - 1) if n_out > 1 else 0.0
        i0 = min(int(x), n_in - 1)
        t = x - i0
        if t == 0.0 or i0 + 1 >= n_in:
            rows.append([(i0, 1.0)])
        else:
            rows.append([(i0, 1.0 - t), (i0 + 1, t)])
    return rows


def axis_weights(n_in, n_out, method="timm"):
    """1-D interpolation weights for one axis: a list (one per output index)
    of (source index, weight) pairs."""
    if method == "timm":
        return _weights_bicubic_aa(n_in, n_out)
    if method == "deit":
        return _weights_bicubic(n_in, n_out)
    if method == "jax":
        return _weights_bilinear_aligned(n_in, n_out)
    raise ValueError("method must be one of %s (got %r)" % (", ".join(METHODS), method))


def _combine(vectors, taps):
    """Weighted sum of D-vectors, one fused comprehension for up to 4 taps
    (the common bicubic case), accumulated left to right."""
    if len(taps) == 4:
        (i0, w0), (i1, w1), (i2, w2), (i3, w3) = taps
        return [w0 * a + w1 * b + w2 * c + w3 * d
                for a, b, c, d in zip(vectors[i0], vectors[i1], vectors[i2], vectors[i3])]
    if len(taps) == 3:
        (i0, w0), (i1, w1), (i2, w2) = taps
        return [w0 * a + w1 * b + w2 * c
                for a, b, c in zip(vectors[i0], vectors[i1], vectors[i2])]
    if len(taps) == 2:
        (i0, w0), (i1, w1) = taps
        return [w0 * a + w1 * b for a, b in zip(vectors[i0], vectors[i1])]
    (j, w), rest = taps[0], taps[1:]
    acc = [w * v for v in vectors[j]]
    for j, w in rest:
        acc = [a + w * v for a, v in zip(acc, vectors[j])]
    return acc


def resample(pe, new_size, old_size=None, num_prefix_tokens=1, method="timm"):
    """(prefix + old_rows*old_cols) x D  ->  (prefix + new_rows*new_cols) x D.

    Sizes are (rows, cols) or an int for square; old_size=None assumes a
    square grid of the non-prefix rows, as timm does.
    """
    if method not in METHODS:
        raise ValueError("method must be one of %s (got %r)" % (", ".join(METHODS), method))
    length, dim = matrix_shape("pe", pe)
    non_negative_int("num_prefix_tokens", num_prefix_tokens)
    n_grid = length - num_prefix_tokens
    if n_grid <= 0:
        raise ValueError("num_prefix_tokens must leave grid rows in pe (got %d of %d rows)"
                         % (num_prefix_tokens, length))
    if old_size is None:
        side = math.isqrt(n_grid)
        if side * side != n_grid:
            raise ValueError("old_size is required: %d grid rows are not a square" % n_grid)
        old_size = (side, side)
    oh, ow = size_pair("old_size", old_size)
    nh, nw = size_pair("new_size", new_size)
    if oh * ow != n_grid:
        raise ValueError("old_size %dx%d does not match the %d grid rows of pe"
                         % (oh, ow, n_grid))
    prefix = [list(r) for r in pe[:num_prefix_tokens]]
    grid = pe[num_prefix_tokens:]
    if (oh, ow) == (nh, nw):
        return prefix + [list(r) for r in grid]
    wh = axis_weights(oh, nh, method)
    ww = axis_weights(ow, nw, method)
    # rows axis: column c of the intermediate is a list over output rows
    cols = [[grid[r * ow + c] for r in range(oh)] for c in range(ow)]
    tmp = [[_combine(col, taps) for taps in wh] for col in cols]  # ow x nh
    out = []
    for i in range(nh):
        row = [tmp[c][i] for c in range(ow)]
        out.extend(_combine(row, taps) for taps in ww)
    return prefix + out
