"""Small dense helpers on nested lists.  Dot products use ``math.fsum``: it is
correctly rounded, so results are order-independent and identical in
CPython 3.11 and Pyodide 3.14 (built-in ``sum`` switched to Neumaier
summation in 3.12, so it would differ between the two)."""

from math import fsum
from operator import mul

__all__ = ["dot", "transpose"]


def dot(a, b):
    return fsum(map(mul, a, b))



def transpose(m):
    return [list(col) for col in zip(*m)]
