"""A small trained Vision Transformer, run in pure Python: weights file -> models,
one image -> logits, class probabilities, [CLS] attention maps, [CLS] output.

The model (trained by ``tests/vit/train.py``, checked there against a numpy
reference) is timm's pre-norm ViT:

    x  = pixels / pixel_max, cut into P x P patches (grid row-major, (C,P,P))
    z0 = [cls; x_1 E + b; ...; x_N E + b] + pos          (N+1) x D, pos optional
    z  = z + Attn(LN1(z)); z = z + MLP(LN2(z))           per block, pre-norm
    logits = LN(z[0]) W_head + b_head

Attention: multi-head, qkv with bias, softmax(q k^T / sqrt(D/H)).  MLP: fc1,
GELU in its tanh form 0.5x(1 + tanh(sqrt(2/pi)(x + 0.044715x^3))), fc2.
LayerNorm eps 1e-6.  Only the [CLS] row of the last block reaches the head,
so the last block is computed for [CLS] alone (its attention is the [CLS] row).

Weights file: the safetensors layout (8-byte little-endian header length, a
JSON header name -> {dtype, shape, data_offsets}, little-endian data), with
``__metadata__`` = {"format": FORMAT, "format_version": "1", "models": JSON
{name: config}, "test": JSON {...}}.  Tensor "<model>.<param>"; matrices are
stored in x @ W layout (in_features x out_features), transposed at load time.

Speed.  Sums over features use built-in sum (Neumaier-compensated in Python
3.12+, plain in 3.11: results agree across runtimes to ~1e-15, not bit for
bit).  Sums over tokens use math.fsum (in the depth-1 fast path, every one that
does not involve the positional table), so a permutation of the patch tokens
gives a bit-identical [CLS] output when the model has no positional table.
When the first block is also the last (depth 1), its input is affine in the
pixels and LN1 only adds a per-token scale, so the [CLS] attention is folded
through LN1, the patch projection and k/v into per-slot tables, built once
per positional table (``FoldedFirstBlock``): a slot then costs O(K*H + D)
instead of O(D^2).
"""

import json
import math
import struct
from math import exp, fsum, sqrt, tanh
from operator import mul

from ._checks import positive_int, size_pair
from ._random import seeded_permutation
from .encodings import sincos_2d
from .images import _area_weights
from .patches import patchify
from .resample import METHODS, resample
from .similarity import similarity_matrix

__all__ = [
    "FORMAT", "FORMAT_VERSION", "PE_KINDS", "METHODS",
    "read_safetensors", "load", "ViT",
    "pos_table", "upsample", "from_canvas", "image_patches", "shuffle_orders",
    "forward", "predict", "accuracy", "neighbour_far_similarity",
    "layer_norm", "linear", "gelu", "softmax",
]

FORMAT = "pe-engine-vit"
FORMAT_VERSION = 1
PE_KINDS = ("learned", "none", "sincos")
LN_EPS = 1e-6
_GELU_C = sqrt(2.0 / math.pi)
_DTYPES = {"F64": ("d", 8), "F32": ("f", 4), "U8": ("B", 1), "I64": ("q", 8)}


# --- the weights file ------------------------------------------------------------

def read_safetensors(data):
    """bytes -> (tensors, metadata).  tensors[name] = (shape tuple, flat list
    of floats or ints, row-major); metadata: the ``__metadata__`` dict (str ->
    str) or {}.  Supports F64, F32, U8 and I64, little-endian."""
    data = bytes(data)
    if len(data) < 8:
        raise ValueError("data is too short for a safetensors file (%d bytes)" % len(data))
    (n,) = struct.unpack_from("<Q", data, 0)
    if 8 + n > len(data):
        raise ValueError("data: header length %d exceeds the file (%d bytes)" % (n, len(data)))
    header = json.loads(data[8:8 + n].decode("utf-8"))
    meta = header.pop("__metadata__", {}) or {}
    base = 8 + n
    tensors = {}
    for name, info in header.items():
        dtype, shape, (start, end) = info["dtype"], tuple(info["shape"]), info["data_offsets"]
        if dtype not in _DTYPES:
            raise ValueError("tensor %r: dtype %s is not supported" % (name, dtype))
        code, size = _DTYPES[dtype]
        count = math.prod(shape)
        if end - start != count * size or base + end > len(data):
            raise ValueError("tensor %r: data_offsets %r do not match shape %r" % (name, [start, end], shape))
        tensors[name] = (shape, list(struct.unpack_from("<%d%s" % (count, code), data, base + start)))
    return tensors, meta


