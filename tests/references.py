"""Independent numpy / scipy / Pillow references for pe_engine's conventions.

Written from the reference conventions (positional-embeddings.md), never by
importing the engine.  float64 unless a reference library forces float32
(Pillow's mode "F"), so compare with 1e-9 (own numpy) or 1e-5 (float32).
"""

import math

import numpy as np


# --- patches -----------------------------------------------------------------

def patchify(img, patch):
    """(H, W, C) array -> (N, C*P*P): crop like the conv, then timm's (C, P, P)
    flatten order via reshape/transpose."""
    h, w, c = img.shape
    gh, gw = h // patch, w // patch
    x = img[:gh * patch, :gw * patch, :]
    x = x.reshape(gh, patch, gw, patch, c).transpose(0, 2, 4, 1, 3)
    return x.reshape(gh * gw, c * patch * patch)


def conv_tokens(img, weight_dcpp, bias):
    """timm PatchEmbed as an explicit strided conv: (H,W,C) image, (D,C,P,P)
    weight -> (N, D) tokens, flatten(2).transpose(1, 2)."""
    d, c, p, _ = weight_dcpp.shape
    h, w, _ = img.shape
    gh, gw = h // p, w // p
    out = np.empty((gh * gw, d))
    for r in range(gh):
        for col in range(gw):
            window = img[r * p:(r + 1) * p, col * p:(col + 1) * p, :].transpose(2, 0, 1)
            out[r * gw + col] = np.tensordot(weight_dcpp, window, axes=3) + bias
    return out


# --- encodings ---------------------------------------------------------------

def sinusoidal_1d(num_positions, dim, base=10000.0):
    """pytorch/examples PositionalEncoding (interleaved sin/cos)."""
    position = np.arange(num_positions, dtype=np.float64)[:, None]
    div_term = np.exp(np.arange(0, dim, 2, dtype=np.float64) * (-math.log(base) / dim))
    pe = np.zeros((num_positions, dim))
    pe[:, 0::2] = np.sin(position * div_term)
    pe[:, 1::2] = np.cos(position * div_term)
    return pe


