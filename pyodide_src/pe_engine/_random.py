"""Seeded samplers that give bit-identical numbers on every IEEE-754 runtime.

Everything here is derived from ``random.Random(seed).random()`` (Mersenne
Twister, identical in CPython 3.11 and Pyodide's 3.14) plus +, -, *, /, sqrt,
frexp and ldexp, which IEEE-754 rounds exactly.  ``math.log``/``exp``/``sin``
are deliberately NOT used: glibc (CPython on Linux) and musl (Pyodide) differ
in the last bit for them, which would break cross-runtime determinism.

Normals come from the Marsaglia-Tsang (2000) ziggurat, 256 layers; its tables
and its rare slow paths use the pure-arithmetic ``_log``/``_exp`` below.
"""

import math
import random
from itertools import repeat, starmap

__all__ = [
    "make_rng",
    "uniforms",
    "normals",
    "trunc_normals",
    "seeded_permutation",
]

_LN2 = 0.6931471805599453
_SQRT_HALF = 0.7071067811865476


def _log(x):
    """Natural log by frexp + atanh series (arithmetic only, |rel err| ~1e-16)."""
    if x <= 0.0:
        raise ValueError("x must be positive (got %r)" % (x,))
    m, e = math.frexp(x)  # x = m * 2**e, m in [0.5, 1)
    if m < _SQRT_HALF:
        m *= 2.0
        e -= 1
    s = (m - 1.0) / (m + 1.0)  # |s| <= 0.1716
    s2 = s * s
    # 2*atanh(s) = 2*(s + s^3/3 + ... ); 13 terms reach double precision.
    acc = 1.0 / 25.0
    for k in (23, 21, 19, 17, 15, 13, 11, 9, 7, 5, 3, 1):
        acc = acc * s2 + 1.0 / k
    return 2.0 * s * acc + e * _LN2


def _exp(x):
    """exp by range reduction to |r| <= ln2/2 and a Taylor series (arithmetic only)."""
    if x < -745.0:
        return 0.0
    k = math.floor(x / _LN2 + 0.5)
    r = x - k * _LN2
    acc = 1.0
    for n in range(15, 0, -1):  # |r| <= 0.347: 15 terms reach 1e-19
        acc = 1.0 + acc * r / n
    return math.ldexp(acc, int(k))


# --- ziggurat tables (Marsaglia & Tsang 2000, "The Ziggurat Method"), 256
# layers: ~99.3% of draws take the fast path.  Layer i has right edge _X[i],
# fast-accept ratio _K[i] and density _F[i] = f(_X[i]); layer 0 is the base
# strip (area V) that also covers the tail beyond R.
_LAYERS = 256
_R = 3.6541528853610088
_V = 4.92867323399e-3


def _build_tables():
    n = _LAYERS
    xs, ks, fs = [0.0] * n, [0.0] * n, [0.0] * n
    dn = tn = _R
    q = _V / _exp(-0.5 * dn * dn)
    ks[0], ks[1] = dn / q, 0.0
    xs[0], xs[n - 1] = q, dn
    fs[0], fs[n - 1] = 1.0, _exp(-0.5 * dn * dn)
    for i in range(n - 2, 0, -1):
        dn = math.sqrt(-2.0 * _log(_V / dn + _exp(-0.5 * dn * dn)))
        ks[i + 1] = dn / tn
        tn = dn
        fs[i] = _exp(-0.5 * dn * dn)
        xs[i] = dn
    return xs, ks, fs


_X, _K, _FN = _build_tables()
# One random() * 512 gives j = sign * 256 + layer and a 44-bit fraction.
_SCALE = 2.0 * _LAYERS
_SIGNED_X = _X + [-x for x in _X]
# fast path accepts u = random()*512 when u < j + K[layer] (fraction < K)
_UPPER = [j + _K[j % _LAYERS] for j in range(2 * _LAYERS)]


def make_rng(seed):
    """Return ``random.Random(seed)``; seed must be an int (bools rejected)."""
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise ValueError("seed must be an int (got %r)" % (seed,))
    return random.Random(seed)


def uniforms(rng, n, low=0.0, high=1.0):
    """n floats uniform on [low, high): low + (high - low) * random()."""
    rnd = rng.random
    span = high - low
    return [low + span * rnd() for _ in range(n)]


def _slow(rnd, j, frac):
    """Marsaglia-Tsang "nfix" for a draw the fast path rejected: wedge test,
    or the tail beyond R for the base layer.  Returns a standard normal."""
    while True:
        layer = j % _LAYERS
        sign = -1.0 if j >= _LAYERS else 1.0
        if layer == 0:
            while True:
                x = -_log(1.0 - rnd()) / _R
                y = -_log(1.0 - rnd())
                if y + y >= x * x:
                    break
            return sign * (_R + x)
        x = frac * _X[layer]
        if _FN[layer] + rnd() * (_FN[layer - 1] - _FN[layer]) < _exp(-0.5 * x * x):
            return sign * x
        u = rnd() * _SCALE
        j = int(u)
        frac = u - j
        if u < _UPPER[j]:
            return frac * _SIGNED_X[j]


def normals(rng, n, std=1.0):
    """n draws from N(0, std^2) by the ziggurat, as a list of floats.

    The n fast-path candidates consume the first n random() values (C-level
    iterators for speed); rejected slots (~0.7%) are then finished in index
    order from the continuing stream.
    """
    rnd = rng.random
    us = list(map(_SCALE.__mul__, starmap(rnd, repeat((), n))))
    js = list(map(int, us))
    xs = _SIGNED_X if std == 1.0 else [std * x for x in _SIGNED_X]
    upper = _UPPER
    return [(u - j) * xs[j] if u < upper[j] else std * _slow(rnd, j, u - j)
            for u, j in zip(us, js)]


def trunc_normals(rng, n, std=0.02, low=-2.0, high=2.0):
    """n draws of N(0, std^2) conditioned on [low, high] (absolute bounds, as
    timm's ``trunc_normal_(std=.02)`` with its defaults a=-2, b=2).

    Out-of-range draws are rejected and redrawn in index order (same
    distribution as timm's inverse-CDF method, different draws).  At std=.02
    that never happens in practice.
    """
    if not std > 0.0:
        raise ValueError("std must be positive (got %r)" % (std,))
    if not low < high:
        raise ValueError("low must be below high (got %r, %r)" % (low, high))
    out = normals(rng, n, std)
    if out and (min(out) < low or max(out) > high):
        for i, v in enumerate(out):
            while not low <= v <= high:
                v = normals(rng, 1, std)[0]
            out[i] = v
    return out


def seeded_permutation(n, seed):
    """A permutation of range(n) by Fisher-Yates driven by random() only."""
    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        raise ValueError("n must be a non-negative int (got %r)" % (n,))
    rng = make_rng(seed)
    rnd = rng.random
    order = list(range(n))
    for i in range(n - 1, 0, -1):
        j = int(rnd() * (i + 1))
        order[i], order[j] = order[j], order[i]
    return order