def _rows(shape, flat):
    """Flat row-major values of a 2-D shape -> list of rows."""
    r, c = shape
    return [flat[i * c:(i + 1) * c] for i in range(r)]


def _transpose(rows):
    return [list(col) for col in zip(*rows)]


class ViT:
    """One model, weights as lists (matrices pre-transposed: ``*_t[o]`` is the
    weight column of output o).  Configuration attributes: name, pe ("learned" |
    "none" | "sincos"), grid (rows, cols), patch, channels, dim, heads, depth,
    mlp, classes, pixel_max.  ``pos`` is the (N+1) x D table the model was
    trained with (learned or sin-cos), or None."""

    def __init__(self, name, config, tensors):
        self.name = name
        self.config = dict(config)
        self.pe = config["pe"]
        if self.pe not in PE_KINDS:
            raise ValueError("config pe must be one of %s (got %r)" % (", ".join(PE_KINDS), self.pe))
        self.grid = tuple(size_pair("config grid", tuple(config["grid"])))
        self.patch = positive_int("config patch", config["patch"])
        self.channels = positive_int("config channels", config.get("channels", 1))
        self.dim = positive_int("config dim", config["dim"])
        self.heads = positive_int("config heads", config["heads"])
        self.depth = positive_int("config depth", config["depth"])
        self.mlp = positive_int("config mlp", config["mlp"])
        self.classes = positive_int("config classes", config["classes"])
        self.pixel_max = float(config.get("pixel_max", 1.0))
        if self.dim % self.heads:
            raise ValueError("config heads must divide dim %d (got %d)" % (self.dim, self.heads))

        def get(key, shape):
            if key not in tensors:
                raise ValueError("weights: tensor %s.%s is missing" % (name, key))
            got, flat = tensors[key]
            if tuple(got) != tuple(shape):
                raise ValueError("weights: %s.%s has shape %r, expected %r" % (name, key, got, shape))
            return _rows(shape, flat) if len(shape) == 2 else list(flat)

        d, k, m = self.dim, self.channels * self.patch ** 2, self.mlp
        n = self.grid[0] * self.grid[1]
        self.patch_w = get("patch_w", (k, d))          # K x D (x @ W)
        self.patch_b = get("patch_b", (d,))
        self.cls = get("cls", (d,))
        self.blocks = []
        for i in range(self.depth):
            p = "blocks.%d." % i
            self.blocks.append({
                "ln1_g": get(p + "ln1_g", (d,)), "ln1_b": get(p + "ln1_b", (d,)),
                "qkv_w": get(p + "qkv_w", (d, 3 * d)), "qkv_b": get(p + "qkv_b", (3 * d,)),
                "proj_t": _transpose(get(p + "proj_w", (d, d))), "proj_b": get(p + "proj_b", (d,)),
                "ln2_g": get(p + "ln2_g", (d,)), "ln2_b": get(p + "ln2_b", (d,)),
                "fc1_t": _transpose(get(p + "fc1_w", (d, m))), "fc1_b": get(p + "fc1_b", (m,)),
                "fc2_t": _transpose(get(p + "fc2_w", (m, d))), "fc2_b": get(p + "fc2_b", (d,)),
            })
            self.blocks[-1]["qkv_t"] = _transpose(self.blocks[-1]["qkv_w"])
        self.norm_g = get("norm_g", (d,))
        self.norm_b = get("norm_b", (d,))
        self.head_t = _transpose(get("head_w", (d, self.classes)))
        self.head_b = get("head_b", (self.classes,))
        if self.pe == "learned":
            self.pos = get("pos", (n + 1, d))
        elif self.pe == "sincos":
            self.pos = sincos_2d(self.grid[0], self.grid[1], d, cls_token=True)
        else:
            self.pos = None
        self._cache = {}

    def __repr__(self):
        return "ViT(%r, pe=%r, grid=%r, patch=%d, dim=%d, heads=%d, depth=%d)" % (
            self.name, self.pe, self.grid, self.patch, self.dim, self.heads, self.depth)


