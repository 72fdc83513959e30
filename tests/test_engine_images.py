"""pe_engine.images.resize_area against numpy: block means, and area weights for any scale."""
import numpy as np
from hypothesis import given, settings, strategies as st

from pe_engine.images import resize_area


def numpy_area_resize(img: np.ndarray, new_h: int, new_w: int) -> np.ndarray:
    """Area (box) resampling as an independent reference: the overlap of each output
    pixel with each input pixel, as a matrix per axis."""
    def weights(n_in, n_out):
        m = np.zeros((n_out, n_in))
        scale = n_in / n_out
        for i in range(n_out):
            lo, hi = i * scale, (i + 1) * scale
            for j in range(n_in):
                m[i, j] = max(0.0, min(hi, j + 1) - max(lo, j)) / scale
        return m
    wy, wx = weights(img.shape[0], new_h), weights(img.shape[1], new_w)
    return np.einsum("ij,jkc,lk->ilc", wy, img.astype(np.float64), wx)


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 6), st.integers(1, 6), st.integers(1, 5), st.integers(1, 5), st.integers(1, 4),
       st.integers(0, 2**32 - 1))
def test_integer_factor_is_the_rounded_block_mean(nh, nw, fy, fx, channels, seed):
    rng = np.random.default_rng(seed)
    img = rng.integers(0, 256, size=(nh * fy, nw * fx, channels))
    got = np.array(resize_area(img.ravel().tolist(), nh * fy, nw * fx, channels, nh, nw)).reshape(nh, nw, channels)
    sums = img.reshape(nh, fy, nw, fx, channels).sum(axis=(1, 3))
    want = (2 * sums + fy * fx) // (2 * fy * fx)  # mean, rounded half up
    assert (got == want).all()


@settings(max_examples=40, deadline=None)
@given(st.integers(2, 30), st.integers(2, 30), st.integers(1, 30), st.integers(1, 30), st.integers(0, 2**32 - 1))
def test_any_scale_matches_area_weights(h, w, nh, nw, seed):
    rng = np.random.default_rng(seed)
    img = rng.integers(0, 256, size=(h, w, 3))
    got = np.array(resize_area(img.ravel().tolist(), h, w, 3, nh, nw)).reshape(nh, nw, 3)
    want = numpy_area_resize(img, nh, nw)
    assert np.abs(got - want).max() <= 0.5 + 1e-9  # rounding only
