"""One seeded self-attention layer, to show that attention alone is
permutation-equivariant: without PE, shuffling the patch tokens only
shuffles their outputs and leaves the [CLS] output unchanged.

All sums use math.fsum (correctly rounded, order-independent), so the [CLS]
output is unchanged bit for bit, not only to rounding.
"""

from math import exp, fsum, sqrt
from operator import mul

from ._checks import matrix_shape, non_negative_int, positive_int
from ._random import make_rng, seeded_permutation, uniforms
from .linalg import transpose

__all__ = ["init_attention", "self_attention", "permute_tokens", "seeded_permutation"]


def init_attention(dim, seed):
    """Seeded (W_q, W_k, W_v, W_o), each dim x dim (x . W), no biases.
    PyTorch nn.Linear default range U(-1/sqrt(dim), 1/sqrt(dim)), drawn in
    the order q, k, v, o, each row-major, from random.Random(seed)."""
    positive_int("dim", dim)
    rng = make_rng(seed)
    bound = 1.0 / sqrt(dim)
    mats = []
    for _ in range(4):
        flat = uniforms(rng, dim * dim, -bound, bound)
        mats.append([flat[i * dim:(i + 1) * dim] for i in range(dim)])
    return tuple(mats)


def _apply(x, w):
    cols = transpose(w)
    return [[fsum(map(mul, row, c)) for c in cols] for row in x]


def self_attention(tokens, seed, heads=1, return_attention=False, sharpness=1.0):
    """L x D tokens -> L x D: softmax(sharpness * Q K^T / sqrt(d_head)) V per head,
    heads concatenated, then W_o.  With return_attention=True returns
    (output, weights) where weights[h] is the L x L softmax matrix.

    ``sharpness`` > 1 peaks the attention as a trained layer's is: freshly
    initialised weights attend almost uniformly, and a uniform average is blind
    to order whatever the positional embedding."""
    length, dim = matrix_shape("tokens", tokens)
    positive_int("heads", heads)
    if dim % heads:
        raise ValueError("heads must divide the token width %d (got %d)" % (dim, heads))
    wq, wk, wv, wo = init_attention(dim, seed)
    q, k, v = _apply(tokens, wq), _apply(tokens, wk), _apply(tokens, wv)
    dh = dim // heads
    if not sharpness > 0:
        raise ValueError("sharpness must be positive (got %r)" % (sharpness,))
    scale = sharpness / sqrt(dh)
    concat = [[] for _ in range(length)]
    weights = []
    for h in range(heads):
        sl = slice(h * dh, (h + 1) * dh)
        qh = [r[sl] for r in q]
        kh = [r[sl] for r in k]
        vh_cols = transpose([r[sl] for r in v])
        head_w = []
        for i, qi in enumerate(qh):
            logits = [fsum(map(mul, qi, kj)) * scale for kj in kh]
            m = max(logits)
            e = [exp(x - m) for x in logits]
            total = fsum(e)
            a = [x / total for x in e]
            head_w.append(a)
            concat[i].extend(fsum(map(mul, a, col)) for col in vh_cols)
        weights.append(head_w)
    out = _apply(concat, wo)
    return (out, weights) if return_attention else out


def permute_tokens(tokens, order, num_prefix_tokens=1):
    """Prefix rows unchanged, then patch rows in the given order:
    out[p + i] = tokens[p + order[i]]."""
    non_negative_int("num_prefix_tokens", num_prefix_tokens)
    n = len(tokens) - num_prefix_tokens
    if n < 0:
        raise ValueError("num_prefix_tokens exceeds the %d tokens (got %d)"
                         % (len(tokens), num_prefix_tokens))
    if sorted(order) != list(range(n)):
        raise ValueError("order must be a permutation of range(%d)" % n)
    p = num_prefix_tokens
    return [list(t) for t in tokens[:p]] + [list(tokens[p + i]) for i in order]