def load(data):
    """Weights file bytes -> dict with "models" ({name: ViT}, file order),
    "test_images" (list of flat H*W int lists, pixel scale 0..pixel_max),
    "test_labels" (list of ints), "image_size" ((H, W) of the test images) and
    "metadata" (the decoded ``__metadata__``)."""
    tensors, meta = read_safetensors(data)
    if meta.get("format") != FORMAT:
        raise ValueError("data: not a %s file (format %r)" % (FORMAT, meta.get("format")))
    if int(meta.get("format_version", 0)) != FORMAT_VERSION:
        raise ValueError("data: format_version %r, this engine reads %d"
                         % (meta.get("format_version"), FORMAT_VERSION))
    configs = json.loads(meta["models"])
    models = {}
    for name, cfg in configs.items():
        pre = name + "."
        own = {k[len(pre):]: v for k, v in tensors.items() if k.startswith(pre)}
        models[name] = ViT(name, cfg, own)
    out = {"models": models, "test_images": [], "test_labels": [], "image_size": None,
           "metadata": {k: (json.loads(v) if k in ("models", "test") else v) for k, v in meta.items()}}
    test = json.loads(meta.get("test", "null"))
    if test:
        shape, flat = tensors[test["images"]]
        count, h, w = shape
        out["test_images"] = [flat[i * h * w:(i + 1) * h * w] for i in range(count)]
        out["test_labels"] = list(tensors[test["labels"]][1])
        out["image_size"] = (h, w)
    return out


# --- pieces ----------------------------------------------------------------------

def layer_norm(x, g, b):
    """D floats -> D floats: (x - mean) / sqrt(var + 1e-6) * g + b."""
    n = len(x)
    mu = sum(x) / n
    xc = [v - mu for v in x]
    r = 1.0 / sqrt(sum(map(mul, xc, xc)) / n + LN_EPS)
    return [v * r * gg + bb for v, gg, bb in zip(xc, g, b)]


def linear(x, w_t, b):
    """x (n floats), w_t (m rows of n: W transposed), b (m) -> x @ W + b (m floats)."""
    return [sum(map(mul, x, col)) + bb for col, bb in zip(w_t, b)]


def gelu(x):
    """GELU, tanh form (PyTorch approximate="tanh"), elementwise on a list."""
    return [0.5 * v * (1.0 + tanh(_GELU_C * (v + 0.044715 * v * v * v))) for v in x]


def softmax(x):
    """List of logits -> probabilities (max-subtracted; the total by fsum)."""
    m = max(x)
    e = list(map(exp, [v - m for v in x]))
    total = fsum(e)
    return [v / total for v in e]


def _attend(queries, keys, values, heads):
    """Multi-head attention for some query rows.  queries: Q x D, keys and
    values: L x D.  Returns (outputs Q x D, weights heads x Q x L)."""
    d = len(keys[0])
    dh = d // heads
    scale = 1.0 / sqrt(dh)
    vcols = list(zip(*values))                                     # D columns of length L
    outs = [[] for _ in queries]
    weights = []
    for h in range(heads):
        lo, hi = h * dh, (h + 1) * dh
        kh = [k[lo:hi] for k in keys]
        cols = vcols[lo:hi]
        wh = []
        for qi, out in zip(queries, outs):
            qh = [v * scale for v in qi[lo:hi]]
            a = softmax([sum(map(mul, qh, kj)) for kj in kh])
            wh.append(a)
            out.extend(fsum(map(mul, a, col)) for col in cols)
        weights.append(wh)
    return outs, weights


def _mlp(blk, z):
    """Residual MLP branch for one row: z + fc2(gelu(fc1(LN2(z))))."""
    m = layer_norm(z, blk["ln2_g"], blk["ln2_b"])
    y = linear(gelu(linear(m, blk["fc1_t"], blk["fc1_b"])), blk["fc2_t"], blk["fc2_b"])
    return [a + b for a, b in zip(z, y)]