def _mae_1d(embed_dim, pos):
    omega = np.arange(embed_dim // 2, dtype=np.float64)
    omega /= embed_dim / 2.0
    omega = 1.0 / 10000 ** omega
    out = np.einsum("m,d->md", pos.reshape(-1), omega)
    return np.concatenate([np.sin(out), np.cos(out)], axis=1)


def sincos_2d(grid_h, grid_w, dim, cls_token=False, base=10000.0):
    """MAE util/pos_embed.py get_2d_sincos_pos_embed, generalised to
    non-square grids the same way (meshgrid(grid_w, grid_h), 'xy')."""
    assert base == 10000.0
    gh = np.arange(grid_h, dtype=np.float32)
    gw = np.arange(grid_w, dtype=np.float32)
    grid = np.meshgrid(gw, gh)  # here w goes first
    grid = np.stack(grid, axis=0).reshape([2, 1, grid_h, grid_w])
    emb_h = _mae_1d(dim // 2, grid[0])  # MAE's "h" half: actually the column
    emb_w = _mae_1d(dim // 2, grid[1])
    pe = np.concatenate([emb_h, emb_w], axis=1)
    if cls_token:
        pe = np.concatenate([np.zeros([1, dim]), pe], axis=0)
    return pe


def learned(num_positions, dim, seed=0, std=0.02):
    """Timing counterpart only (numpy's own generator, not the engine's draws):
    trunc normal std .02 cut at +-2 by rejection."""
    rng = np.random.default_rng(seed)
    x = rng.normal(0.0, std, size=(num_positions, dim))
    bad = np.abs(x) > 2.0
    while bad.any():
        x[bad] = rng.normal(0.0, std, size=int(bad.sum()))
        bad = np.abs(x) > 2.0
    return x


def learned_2d_from_tables(x_table, y_table, cls_row=None):
    """ViT factorised 2-D PE: token (r, c) = [X[c] | Y[r]], row-major."""
    x_table, y_table = np.asarray(x_table), np.asarray(y_table)
    gw, gh = len(x_table), len(y_table)
    pe = np.concatenate([np.tile(x_table, (gh, 1)), np.repeat(y_table, gw, axis=0)], axis=1)
    if cls_row is not None:
        pe = np.concatenate([np.asarray(cls_row)[None, :], pe], axis=0)
    return pe


def rope_rotate(vec, grid_h, grid_w, base=100.0, convention="rope-vit"):
    """rope-vit compute_axial_cis + apply_rotary_emb with complex numbers:
    adjacent pairs as complex, multiplied by cis(phase)."""
    v = np.asarray(vec, dtype=np.float64)
    d = len(v)
    freqs = 1.0 / base ** (np.arange(0, d, 4)[: d // 4].astype(np.float64) / d)
    t = np.arange(grid_h * grid_w)
    t_x = (t % grid_w).astype(np.float64)
    t_y = (t // grid_w).astype(np.float64)
    fx, fy = np.outer(t_x, freqs), np.outer(t_y, freqs)
    phases = np.concatenate([fx, fy] if convention == "rope-vit" else [fy, fx], axis=1)
    vc = v[0::2] + 1j * v[1::2]
    rot = vc[None, :] * np.exp(1j * phases)
    out = np.empty((grid_h * grid_w, d))
    out[:, 0::2], out[:, 1::2] = rot.real, rot.imag
    return out


def relative_position_index(window_h, window_w):
    """Swin WindowAttention.__init__ (torch ops rewritten in numpy)."""
    coords_h = np.arange(window_h)
    coords_w = np.arange(window_w)
    coords = np.stack(np.meshgrid(coords_h, coords_w, indexing="ij"))
    coords_flatten = coords.reshape(2, -1)
    rel = coords_flatten[:, :, None] - coords_flatten[:, None, :]
    rel = rel.transpose(1, 2, 0).copy()
    rel[:, :, 0] += window_h - 1
    rel[:, :, 1] += window_w - 1
    rel[:, :, 0] *= 2 * window_w - 1
    return rel.sum(-1)


# --- resampling ----------------------------------------------------------------

def _cubic(x, a):
    x = np.abs(x)
    return np.where(
        x <= 1, ((a + 2) * x - (a + 3)) * x * x + 1,
        np.where(x < 2, ((a * x - 5 * a) * x + 8 * a) * x - 4 * a, 0.0))


def bicubic_noaa_matrix(n_in, n_out, a=-0.75):
    """aten upsample_bicubic2d (align_corners=False) as an n_out x n_in matrix."""
    s = n_in / n_out
    x = s * (np.arange(n_out) + 0.5) - 0.5
    i0 = np.floor(x).astype(int)
    t = x - i0
    m = np.zeros((n_out, n_in))
    for j, w in enumerate([_cubic(t + 1, a), _cubic(t, a), _cubic(1 - t, a), _cubic(2 - t, a)]):
        idx = np.clip(i0 - 1 + j, 0, n_in - 1)
        np.add.at(m, (np.arange(n_out), idx), w)
    return m


def _grid(pe, old_size, num_prefix_tokens):
    pe = np.asarray(pe, dtype=np.float64)
    prefix, grid = pe[:num_prefix_tokens], pe[num_prefix_tokens:]
    return prefix, grid.reshape(old_size[0], old_size[1], -1)


def resample(pe, new_size, old_size, num_prefix_tokens=1, method="timm"):
    """Independent references: timm -> Pillow BICUBIC on float32 mode-F images
    (PIL's antialiased a=-0.5 filter, which PyTorch's AA path copies); deit ->
    numpy a=-0.75 matrices; jax -> scipy.ndimage.zoom(order=1)."""
    prefix, grid = _grid(pe, old_size, num_prefix_tokens)
    nh, nw = new_size
    if method == "jax":
        from scipy import ndimage
        zoom = (nh / old_size[0], nw / old_size[1], 1)
        out = ndimage.zoom(grid, zoom, order=1)
        assert out.shape[:2] == (nh, nw), out.shape
    elif method == "deit":
        mh = bicubic_noaa_matrix(old_size[0], nh)
        mw = bicubic_noaa_matrix(old_size[1], nw)
        out = np.einsum("ih,hwd,jw->ijd", mh, grid, mw)
    elif method == "timm":
        from PIL import Image
        chans = [np.asarray(Image.fromarray(grid[:, :, k].astype(np.float32))
                            .resize((nw, nh), Image.Resampling.BICUBIC), dtype=np.float64)
                 for k in range(grid.shape[2])]
        out = np.stack(chans, axis=2)
    else:
        raise ValueError(method)
    return np.concatenate([prefix, out.reshape(nh * nw, -1)], axis=0)


# --- similarity and attention ----------------------------------------------------

def cosine_similarity_map(pe, grid_h, grid_w, index, num_prefix_tokens=1):
    pe = np.asarray(pe, dtype=np.float64)[num_prefix_tokens:]
    norms = np.linalg.norm(pe, axis=1)
    safe = np.where(norms > 0, norms, 1.0)
    unit = pe / safe[:, None]
    sims = unit @ unit[index]
    sims = np.where((norms > 0) & (norms[index] > 0), sims, 0.0)
    return sims.reshape(grid_h, grid_w)


def similarity_matrix(pe):
    pe = np.asarray(pe, dtype=np.float64)
    norms = np.linalg.norm(pe, axis=1)
    unit = pe / np.where(norms > 0, norms, 1.0)[:, None]
    sims = unit @ unit.T
    ok = norms > 0
    return np.where(ok[:, None] & ok[None, :], sims, 0.0)


def self_attention(tokens, wq, wk, wv, wo, heads=1):
    x = np.asarray(tokens, dtype=np.float64)
    q, k, v = x @ np.asarray(wq), x @ np.asarray(wk), x @ np.asarray(wv)
    L, D = x.shape
    dh = D // heads
    outs = []
    for h in range(heads):
        sl = slice(h * dh, (h + 1) * dh)
        logits = q[:, sl] @ k[:, sl].T / math.sqrt(dh)
        logits -= logits.max(axis=1, keepdims=True)
        a = np.exp(logits)
        a /= a.sum(axis=1, keepdims=True)
        outs.append(a @ v[:, sl])
    return np.concatenate(outs, axis=1) @ np.asarray(wo)
