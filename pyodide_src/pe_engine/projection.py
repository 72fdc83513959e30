"""Patch projection E, [CLS] token and the input sequence z0 (ViT Eq. 1)."""

import math
from math import fsum
from operator import mul

from ._checks import matrix_shape, positive_int
from ._random import make_rng, trunc_normals, uniforms
from .linalg import transpose

__all__ = ["init_projection", "project", "init_cls_token", "embed_sequence"]


def init_projection(in_dim, dim, seed):
    """Seeded E (in_dim x dim, token = x . E) and bias (dim).

    PyTorch Conv2d default init: weight and bias both U(-1/sqrt(in_dim),
    +1/sqrt(in_dim)), with in_dim = C*P*P the fan-in.  Draw order: weight
    row-major, then bias, all from random.Random(seed).random().
    """
    positive_int("in_dim", in_dim)
    positive_int("dim", dim)
    rng = make_rng(seed)
    bound = 1.0 / math.sqrt(in_dim)
    flat = uniforms(rng, in_dim * dim, -bound, bound)
    weight = [flat[i * dim:(i + 1) * dim] for i in range(in_dim)]
    bias = uniforms(rng, dim, -bound, bound)
    return weight, bias


def project(patches, weight, bias):
    """N x in_dim patches -> N x dim tokens: x . E + b."""
    n, k = matrix_shape("patches", patches)
    k2, d = matrix_shape("weight", weight)
    if k != k2:
        raise ValueError("weight must have %d rows to match the patch length (got %d)" % (k, k2))
    if len(bias) != d:
        raise ValueError("bias must have length %d (got %d)" % (d, len(bias)))
    cols = transpose(weight)
    return [[fsum(map(mul, x, col)) + b for col, b in zip(cols, bias)] for x in patches]


def init_cls_token(dim, seed, std=0.02):
    """Seeded [CLS] vector of length dim: truncated normal std .02 cut at
    +-2 absolute, as DeiT (timm 0.3 ``trunc_normal_``).  timm's current ViT
    uses normal(std=1e-6) instead; pass std=1e-6 for that."""
    positive_int("dim", dim)
    return trunc_normals(make_rng(seed), dim, std)


def embed_sequence(patch_tokens, cls=None, pos=None):
    """z0 = [x_cls; x_p1 E; ...; x_pN E] + E_pos  ->  (N+1) x D (N x D without cls).

    patch_tokens: N x D projected patches; cls: length-D vector or None;
    pos: (N+1) x D (or N x D without cls) or None for no PE.  The [CLS] row
    comes first and receives pos[0] (timm default, no_embed_class=False).
    """
    n, d = matrix_shape("patch_tokens", patch_tokens)
    rows = [list(t) for t in patch_tokens]
    if cls is not None:
        if len(cls) != d:
            raise ValueError("cls must have length %d (got %d)" % (d, len(cls)))
        rows.insert(0, list(cls))
    if pos is None:
        return rows
    pr, pd = matrix_shape("pos", pos)
    if pr != len(rows) or pd != d:
        raise ValueError("pos must be %d x %d (got %d x %d)" % (len(rows), d, pr, pd))
    return [[a + b for a, b in zip(r, p)] for r, p in zip(rows, pos)]