def _full_block(blk, z, heads):
    """One block over every row of z (L x D) -> (L x D, weights heads x L x L)."""
    d = len(z[0])
    qkv = [linear(layer_norm(r, blk["ln1_g"], blk["ln1_b"]), blk["qkv_t"], blk["qkv_b"]) for r in z]
    o, w = _attend([r[:d] for r in qkv], [r[d:2 * d] for r in qkv], [r[2 * d:] for r in qkv], heads)
    out = []
    for zi, oi in zip(z, o):
        zi = [a + b for a, b in zip(zi, linear(oi, blk["proj_t"], blk["proj_b"]))]
        out.append(_mlp(blk, zi))
    return out, w


def _cls_block(blk, z0, q0, keys, values, heads):
    """The last block for the [CLS] row only: (new z0 (D), weights heads x L)."""
    o, w = _attend([q0], keys, values, heads)
    return _cls_tail(blk, z0, o[0]), [wh[0] for wh in w]


def _cls_tail(blk, z0, o):
    """[CLS] row after its attention output o (D): z0 + proj(o), then the MLP."""
    z0 = [a + b for a, b in zip(z0, linear(o, blk["proj_t"], blk["proj_b"]))]
    return _mlp(blk, z0)


# --- positions and inputs --------------------------------------------------------

def pos_table(model, grid=None, method="timm"):
    """The (1 + rows*cols) x D table the model uses on a patch grid, or None.

    learned: the trained table, resampled by ``resample`` (method "timm",
    "deit" or "jax"; [CLS] row kept) when the grid differs; sincos:
    ``sincos_2d`` recomputed for the grid ([CLS] row 0); none: None.
    Cached on the model."""
    grid = model.grid if grid is None else tuple(size_pair("grid", grid))
    if method not in METHODS:
        raise ValueError("method must be one of %s (got %r)" % (", ".join(METHODS), method))
    if model.pe == "none":
        return None
    key = ("pos", grid, method if model.pe == "learned" else None)
    if key not in model._cache:
        if model.pe == "sincos":
            model._cache[key] = (model.pos if grid == model.grid
                                 else sincos_2d(grid[0], grid[1], model.dim, cls_token=True))
        else:
            model._cache[key] = resample(model.pos, grid, model.grid, 1, method)
    return model._cache[key]


def upsample(pixels, size, new_size):
    """Flat row-major H x W pixels -> flat new H x new W floats: bilinear with
    aligned corners (scipy.ndimage.zoom order=1), i.e. ``resample`` "jax" on a
    one-channel grid.  size, new_size: (rows, cols) or an int for square."""
    h, w = size_pair("size", size)
    nh, nw = size_pair("new_size", new_size)
    if len(pixels) != h * w:
        raise ValueError("pixels must have %d values for %dx%d (got %d)" % (h * w, h, w, len(pixels)))
    out = resample([[float(v)] for v in pixels], (nh, nw), (h, w), 0, "jax")
    return [r[0] for r in out]


def from_canvas(pixels, height, width, size=8, pixel_max=16):
    """A drawn digit -> model input: flat H x W grey values 0..255 (ink high)
    -> flat size x size floats on 0..pixel_max, by area averaging in floats
    (no rounding).  load_digits was made the same way: 32x32 bitmaps counted
    over 4x4 blocks, 0..16, so a 0/255 bitmap of 32x32 gives exactly its counts."""
    positive_int("height", height)
    positive_int("width", width)
    positive_int("size", size)
    if len(pixels) != height * width:
        raise ValueError("pixels must have height*width = %d values (got %d)"
                         % (height * width, len(pixels)))
    scale = pixel_max / 255.0
    wy, wx = _area_weights(height, size), _area_weights(width, size)
    rows = [[fsum(w * pixels[y * width + x] for x, w in taps) for taps in wx] for y in range(height)]
    return [fsum(w * rows[y][c] for y, w in taps) * scale for taps in wy for c in range(size)]


def image_patches(model, pixels, size=None):
    """Flat H*W*C pixels (0..pixel_max) -> N patch vectors of length C*P*P,
    scaled by 1/pixel_max, grid row-major; returns (patches, (rows, cols))."""
    h, w = size_pair("size", size) if size is not None else (model.grid[0] * model.patch,
                                                            model.grid[1] * model.patch)
    s = 1.0 / model.pixel_max
    if model.patch == 1 and model.channels == 1:  # one pixel per patch: patchify is the identity
        if len(pixels) != h * w:
            raise ValueError("pixels must have height*width*channels = %d values (got %d)"
                             % (h * w, len(pixels)))
        return [[v * s] for v in pixels], (h, w)
    p = patchify(pixels, h, w, model.channels, model.patch)
    return [[v * s for v in vec] for vec in p], (p.grid.rows, p.grid.cols)


def shuffle_orders(count, num_patches, seed=0):
    """One patch permutation per image: image i gets seeded_permutation(
    num_patches, seed + i).  The record's "shuffled" accuracy uses seed 0."""
    return [seeded_permutation(num_patches, seed + i) for i in range(count)]


# --- the first block folded (depth 1) ---------------------------------------------------

class FoldedFirstBlock:
    """Block 0's attention for the [CLS] query, folded through the patch
    projection (used when block 0 is also the last block, depth 1).

    Slot j (1..N) holds z_j = x_j E + b_e + pos_j (x_j: the K patch values),
    so its centred form is zc_j = x_j Ec + a_j (Ec = E with each row centred,
    a_j = centre(b_e + pos_j)) and LN1 only adds the scale
    r_j = 1 / sqrt(|zc_j|^2 / D + eps), |zc_j|^2 = x G x + 2 x.e_j + n_j
    (G = Ec Ec^T, e_j = Ec a_j, n_j = |a_j|^2).  With Wk, Wv the key and
    value columns of qkv:

        k_j = r_j (x_j Mk + Ak_j) + ck,   Mk = (Ec * g) Wk, Ak_j = (a_j * g) Wk,
        v_j = r_j (x_j Mv + Av_j) + cv,   ck = beta Wk + bk (likewise v);

    the [CLS] row (z_0 = cls + pos_0) and its q, k, v are constants.  So the
    head-h logit of slot j is r_j (x_j . Bh + alpha_jh) + gamma_h, with
    Bh = Mk_h q0_h, alpha_jh = Ak_jh . q0_h, gamma_h = ck_h . q0_h (q0
    scaled by 1/sqrt(D/H)), and the head output is
    a_0 v0_h + (sum_j a_j) cv_h + (sum_j a_j r_j x_j) Mv_h + sum_j a_j r_j Av_jh.
    Per image that is O(N (K H + D)) instead of O(N D^2).  Without PE the
    sums over slots use math.fsum only (bit-identical under a permutation)."""

    def __init__(self, model, pos, n):
        blk, d, heads = model.blocks[0], model.dim, model.heads
        dh = d // heads
        g, beta = blk["ln1_g"], blk["ln1_b"]
        wk_t, wv_t = blk["qkv_t"][d:2 * d], blk["qkv_t"][2 * d:]
        bk, bv = blk["qkv_b"][d:2 * d], blk["qkv_b"][2 * d:]
        zero = [0.0] * d

        def centre(v):
            mu = sum(v) / len(v)
            return [x - mu for x in v]

        def scaled(v):
            return [x * y for x, y in zip(v, g)]

        ec = [centre(r) for r in model.patch_w]                              # K x D
        self.gram = [[sum(map(mul, a, b)) for b in ec] for a in ec]          # K x K
        mk = [linear(scaled(r), wk_t, zero) for r in ec]                     # K x D
        self.mv = [linear(scaled(r), wv_t, zero) for r in ec]                # K x D
        ck, self.cv = linear(beta, wk_t, bk), linear(beta, wv_t, bv)
        z0 = list(model.cls) if pos is None else [x + y for x, y in zip(model.cls, pos[0])]
        qkv0 = linear(layer_norm(z0, g, beta), blk["qkv_t"], blk["qkv_b"])
        scale = 1.0 / sqrt(dh)
        q0 = [v * scale for v in qkv0[:d]]
        k0, self.v0 = qkv0[d:2 * d], qkv0[2 * d:]
        self.z0 = z0
        self.heads, self.dh = heads, dh
        hs = [slice(h * dh, (h + 1) * dh) for h in range(heads)]
        self.logit0 = [sum(map(mul, q0[s], k0[s])) for s in hs]             # H
        self.b = [[sum(map(mul, q0[s], r[s])) for r in mk] for s in hs]     # H x K
        self.gamma = [sum(map(mul, q0[s], ck[s])) for s in hs]              # H
        if pos is None:
            rows = [centre(model.patch_b)] * n
        else:
            rows = [centre([x + y for x, y in zip(model.patch_b, r)]) for r in pos[1:]]
        self.e = [[sum(map(mul, a, r)) for r in ec] for a in rows]           # N x K
        self.e2 = [2.0 * e[0] for e in self.e]                               # N (K = 1)
        self.nrm = [sum(map(mul, a, a)) for a in rows]                       # N
        ak = [linear(scaled(a), wk_t, zero) for a in rows]                   # N x D
        av = [linear(scaled(a), wv_t, zero) for a in rows]                   # N x D
        self.alpha = [[sum(map(mul, q0[s], r[s])) for r in ak] for s in hs]  # H x N
        # without PE every slot has the same Av row: sum_j w_j Av_j = (sum_j w_j) Av
        self.av_const = av[0] if pos is None else None
        self.av_cols = None if pos is None else [list(c) for c in zip(*av)]  # D x N
        self.n = n

    def attend(self, patches):
        """N patch vectors (slot order) -> (o: the [CLS] attention output, D
        values before proj; weights: H lists of N+1, [CLS] first)."""
        if len(patches) != self.n:
            raise ValueError("patches must have %d slots (got %d)" % (self.n, len(patches)))
        k = len(self.gram)
        inv_d = 1.0 / len(self.z0)
        if k == 1:
            g = self.gram[0][0]
            xs = [x[0] for x in patches]
            rs = [1.0 / sqrt((x * (x * g + e2) + nn) * inv_d + LN_EPS)
                  for x, e2, nn in zip(xs, self.e2, self.nrm)]
        else:
            rs = []
            for x, e, nn in zip(patches, self.e, self.nrm):
                quad = sum(xi * sum(map(mul, row, x)) for xi, row in zip(x, self.gram))
                rs.append(1.0 / sqrt((quad + 2.0 * sum(map(mul, x, e)) + nn) * inv_d + LN_EPS))
        out, weights = [], []
        for h in range(self.heads):
            bh, gam = self.b[h], self.gamma[h]
            if k == 1:
                b0 = bh[0]
                logits = [r * (x * b0 + a) + gam for r, x, a in zip(rs, xs, self.alpha[h])]
            else:
                logits = [r * (sum(map(mul, x, bh)) + a) + gam
                          for r, x, a in zip(rs, patches, self.alpha[h])]
            att = softmax([self.logit0[h]] + logits)
            weights.append(att)
            a0, a = att[0], att[1:]
            w = [x * r for x, r in zip(a, rs)]                               # a_j r_j
            if k == 1:
                u = [fsum(map(mul, w, xs))]
            else:
                u = [fsum(x[i] * wj for x, wj in zip(patches, w)) for i in range(k)]
            s = fsum(a)
            lo = h * self.dh
            if self.av_cols is None:
                sw = fsum(w)
                tail = [sw * v for v in self.av_const[lo:lo + self.dh]]
            else:
                tail = [sum(map(mul, w, col)) for col in self.av_cols[lo:lo + self.dh]]
            for c, t in zip(range(lo, lo + self.dh), tail):
                out.append(a0 * self.v0[c] + s * self.cv[c]
                           + sum(ui * mrow[c] for ui, mrow in zip(u, self.mv)) + t)
        return out, weights


def _folded(model, pos, n, key):
    """FoldedFirstBlock for a table on n slots, cached under key; an explicit
    table (key None) is cached while the same list object is passed again."""
    if key is None:
        last = model._cache.get("explicit")
        if last is None or last[0] is not pos:
            last = model._cache["explicit"] = (pos, FoldedFirstBlock(model, pos, n))
        return last[1]
    ck = ("fold", key)
    if ck not in model._cache:
        model._cache[ck] = FoldedFirstBlock(model, pos, n)
    return model._cache[ck]


# --- the forward pass -------------------------------------------------------------

def _embed(model, patches, pos):
    """N patch vectors -> z0, (N+1) x D: [cls; x E + b] (+ pos)."""
    w_t = model._cache.get("patch_t")
    if w_t is None:
        w_t = model._cache["patch_t"] = _transpose(model.patch_w)
    rows = [list(model.cls)] + [linear(x, w_t, model.patch_b) for x in patches]
    if pos is None:
        return rows
    return [[a + b for a, b in zip(r, p)] for r, p in zip(rows, pos)]


def _run(model, pixels, size, method, order, pos, drop_pe, fast):
    patches, grid = image_patches(model, pixels, size)
    n = grid[0] * grid[1]
    if order is not None:
        if sorted(order) != list(range(n)):
            raise ValueError("order must be a permutation of range(%d)" % n)
        patches = [patches[i] for i in order]
    if drop_pe:
        table, key = None, (grid, "drop")
    elif pos is not None:
        if len(pos) != n + 1 or len(pos[0]) != model.dim:
            raise ValueError("pos must be %d x %d (got %d x %d)" % (n + 1, model.dim, len(pos), len(pos[0])))
        table, key = pos, None
    else:
        table = pos_table(model, grid, method)
        key = (grid, method if model.pe == "learned" else None)
    heads = model.heads
    attn = []
    last = model.blocks[-1]
    d = model.dim
    if model.depth == 1 and fast:
        folded = _folded(model, table, n, key)
        o, w = folded.attend(patches)
        z0 = _cls_tail(last, folded.z0, o)
    else:
        z = _embed(model, patches, table)
        for blk in model.blocks[:-1]:
            z, w = _full_block(blk, z, heads)
            attn.append([wh[0] for wh in w])
        kv_t, kv_b = last["qkv_t"][d:], last["qkv_b"][d:]
        a = [layer_norm(r, last["ln1_g"], last["ln1_b"]) for r in z]
        kv = [linear(r, kv_t, kv_b) for r in a]
        keys, values = [r[:d] for r in kv], [r[d:] for r in kv]
        q0 = linear(a[0], last["qkv_t"][:d], last["qkv_b"][:d])
        z0, w = _cls_block(last, z[0], q0, keys, values, heads)
    attn.append(w)
    cls_out = layer_norm(z0, model.norm_g, model.norm_b)
    logits = linear(cls_out, model.head_t, model.head_b)
    return logits, cls_out, attn, grid


def forward(model, pixels, size=None, method="timm", order=None, pos=None, drop_pe=False,
            fast=True):
    """Classify one image.

    pixels: flat row-major H*W*C values on the data scale 0..pixel_max (the
    digits: 0..16, floats allowed); size: (H, W) or an int, default the
    training size.  A larger image gives a larger grid: the learned table is
    resampled with ``method`` ("timm" | "deit" | "jax"), sin-cos recomputed.
    order: optional permutation of range(N): slot i receives patch order[i]
    (the PE stays on the slots).  pos: an explicit (N+1) x D table instead of
    the model's (treated as immutable: its folded tables are cached while the
    same list is passed again); drop_pe=True runs without any table.
    fast=False skips the depth-1 folding (same numbers to ~1e-15, for tests).

    Returns a dict:
      "logits", "probs"  lists of length classes
      "prediction"       int, argmax
      "attention"        [layer][head] -> rows x cols grid of the [CLS] row's
                         weights on the patch slots (slot order)
      "attention_cls"    [layer][head] -> the [CLS] row's weight on [CLS]
      "cls"              the final [CLS] vector (after the last LayerNorm), D
      "grid"             [rows, cols]
    """
    logits, cls_out, attn, grid = _run(model, pixels, size, method, order, pos, drop_pe, fast)
    gh, gw = grid
    probs = softmax(logits)
    return {
        "logits": logits,
        "probs": probs,
        "prediction": max(range(len(logits)), key=logits.__getitem__),
        "attention": [[[wh[1 + r * gw:1 + (r + 1) * gw] for r in range(gh)] for wh in layer]
                      for layer in attn],
        "attention_cls": [[wh[0] for wh in layer] for layer in attn],
        "cls": cls_out,
        "grid": [gh, gw],
    }


def predict(model, pixels, size=None, method="timm", order=None, pos=None, drop_pe=False):
    """The predicted class (int) of one image; arguments as ``forward``."""
    logits = _run(model, pixels, size, method, order, pos, drop_pe, True)[0]
    return max(range(len(logits)), key=logits.__getitem__)


def accuracy(model, images, labels, size=None, method="timm", orders=None, new_size=None,
             pos=None, drop_pe=False):
    """Test accuracy over a batch.  images: flat pixel lists of size ``size``;
    new_size: upsample every image to it first (``upsample``), so the grid
    grows; orders: None, one permutation for every image, or one per image
    (e.g. ``shuffle_orders``); method, pos, drop_pe: as ``forward``.
    Returns {"correct", "total", "accuracy", "predictions"}."""
    if len(images) != len(labels):
        raise ValueError("labels must have one entry per image (%d, got %d)" % (len(images), len(labels)))
    if orders is not None and orders and isinstance(orders[0], int):
        orders = [orders] * len(images)
    if size is None:
        size = (model.grid[0] * model.patch, model.grid[1] * model.patch)
    preds = []
    for i, img in enumerate(images):
        s = size
        if new_size is not None:
            img, s = upsample(img, size, new_size), new_size
        preds.append(predict(model, img, s, method, None if orders is None else orders[i],
                             pos, drop_pe))
    correct = sum(1 for p, y in zip(preds, labels) if p == y)
    return {"correct": correct, "total": len(labels),
            "accuracy": correct / len(labels) if labels else 0.0, "predictions": preds}


# --- what training did to the table ---------------------------------------------------

def neighbour_far_similarity(pe, grid, num_prefix_tokens=1, far=3, blank=None):
    """Mean cosine similarity between the patch rows of a PE table over
    4-neighbour pairs (|dr| + |dc| == 1) and over far pairs (Chebyshev
    distance max(|dr|, |dc|) >= far), unordered pairs, by ``similarity_matrix``
    (prefix rows left out).  grid: (rows, cols) or an int.

    Returns {"neighbour_mean", "far_mean", "gap", "neighbour_pairs",
    "far_pairs"}; with ``blank`` (a set of patch indices, e.g. slots that are
    always 0 in the data) also "far_mean_blank_pairs" (both slots blank),
    "far_mean_ink_pairs" (neither), "blank_pairs", "ink_pairs"."""
    gh, gw = size_pair("grid", grid)
    rows = pe[num_prefix_tokens:]
    if len(rows) != gh * gw:
        raise ValueError("pe must have %d + %d rows (got %d)" % (num_prefix_tokens, gh * gw, len(pe)))
    positive_int("far", far)
    sim = similarity_matrix(rows)
    near, farv, fb, fi = [], [], [], []
    n = gh * gw
    for i in range(n):
        for j in range(i + 1, n):
            dr, dc = abs(i // gw - j // gw), abs(i % gw - j % gw)
            if dr + dc == 1:
                near.append(sim[i][j])
            elif max(dr, dc) >= far:
                farv.append(sim[i][j])
                if blank is not None:
                    if i in blank and j in blank:
                        fb.append(sim[i][j])
                    elif i not in blank and j not in blank:
                        fi.append(sim[i][j])

    def mean(v):
        return fsum(v) / len(v) if v else None

    out = {"neighbour_mean": mean(near), "far_mean": mean(farv),
           "neighbour_pairs": len(near), "far_pairs": len(farv)}
    out["gap"] = (out["neighbour_mean"] - out["far_mean"]
                  if near and farv else None)
    if blank is not None:
        out.update(far_mean_blank_pairs=mean(fb), far_mean_ink_pairs=mean(fi),
                   blank_pairs=len(fb), ink_pairs=len(fi))
    return out
